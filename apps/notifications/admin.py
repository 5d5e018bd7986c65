from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(MirrorAdmin):
    list_display = ["name", "client_account", "alert_type", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "alert_type"]
