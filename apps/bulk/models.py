"""A bulk action on a list selection, run as one Celery job (``bulk.run_job``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenancy.models import TenantOwnedModel


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Finished"
    FAILED = "failed", "Stopped by an error"


class BulkJob(TenantOwnedModel):
    """One bulk action: ``client_account`` is the account whose list was selected; ``target_account_ids`` the
    client accounts a "copy set-up" action writes into (else empty). The selection is either explicit ids or
    the list's filter query string ("all N matching this filter"), re-evaluated in the job through the scope.
    """

    agency = models.ForeignKey("tenancy.Agency", on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=40)
    action = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict, blank=True)
    target_account_ids = models.JSONField(default=list, blank=True)
    selection_ids = models.JSONField(default=list, blank=True, help_text="Explicit portal ids (empty: all matching).")
    selection_query = models.TextField(blank=True, help_text="The list's filter query string (all matching).")
    all_matching = models.BooleanField(default=False)
    previewed_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{id, record, reason}] per failed record.")
    ignored_ids = models.JSONField(default=list, blank=True, help_text="Ids outside the person's scope.")
    estimated_requests = models.JSONField(default=dict, blank=True, help_text="account id -> CallRail requests.")
    first_entry_id = models.BigIntegerField(null=True, blank=True, help_text="First outbox entry the job queued.")
    last_entry_id = models.BigIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["client_account", "-id"], name="bulk_job_account")]

    def __str__(self) -> str:
        return f"Bulk {self.action} on {self.resource} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)
