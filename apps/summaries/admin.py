from django.contrib import admin

from apps.tenancy.admin import TenantAdmin

from .models import PortalSummary, SummaryDelivery, SummaryRecipient


@admin.register(PortalSummary)
class PortalSummaryAdmin(TenantAdmin):
    list_display = ["pk", "client_account", "company", "frequency", "weekday", "hour", "is_active", "created_at"]
    list_filter = ["client_account", "frequency", "is_active"]


@admin.register(SummaryRecipient)
class SummaryRecipientAdmin(TenantAdmin):
    list_display = ["email", "client_account", "summary", "unsubscribed_at", "last_error_at"]
    list_filter = ["client_account"]
    search_fields = ["email"]


@admin.register(SummaryDelivery)
class SummaryDeliveryAdmin(TenantAdmin):
    list_display = ["email", "client_account", "period_start", "period_end", "status", "attempts", "created_at"]
    list_filter = ["client_account", "status", "is_test"]
    search_fields = ["email"]
    readonly_fields = [f.name for f in SummaryDelivery._meta.fields]
