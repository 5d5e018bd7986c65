"""The beat dispatcher's tick: a fixed number of set-based queries whatever the number of accounts.

One tick (``sync_dispatch``, every minute):

1. loads the accounts that may need something — sync on, key not refused, and no run that only waits
   (queued recently, or waiting for a time still to come): a paused, refused or backing-off account costs
   nothing, it is filtered in SQL;
2. loads their active runs and schedules (missing schedules created in bulk);
3. decides in Python what each account's schedule wants (``services.due_kind``), the webhooks' slow polling
   for all candidates at once (``FRESH_DATA_SOURCES``), and retires abandoned runs / re-sends waiting runs
   whose wait is over;
4. creates the due runs with one ``bulk_create`` under the accounts' row locks (a re-read slice still queued
   for the account gives way: it waits for the workers' leftover time, the schedule's run does not) and
   updates the schedules with one ``bulk_update``; the tasks are sent when the transaction commits;
5. queued runs whose task was sent minutes ago and that no worker started, while the workers are not behind,
   are sent again (``resend_stuck``: a dead worker held their message).

The re-read's slices are planned by a task of their own (``reread_tick``, ``sync.reread_dispatch``, every
minute on a worker), so the tick that queues everyone's incrementals never waits for them: it makes the same
set-based decisions (steps 1–3, no writes), and unless the workers are behind (runs queued by earlier ticks not
started) or ``SYNC_REREAD_MAX_BACKLOG`` slices already wait, plans the next slice of idle accounts whose coverage
may have a part due, at most ``SYNC_DISPATCH_REREAD_CHECKS`` of them a minute in rotation — its one
per-account step, bounded. Slices are sent at the last priority (``apps.core.queues.LEFTOVER_PRIORITY``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.tenancy.models import ClientAccount

from .engine import setting
from .models import (
    ACTIVE_STATUSES,
    KIND_RANK,
    LEFTOVER_RUNS,
    SyncKind,
    SyncRun,
    SyncSchedule,
    SyncStatus,
    SyncTrigger,
)
from .resources import resource_names

logger = logging.getLogger(__name__)

REASON = "beat-dispatch"
#: What a tick reads of an account (the re-read step's plan included: budget overrides, the agency's retention).
ACCOUNT_FIELDS = ("pk", "agency_id", "time_zone", "budget_overrides", "agency__id", "agency__retention_months")


@dataclass
class Tick:
    """What one tick found and decided, account by account (pk order)."""

    now: datetime
    accounts: list[ClientAccount]
    runs: dict[int, list[SyncRun]] = field(default_factory=dict)  # active runs, oldest first
    schedules: dict[int, SyncSchedule] = field(default_factory=dict)
    retired: list[SyncRun] = field(default_factory=list)
    resend: list[SyncRun] = field(default_factory=list)
    due: dict[int, str] = field(default_factory=dict)  # account pk -> kind to queue
    leftover: dict[int, SyncRun] = field(default_factory=dict)  # account pk -> its queued re-read slice
    idle: list[ClientAccount] = field(default_factory=list)  # nothing due: a re-read slice may be
    behind: bool = False  # the workers are behind the schedules (``workers_behind``)


# ------------------------------------------------------------------------------------------- loading
#: A re-read slice no worker has started: it gives way to its account's incremental or full run when one is due.
LEFTOVER = LEFTOVER_RUNS & Q(status=SyncStatus.QUEUED)
GAVE_WAY = "gave way to the schedule's run before it started; the re-read lists these windows later"


def _is_leftover(run: SyncRun) -> bool:
    return run.uses_leftover_time and run.status == SyncStatus.QUEUED


def _idle_runs(now: datetime) -> Q:
    """Active runs that need nothing from the dispatcher this tick: queued and not yet stale (but a leftover
    re-read slice, which may have to give way), or waiting for a time still to come (a failing account backing
    off). Running runs are loaded (their staleness needs the lock), and so is everything else active."""
    stale_queued = now - timedelta(seconds=int(setting("SYNC_QUEUED_STALE_SECONDS", 3 * 3600)))
    return Q(Q(status=SyncStatus.QUEUED, queued_at__gte=stale_queued) & ~LEFTOVER) | Q(
        Q(not_before__isnull=True) | Q(not_before__gt=now), status=SyncStatus.WAITING
    )


def load_accounts(now: datetime) -> list[ClientAccount]:
    """Accounts the tick must look at: one query. Skipped in SQL: sync off, a refused key (not retried
    forever), and accounts whose every active run just waits."""
    runs = SyncRun.objects.unscoped(reason=REASON).filter(client_account=OuterRef("pk"), status__in=ACTIVE_STATUSES)
    idle = runs.filter(_idle_runs(now))
    busy = runs.exclude(_idle_runs(now))
    return list(
        ClientAccount.objects.unscoped(reason=REASON)
        .filter(sync_enabled=True, connection_error="")
        .filter(~Exists(idle) | Exists(busy))
        .select_related("agency")
        .only(*ACCOUNT_FIELDS)
        .order_by("pk")
    )


def load_runs(accounts: Sequence[ClientAccount]) -> dict[int, list[SyncRun]]:
    """The accounts' active runs, oldest first: one query."""
    out: dict[int, list[SyncRun]] = {}
    runs = (
        SyncRun.objects.unscoped(reason=REASON)
        .filter(client_account_id__in=[a.pk for a in accounts], status__in=ACTIVE_STATUSES)
        .defer("resources", "windows", "problems")
        .order_by("queued_at")
    )
    for run in runs:
        out.setdefault(run.client_account_id, []).append(run)
    return out


