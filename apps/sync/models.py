"""Pull-sync records: the account's own CallRail record, runs, per-resource cursors and schedules."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.tenancy.models import TenantOwnedModel

from .mirror import MirrorModel


class AccountRecord(MirrorModel):
    """The CallRail account itself (GET /v3/a/{account}.json)."""

    name = models.CharField(max_length=255, blank=True)
    numeric_id = models.BigIntegerField(null=True, blank=True)
    outbound_recording_enabled = models.BooleanField(null=True)
    hipaa_account = models.BooleanField(null=True)

    class Meta(MirrorModel.Meta):
        verbose_name = "CallRail account record"


class SyncKind(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental"
    REREAD = "reread", "Re-read"
    FULL = "full", "Full"


#: A wider pass includes a narrower one (a full pass also covers the re-read window and the cursor).
KIND_RANK = {SyncKind.INCREMENTAL: 0, SyncKind.REREAD: 1, SyncKind.FULL: 2}


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for budget or CallRail"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with errors"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


ACTIVE_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING, SyncStatus.WAITING)
FINISHED_STATUSES = (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED, SyncStatus.INTERRUPTED)


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Sync now"
    COMMAND = "command", "Management command"
    WEBHOOK = "webhook", "Webhook follow-up"


#: Runs that only use the workers' leftover time: the continuous re-read's slices (``SyncRun.uses_leftover_time``).
#: They are sent at the last priority, and one no worker started gives way to its account's scheduled run.
LEFTOVER_RUNS = models.Q(kind=SyncKind.REREAD, trigger=SyncTrigger.SCHEDULE)


class SyncRun(TenantOwnedModel):
    """One pull run for one account: what it did, what it cost, and what went wrong.

    Idempotent execution: a task receiving a run that already finished does nothing.
    """

    kind = models.CharField(max_length=12, choices=SyncKind.choices)
    resources = models.JSONField(default=list, help_text="Resource names this run covers, in order.")
    windows = models.JSONField(
        default=dict, blank=True,
        help_text="A re-read's time windows per resource: {resource: [[start, end], …]} (ISO 8601, inclusive).",
    )  # fmt: skip
    status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.QUEUED, db_index=True)
    trigger = models.CharField(max_length=10, choices=SyncTrigger.choices, default=SyncTrigger.SCHEDULE)
    lane = models.CharField(max_length=12, default="background")
    lock_ttl = models.PositiveIntegerField(default=120, help_text="Seconds the account lock lives without renewal.")
    queued_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the dispatcher last sent a queued run's task again (else: queued_at)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="While waiting: when the run resumes.")
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_unchanged = models.PositiveIntegerField(default=0)
    records_deleted = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    rate_limited = models.PositiveIntegerField("429 answers", default=0)
    attempts = models.PositiveIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True, help_text="done: [resources], current, pages, records.")
    errors = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True, help_text="Bad upstream records, stored as far as valid.")
    problem_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        indexes = [
            models.Index(fields=["client_account", "status"], name="syncrun_account_status"),
            # An account's runs by when they finished: its last success is a probe from the newest end, the last
            # day's runs a short range, however long its history.
            models.Index(fields=["client_account", "finished_at"], name="syncrun_account_finished"),
            # Its runs newest first (the history page, its latest run): the first rows of a range.
            models.Index(fields=["client_account", "queued_at", "id"], name="syncrun_account_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def uses_leftover_time(self) -> bool:
        """A slice of the continuous re-read: it waits for the workers' leftover time (``LEFTOVER_RUNS``)."""
        return self.kind == SyncKind.REREAD and self.trigger == SyncTrigger.SCHEDULE

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def progress_percent(self) -> int:
        """Share of the run's resources completed (a UI progress indicator)."""
        if self.status not in ACTIVE_STATUSES:
            return 100
        done = len(self.progress.get("done", []))
        return int(100 * done / max(1, len(self.resources)))

    def summary(self) -> str:
        line = (
            f"sync #{self.pk} {self.kind} {self.status}: created {self.records_created}, updated "
            f"{self.records_updated}, unchanged {self.records_unchanged}, deleted {self.records_deleted}; "
            f"{self.requests} requests, {self.rate_limited} x 429"
        )
        if self.duration is not None:
            line += f", {self.duration.total_seconds():.1f} s"
        if self.problem_count:
            line += f"; {self.problem_count} bad record(s)"
        for error in self.errors:
            line += f"\n  error: {error.get('resource', '')}: {error.get('message', '')}"
        return line


class SyncTotals(TenantOwnedModel):
    """Per account, the CallRail requests and 429 answers its sync runs recorded, added up as the runs save them:
    the System page and the metrics scrape read one row per account, not the whole run history."""

    requests = models.PositiveBigIntegerField(default=0)
    rate_limited = models.PositiveBigIntegerField("429 answers", default=0)

    class Meta:
        verbose_name_plural = "sync totals"
        constraints = [models.UniqueConstraint(fields=["client_account"], name="synctotals_one_per_account")]

    def __str__(self) -> str:
        return f"{self.requests} requests, {self.rate_limited} x 429"


class SyncState(TenantOwnedModel):
    """Per account and resource: the committed cursor and an unfinished pass's checkpoint.

    ``cursor`` is the end of the last completed time window (incremental resources). ``checkpoint`` is
    written in the same transaction as each page of a time-windowed pass, so a killed worker's successor
    resumes exactly after the last committed page.
    """

    resource = models.CharField(max_length=40)
    cursor = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_reread_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    coverage = models.JSONField(
        default=list, blank=True, help_text="Which time ranges were last listed when: [[start, end, read_at], …]."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_account", "resource"], name="syncstate_unique_resource")
        ]

    def __str__(self) -> str:
        return f"{self.resource} cursor {self.cursor}"


class SyncSchedule(TenantOwnedModel):
    """When the beat dispatcher syncs an account (edited on the account page)."""

    incremental_every_minutes = models.PositiveIntegerField(default=10)
    full_every_hours = models.PositiveIntegerField(default=24, help_text="Full sync (nightly by default).")
    full_at_hour = models.PositiveSmallIntegerField(
        default=3, help_text="Local hour (account time zone) after which the nightly full sync may start."
    )
    last_incremental_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_reread_at = models.DateTimeField(null=True, blank=True, help_text="When a re-read slice was last queued.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_account"], name="syncschedule_one_per_account")]

    def __str__(self) -> str:
        return f"every {self.incremental_every_minutes} min, full every {self.full_every_hours} h"
