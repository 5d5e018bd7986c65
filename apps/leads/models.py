"""Who answers a lead: the missed-lead inbox (``selectors.missed_leads``) is computed from the mirror; only the
assignment of a lead to a member of the agency is stored."""

from django.conf import settings
from django.db import models

from apps.tenancy.models import TenantOwnedModel


class LeadKind(models.TextChoices):
    CALL = "call", "Missed call"
    FORM = "form", "Form submission"
    TEXT = "text", "Text awaiting an answer"


class LeadAssignment(TenantOwnedModel):
    """A lead (a missed call, a form submission or a conversation, by its mirrored row) given to a person."""

    kind = models.CharField(max_length=8, choices=LeadKind.choices)
    object_pk = models.BigIntegerField()
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_account", "kind", "object_pk"], name="lead_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_pk} → {self.assignee_id}"
