from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import FormSubmission


@admin.register(FormSubmission)
class FormSubmissionAdmin(TenantAdmin):
    list_display = ["callrail_id", "client_account", "submitted_at", "customer_name", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "lead_status"]
    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
