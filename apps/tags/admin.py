from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import Tag


@admin.register(Tag)
class TagAdmin(TenantAdmin):
    list_display = ["name", "client_account", "tag_level", "company", "status", "deleted_upstream_at"]
    list_filter = ["client_account", "tag_level", "status"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
