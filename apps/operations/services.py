"""Data lifecycle: per-agency retention of mirrored records, account exports, scheduled account deletion.

Every tenant query goes through ``.for_account(account)``; the beat jobs list accounts with
``unscoped(reason="beat-dispatch")`` and then act on one account at a time. Deletes run in batches so a
large account never holds one huge transaction (or lock) open.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.services import audit_record
from apps.sync.mirror import MirrorModel
from apps.sync.models import FINISHED_STATUSES
from apps.tenancy.models import Agency, ClientAccount

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_MONTHS = 25  # CallRail keeps communication records 25 months
DAYS_PER_MONTH = 30.4375  # 365.25 / 12


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# ------------------------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``model`` whose ``date_field`` (or, where that is empty, ``fallback_field``) is older than
    the cutoff, optionally only those matching ``only`` (e.g. finished outbox entries)."""

    model_label: str
    date_field: str
    fallback_field: str | None = None
    only: Q | None = None
    days_setting: str | None = None  # a setting that keeps these rows fewer days than the agency's retention

    def cutoff(self, agency_cutoff: datetime, now: datetime) -> datetime:
        days = float(setting(self.days_setting, 0)) if self.days_setting else 0
        return max(agency_cutoff, now - timedelta(days=days)) if days > 0 else agency_cutoff

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def queryset(self, account: ClientAccount, cutoff: datetime) -> models.QuerySet:
        condition = Q(**{f"{self.date_field}__lt": cutoff})
        if self.fallback_field:
            condition |= Q(**{f"{self.date_field}__isnull": True, f"{self.fallback_field}__lt": cutoff})
        rows = self.model.objects.for_account(account).filter(condition)
        return rows.filter(self.only) if self.only is not None else rows


def retention_rules() -> list[RetentionRule]:
    """What the retention job deletes. Communication records by when they happened; webhook events and
    outbox entries only once finished (an unsent edit or an unapplied event is never dropped)."""
    rules = [
        RetentionRule("calls.Call", "start_time", "first_seen_at"),
        RetentionRule("form_submissions.FormSubmission", "submitted_at", "first_seen_at"),
        RetentionRule("text_conversations.TextConversation", "last_message_at", "first_seen_at"),
    ]
    if apps.is_installed("apps.webhooks"):
        rules.append(
            RetentionRule(
                "webhooks.WebhookEvent",
                "received_at",
                only=Q(status__in=["rejected", "applied", "ignored", "duplicate", "failed"]),
            )
        )
    if apps.is_installed("apps.push"):
        rules.append(
            RetentionRule(
                "push.OutboxEntry", "done_at", "updated_at", only=Q(status__in=["done", "superseded", "discarded"])
            )
        )
    # Sync run history (SyncTotals keeps what the runs added up): finished runs, after SYNC_RUN_HISTORY_DAYS.
    rules.append(RetentionRule("sync.SyncRun", "finished_at", only=Q(status__in=FINISHED_STATUSES),
                               days_setting="SYNC_RUN_HISTORY_DAYS"))  # fmt: skip
    return rules


def retention_cutoff(*, agency: Agency, now: datetime | None = None) -> datetime:
    """Records older than this are past the agency's retention."""
    now = now or timezone.now()
    return now - timedelta(days=round(agency.retention_months * DAYS_PER_MONTH))


def agency_set_retention(*, agency: Agency, months: int, actor: Any = None) -> Agency:
    """Change how many months the agency keeps mirrored communication records (1–120). Audited."""
    before = agency.retention_months
    agency.retention_months = months
    try:
        agency.full_clean(validate_unique=False, validate_constraints=False)  # names the field on error
    except ValidationError:
        agency.retention_months = before  # the instance stays as saved
        raise
    if before == months:
        return agency
    with transaction.atomic():
        agency.save(update_fields=["retention_months"])
        audit_record(
            agency=agency,
            action="agency.retention",
            actor=actor,
            obj=agency,
            before={"retention_months": before},
            after={"retention_months": months},
        )
    return agency


def _delete_in_batches(rows: models.QuerySet, *, account: ClientAccount, batch_size: int) -> int:
    """Delete ``rows`` (a queryset scoped to ``account``) ``batch_size`` at a time, each batch its own
    transaction. Returns how many rows of ``rows.model`` went (cascaded rows not counted)."""
    model = rows.model
    total = 0
    while True:
        pks = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with transaction.atomic():
            _, per_model = model.objects.for_account(account).filter(pk__in=pks).delete()
        total += per_model.get(model._meta.label, 0)


