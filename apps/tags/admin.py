from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Tag


@admin.register(Tag)
class TagAdmin(MirrorAdmin):
    list_display = ["name", "client_account", "tag_level", "company", "status", "deleted_upstream_at"]
    list_filter = ["client_account", "tag_level", "status"]
