from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import OutboxEntry


@admin.register(OutboxEntry)
class OutboxEntryAdmin(TenantAdmin):
    list_display = ["pk", "client_account", "resource", "operation", "object_repr", "status", "attempts", "created_at"]
    list_filter = ["status", "resource", "operation", "client_account"]
    search_fields = ["object_repr", "message"]
    readonly_fields = ["changes", "base", "upstream", "options", "request_body", "last_answer", "message"]