def retention_enforce_account(
    *, account: ClientAccount, now: datetime | None = None, batch_size: int | None = None
) -> dict[str, int]:
    """Delete one account's records that are past its agency's retention. Returns deleted counts by model."""
    batch_size = batch_size or int(setting("RETENTION_BATCH_SIZE", 1000))
    now = now or timezone.now()
    cutoff = retention_cutoff(agency=account.agency, now=now)
    counts: dict[str, int] = {}
    for rule in retention_rules():
        rows = rule.queryset(account, rule.cutoff(cutoff, now))
        deleted = _delete_in_batches(rows, account=account, batch_size=batch_size)
        if deleted:
            counts[rule.model._meta.label] = deleted
    if counts:
        audit_record(
            agency=account.agency,
            action="retention.enforce",
            obj=account,
            client_account=account,
            before={"cutoff": cutoff.isoformat(), "retention_months": account.agency.retention_months},
            after={"deleted": counts},
            via="task",
        )
        logger.info("retention: deleted %s from account %s (older than %s)", counts, account.pk, cutoff)
    return counts


def retention_enforce(*, now: datetime | None = None, batch_size: int | None = None) -> dict[int, dict[str, int]]:
    """The nightly job: enforce every active agency's retention on each of its accounts."""
    accounts = (
        ClientAccount.objects.unscoped(reason="beat-dispatch")
        .filter(agency__is_active=True)
        .select_related("agency")
        .order_by("pk")
    )
    result = {}
    for account in accounts:
        try:
            counts = retention_enforce_account(account=account, now=now, batch_size=batch_size)
        except Exception:  # one account's failure must not stop the others; logged with its id
            logger.exception("retention failed for account %s", account.pk)
            continue
        if counts:
            result[account.pk] = counts
    return result


# ---------------------------------------------------------------------------------------------- export
def mirror_models() -> list[type[MirrorModel]]:
    """Every mirrored CallRail resource, in a stable order."""
    found = [m for m in apps.get_models() if issubclass(m, MirrorModel) and not m._meta.abstract]
    return sorted(found, key=lambda m: m._meta.label_lower)


def _row_dict(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def export_dir() -> Path:
    return Path(setting("OPERATIONS_EXPORT_DIR", Path(settings.VAR_DIR) / "exports"))


@dataclass
class ExportResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)


def account_export_write(*, account: ClientAccount, directory: Path | None = None) -> ExportResult:
    """Write a zip of the account's mirror: ``manifest.json`` and one ``<app>.<model>.jsonl`` per resource
    (one JSON object per row, every column, the full CallRail payload included; never the API key).

    Written to a temporary file and renamed, so a half-written export is never mistaken for a whole one.
    """
    directory = Path(directory or export_dir())
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"{account.agency.slug}-{account.callrail_account_id}-{account.pk}-{stamp}.zip"
    counts: dict[str, int] = {}
    fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".zip", dir=directory)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for model in mirror_models():
                name = model._meta.label_lower
                count = 0
                with archive.open(f"{name}.jsonl", "w", force_zip64=True) as out:
                    for obj in model.objects.for_account(account).order_by("pk").iterator(chunk_size=2000):
                        out.write(json.dumps(_row_dict(obj), cls=DjangoJSONEncoder).encode() + b"\n")
                        count += 1
                counts[name] = count
            manifest = {
                "agency": account.agency.slug,
                "client_account": account.pk,
                "name": account.name,
                "callrail_account_id": account.callrail_account_id,
                "exported_at": timezone.now().isoformat(),
                "files": {f"{name}.jsonl": n for name, n in counts.items()},
            }
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return ExportResult(path=target, counts=counts)


def client_account_export(*, account: ClientAccount, actor: Any = None, directory: Path | None = None) -> ExportResult:
    """Write the account's export (``account_export_write``) and record it in the audit log."""
    result = account_export_write(account=account, directory=directory)
    audit_record(
        agency=account.agency,
        action="client_account.exported",
        actor=actor,
        obj=account,
        client_account=account,
        after={"export": result.path.name, "exported": result.counts},
    )
    return result


# ------------------------------------------------------------------------------------- account deletion
def _grace() -> timedelta:
    return timedelta(days=float(setting("ACCOUNT_DELETION_GRACE_DAYS", 7)))


def client_account_schedule_deletion(*, account: ClientAccount, actor: Any = None) -> ClientAccount:
    """Export the account's data, pause its sync and mark it for deletion after the grace period."""
    if account.deletion_due_at is not None:
        raise ValidationError("This client account is already scheduled for deletion.")
    export = account_export_write(account=account)
    now = timezone.now()
    with transaction.atomic():
        account = ClientAccount.objects.for_account(account).select_for_update().get()
        account.sync_enabled_before_deletion = account.sync_enabled
        account.sync_enabled = False
        account.deletion_requested_at = now
        account.deletion_due_at = now + _grace()
        account.deletion_requested_by = actor if getattr(actor, "is_authenticated", False) else None
        account.deletion_export_path = str(export.path)
        account.save()
        audit_record(
            agency=account.agency,
            action="client_account.deletion_scheduled",
            actor=actor,
            obj=account,
            client_account=account,
            after={
                "deletion_due_at": account.deletion_due_at.isoformat(),
                "export": export.path.name,
                "exported": export.counts,
            },
        )
    return account


