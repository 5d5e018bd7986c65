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


class IntegrationTrigger(MirrorModel):
    """Mirror of CallRail integration triggers, listed per company (GET /v3/a/{account}/integration_triggers.json
    ?company_id=…, records under ``integration_criteria``), read-only. A trigger of no integration is the
    company's default one; a null attribute is no filter."""

    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="integration_triggers"
    )
    integration_callrail_id = models.IntegerField(null=True, blank=True, help_text="null: the default trigger")
    integration_type = models.CharField(max_length=60, blank=True)
    tracker_ids = models.JSONField(default=list, blank=True)
    call_type = models.CharField(max_length=30, blank=True, null=True)
    min_duration = models.IntegerField(null=True, blank=True, help_text="Seconds.")
    max_duration = models.IntegerField(null=True, blank=True, help_text="Seconds.")
    lead_status = models.CharField(max_length=30, blank=True, null=True)

    class Meta(MirrorModel.Meta):
        ordering = ["integration_type"]

    def __str__(self) -> str:
        return self.integration_type or self.callrail_id
