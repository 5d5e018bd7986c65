from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import CallRailUser


@admin.register(CallRailUser)
class CallRailUserAdmin(MirrorAdmin):
    list_display = ["email", "client_account", "name", "role", "deleted_upstream_at"]
    list_filter = ["client_account", "role"]
