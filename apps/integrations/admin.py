from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import Integration


@admin.register(Integration)
class IntegrationAdmin(TenantAdmin):
    list_display = ["callrail_id", "client_account", "type", "state", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "type", "state"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
