from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import SummaryEmail


@admin.register(SummaryEmail)
class SummaryEmailAdmin(TenantAdmin):
    list_display = ["callrail_id", "client_account", "scope_type", "user", "deleted_upstream_at"]
    list_filter = ["client_account", "scope_type"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
