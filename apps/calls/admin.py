from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import Call


@admin.register(Call)
class CallAdmin(TenantAdmin):
    list_display = [
        "callrail_id", "client_account", "start_time", "direction", "customer_name", "duration", "lead_status",
        "deleted_upstream_at",
    ]
    list_filter = ["client_account", "direction", "lead_status", "answered"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
