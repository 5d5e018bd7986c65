"""Mirror of CallRail trackers (GET /v3/a/{account}/trackers.json): tracking numbers, source, call flow."""

from django.db import models

from apps.sync.mirror import MirrorModel


class Tracker(MirrorModel):
    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="trackers"
    )
    name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, blank=True)
    destination_number = models.CharField(max_length=32, blank=True, null=True)
    tracking_numbers = models.JSONField(default=list, blank=True)
    whisper_message = models.TextField(blank=True, null=True)
    sms_enabled = models.BooleanField(null=True)
    source = models.JSONField(default=dict, blank=True)
    source_type = models.CharField(max_length=40, blank=True, null=True)
    call_flow = models.JSONField(default=dict, blank=True)
    recording_enabled = models.BooleanField(null=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["name"]
