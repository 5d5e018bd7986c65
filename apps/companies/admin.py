from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Company


@admin.register(Company)
class CompanyAdmin(MirrorAdmin):
    list_display = ["name", "client_account", "status", "time_zone", "deleted_upstream_at"]
    list_filter = ["client_account", "status"]
