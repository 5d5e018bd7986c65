"""Bulk actions: the dry-run preview, the signed token that pins it, the job, and running the job.

Nothing here talks to CallRail: every record's edit goes through the mirror app's write service, which
validates it, changes the mirror and queues an outbox entry (audited per record). The job records one audit
event when it is started and one when it ends; the person who started it is the actor of both and of every
record's event (carried into the Celery task, and passed to the services).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.audit.services import audit_record
from apps.callrail.budget import budget_status_for_account
from apps.push.models import OutboxEntry
from apps.push.services import PushRefused, push_in_background
from apps.tenancy.models import ClientAccount

from .actions import ActionContext, BulkAction, get_action
from .models import BulkJob, JobStatus
from .selectors import bulk_selection, user_can_bulk

logger = logging.getLogger(__name__)

PREVIEW_ROWS = 50  # records shown with their change
PREVIEW_SCAN = 2000  # records the preview examines; beyond, the counts are extrapolated
TOKEN_SALT = "bulk.preview"  # noqa: S105  (a signing salt, not a password)
TOKEN_MAX_AGE = 3600
PROGRESS_EVERY = 20
MAX_FAILURES_KEPT = 1000


class BulkRefused(ValueError):
    """The bulk action cannot start (a stale or forged preview, no permission), with the reason."""


@dataclass
class PreviewRow:
    record: Any
    change: str | None
    error: str | None = None
    label: str = ""


def record_label(resource: Any, record: Any, account: Any = None) -> str:
    """A record as its list shows it: the first two default columns (a call: its start and caller), times in
    the account's zone as everywhere in the portal."""
    from apps.portal.formatting import format_when

    parts = []
    for column in [c for c in resource.columns if c.default][:2]:
        value = column.value(record)
        if hasattr(value, "strftime"):
            value = format_when(value, account)
        if value not in (None, "", []):
            parts.append(str(value))
    return " · ".join(parts) or str(record)


@dataclass
class AccountEstimate:
    account: Any
    requests: int
    hour_left: int
    day_left: int
    limit_class: str = "general"
    #: when the class's hour window frees its next token (None: unknown or not spent)
    frees_at: Any = None

    @property
    def budget_label(self) -> str:
        return {"sms_send": "SMS sends", "outbound_call": "outbound calls"}.get(self.limit_class, "requests")

    @property
    def over(self) -> bool:
        return self.requests > min(self.hour_left, self.day_left)


@dataclass
class Preview:
    action: BulkAction
    count: int  # records selected (in scope)
    units: int  # record x target account (copies), else the records
    scanned: int
    changing: int  # among the scanned
    refused: int  # among the scanned
    rows: list[PreviewRow] = field(default_factory=list)
    ignored_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    estimates: list[AccountEstimate] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.scanned >= self.count

    @property
    def expected_changes(self) -> int:
        """Records that would change (extrapolated from the scanned ones when the selection is larger)."""
        if self.exact or not self.scanned:
            return self.changing
        return round(self.changing * self.count / self.scanned)

    @property
    def total_requests(self) -> int:
        return sum(e.requests for e in self.estimates)

    @property
    def over_budget(self) -> bool:
        return any(e.over for e in self.estimates)


def _budget_left(account: Any, limit_class: str = "general") -> tuple[int, int, Any]:
    status = budget_status_for_account(account)
    cls = next((c for c in status.classes if c.limit_class == limit_class), status.general)
    hour, day = max(0, cls.hour_limit - cls.hour_spent), max(0, cls.day_limit - cls.day_spent)
    return hour, day, (cls.hour_frees_at if hour == 0 else None)


