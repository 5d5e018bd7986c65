"""Mirror of CallRail integrations, listed per company (GET /v3/a/{account}/integrations.json?company_id=…)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class Integration(MirrorModel):
    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="integrations"
    )
    type = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=20, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["type"]
