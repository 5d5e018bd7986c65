from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import TextConversation


@admin.register(TextConversation)
class TextConversationAdmin(TenantAdmin):
    list_display = ["callrail_id", "client_account", "customer_name", "last_message_at", "state", "deleted_upstream_at"]
    list_filter = ["client_account", "state"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