def load_schedules(accounts: Sequence[ClientAccount]) -> dict[int, SyncSchedule]:
    """The accounts' schedules, the default one created for an account that has none: one query (three the
    first time)."""
    ids = [a.pk for a in accounts]
    schedules = SyncSchedule.objects.unscoped(reason=REASON)
    found = {s.client_account_id: s for s in schedules.filter(client_account_id__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        schedules.bulk_create([SyncSchedule(client_account_id=pk) for pk in missing], ignore_conflicts=True)
        found.update({s.client_account_id: s for s in schedules.filter(client_account_id__in=missing)})
    return found


# ------------------------------------------------------------------------------------------ deciding
def _current_run(tick: Tick, account: ClientAccount) -> SyncRun | None:
    """Like ``services.active_run``: the first active run nobody abandoned; abandoned ones are retired."""
    from .services import _is_stale

    for run in tick.runs.get(account.pk, []):
        if _is_stale(run, tick.now):
            tick.retired.append(run)
            continue
        return run
    return None


def decide(tick: Tick) -> None:
    """Per account, in memory: re-send a waiting run whose wait is over, or the kind of run its schedule
    wants (at once if its last run was abandoned). One broken account (say, a time zone ZoneInfo refuses) is
    logged and skipped."""
    from .services import due_kind

    for account in tick.accounts:
        try:
            retired = len(tick.retired)
            existing = _current_run(tick, account)
            if existing is not None and _is_leftover(existing):
                tick.leftover[account.pk] = existing  # gives way if a run is due (``create_runs``)
            elif existing is not None:
                if existing.status == SyncStatus.WAITING and existing.not_before and existing.not_before <= tick.now:
                    tick.resend.append(existing)
                continue
            kind = due_kind(tick.schedules[account.pk], now=tick.now, time_zone=account.time_zone)
            # An abandoned run never did its work: its successor is due now, not at the schedule's next slot.
            for run in tick.retired[retired:]:
                if run.kind != SyncKind.REREAD and (kind is None or KIND_RANK[run.kind] > KIND_RANK[kind]):
                    kind = run.kind
            if kind is not None:
                tick.due[account.pk] = kind
            elif account.pk not in tick.leftover:
                tick.idle.append(account)
        except Exception:  # one broken account never stops the others' schedule
            logger.exception("sync dispatch failed for account %s", account.pk)


def slow_polling(tick: Tick) -> None:
    """Incrementals that may wait because another source (healthy webhooks) brings new records for free:
    asked once for every candidate together."""
    from .services import FRESH_DATA_SOURCES, slow_polling_allowed

    candidates = [
        a for a in tick.accounts
        if tick.due.get(a.pk) == SyncKind.INCREMENTAL and slow_polling_allowed(tick.schedules[a.pk], now=tick.now)
    ]  # fmt: skip
    fresh: set[int] = set()
    for source in FRESH_DATA_SOURCES:
        if candidates:
            try:
                fresh |= source(candidates, tick.now)
            except Exception:  # a broken source: polling at the schedule's pace is always safe
                logger.exception("sync dispatch: fresh-data source %s failed", source)
    for account in candidates:
        if account.pk in fresh:
            del tick.due[account.pk]
            if account.pk not in tick.leftover:
                tick.idle.append(account)
    tick.idle.sort(key=lambda a: a.pk)


# ------------------------------------------------------------------------------------------- writing
def retire(runs: list[SyncRun]) -> None:
    """Abandoned runs (as ``services.sync_run_interrupt``): interrupted in one query; their pages stay."""
    reason = "abandoned (worker gone or message lost); the next run resumes it"
    for run in runs:
        run.status = SyncStatus.INTERRUPTED
        run.finished_at = timezone.now()
        run.errors = [*run.errors, {"resource": run.progress.get("current", ""), "message": reason}]
    if runs:
        SyncRun.objects.unscoped(reason=REASON).bulk_update(runs, ["status", "finished_at", "errors"])


def queue_due(tick: Tick) -> list[SyncRun]:
    """The runs the schedules want (``create_runs``), a queued re-read slice giving way to its account's; the
    schedules marked."""
    return create_runs(tick, tick.due, give_way=[run for pk, run in tick.leftover.items() if pk in tick.due])


def create_runs(
    tick: Tick, kinds: dict[int, str], *, windows: dict[int, dict] | None = None, give_way: Sequence[SyncRun] = ()
) -> list[SyncRun]:
    """Create these runs (account pk -> kind; a re-read's windows) in one transaction: the accounts' rows
    locked (as ``sync_request`` does, so a concurrent "Sync now" cannot add a second active run), the re-read
    slices of ``give_way`` that no worker started yet interrupted, accounts that still have an active run left
    out; their schedules marked, their tasks sent on commit. Account order."""
    from .services import _enqueue_on_commit

    if not kinds:
        return []
    ids = sorted(kinds)
    resources = resource_names()
    lock_ttl = int(setting("SYNC_LOCK_TTL", 120))
    with transaction.atomic():
        list(ClientAccount.objects.unscoped(reason=REASON).filter(pk__in=ids).order_by("pk")
             .select_for_update().values_list("pk", flat=True))  # fmt: skip
        if give_way:  # (one a worker started meanwhile runs on: its account gets its run at a later tick)
            gave_way = {"status": SyncStatus.INTERRUPTED, "finished_at": timezone.now(),
                        "errors": [{"resource": "", "message": GAVE_WAY}]}  # fmt: skip
            SyncRun.objects.unscoped(reason=REASON).filter(LEFTOVER, pk__in=[r.pk for r in give_way]).update(**gave_way)
        taken = set(
            SyncRun.objects.unscoped(reason=REASON)
            .filter(client_account_id__in=ids, status__in=ACTIVE_STATUSES)  # (abandoned ones were retired)
            .values_list("client_account_id", flat=True)
        )
        new = [
            SyncRun(client_account_id=pk, kind=kinds[pk], trigger=SyncTrigger.SCHEDULE, lane="background",
                    resources=[n for n in resources if n in windows[pk]] if windows else list(resources),
                    windows=windows[pk] if windows else {}, lock_ttl=lock_ttl, queued_at=tick.now)
            for pk in ids if pk not in taken
        ]  # fmt: skip
        created = SyncRun.objects.unscoped(reason=REASON).bulk_create(new)
        mark_scheduled(tick, created)
        for run in created:
            _enqueue_on_commit(run)
    return created


def mark_scheduled(tick: Tick, created: list[SyncRun]) -> None:
    """The schedules of the accounts that got a run: a re-read slice, or the incremental (and a full one's
    full) done now. An UPDATE per kind, all rows of one getting the same values."""
    rereads = {r.client_account_id for r in created if r.kind == SyncKind.REREAD}
    full = {r.client_account_id for r in created if KIND_RANK[r.kind] >= KIND_RANK[SyncKind.FULL]}
    values = {"last_incremental_at": tick.now}
    for accounts, changes in (
        ({r.client_account_id for r in created} - full - rereads, values),
        (full, {**values, "last_full_at": tick.now}),
        (rereads, {"last_reread_at": tick.now}),
    ):
        if accounts:
            SyncSchedule.objects.unscoped(reason=REASON).filter(client_account_id__in=accounts).update(**changes)
            for pk in accounts:  # the loaded rows as saved (the re-read step may save them again)
                for name, value in changes.items():
                    setattr(tick.schedules[pk], name, value)


def resend(runs: list[SyncRun]) -> None:
    """Waiting runs whose wait is over go back on the queue (no new run for them)."""
    from .services import _enqueue_on_commit

    with transaction.atomic():
        for run in runs:
            _enqueue_on_commit(run)


# ------------------------------------------------------------------------------------------ re-reads
def reread_turn(candidates: list[ClientAccount], now: datetime) -> list[ClientAccount]:
    """At most ``SYNC_DISPATCH_REREAD_CHECKS`` candidates, a different part of the list each minute so every
    candidate's turn comes within ``len / checks`` minutes (all of them each tick when they fit)."""
    checks = max(1, int(setting("SYNC_DISPATCH_REREAD_CHECKS", 25)))
    if len(candidates) <= checks:
        return candidates
    start = (int(now.timestamp() // 60) * checks) % len(candidates)
    return [candidates[(start + i) % len(candidates)] for i in range(checks)]


def _queued(now: datetime) -> QuerySet[SyncRun]:
    """Runs not started yet, annotated with when their task was last sent; those queued so long ago that they
    count as lost (``SYNC_QUEUED_STALE_SECONDS``: retired) left out, and re-read slices, which wait for the
    workers' leftover time by design (and give way to their account's next run)."""
    stale = now - timedelta(seconds=int(setting("SYNC_QUEUED_STALE_SECONDS", 3 * 3600)))
    return (
        SyncRun.objects.unscoped(reason=REASON)
        .filter(status=SyncStatus.QUEUED, queued_at__gte=stale)
        .exclude(LEFTOVER)
        .annotate(last_sent=Coalesce("sent_at", "queued_at"))
    )


def _resend_after() -> timedelta:
    return timedelta(seconds=float(setting("SYNC_QUEUED_RESEND_SECONDS", 180)))


def _max_backlog() -> int:
    return int(setting("SYNC_REREAD_MAX_BACKLOG", 10))


def workers_behind(now: datetime) -> bool:
    """More than ``SYNC_REREAD_MAX_BACKLOG`` runs sent by earlier ticks (or people) within the last
    ``SYNC_QUEUED_RESEND_SECONDS`` have not started yet: the workers are behind the schedules (one bounded
    query). Older ones are not a backlog but stuck (``resend_stuck``)."""
    backlog = _max_backlog()
    waiting = _queued(now).filter(last_sent__lt=now, last_sent__gte=now - _resend_after())
    return len(waiting.values_list("pk", flat=True)[: backlog + 1]) > backlog


def resend_stuck(tick: Tick) -> list[SyncRun]:
    """Queued runs whose task was sent more than ``SYNC_QUEUED_RESEND_SECONDS`` ago while the workers are not
    behind: a worker that died held their message (the broker gives a message taken and never acknowledged back
    only after its visibility timeout, an hour), or it was lost. Sent again, at most ``SYNC_REREAD_MAX_BACKLOG``
    a tick: whichever copy a worker takes first runs it, the other finds it finished (tasks are idempotent)."""
    if tick.behind:
        return []
    oldest_first = _queued(tick.now).filter(last_sent__lt=tick.now - _resend_after()).order_by("last_sent", "pk")
    stuck = list(oldest_first[: _max_backlog()])
    if stuck:
        SyncRun.objects.unscoped(reason=REASON).filter(pk__in=[r.pk for r in stuck]).update(sent_at=tick.now)
        logger.warning("sync dispatch: %d queued runs not started since their task was sent, sent again: %s",
                       len(stuck), [r.pk for r in stuck])  # fmt: skip
        resend(stuck)
    return stuck


def queue_rereads(tick: Tick) -> list[SyncRun]:
    """The continuous re-read's next slice for idle accounts whose coverage may have a part due, with the
    workers' leftover time only: the schedules' incremental and full runs go first (nothing is queued while the
    workers are behind or ``SYNC_REREAD_MAX_BACKLOG`` slices wait already). A fixed number of queries
    for the turn's accounts (their plans' reads, their slices' look-ups, the runs created as ``queue_due``
    does); the budget is peeked per account (Redis)."""
    from apps.callrail.budget import get_budget

    from .reread import plan_inputs, reread_due, reread_may_be_due, reread_plan, reread_windows

    backlog = _max_backlog()
    waiting = SyncRun.objects.unscoped(reason=REASON).filter(LEFTOVER).values_list("pk", flat=True)[:backlog]
    if tick.behind or len(waiting) >= backlog:  # (slices waiting for leftover time: enough)
        return []
    maybe = reread_may_be_due(tick.idle, now=tick.now)
    turn = reread_turn([a for a in tick.idle if a.pk in maybe], tick.now)
    inputs = plan_inputs(turn, now=tick.now, schedules=tick.schedules) if turn else {}
    due: dict[int, dict] = {}
    budget = get_budget()
    for account in turn:
        try:
            plan = reread_plan(account, now=tick.now, inputs=inputs[account.pk])
            parts = reread_due(account, now=tick.now, plan=plan, states=maybe[account.pk])
            overrides = getattr(account, "budget_overrides", None) or None
            if parts and budget.peek(account.pk, "general", "background", overrides=overrides):
                due[account.pk] = parts  # (no room in the budget now: the incremental is not kept waiting)
        except Exception:  # one broken account never stops the others' schedule
            logger.exception("sync dispatch (re-read) failed for account %s", account.pk)
    windows = reread_windows(due)
    return create_runs(tick, {pk: SyncKind.REREAD for pk in windows}, windows=windows)


# ------------------------------------------------------------------------------------------------ tick
def plan_tick(now: datetime) -> Tick:
    """What each account needs now (steps 1–3), decided in memory: nothing written yet."""
    tick = Tick(now=now, accounts=load_accounts(now), behind=workers_behind(now))
    if tick.accounts:
        tick.runs = load_runs(tick.accounts)
        tick.schedules = load_schedules(tick.accounts)
        decide(tick)
        slow_polling(tick)
    return tick


def dispatch_tick(*, now: datetime | None = None) -> list[SyncRun]:
    """One beat tick; returns the runs it queued, in account order."""
    tick = plan_tick(now or timezone.now())
    resend_stuck(tick)
    retire(tick.retired)
    if tick.resend:
        resend(tick.resend)
    return queue_due(tick)


def reread_tick(*, now: datetime | None = None) -> list[SyncRun]:
    """The re-read's minute: the next slice of idle accounts (the tick's decisions, made again); returns the
    runs it queued, in account order."""
    return queue_rereads(plan_tick(now or timezone.now()))
