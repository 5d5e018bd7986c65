from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Tracker


@admin.register(Tracker)
class TrackerAdmin(MirrorAdmin):
    list_display = ["name", "client_account", "company", "type", "status", "deleted_upstream_at"]
    list_filter = ["client_account", "type", "status"]
