"""Who did what, when, to which record: one row per change, kept when the record itself is gone."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Agency-level, optionally about one client account. Read through `selectors.audit_event_list`."""

    class Via(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        TASK = "task", "Background task"
        COMMAND = "command", "Command"

    agency = models.ForeignKey("tenancy.Agency", on_delete=models.CASCADE, related_name="audit_events")
    client_account_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # survives account deletion
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The owner or admin who was viewing as `actor`, if any.",
    )
    action = models.CharField(max_length=80)  # "<entity>.<verb>", e.g. "membership.invite"
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.WEB)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="audit_agency_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr} by {self.actor or 'system'}"
