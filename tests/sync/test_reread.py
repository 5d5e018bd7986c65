"""The continuous re-read: coverage bookkeeping, the budget-paced plan, ``sync_account --reread`` (one round
at once), and end to end with a real worker on a stepped clock and a time-scaled budget: an edit of a
200-day-old call made in CallRail, without webhooks, reaches the mirror within the simulated hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import requests
from django.core.management import call_command

from apps.calls.models import Call
from apps.sync.models import ACTIVE_STATUSES, SyncKind, SyncRun, SyncState, SyncStatus
from apps.sync.reread import coverage_add, coverage_pieces, describe_plan, reread_next, reread_plan
from apps.sync.services import sync_dispatch, sync_reread_dispatch, sync_run_execute, sync_schedule_for
from apps.tenancy.models import ClientAccount
from tests.workers import start_worker, wait_for

from .conftest import _clear_redis, execute, point_at_sandbox
from .test_full_sync import assert_mirror_equals_upstream

T = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # a DST weekend in Europe and a month's end: nothing depends on it


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


# -------------------------------------------------------------------------------------------- coverage
def test_coverage_keeps_when_each_part_of_the_window_was_last_listed():
    cov = coverage_add([], at(0), at(100), at(0))
    cov = coverage_add(cov, at(40), at(60), at(30))  # a slice in the middle, read later
    assert [(p[0], p[1], p[2]) for p in coverage_pieces(cov, at(0), at(100))] == [
        (at(0), at(40), at(0)), (at(40), at(60), at(30)), (at(60), at(100), at(0)),
    ]  # fmt: skip
    # a gap is "never read"; parts beyond the window's floor are dropped
    cov = coverage_add(cov, at(120), at(130), at(31), floor=at(10))
    pieces = coverage_pieces(cov, at(10), at(140))
    assert pieces[0] == (at(10), at(40), at(0))
    assert (at(100), at(120), None) in pieces
    assert pieces[-1] == (at(130), at(140), None)
    # neighbours read within two minutes of each other merge (keeping the older time: never overstated)
    merged = coverage_add(coverage_add([], at(0), at(10), at(50)), at(10), at(20), at(51))
    assert coverage_pieces(merged, at(0), at(20)) == [(at(0), at(20), at(50))]


# ---------------------------------------------------------------------------------------------- plan
pytestmark = pytest.mark.django_db


def test_the_plan_rereads_a_small_account_every_hour_and_a_large_one_newest_first(sandbox, sandbox_account):
    sandbox.reset(seed=2, profile="small", calls_per_account=3000, history_days=400)
    execute(sandbox_account, SyncKind.FULL)
    calls = Call.objects.for_account(sandbox_account).live().filter(spam=False)
    now = calls.latest("start_time").start_time + timedelta(minutes=5)  # the data's time, not the wall clock's
    small = reread_plan(sandbox_account, now=now)
    assert small.period_minutes == 60  # everything within a round's budget
    assert small.hot_since is None
    assert small.resources["calls"].records == calls.count()
    assert small.pages == sum(p.pages for p in small.resources.values())
    assert "every call re-checked within 60 minutes" in describe_plan(small)

    # the same account allowed 900 requests a day (800 before outbound caller IDs and integration triggers added
    # two lists per company to every round), polled hourly: the newest calls still re-read every round, the
    # older ones in rotation with what is left
    sandbox_account.budget_overrides = {"general": {"hour": 1000, "day": 900}}
    sandbox_account.save()
    schedule = sync_schedule_for(account=sandbox_account)
    schedule.incremental_every_minutes = 60
    schedule.save()
    large = reread_plan(sandbox_account, now=now)
    assert 0 < large.reread_per_hour < large.pages
    assert large.hot_since is not None
    hot = calls.filter(start_time__gte=large.hot_since).count()
    assert 0 < hot < calls.count()
    assert large.period_minutes > 60
    assert f"within {large.period_minutes} minutes" in describe_plan(large)
    assert large.requests_per_hour <= large.reread_per_hour


def test_the_dispatcher_rereads_the_most_overdue_slice_newest_first(sandbox, sandbox_account, settings):
    settings.SYNC_REREAD_SLICE_PAGES = 1
    settings.SYNC_PER_PAGE = 50  # slices of 50 calls
    execute(sandbox_account, SyncKind.FULL)
    state = SyncState.objects.for_account(sandbox_account).get(resource="calls")
    read = SyncRun.objects.for_account(sandbox_account).get().queued_at
    plan = reread_plan(sandbox_account, now=read + timedelta(minutes=30))
    assert reread_next(sandbox_account, now=read + timedelta(minutes=30), plan=plan) == {}  # nothing due yet
    due = reread_next(sandbox_account, now=read + timedelta(minutes=56), plan=plan)  # due before the hour ends
    (start, end) = due["calls"][0]
    assert datetime.fromisoformat(end) == state.cursor  # the newest part of the window first
    newest = Call.objects.for_account(sandbox_account).filter(start_time__gte=datetime.fromisoformat(start))
    assert 0 < newest.count() <= 50


def test_re_read_slices_wait_while_the_workers_are_behind_the_schedules(sandbox, sandbox_account, other_tenant,
                                                                       settings):  # fmt: skip
    """The re-read uses the workers' leftover time: while more than ``SYNC_REREAD_MAX_BACKLOG`` runs queued by
    earlier ticks have not started, the dispatcher queues no slice; once the backlog is down to it, it does."""
    settings.SYNC_REREAD_SLICE_PAGES = 1
    settings.SYNC_PER_PAGE = 50
    settings.SYNC_REREAD_MAX_BACKLOG = 1
    execute(sandbox_account, SyncKind.FULL)
    read = SyncRun.objects.for_account(sandbox_account).get().queued_at
    now = read + timedelta(minutes=56)  # a slice is due (the test above)
    schedule = sync_schedule_for(account=sandbox_account)
    schedule.last_full_at, schedule.last_incremental_at = read, now  # nothing else is due
    schedule.save()
    ClientAccount.objects.unscoped(reason="admin").exclude(pk=sandbox_account.pk).update(sync_enabled=False)
    backlog = [
        SyncRun.objects.create(client_account=account, kind=SyncKind.INCREMENTAL, resources=["calls"],
                               queued_at=now - timedelta(minutes=2))
        for account in (other_tenant.account, other_tenant.other_account)
    ]  # fmt: skip
    rereads = SyncRun.objects.for_account(sandbox_account).filter(kind=SyncKind.REREAD)

    sync_reread_dispatch(now=now)
    assert not rereads.exists()  # two waiting, one allowed: behind

    backlog[0].status = SyncStatus.RUNNING
    backlog[0].save(update_fields=["status"])
    sync_reread_dispatch(now=now + timedelta(minutes=1))
    assert rereads.count() == 1


def test_sync_account_reread_runs_one_round_at_once_and_sees_old_edits(
    sandbox, sandbox_account, django_capture_on_commit_callbacks
):
    execute(sandbox_account, SyncKind.FULL)
    old = Call.objects.for_account(sandbox_account).filter(direction="inbound").order_by("start_time").first()
    assert requests.put(f"{sandbox.api_url}/a/{sandbox_account.callrail_account_id}/calls/{old.callrail_id}.json",
                        json={"note": "edited long after the call"}, timeout=30,
                        headers={"Authorization": f'Token token="{sandbox_account.api_key}"'}).status_code == 200
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("sync_account", sandbox_account.callrail_account_id, "--reread", stdout=out)
    assert "every call re-checked within 60 minutes" in out.getvalue()
    run = SyncRun.objects.for_account(sandbox_account).filter(kind=SyncKind.REREAD).get()
    assert set(run.windows) == {"calls", "form_submissions", "text_conversations"}
    run = sync_run_execute(run=run)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    old.refresh_from_db()
    assert old.note == "edited long after the call"
    listed = run.records_updated + run.records_unchanged
    assert listed >= Call.objects.for_account(sandbox_account).live().filter(spam=False).count()  # every call
    assert_mirror_equals_upstream(sandbox_account, only={"calls", "form_submissions", "text_conversations"})


# ------------------------------------------------------------------------------------ end to end, scaled
@pytest.mark.worker
@pytest.mark.slow
def test_an_edit_of_a_200_day_old_call_reaches_the_mirror_within_the_simulated_hour(transactional_db, tenant,
                                                                                     sandbox):  # fmt: skip
    """A stepped clock (one simulated minute a step; the beat dispatcher called each step) and the worker's
    budget running 60 times as fast (a budget hour is a real minute); no webhooks."""
    sandbox.reset(seed=4, profile="small", calls_per_account=1500, history_days=400)
    account = point_at_sandbox(tenant.account, sandbox)
    try:
        execute(account, SyncKind.FULL)
        start = SyncRun.objects.for_account(account).get().queued_at
        schedule = sync_schedule_for(account=account)
        schedule.last_full_at = schedule.last_incremental_at = start
        schedule.save()
        old = (
            Call.objects.for_account(account).filter(direction="inbound", spam=False,
                                                     start_time__lte=start - timedelta(days=200))
            .order_by("-start_time").first()
        )  # fmt: skip
        assert old is not None
        edited = requests.put(f"{sandbox.api_url}/a/{account.callrail_account_id}/calls/{old.callrail_id}.json",
                              json={"note": "Wants a quote for the whole building"}, timeout=30,
                              headers={"Authorization": f'Token token="{account.api_key}"'})  # fmt: skip
        assert edited.status_code == 200
        plan = reread_plan(account, now=start)
        assert plan.period_minutes == 60

        worker = start_worker(env={"CALLRAIL_BUDGET_TIME_SCALE": "60"})
        seen_at = None
        try:
            for minute in range(1, 61):
                now = start + timedelta(minutes=minute)
                sync_dispatch(now=now)  # the beat's minute: the tick, then the re-read's task
                sync_reread_dispatch(now=now)
                wait_for(lambda: not SyncRun.objects.for_account(account).filter(status__in=ACTIVE_STATUSES).exists(),
                         timeout=90, what=f"the runs of simulated minute {minute}")  # fmt: skip
                old.refresh_from_db()
                if old.note == "Wants a quote for the whole building":
                    seen_at = minute
                    break
        finally:
            worker.stop()
        assert seen_at is not None, "not re-read within the simulated hour"
        rereads = SyncRun.objects.for_account(account).filter(kind=SyncKind.REREAD)
        assert rereads.exists()
        assert {r.lane for r in rereads} == {"background"}  # only the background share of the budget
        assert all(r.status == SyncStatus.SUCCEEDED for r in rereads), [r.errors for r in rereads]
        assert any(r.records_updated for r in rereads)  # the re-read brought the edit (no incremental lists it)
        assert sum(r.requests for r in rereads) <= plan.reread_per_hour
    finally:
        _clear_redis(account.pk)


def test_the_account_page_states_the_guarantee(client, tenant, sandbox, sandbox_account):
    from django.urls import reverse

    execute(sandbox_account, SyncKind.FULL)
    client.force_login(tenant.staff)
    page = client.get(reverse("portal:account_detail", kwargs={"account_pk": sandbox_account.pk}))
    assert page.status_code == 200
    assert "Every call re-checked within 60 minutes" in page.content.decode()
