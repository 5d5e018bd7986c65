from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import OutboxEntry


@admin.register(OutboxEntry)
class OutboxEntryAdmin(TenantAdmin):
    list_display = ["pk", "client_account", "resource", "operation", "object_repr", "status", "attempts", "created_at"]
    list_filter = ["status", "resource", "operation", "client_account"]
    search_fields = ["object_repr", "message"]
    readonly_fields = ["changes", "base", "upstream", "options", "request_body", "last_answer", "message"]
    actions = ["retry_failed"]

    @admin.action(description="Retry failed or conflicting pushes")
    def retry_failed(self, request, queryset):
        from .models import EntryStatus
        from .services import outbox_entry_retry

        retried = 0
        for entry in queryset.filter(status__in=[EntryStatus.FAILED, EntryStatus.CONFLICT]).order_by("pk"):
            outbox_entry_retry(entry=entry, actor=request.user)
            retried += 1
        self.message_user(request, f"{retried} push(es) queued again; entries not failed were left alone.")