def bulk_preview(
    *, user: Any, agency: Any, account: Any, resource_name: str, action: BulkAction, params: dict,
    ids: list[int] | None = None, query: str = "", all_matching: bool = False, targets: list[Any] | None = None,
) -> Preview:  # fmt: skip
    """What the action would change (the first records in detail, counts over up to PREVIEW_SCAN records), and
    the CallRail requests it will spend per account (one write per changed record) against the budget left."""
    selection = bulk_selection(
        user=user, agency=agency, account=account, resource_name=resource_name, ids=ids, query=query,
        all_matching=all_matching,
    )  # fmt: skip
    targets = list(targets or [])
    count = selection.count()
    ctx = ActionContext(account=account, actor=user, targets=targets)
    rows: list[PreviewRow] = []
    scanned = changing = refused = 0
    for batch in selection.batches():
        for record in batch[: PREVIEW_SCAN - scanned]:
            try:
                change, error = action.plan(record, params, ctx), None
            except PushRefused as exc:
                change, error = None, exc.message
            scanned += 1
            changing += change is not None and error is None
            refused += error is not None
            if len(rows) < PREVIEW_ROWS:
                rows.append(PreviewRow(record=record, change=change, error=error,
                                       label=record_label(selection.resource, record, account)))  # fmt: skip
        if scanned >= PREVIEW_SCAN:
            break
    preview = Preview(
        action=action, count=count, units=count * (len(targets) if action.copies else 1), scanned=scanned,
        changing=changing, refused=refused, rows=rows, ignored_ids=selection.ignored_ids,
        problems=selection.problems, targets=targets,
    )  # fmt: skip
    spenders = (
        [(t, preview.expected_changes) for t in targets] if action.copies else [(account, preview.expected_changes)]
    )
    for spender, requests in spenders:
        hour_left, day_left, frees_at = _budget_left(spender, action.limit_class)
        preview.estimates.append(AccountEstimate(account=spender, requests=requests, hour_left=hour_left,
                                                 day_left=day_left, limit_class=action.limit_class,
                                                 frees_at=frees_at))  # fmt: skip
    return preview


# ------------------------------------------------------------------------------------------ the signed preview
def bulk_token_make(
    *, user: Any, account: Any, resource_name: str, action: BulkAction, params: dict, ids: list[int],
    query: str, all_matching: bool, targets: list[Any], preview: Preview,
) -> str:  # fmt: skip
    """A signed copy of what the preview showed: the confirm POST carries it, so neither the selection nor the
    parameters can change between the preview and the job."""
    return signing.dumps(
        {
            "u": user.pk, "a": account.pk, "r": resource_name, "x": action.name, "p": params,
            "i": sorted(int(i) for i in ids) if not all_matching else [], "q": query if all_matching else "",
            "all": bool(all_matching), "t": [t.pk for t in targets], "n": preview.count,
            "e": {str(e.account.pk): e.requests for e in preview.estimates}, "g": preview.ignored_ids,
        },
        salt=TOKEN_SALT, compress=True,
    )  # fmt: skip


def bulk_token_read(*, token: str, user: Any, account: Any, resource_name: str) -> dict:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise BulkRefused("This preview is more than an hour old; preview the action again.") from None
    except signing.BadSignature:
        raise BulkRefused("This preview could not be verified; preview the action again.") from None
    if data.get("u") != user.pk or data.get("a") != account.pk or data.get("r") != resource_name:
        raise BulkRefused("This preview belongs to another person, account or list.")
    if get_action(resource_name, data.get("x", "")) is None:
        raise BulkRefused("Unknown bulk action.")
    return data


# ------------------------------------------------------------------------------------------ the job
def bulk_job_create(*, user: Any, agency: Any, account: Any, data: dict) -> BulkJob:
    """Record the job (audited) and queue ``bulk.run_job`` when the transaction commits."""
    from .tasks import bulk_run_job_task

    if not user_can_bulk(user=user, agency=agency):
        raise BulkRefused("Only agency staff can run bulk actions.")
    with transaction.atomic():
        job = BulkJob.objects.create(
            client_account=account, agency=agency, resource=data["r"], action=data["x"], parameters=data["p"],
            target_account_ids=data["t"], selection_ids=data["i"], selection_query=data["q"],
            all_matching=data["all"], previewed_count=data["n"], estimated_requests=data["e"], requested_by=user,
            ignored_ids=data.get("g", []),
        )  # fmt: skip
        audit_record(
            agency=agency, client_account=account, action="bulk.job_start", actor=user, obj=job,
            after={"resource": job.resource, "action": job.action, "parameters": job.parameters,
                   "selection": "all matching" if job.all_matching else job.selection_ids,
                   "filter": job.selection_query, "targets": job.target_account_ids, "previewed": job.previewed_count,
                   "estimated_requests": job.estimated_requests},
        )  # fmt: skip
        transaction.on_commit(
            lambda: bulk_run_job_task.apply_async(kwargs={"client_account_id": account.pk, "job_id": job.pk})
        )
    return job


def _save_progress(job: BulkJob, **extra: Any) -> None:
    values = {
        "done": job.done, "succeeded": job.succeeded, "unchanged": job.unchanged, "failed": job.failed,
        "failures": job.failures, **extra,
    }  # fmt: skip
    BulkJob.objects.for_account(job.client_account_id).filter(pk=job.pk).update(**values)
    for key, value in extra.items():
        setattr(job, key, value)


