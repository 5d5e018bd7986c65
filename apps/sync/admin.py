from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import AccountRecord, SyncRun, SyncSchedule, SyncState


@admin.register(SyncRun)
class SyncRunAdmin(TenantAdmin):
    list_display = ["pk", "client_account", "kind", "status", "trigger", "queued_at", "finished_at", "requests"]
    list_filter = ["status", "kind", "trigger", "client_account"]
    readonly_fields = ["progress", "errors", "problems"]


@admin.register(SyncState)
class SyncStateAdmin(TenantAdmin):
    list_display = ["client_account", "resource", "cursor", "last_full_at", "last_reread_at"]
    list_filter = ["resource", "client_account"]


@admin.register(SyncSchedule)
class SyncScheduleAdmin(TenantAdmin):
    list_display = ["client_account", "incremental_every_minutes", "full_every_hours", "last_reread_at"]


@admin.register(AccountRecord)
class AccountRecordAdmin(TenantAdmin):
    list_display = ["client_account", "callrail_id", "name", "deleted_upstream_at"]
    readonly_fields = ["payload"]
