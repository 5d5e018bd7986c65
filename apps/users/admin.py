from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import CallRailUser


@admin.register(CallRailUser)
class CallRailUserAdmin(TenantAdmin):
    list_display = ["email", "client_account", "name", "role", "deleted_upstream_at"]
    list_filter = ["client_account", "role"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
