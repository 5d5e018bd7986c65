"""Mirror of CallRail companies (GET /v3/a/{account}/companies.json)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class Company(MirrorModel):
    tenancy_company_field = "pk"  # a client limited to some companies sees only those

    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    dni_active = models.BooleanField(null=True)
    callscribe_enabled = models.BooleanField(null=True)
    lead_scoring_enabled = models.BooleanField(null=True)
    form_capture = models.BooleanField(null=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["name"]
        verbose_name_plural = "companies"
