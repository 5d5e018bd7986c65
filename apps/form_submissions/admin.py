from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import FormSubmission


@admin.register(FormSubmission)
class FormSubmissionAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "submitted_at", "customer_name", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "lead_status"]
