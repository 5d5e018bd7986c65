"""Mirror of CallRail summary email subscriptions (GET /v3/a/{account}/summary_emails.json)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class SummaryEmail(MirrorModel):
    tenancy_company_field = "company"

    user = models.ForeignKey(
        "callrail_users.CallRailUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="summary_emails"
    )
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="summary_emails",
        help_text="Set when the subscription is scoped to one company.",
    )
    scope_type = models.CharField(max_length=20, blank=True)
    scope_id = models.CharField(max_length=64, blank=True, null=True)
    frequency = models.JSONField(default=list, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["callrail_id"]
