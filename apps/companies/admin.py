from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import Company


@admin.register(Company)
class CompanyAdmin(TenantAdmin):
    list_display = ["name", "client_account", "status", "time_zone", "deleted_upstream_at"]
    list_filter = ["client_account", "status"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