def client_account_cancel_deletion(*, account: ClientAccount, actor: Any = None) -> ClientAccount:
    """Keep the account after all: clear the schedule and restore its sync switch (the export stays)."""
    with transaction.atomic():
        account = ClientAccount.objects.for_account(account).select_for_update().get()
        if account.deletion_due_at is None:
            raise ValidationError("This client account is not scheduled for deletion.")
        before = {"deletion_due_at": account.deletion_due_at.isoformat()}
        if account.sync_enabled_before_deletion is not None:
            account.sync_enabled = account.sync_enabled_before_deletion
        account.sync_enabled_before_deletion = None
        account.deletion_due_at = None
        account.deletion_requested_at = None
        account.deletion_requested_by = None
        account.save()
        audit_record(
            agency=account.agency,
            action="client_account.deletion_cancelled",
            actor=actor,
            obj=account,
            client_account=account,
            before=before,
        )
    return account


def _tenant_models() -> list[type[models.Model]]:
    """Every model with a foreign key to ClientAccount, ordered so a model referring to another tenant
    model comes before it (rows are deleted before the rows they point at: no SET_NULL sweeps)."""
    tenant = [
        m
        for m in apps.get_models()
        if m is not ClientAccount
        and any(f.is_relation and f.related_model is ClientAccount for f in m._meta.concrete_fields)
    ]
    refs = {
        m: {f.related_model for f in m._meta.concrete_fields if f.is_relation and f.related_model in tenant} - {m}
        for m in tenant
    }
    ordered: list[type[models.Model]] = []
    placed: set = set()
    while len(ordered) < len(tenant):
        progress = False
        for m in sorted(tenant, key=lambda x: x._meta.label):
            # m can go once nothing left unplaced refers to it
            if m in placed or any(m in refs[other] for other in tenant if other not in placed and other is not m):
                continue
            ordered.append(m)
            placed.add(m)
            progress = True
        if not progress:  # a cycle: the collector's CASCADE / SET_NULL handles the rest
            ordered += [m for m in sorted(tenant, key=lambda x: x._meta.label) if m not in placed]
            break
    return ordered


def client_account_delete(*, account: ClientAccount, batch_size: int | None = None) -> dict[str, int]:
    """Remove the account and every row of it, in batches, then its budget keys. Audited on the agency."""
    from apps.callrail.budget import get_budget

    batch_size = batch_size or int(setting("RETENTION_BATCH_SIZE", 1000))
    counts: dict[str, int] = {}
    for model in _tenant_models():
        deleted = _delete_in_batches(model.objects.for_account(account), account=account, batch_size=batch_size)
        if deleted:
            counts[model._meta.label] = deleted
    agency = account.agency
    snapshot = {"name": account.name, "callrail_account_id": account.callrail_account_id, "id": account.pk}
    with transaction.atomic():
        audit_record(
            agency=agency,
            action="client_account.deleted",
            client_account=account.pk,
            before=snapshot,
            after={"deleted": counts, "export": Path(account.deletion_export_path).name},
            via="task",
        )
        ClientAccount.objects.for_account(account).delete()
    try:
        get_budget().reset(account.pk)
    except Exception:  # the budget keys expire on their own; a Redis outage must not undo the deletion
        logger.warning("could not clear the budget keys of deleted account %s", account.pk)
    logger.info("deleted client account %s: %s", account.pk, counts)
    return counts


def client_account_delete_due(*, now: datetime | None = None) -> list[int]:
    """The beat job: delete accounts whose grace period is over (skipping one whose sync still runs)."""
    from apps.sync.services import active_run

    now = now or timezone.now()
    due = (
        ClientAccount.objects.unscoped(reason="beat-dispatch")
        .filter(deletion_due_at__isnull=False, deletion_due_at__lte=now)
        .select_related("agency")
        .order_by("pk")
    )
    deleted = []
    for account in due:
        if active_run(account) is not None:
            logger.info("account %s is due for deletion but a sync is still active; next round", account.pk)
            continue
        try:
            client_account_delete(account=account)
        except Exception:
            logger.exception("deleting client account %s failed; retried next round", account.pk)
            continue
        deleted.append(account.pk)
    return deleted
