"""Mirror of CallRail form submissions (GET /v3/a/{account}/form_submissions.json)."""

from django.conf import settings
from django.db import models

from apps.sync.mirror import MirrorModel
from apps.tenancy.models import TenantOwnedModel


class FormSubmission(MirrorModel):
    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="form_submissions"
    )
    person_id = models.CharField(max_length=64, blank=True, null=True)
    form_name = models.CharField(max_length=255, blank=True, null=True)
    form_url = models.TextField(blank=True, null=True)
    landing_page_url = models.TextField(blank=True, null=True)
    referrer = models.CharField(max_length=255, blank=True, null=True)
    referring_url = models.TextField(blank=True, null=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    first_form = models.BooleanField(null=True)
    customer_phone_number = models.CharField(max_length=32, blank=True, null=True)
    customer_name = models.CharField(max_length=255, blank=True, null=True)
    customer_email = models.CharField(max_length=254, blank=True, null=True)
    source = models.CharField(max_length=255, blank=True, null=True)
    medium = models.CharField(max_length=255, blank=True, null=True)
    campaign = models.CharField(max_length=255, blank=True, null=True)
    keywords = models.TextField(blank=True, null=True)
    lead_status = models.CharField(max_length=40, blank=True, null=True)
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.TextField(blank=True, null=True)
    tags = models.JSONField(default=list, blank=True, help_text="Tag names.")

    class Meta(MirrorModel.Meta):
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["client_account", "submitted_at"], name="formsub_account_submitted")]


class IgnoredFormField(TenantOwnedModel):
    """A form field CallRail is told to leave out of a company's (or every company's) form submissions
    (``POST form_submissions/ignored_fields.json``; CallRail also removes it from earlier submissions). CallRail
    offers no way to list or remove them, so the portal keeps what was set from it; sent through the outbox."""

    company = models.ForeignKey("companies.Company", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", help_text="Empty: every company of the account.")  # fmt: skip
    field_name = models.CharField(max_length=255)
    entry = models.ForeignKey("push.OutboxEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["field_name", "pk"]

    def __str__(self) -> str:
        return f"ignored form field {self.field_name}"
