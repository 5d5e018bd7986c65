"""The beat dispatcher at scale: a fixed number of queries a tick whatever the number of accounts, paused,
refused and backing-off accounts filtered in SQL, and the same runs queued as the per-account loop it
replaced (kept below as the reference)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.callrail.budget import get_budget
from apps.sync.dispatch import load_accounts
from apps.sync.models import KIND_RANK, SyncKind, SyncRun, SyncSchedule, SyncState, SyncStatus, SyncTrigger
from apps.sync.reread import reread_next
from apps.sync.services import (
    active_run,
    due_kind,
    sync_dispatch,
    sync_request,
    sync_reread_dispatch,
    sync_schedule_for,
    webhooks_slow_polling,
)
from apps.sync.tasks import sync_run_task
from apps.tenancy.models import ClientAccount
from tests.factories import AgencyFactory, ClientAccountFactory
from tests.sync.conftest import _clear_redis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

#: What each account of a mix is doing when the tick comes.
STATES = (
    "never_synced",  # a full run is due
    "incremental_due",  # the last incremental is 11 minutes old
    "not_due",  # synced 3 minutes ago
    "paused",  # sync off
    "refused",  # CallRail refused its key
    "waiting_future",  # a run backing off until later
    "waiting_over",  # a run whose wait is over: sent again
    "queued",  # a run queued a minute ago
    "abandoned",  # a running run whose worker died: retired, and a new run queued
    "night_full",  # the nightly full is due in its own time zone
)
#: Never in the tick's account list: they cost nothing.
SKIPPED_IN_SQL = {"paused", "refused", "waiting_future", "queued"}


def _setup(account: ClientAccount, state: str, now) -> None:
    recent = {"last_full_at": now - timedelta(hours=1), "last_reread_at": now}
    if state == "incremental_due":
        SyncSchedule.objects.create(client_account=account, last_incremental_at=now - timedelta(minutes=11), **recent)
    elif state in {"not_due", "waiting_over", "queued", "waiting_future", "reread"}:
        SyncSchedule.objects.create(client_account=account, last_incremental_at=now - timedelta(minutes=3), **recent)
    elif state == "night_full":
        account.time_zone = "Pacific/Auckland"
        account.save()
        SyncSchedule.objects.create(client_account=account, last_incremental_at=now - timedelta(minutes=3),
                                    last_full_at=now - timedelta(hours=23), full_at_hour=0)  # fmt: skip
    elif state in {"paused", "refused"}:
        account.sync_enabled = state != "paused"
        account.connection_error = "CallRail refused the key" if state == "refused" else ""
        account.save()
    run = {"client_account": account, "kind": SyncKind.INCREMENTAL, "resources": ["calls"]}
    if state == "waiting_future":
        SyncRun.objects.create(**run, status=SyncStatus.WAITING, not_before=now + timedelta(minutes=5))
    elif state == "waiting_over":
        SyncRun.objects.create(**run, status=SyncStatus.WAITING, not_before=now - timedelta(seconds=5))
    elif state == "queued":
        SyncRun.objects.create(**run, queued_at=now - timedelta(minutes=1))
    elif state == "abandoned":
        SyncRun.objects.create(**run, status=SyncStatus.RUNNING, started_at=now - timedelta(minutes=10),
                               heartbeat_at=now - timedelta(minutes=9), lock_ttl=120)  # fmt: skip
    elif state == "reread":  # synced calls an hour ago, never re-read: a slice is due
        SyncState.objects.create(client_account=account, resource="calls", cursor=now - timedelta(hours=1))


def _mix(count: int, now, *, agencies: int = 2, rereads: int = 0) -> dict[int, str]:
    """``count`` accounts over ``agencies`` agencies, cycling through STATES (plus ``rereads`` with a
    re-read slice due); account pk -> state."""
    owners = [AgencyFactory() for _ in range(agencies)]
    states = [STATES[i % len(STATES)] for i in range(count)] + ["reread"] * rereads
    made: dict[int, str] = {}
    for i, state in enumerate(states):
        account = ClientAccountFactory(agency=owners[i % agencies])
        _clear_redis(account.pk)
        _setup(account, state, now)
        made[account.pk] = state
    return made


def _reread_queue(*, account: ClientAccount, now) -> SyncRun | None:
    """The per-account re-read step the set-based one replaced, as it was: the next slice if one is due and
    the background budget has room now."""
    windows = reread_next(account, now=now)
    if not windows:
        return None
    overrides = account.budget_overrides or None
    if not get_budget().peek(account.pk, "general", "background", overrides=overrides):
        return None
    run, created = sync_request(account=account, kind=SyncKind.REREAD, resources=list(windows), windows=windows,
                                trigger=SyncTrigger.SCHEDULE, now=now)  # fmt: skip
    return run if created else None


def _reference_dispatch(*, now) -> list[SyncRun]:
    """The per-account loop the set-based tick replaced (several queries per account), as it was."""
    queued = []
    for account in ClientAccount.objects.unscoped(reason="beat-dispatch").filter(
        sync_enabled=True, connection_error=""
    ).order_by("pk"):  # fmt: skip
        existing = active_run(account, now=now)
        if existing is not None:
            if existing.status == SyncStatus.WAITING and existing.not_before and existing.not_before <= now:
                with transaction.atomic():
                    kwargs = {"client_account_id": existing.client_account_id, "sync_run_id": existing.pk}
                    transaction.on_commit(lambda kwargs=kwargs: sync_run_task.apply_async(kwargs=kwargs))
            continue
        schedule = sync_schedule_for(account=account)
        kind = due_kind(schedule, now=now, time_zone=account.time_zone)
        if kind == SyncKind.INCREMENTAL and webhooks_slow_polling(account, schedule, now=now):
            kind = None
        if kind is None:
            run = _reread_queue(account=account, now=now)
            if run is not None:
                schedule.last_reread_at = now
                schedule.save(update_fields=["last_reread_at"])
                queued.append(run)
            continue
        run, created = sync_request(account=account, kind=kind, trigger=SyncTrigger.SCHEDULE, now=now)
        if created:
            schedule.last_incremental_at = now
            if KIND_RANK[kind] >= KIND_RANK[SyncKind.FULL]:
                schedule.last_full_at = now
            schedule.save(update_fields=["last_incremental_at", "last_full_at"])
            queued.append(run)
    return queued


def _tick_then_rereads(*, now) -> list[SyncRun]:
    """The beat's minute: the tick, then the re-read's own task (``sync.reread_dispatch``)."""
    queued = sync_dispatch(now=now) + sync_reread_dispatch(now=now)
    return sorted(queued, key=lambda r: r.client_account_id)


class _Undo(Exception):
    pass


def _outcome(dispatch, now, capture) -> dict:
    """What ``dispatch`` queued, sent and changed, then rolled back (so both dispatchers see one state)."""
    before = set(SyncRun.objects.unscoped(reason="beat-dispatch").values_list("pk", flat=True))
    sent: list[tuple] = []

    def record(kwargs, countdown=None, **options):
        run = SyncRun.objects.for_account(kwargs["client_account_id"]).get(pk=kwargs["sync_run_id"])
        sent.append((run.client_account_id, run.pk if run.pk in before else "new", run.kind))

    result: dict = {}
    with mock.patch.object(sync_run_task, "apply_async", side_effect=record):
        try:
            with transaction.atomic():
                with capture(execute=True):
                    queued = dispatch(now=now)
                runs = SyncRun.objects.unscoped(reason="beat-dispatch")
                result = {
                    "queued": [(r.client_account_id, r.kind, r.trigger, r.lane, r.resources, r.windows, r.queued_at)
                               for r in queued],
                    "sent": sorted(sent, key=str),
                    "runs": sorted((r.client_account_id, r.status, r.kind) for r in runs),
                    "schedules": sorted(
                        SyncSchedule.objects.unscoped(reason="beat-dispatch").values_list(
                            "client_account_id", "last_incremental_at", "last_full_at", "last_reread_at")
                    ),
                }  # fmt: skip
                raise _Undo
        except _Undo:
            pass
    return result


def test_the_tick_queues_what_the_per_account_loop_did(django_capture_on_commit_callbacks):
    now = timezone.now()
    made = _mix(2 * len(STATES), now, rereads=1)
    expected = _outcome(_reference_dispatch, now, django_capture_on_commit_callbacks)
    got = _outcome(_tick_then_rereads, now, django_capture_on_commit_callbacks)
    assert got == expected

    by_state = {}
    for account_id, kind, trigger, *_ in got["queued"]:
        assert trigger == SyncTrigger.SCHEDULE
        by_state.setdefault(made[account_id], set()).add(kind)
    assert by_state == {
        "never_synced": {SyncKind.FULL}, "incremental_due": {SyncKind.INCREMENTAL},
        "abandoned": {SyncKind.FULL}, "night_full": {SyncKind.FULL}, "reread": {SyncKind.REREAD},
    }  # fmt: skip
    resent = {made[account_id] for account_id, pk, _ in got["sent"] if pk != "new"}
    assert resent == {"waiting_over"}
    assert {made[a] for a, status, _ in got["runs"] if status == SyncStatus.INTERRUPTED} == {"abandoned"}

    looked_at = {a.pk for a in load_accounts(now)}
    assert {made[pk] for pk in looked_at} == set(STATES) - SKIPPED_IN_SQL | {"reread"}


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the production database's query counts: SQLite reads the slices one account at a time")
def test_the_tick_costs_the_same_queries_for_ten_times_the_accounts(django_capture_on_commit_callbacks):
    """Ten times the accounts, ten times as many with a re-read slice due: the same queries, for the tick and
    for the re-read's own task (its plans, slices and runs read and written for all its accounts at once)."""
    now = timezone.now()
    counts, reread_counts = [], []
    for size in (1, 10):
        SyncRun.objects.unscoped(reason="beat-dispatch").delete()
        SyncState.objects.unscoped(reason="beat-dispatch").delete()
        SyncSchedule.objects.unscoped(reason="beat-dispatch").delete()
        ClientAccount.objects.unscoped(reason="beat-dispatch").update(sync_enabled=False)
        made = _mix(size * len(STATES), now, agencies=size * 2, rereads=size)
        with django_capture_on_commit_callbacks() as sent, CaptureQueriesContext(connection) as queries:
            queued = sync_dispatch(now=now)
        counts.append(len(queries))
        assert sorted(made[r.client_account_id] for r in queued) == sorted(
            ["never_synced", "incremental_due", "abandoned", "night_full"] * size
        )
        assert len(sent) == len(queued) + size  # and each waiting run whose wait is over, sent again
        with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as queries:
            rereads = sync_reread_dispatch(now=now)
        reread_counts.append(len(queries))
        assert [made[r.client_account_id] for r in rereads] == ["reread"] * size
        assert all(r.windows["calls"] for r in rereads)
    assert counts[0] == counts[1], counts
    assert reread_counts[0] == reread_counts[1], reread_counts


def test_the_re_read_step_plans_a_bounded_number_of_accounts_a_minute_in_rotation(
    settings, django_capture_on_commit_callbacks
):
    settings.SYNC_DISPATCH_REREAD_CHECKS = 3
    now = timezone.now()
    made = _mix(0, now, rereads=7)
    minutes = []
    with django_capture_on_commit_callbacks():
        for minute in range(3):
            minutes.append([r.client_account_id for r in sync_reread_dispatch(now=now + timedelta(minutes=minute))])
    assert [len(ids) for ids in minutes] == [3, 3, 1]  # the cap a minute, then the one left
    assert sorted(pk for ids in minutes for pk in ids) == sorted(made)  # every one got its turn, once
