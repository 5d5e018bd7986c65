from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(TenantAdmin):
    list_display = ["name", "client_account", "alert_type", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "alert_type"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
