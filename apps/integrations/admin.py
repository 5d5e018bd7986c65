from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Integration


@admin.register(Integration)
class IntegrationAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "type", "state", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "type", "state"]
