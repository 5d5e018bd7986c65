from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import WebhookEndpoint, WebhookEvent, WebhookSigningKey


@admin.register(WebhookEvent)
class WebhookEventAdmin(TenantAdmin):
    list_display = ["pk", "client_account", "event_type", "status", "http_status", "record_id", "received_at"]
    list_filter = ["status", "event_type", "client_account"]
    readonly_fields = ["raw_body", "result", "changes", "signature", "dedupe_key"]

    def has_add_permission(self, request) -> bool:
        return False  # a log of what CallRail sent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantAdmin):
    list_display = ["client_account", "created_at"]


@admin.register(WebhookSigningKey)
class WebhookSigningKeyAdmin(TenantAdmin):
    """Operators see which companies have a key, never the key."""

    list_display = ["client_account", "company_callrail_id", "masked", "updated_at"]
    exclude = ["signing_key"]

    def has_add_permission(self, request) -> bool:
        return False  # entered on the account's Webhooks page, where it is encrypted and audited
