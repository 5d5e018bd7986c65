from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Integration, IntegrationTrigger


@admin.register(Integration)
class IntegrationAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "type", "state", "company", "deleted_upstream_at"]
    list_filter = ["client_account", "type", "state"]


@admin.register(IntegrationTrigger)
class IntegrationTriggerAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "integration_type", "call_type", "lead_status", "company",
                    "deleted_upstream_at"]  # fmt: skip
    list_filter = ["client_account", "integration_type", "call_type"]