def _fail(job: BulkJob, record: Any, reason: str, target: Any = None) -> None:
    job.failed += 1
    if len(job.failures) < MAX_FAILURES_KEPT:
        job.failures.append(
            {"id": getattr(record, "pk", record), "record": str(record)[:200] if record is not None else "",
             "target": getattr(target, "name", None), "reason": reason}
        )  # fmt: skip


def _last_entry_id(account: Any) -> int:
    return OutboxEntry.objects.for_account(account).aggregate(m=Max("pk"))["m"] or 0


def bulk_job_run(*, job: BulkJob) -> BulkJob:
    """Apply the action to every selected record, batch by batch, through the services; a refused record is
    reported with its reason and the others go on. Progress is saved as it goes (the page polls it)."""
    if job.finished:
        return job
    account, agency, user = job.client_account, job.agency, job.requested_by
    action = get_action(job.resource, job.action)
    if action is None or user is None or not user.is_active or not user_can_bulk(user=user, agency=agency):
        job.status, job.message, job.finished_at = JobStatus.FAILED, "The person who started this job may no "\
            "longer run bulk actions.", timezone.now()  # fmt: skip
        job.save()
        return job
    targets = list(ClientAccount.objects.visible_to(user, agency).filter(agency=agency,
                                                                           pk__in=job.target_account_ids))  # fmt: skip
    if action.copies and not targets:
        job.status, job.message, job.finished_at = JobStatus.FAILED, "None of the chosen accounts is visible to "\
            "you any more.", timezone.now()  # fmt: skip
        job.save()
        return job
    selection = bulk_selection(
        user=user, agency=agency, account=account, resource_name=job.resource, ids=job.selection_ids,
        query=job.selection_query, all_matching=job.all_matching,
    )  # fmt: skip
    # explicit ids outside the scope at the preview are ignored (reported); ids in it then but gone now fail
    ignored = set() if job.all_matching else set(job.ignored_ids)
    expected = None if job.all_matching else set(job.selection_ids) - ignored
    records = len(expected) if expected is not None else selection.count()
    job.done = job.succeeded = job.unchanged = job.failed = 0
    job.failures = []
    units = records * (len(targets) if action.copies else 1)
    _save_progress(
        job, status=JobStatus.RUNNING, started_at=timezone.now(), total=units, ignored_ids=sorted(ignored),
        first_entry_id=_last_entry_id(account) + 1,
    )  # fmt: skip
    seen: set[int] = set()
    try:
        with push_in_background():  # the records' drains go behind people's own edits (the push queue)
            for batch in selection.batches():
                for record in batch:
                    seen.add(record.pk)
                    for target in targets if action.copies else [None]:
                        ctx = ActionContext(account=account, actor=user, targets=[target] if target else [])
                        try:
                            with transaction.atomic():
                                changed = action.run(record, job.parameters, ctx)
                        except PushRefused as exc:
                            _fail(job, record, exc.message, target)
                        except ObjectDoesNotExist:
                            _fail(job, record, "It was deleted meanwhile.", target)
                        else:
                            if changed:
                                job.succeeded += 1
                            else:
                                job.unchanged += 1
                        job.done += 1
                        if job.done % PROGRESS_EVERY == 0:
                            _save_progress(job)
        for pk in sorted((expected or set()) - seen):
            _fail(job, pk, "It was deleted meanwhile (or is no longer visible to you).")
            job.done += len(targets) if action.copies else 1
        message = ""
        if job.all_matching and job.done < job.total:
            message = f"{job.total - job.done} record(s) no longer matched the filter when the job reached them."
        _save_progress(job, status=JobStatus.DONE, finished_at=timezone.now(), message=message,
                       last_entry_id=_last_entry_id(account))  # fmt: skip
    except Exception as exc:
        logger.exception("bulk job %s failed", job.pk)
        _save_progress(job, status=JobStatus.FAILED, finished_at=timezone.now(), message=f"Stopped: {exc}",
                       last_entry_id=_last_entry_id(account))  # fmt: skip
    audit_record(
        agency=agency, client_account=account, action="bulk.job_finish", actor=user, obj=job,
        after={"status": job.status, "total": job.total, "succeeded": job.succeeded, "unchanged": job.unchanged,
               "failed": job.failed, "ignored_ids": job.ignored_ids, "message": job.message},
    )  # fmt: skip
    return job
