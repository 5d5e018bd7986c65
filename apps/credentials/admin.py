"""Django admin (operators): credentials are shown, never their keys; keys change on the portal's pages."""

from django.contrib import admin

from .models import Credential, GatewayConnection


class GatewayConnectionInline(admin.TabularInline):
    model = GatewayConnection
    extra = 0
    can_delete = False
    fields = ["connection_id", "label", "status", "error", "checked_at", "removed_at"]
    readonly_fields = fields


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["name", "agency", "auth_mode", "effective_base_url", "key_limit_enabled", "error"]
    list_filter = ["agency", "auth_mode", "key_limit_enabled"]
    search_fields = ["name", "agency__name"]
    exclude = ["api_key"]  # never shown in full; replaced on the credential's page (checked, audited)
    readonly_fields = ["agency", "auth_mode", "base_url", "masked_api_key", "error", "error_at", "checked_at",
                       "key_changed_at", "created_by"]  # fmt: skip
    inlines = [GatewayConnectionInline]

    def has_add_permission(self, request) -> bool:
        return False  # added on the portal's pages or with add_credential, which check the key first

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser
