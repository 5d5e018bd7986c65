"""Pull-sync services: queue a run, execute it under the account lock, dispatch the schedule.

Writers of SyncRun / SyncSchedule / mirrored rows (through the engine). Tasks (``tasks.py``) only load ids
and call these.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.callrail.client import client_for_account, new_session
from apps.callrail.errors import AuthFailed, CallRailError, Transient
from apps.core.queues import interactive_options, leftover_options
from apps.credentials.services import client_account_mark_refused
from apps.tenancy.models import ClientAccount

from .engine import SliceOver, SyncContext, setting, sync_resource
from .locks import AccountSyncLock, LockLost, is_locked
from .models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    SyncKind,
    SyncRun,
    SyncSchedule,
    SyncStatus,
    SyncTotals,
    SyncTrigger,
)
from .resources import get_resource, resource_names

logger = logging.getLogger(__name__)


class LockBusy(Exception):
    """Another run of this account holds the lock; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"account sync lock busy for {retry_after} s")
        self.retry_after = retry_after


#: Redis unreachable (restarted, failed over, network blip) while a run holds the account lock.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
#: The database connection dropped (server restarted, backend terminated, network blip) or a transaction
#: failed in a way a retry can fix (serialization failure, deadlock).
DB_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
try:  # the engine's COPY upsert talks to psycopg directly, whose errors Django does not wrap
    import psycopg

    DB_DOWN += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # SQLite (the embedded default)
    pass
BACKEND_RETRY_SECONDS = 5.0


class BackendUnavailable(Transient):
    """Redis (the account lock) or PostgreSQL could not be reached mid-run: the run waits and retries from its
    checkpoint like after a CallRail 503, instead of recording the resource as crashed (the run ending
    ``partial`` with the rest of the resource never fetched) or staying ``running`` until the dispatcher
    retires it."""


# --------------------------------------------------------------------------------------------- queue
def _is_stale(run: SyncRun, now: datetime) -> bool:
    """An active run nobody is working on any more (its worker died, or its message was lost)."""
    if run.status == SyncStatus.RUNNING:
        beat = run.heartbeat_at or run.started_at or run.queued_at
        return now - beat > timedelta(seconds=run.lock_ttl) and not is_locked(run.client_account_id)
    if run.status == SyncStatus.WAITING:
        grace = timedelta(seconds=int(setting("SYNC_WAITING_GRACE_SECONDS", 900)))
        return run.not_before is not None and now - run.not_before > grace and not is_locked(run.client_account_id)
    if run.status == SyncStatus.QUEUED:
        return now - run.queued_at > timedelta(seconds=int(setting("SYNC_QUEUED_STALE_SECONDS", 3 * 3600)))
    return False


def sync_run_interrupt(*, run: SyncRun, reason: str) -> None:
    """Mark an abandoned run interrupted; its committed pages and checkpoints stay for the next run."""
    run.status = SyncStatus.INTERRUPTED
    run.finished_at = timezone.now()
    run.errors = [*run.errors, {"resource": run.progress.get("current", ""), "message": reason}]
    run.save(update_fields=["status", "finished_at", "errors"])


def active_run(account: ClientAccount, *, now: datetime | None = None) -> SyncRun | None:
    """The account's queued/running/waiting run, after retiring one that nobody works on any more."""
    now = now or timezone.now()
    for run in SyncRun.objects.for_account(account).filter(status__in=ACTIVE_STATUSES).order_by("queued_at"):
        if _is_stale(run, now):
            sync_run_interrupt(run=run, reason="abandoned (worker gone or message lost); the next run resumes it")
            continue
        return run
    return None


def sync_request(
    *,
    account: ClientAccount,
    kind: str = SyncKind.INCREMENTAL,
    resources: Iterable[str] | None = None,
    trigger: str = SyncTrigger.MANUAL,
    lane: str = "background",
    lock_ttl: int | None = None,
    windows: dict[str, list] | None = None,
    now: datetime | None = None,
) -> tuple[SyncRun, bool]:
    """Queue a sync of ``account`` unless one is already queued or running (then return that one, False).

    The task is sent when the transaction commits; the schedule, "Sync now", ``manage.py sync_account`` and
    a webhook's targeted pull all come through here. ``windows`` (re-reads only) names the time windows per
    resource; ``now`` is when it counts as queued (the dispatcher's clock).
    """
    if windows and kind != SyncKind.REREAD:
        raise ValueError("time windows are for re-reads only")
    names = list(resources) if resources else list(windows) if windows else resource_names()
    for name in names:
        get_resource(name)  # validates
    ordered = [n for n in resource_names() if n in names]
    with transaction.atomic():
        # Serialise concurrent requests for one account (a row lock on PostgreSQL; SQLite locks the file).
        ClientAccount.objects.for_account(account).select_for_update().get()
        existing = active_run(account, now=now)
        if existing is not None:
            return existing, False
        run = SyncRun.objects.create(
            client_account=account,
            kind=kind,
            resources=ordered,
            windows=windows or {},
            trigger=trigger,
            lane=lane,
            lock_ttl=int(lock_ttl or setting("SYNC_LOCK_TTL", 120)),
            queued_at=now or timezone.now(),
        )
        _enqueue_on_commit(run)
    return run, True


def _enqueue_on_commit(run: SyncRun, countdown: float | None = None) -> None:
    """Send the run's task when the transaction commits: a person's "Sync now" (the interactive lane) on the
    ``interactive`` queue, ahead of every agency's scheduled backlog; the rest on ``sync``, where the continuous
    re-read's slices go last (``LEFTOVER_PRIORITY``): every incremental and full run waiting starts first."""
    from .tasks import sync_run_task

    kwargs = {"client_account_id": run.client_account_id, "sync_run_id": run.pk}
    options = {**interactive_options(run.lane == "interactive"), **leftover_options(run.uses_leftover_time)}
    transaction.on_commit(lambda: sync_run_task.apply_async(kwargs=kwargs, countdown=countdown, **options))


# ------------------------------------------------------------------------------------------- execute
@dataclass
class _Wire:
    requests: int = 0
    rate_limited: int = 0

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.requests += 1
        if response.status_code == 429:
            self.rate_limited += 1


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_run_execute(*, run: SyncRun) -> SyncRun:
    """Execute (or resume) one run under the account lock. Idempotent for finished runs.

    Raises ``LockBusy`` when another run holds the account, and ``Transient`` CallRail errors (after
    recording the run as waiting) so the task retries at the time CallRail or the budget allows; every
    page committed before stays, and the retry continues after it.
    """
    if run.status in FINISHED_STATUSES:
        return run
    account = ClientAccount.objects.for_account(run.client_account_id).get()
    lock = AccountSyncLock(account.pk, owner=f"run{run.pk}@{_owner()}")
    try:
        acquired = lock.acquire(run.lock_ttl)
    except REDIS_DOWN as exc:
        raise BackendUnavailable(f"Redis unreachable: {exc}", retry_after=BACKEND_RETRY_SECONDS) from exc
    if not acquired:
        raise LockBusy(retry_after=max(1, lock.ttl()))
    wire = _Wire()
    base_requests, base_429 = run.requests, run.rate_limited
    session = new_session()
    session.hooks["response"].append(wire.hook)
    client = client_for_account(account, lane=run.lane, session=session)
    now = timezone.now()
    run.status = SyncStatus.RUNNING
    run.started_at = run.started_at or now
    run.heartbeat_at = now
    run.not_before = None
    run.attempts += 1
    run.save(update_fields=["status", "started_at", "heartbeat_at", "not_before", "attempts"])
    base = {
        "created": run.records_created, "updated": run.records_updated,
        "unchanged": run.records_unchanged, "deleted": run.records_deleted,
    }  # fmt: skip
    base_problems, base_problem_count = list(run.problems), run.problem_count

    progress_every = float(setting("SYNC_PROGRESS_SAVE_SECONDS", 2.0))
    saved_at = time.monotonic()

    def save_progress(ctx: SyncContext, *, force: bool = True) -> None:
        """Renew the lock (every page) and save the run's counters and progress: at once when ``force``, else at
        most every ``SYNC_PROGRESS_SAVE_SECONDS`` (the pages' data and checkpoints are committed either way)."""
        nonlocal saved_at
        lock.renew(run.lock_ttl)
        run.progress = {**run.progress, "current": ctx.current}
        if not force and time.monotonic() - saved_at < progress_every:
            return
        saved_at = time.monotonic()
        c = ctx.counters
        run.records_created = base["created"] + c.created
        run.records_updated = base["updated"] + c.updated
        run.records_unchanged = base["unchanged"] + c.unchanged
        run.records_deleted = base["deleted"] + c.deleted
        counted = (run.requests, run.rate_limited)
        run.requests = base_requests + wire.requests
        run.rate_limited = base_429 + wire.rate_limited
        run.problems = (base_problems + ctx.problems)[:200]
        run.problem_count = base_problem_count + ctx.problem_count
        run.heartbeat_at = timezone.now()
        run.save(update_fields=[
            "records_created", "records_updated", "records_unchanged", "records_deleted", "requests",
            "rate_limited", "problems", "problem_count", "progress", "heartbeat_at",
        ])  # fmt: skip
        sync_totals_add(account_id=run.client_account_id, requests=run.requests - counted[0],
                        rate_limited=run.rate_limited - counted[1])  # fmt: skip

    def page_done(ctx: SyncContext) -> None:
        run.progress = {**run.progress, "pages": run.progress.get("pages", 0) + 1}
        save_progress(ctx, force=False)

    ctx = SyncContext(account=account, client=client, run=run, windows=run.windows or {}, slice_ends=_slice_ends(),
                      on_page=page_done)  # fmt: skip
    done = list(run.progress.get("done", []))
    try:
        for name in run.resources:
            if name in done:
                continue
            try:
                hooks = PASS_HOOKS.get(name)
                before = hooks[0](account=account) if hooks else None
                sync_resource(ctx, get_resource(name), run.kind)
                if hooks:  # e.g. tags deleted or renamed upstream: taken off (renamed on) every call now
                    effect = hooks[1](account=account, before=before)
                    if any(effect.values()):
                        run.progress = {**run.progress, f"{name}_applied": effect}
            except (Transient, LockLost):
                raise
            except REDIS_DOWN as exc:
                raise BackendUnavailable(f"Redis unreachable: {exc}", retry_after=BACKEND_RETRY_SECONDS) from exc
            except DB_DOWN as exc:
                connection.close()  # the retry (and the wait recorded below) open a new connection
                raise BackendUnavailable(
                    f"database connection lost: {type(exc).__name__}: {exc}", retry_after=BACKEND_RETRY_SECONDS
                ) from exc
            except AuthFailed as exc:
                run.errors = [*run.errors, {"resource": name, "message": str(exc)}]
                logger.warning("sync run %s account %s stopped: %s", run.pk, account.pk, exc)
                # Shown on the account page; the schedule skips the account until a new key is saved.
                client_account_mark_refused(account=account, error=exc)
                break
            except CallRailError as exc:
                run.errors = [*run.errors, {"resource": name, "message": str(exc)}]
                logger.warning("sync run %s account %s resource %s failed: %s", run.pk, account.pk, name, exc)
                continue
            except Exception as exc:  # a bug or a database error: recorded, and the other resources go on
                logger.exception("sync run %s account %s resource %s crashed", run.pk, account.pk, name)
                run.errors = [*run.errors, {"resource": name, "message": f"{type(exc).__name__}: {exc}"}]
                continue
            done.append(name)
            run.progress = {**run.progress, "done": done}
            save_progress(ctx, force=False)  # a resume skips the resources done (if saved: else lists them again)
        save_progress(ctx)
        if not [e for e in run.errors if not e.get("transient")]:  # waits that were retried are no failure
            run.status = SyncStatus.SUCCEEDED
        else:
            run.status = SyncStatus.PARTIAL if done else SyncStatus.FAILED
        run.finished_at = timezone.now()
        run.progress = {**run.progress, "current": ""}
        run.save(update_fields=["status", "finished_at", "progress", "errors"])
        return run
    except SliceOver:
        _record_slice(run, ctx, save_progress)
        raise
    except Transient as exc:
        _record_wait(run, ctx, save_progress, exc)
        raise
    finally:
        try:
            lock.release()
        except REDIS_DOWN:  # the lock expires by itself (its ttl)
            logger.warning("sync run %s account %s: Redis unreachable, lock left to expire", run.pk, account.pk)


def _slice_ends() -> float | None:
    """When this execution's slice of worker time ends (``SYNC_SLICE_SECONDS``, 0: never)."""
    seconds = float(setting("SYNC_SLICE_SECONDS", 120))
    return time.monotonic() + seconds if seconds > 0 else None


def _record_slice(run: SyncRun, ctx: SyncContext, save_progress: Any) -> None:
    """The slice is over: the run waits at the tail of its queue (the task sends it there). ``not_before``: if
    that message is lost, the dispatcher re-sends the run a slice later, as for any wait."""
    try:
        save_progress(ctx)
    except LockLost:
        return
    run.status = SyncStatus.WAITING
    run.not_before = timezone.now() + timedelta(seconds=max(60.0, float(setting("SYNC_SLICE_SECONDS", 120))))
    run.progress = {**run.progress, "slices": run.progress.get("slices", 0) + 1}
    run.save(update_fields=["status", "not_before", "progress"])


def _record_wait(run: SyncRun, ctx: SyncContext, save_progress: Any, exc: Transient) -> None:
    try:
        save_progress(ctx)
    except LockLost:
        return
    except REDIS_DOWN:
        pass  # the lock cannot be renewed; the wait is still recorded so the dispatcher re-sends the run
    run.status = SyncStatus.WAITING
    run.not_before = timezone.now() + timedelta(seconds=float(exc.retry_after or 0))
    run.errors = [*run.errors[-20:], {"resource": ctx.current, "message": str(exc), "transient": True}]
    run.save(update_fields=["status", "not_before", "errors"])


def sync_totals_add(*, account_id: int, requests: int, rate_limited: int) -> None:
    """Add what a run just recorded to its account's ``SyncTotals`` (the row made on first use): a run's worker
    counts the requests it made itself, as it saves them, so nothing is counted twice."""
    if requests <= 0 and rate_limited <= 0:
        return
    changes = {"requests": F("requests") + requests, "rate_limited": F("rate_limited") + rate_limited}
    totals = SyncTotals.objects.for_account(account_id)
    if not totals.update(**changes):
        totals.bulk_create([SyncTotals(client_account_id=account_id)], ignore_conflicts=True)
        totals.update(**changes)


def sync_run_give_up(*, run: SyncRun, message: str) -> None:
    """Retries exhausted (or a bug outside the engine): the run fails, with why."""
    run.status = SyncStatus.FAILED
    run.finished_at = timezone.now()
    run.errors = [*run.errors, {"resource": run.progress.get("current", ""), "message": message}]
    run.save(update_fields=["status", "finished_at", "errors"])


# ------------------------------------------------------------------------------------------ schedule
def sync_schedule_for(*, account: ClientAccount) -> SyncSchedule:
    schedule, _ = SyncSchedule.objects.for_account(account).get_or_create(client_account=account)
    return schedule


@transaction.atomic
def sync_schedule_update(*, account: ClientAccount, actor: Any = None, **values: Any) -> SyncSchedule:
    """Set an account's sync intervals (the account page's form calls this). Audited: what changed."""
    from apps.audit.services import audit_record

    allowed = {"incremental_every_minutes", "full_every_hours", "full_at_hour"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown schedule field(s): {', '.join(sorted(unknown))}")
    schedule = sync_schedule_for(account=account)
    before = {name: getattr(schedule, name) for name in values}
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.full_clean(exclude=["client_account"])
    schedule.save()
    changed = sorted(name for name in values if before[name] != getattr(schedule, name))
    if changed:
        audit_record(
            agency=account.agency, client_account=account, actor=actor, action="sync_schedule.update",
            obj=schedule, before={n: before[n] for n in changed}, after={n: getattr(schedule, n) for n in changed},
        )  # fmt: skip
    return schedule


def due_kind(schedule: SyncSchedule, *, now: datetime, time_zone: str) -> str | None:
    """Which kind of run (if any) the schedule wants now: full > incremental. (Re-reads are continuous:
    ``reread.reread_next`` says which slice is due.)"""
    from zoneinfo import ZoneInfo

    local_hour = now.astimezone(ZoneInfo(time_zone or "UTC")).hour
    full_every = timedelta(hours=schedule.full_every_hours)
    if schedule.last_full_at is None:
        return SyncKind.FULL
    nightly = schedule.full_every_hours % 24 == 0
    if now - schedule.last_full_at >= full_every - (timedelta(hours=2) if nightly else timedelta(0)) and (
        not nightly or local_hour >= schedule.full_at_hour
    ):
        return SyncKind.FULL
    if schedule.last_incremental_at is None or now - schedule.last_incremental_at >= timedelta(
        minutes=schedule.incremental_every_minutes
    ):
        return SyncKind.INCREMENTAL
    return None


#: Per resource: ``(account=) -> facts`` taken before its pass and ``(account=, before=) -> counts`` after it,
#: registered by the resource's app (apps.tags: deleted and renamed tags applied to the mirrored calls).
PASS_HOOKS: dict[str, tuple[Callable[..., Any], Callable[..., dict[str, int]]]] = {}

#: ``(accounts, now) -> {account pk}``: the accounts another source brings new records for free right now
#: (healthy webhooks: registered by apps.webhooks, which builds on sync — sync imports no webhook code).
#: Asked once per dispatcher tick for every candidate together.
FRESH_DATA_SOURCES: list[Callable[[Sequence[ClientAccount], datetime], set[int]]] = []


def slow_polling_allowed(schedule: SyncSchedule, *, now: datetime) -> bool:
    """Whether the schedule lets the incremental run wait for a fresh-data source: the last incremental run
    is younger than ``WEBHOOK_HEALTHY_INCREMENTAL_MINUTES`` (longer than the schedule's own pace)."""
    slow = int(setting("WEBHOOK_HEALTHY_INCREMENTAL_MINUTES", 60))
    last = schedule.last_incremental_at
    return slow > schedule.incremental_every_minutes and last is not None and now - last < timedelta(minutes=slow)


def webhooks_slow_polling(account: ClientAccount, schedule: SyncSchedule, *, now: datetime) -> bool:
    """True while the incremental run may wait: webhooks are healthy for the account (they bring calls, texts
    and forms for free) and the last incremental run is younger than ``WEBHOOK_HEALTHY_INCREMENTAL_MINUTES``.
    When webhooks fall silent while calls were expected, polling is back at the schedule's pace."""
    if not slow_polling_allowed(schedule, now=now):
        return False
    return any(account.pk in source([account], now) for source in FRESH_DATA_SOURCES)


def sync_dispatch(*, now: datetime | None = None) -> list[SyncRun]:
    """The beat fan-out: queue what each enabled account's schedule wants, never a second run for an
    account with one queued, running or waiting; re-send waiting runs whose wait is over. A fixed number of
    queries a tick whatever the number of accounts (``dispatch.py``)."""
    from .dispatch import dispatch_tick

    return dispatch_tick(now=now)


def sync_reread_dispatch(*, now: datetime | None = None) -> list[SyncRun]:
    """The continuous re-read's minute: queue the next slice of idle accounts that have one due, with the
    workers' leftover time only (``dispatch.reread_tick``)."""
    from .dispatch import reread_tick

    return reread_tick(now=now)


def mirror_apply_records(
    *, account: ClientAccount, resource: str, records: list[dict], parent: Any = None
) -> dict[str, int]:
    """Apply records CallRail sent outside a listing (a call-modified webhook, a push's answer, a listing for
    one parent read on demand) to the mirror, through the same mapping and idempotent upsert as the pull.
    ``parent``: the row a per-parent resource was listed for (outbound caller IDs: their company). Never marks
    anything deleted."""
    from .engine import apply_page

    ctx = SyncContext(account=account, client=None)
    described = get_resource(resource)
    extra = {f"{described.parent.column}_id": parent.pk} if parent is not None and described.parent else None
    counts = apply_page(ctx, described, records, extra=extra)
    return {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged,
            "problems": ctx.problem_count}  # fmt: skip
