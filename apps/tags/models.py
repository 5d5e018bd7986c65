"""Mirror of CallRail tags (GET /v3/a/{account}/tags.json), account- or company-level."""

from django.db import models

from apps.sync.mirror import MirrorModel


class Tag(MirrorModel):
    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="tags"
    )
    name = models.CharField(max_length=255, blank=True)
    tag_level = models.CharField(max_length=20, blank=True)
    color = models.CharField(max_length=20, blank=True, null=True)
    background_color = models.CharField(max_length=20, blank=True, null=True)
    status = models.CharField(max_length=20, blank=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["name"]
