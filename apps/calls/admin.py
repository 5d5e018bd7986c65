from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import Call, OutboundCallerId


@admin.register(Call)
class CallAdmin(MirrorAdmin):
    list_display = [
        "callrail_id", "client_account", "start_time", "direction", "customer_name", "duration", "lead_status",
        "deleted_upstream_at",
    ]
    list_filter = ["client_account", "direction", "lead_status", "answered"]


@admin.register(OutboundCallerId)
class OutboundCallerIdAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "name", "phone_number", "verified", "company",
                    "deleted_upstream_at"]  # fmt: skip
    list_filter = ["client_account", "verified"]
