"""The transactional outbox: one row per edit a person made, drained to CallRail in order by workers.

A service changes the mirrored row and writes its ``OutboxEntry`` in the same database transaction, so an
edit is either both saved and queued, or neither. The drain (``engine.py``) sends each account's entries in
id order; per object a later entry never overtakes an earlier one that has not succeeded.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenancy.models import TenantOwnedModel

#: ``callrail_id`` of a mirrored row created in the portal that CallRail has not confirmed yet.
PENDING_PREFIX = "pending:"


class Operation(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class EntryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    DONE = "done", "Synced"
    FAILED = "failed", "Failed"
    CONFLICT = "conflict", "Conflict"
    SUPERSEDED = "superseded", "Superseded"
    DISCARDED = "discarded", "Discarded"


#: Entries still to be sent (the drain's work).
OPEN_STATUSES = (EntryStatus.PENDING, EntryStatus.IN_FLIGHT)
#: Entries that need a person (retry or discard); they hold back later entries of the same object.
STUCK_STATUSES = (EntryStatus.FAILED, EntryStatus.CONFLICT)
#: Entries that hold back later entries of the same object.
BLOCKING_STATUSES = (*OPEN_STATUSES, *STUCK_STATUSES)


class OutboxEntry(TenantOwnedModel):
    """One edit to push. ``changes`` holds the new column values, ``base`` the values the edit was based on
    (CallRail's last known values), ``upstream`` what a later pull saw upstream for those columns."""

    resource = models.CharField(max_length=40, help_text="Write description name (push/writes.py).")
    object_pk = models.BigIntegerField(help_text="Primary key of the mirrored row.")
    object_repr = models.CharField(max_length=200, blank=True)
    operation = models.CharField(max_length=10, choices=Operation.choices)
    changes = models.JSONField(default=dict, blank=True)
    base = models.JSONField(default=dict, blank=True)
    upstream = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="Operation options, e.g. append_tags.")
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    request_body = models.JSONField(default=dict, blank=True, help_text="What was last sent to CallRail.")
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_answer = models.JSONField(default=dict, blank=True, help_text="CallRail's last answer (body or error).")
    message = models.TextField(blank=True, help_text="CallRail's message, for a person to read.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="A transient failure: retry after this.")

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "outbox entries"
        indexes = [
            models.Index(fields=["client_account", "status", "id"], name="push_outbox_account_status"),
            models.Index(fields=["client_account", "resource", "object_pk", "id"], name="push_outbox_object"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource} {self.object_repr or self.object_pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
