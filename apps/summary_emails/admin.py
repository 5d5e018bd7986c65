from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import SummaryEmail


@admin.register(SummaryEmail)
class SummaryEmailAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "scope_type", "user", "deleted_upstream_at"]
    list_filter = ["client_account", "scope_type"]
