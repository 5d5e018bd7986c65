"""Mirror of CallRail notifications (GET /v3/a/{account}/notifications.json)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class Notification(MirrorModel):
    tenancy_company_field = "company"

    user = models.ForeignKey(
        "callrail_users.CallRailUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    tracker = models.ForeignKey(
        "trackers.Tracker", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    name = models.CharField(max_length=300, blank=True)
    email = models.CharField(max_length=254, blank=True, null=True)
    alert_type = models.CharField(max_length=40, blank=True)
    call_enabled = models.BooleanField(null=True)
    sms_enabled = models.BooleanField(null=True)
    send_email = models.BooleanField(null=True)
    send_push = models.BooleanField(null=True)
    send_desktop = models.BooleanField(null=True)

    class Meta(MirrorModel.Meta):
        ordering = ["name"]
