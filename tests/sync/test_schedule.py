"""The beat dispatcher, per-account schedules, sync_request de-duplication and the task wiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.sync.models import SyncKind, SyncRun, SyncSchedule, SyncStatus, SyncTrigger
from apps.sync.services import due_kind, sync_dispatch, sync_request, sync_schedule_update
from apps.sync.tasks import sync_run_task

pytestmark = pytest.mark.django_db


def runs(account):
    return list(SyncRun.objects.for_account(account).order_by("pk"))


def finish(*accounts):
    for account in accounts:
        SyncRun.objects.for_account(account).update(status=SyncStatus.SUCCEEDED)


def test_dispatch_queues_what_each_schedule_wants_and_never_a_second_run(
    tenant, other_tenant, django_capture_on_commit_callbacks
):
    for account in (other_tenant.account, other_tenant.other_account):
        account.sync_enabled = False
        account.save()
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks() as sent:
        first = sync_dispatch(now=now)
    assert {r.client_account_id for r in first} == {tenant.account.pk, tenant.other_account.pk}
    assert {r.kind for r in first} == {SyncKind.FULL}
    assert len(sent) == 2
    assert all(r.trigger == SyncTrigger.SCHEDULE for r in first)
    assert not runs(other_tenant.account)  # sync off

    with django_capture_on_commit_callbacks() as sent:
        assert sync_dispatch(now=now + timedelta(minutes=30)) == []  # still queued: no second run
    assert len(sent) == 2  # not started for 30 minutes: their tasks are sent again (see below)
    assert len(runs(tenant.account)) == 1

    finish(tenant.account, tenant.other_account)
    assert sync_dispatch(now=now + timedelta(minutes=5)) == []  # not due yet
    later = sync_dispatch(now=now + timedelta(minutes=11))
    assert [r.kind for r in later] == [SyncKind.INCREMENTAL] * 2

    sync_schedule_update(account=tenant.account, incremental_every_minutes=60)
    finish(tenant.account, tenant.other_account)
    again = sync_dispatch(now=now + timedelta(minutes=22))
    assert [r.client_account_id for r in again] == [tenant.other_account.pk]


def test_due_kind_full_nightly_in_local_time_then_incremental(tenant):
    schedule = SyncSchedule(client_account=tenant.account)  # defaults: 10 min, full 24 h after 03:00
    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # 02:30 in New York
    assert due_kind(schedule, now=now, time_zone="America/New_York") == SyncKind.FULL  # never synced
    schedule.last_full_at = schedule.last_incremental_at = now - timedelta(hours=23)
    assert due_kind(schedule, now=now, time_zone="America/New_York") == SyncKind.INCREMENTAL  # 02:30 local
    assert due_kind(schedule, now=now + timedelta(hours=1), time_zone="America/New_York") == SyncKind.FULL
    schedule.last_full_at = now
    schedule.last_incremental_at = now + timedelta(hours=1)
    # re-reads are continuous (apps/sync/reread.py), no longer a daily kind of run
    assert due_kind(schedule, now=now + timedelta(hours=1, minutes=5), time_zone="America/New_York") is None


def test_sync_now_returns_the_active_run_instead_of_queueing_another(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as sent:
        run, created = sync_request(account=tenant.account, kind=SyncKind.FULL, lane="interactive")
        same, created_again = sync_request(account=tenant.account, resources=["calls"])
    assert created
    assert not created_again
    assert same.pk == run.pk
    assert len(sent) == 1
    assert run.lane == "interactive"
    assert run.resources[0] == "account"
    assert len(run.resources) == 13
    with pytest.raises(ValueError, match="Unknown resource"):
        sync_request(account=tenant.other_account, resources=["nope"])


def test_abandoned_runs_are_retired_and_waiting_runs_resent(tenant, django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    dead = SyncRun.objects.create(
        client_account=tenant.account, kind=SyncKind.FULL, resources=["calls"], status=SyncStatus.RUNNING,
        started_at=now - timedelta(minutes=10), heartbeat_at=now - timedelta(minutes=9), lock_ttl=120,
    )  # fmt: skip
    waiting = SyncRun.objects.create(
        client_account=tenant.other_account, kind=SyncKind.INCREMENTAL, resources=["calls"],
        status=SyncStatus.WAITING, not_before=now - timedelta(seconds=5),
    )  # fmt: skip
    SyncSchedule.objects.create(client_account=tenant.other_account, last_full_at=now, last_reread_at=now,
                                last_incremental_at=now)  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        queued = sync_dispatch(now=now)
    dead.refresh_from_db()
    assert dead.status == SyncStatus.INTERRUPTED
    assert "abandoned" in dead.errors[-1]["message"]
    assert [r.client_account_id for r in queued] == [tenant.account.pk]  # a new run, which will resume
    assert len(sent) == 2  # the new run, and the waiting run sent again (no new run for it)
    assert SyncRun.objects.for_account(tenant.other_account).count() == 1
    waiting.refresh_from_db()
    assert waiting.status == SyncStatus.WAITING


def test_an_abandoned_run_is_replaced_at_once_not_at_the_next_slot(tenant, django_capture_on_commit_callbacks):
    """Its worker died: the run never brought the account up to date, so its successor is queued at the tick that
    retires it (a host killed mid-run cost its accounts a whole interval otherwise). An abandoned re-read slice
    is only retired: the re-read plans its next slice itself."""
    now = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    for account, kind in ((tenant.account, SyncKind.INCREMENTAL), (tenant.other_account, SyncKind.REREAD)):
        SyncSchedule.objects.create(client_account=account, last_full_at=now - timedelta(hours=1),
                                    last_reread_at=now, last_incremental_at=now - timedelta(minutes=2))  # fmt: skip
        SyncRun.objects.create(client_account=account, kind=kind, resources=["calls"], status=SyncStatus.RUNNING,
                               started_at=now - timedelta(minutes=2), heartbeat_at=now - timedelta(minutes=2),
                               lock_ttl=60)  # fmt: skip
    with django_capture_on_commit_callbacks():
        queued = sync_dispatch(now=now)
    assert [(r.client_account_id, r.kind) for r in queued] == [(tenant.account.pk, SyncKind.INCREMENTAL)]
    statuses = [r.status for r in runs(tenant.account)] + [r.status for r in runs(tenant.other_account)]
    assert statuses == [SyncStatus.INTERRUPTED, SyncStatus.QUEUED, SyncStatus.INTERRUPTED]


def test_a_queued_run_no_worker_started_is_sent_again_unless_the_workers_are_behind(
    tenant, other_tenant, settings, django_capture_on_commit_callbacks
):
    """A worker that dies holding a run's message (taken, never acknowledged) gives it back only after the
    broker's visibility timeout (an hour): the dispatcher sends it again after ``SYNC_QUEUED_RESEND_SECONDS``,
    but not while the workers are merely behind (then every queued run waits, and copies would only add)."""
    settings.SYNC_REREAD_MAX_BACKLOG = 1
    settings.SYNC_QUEUED_RESEND_SECONDS = 180
    now = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    accounts = (tenant.account, tenant.other_account, other_tenant.account, other_tenant.other_account)
    for account in accounts:  # nothing due for a while
        SyncSchedule.objects.create(client_account=account, last_full_at=now, last_reread_at=now,
                                    last_incremental_at=now)  # fmt: skip
    stuck = SyncRun.objects.create(client_account=tenant.account, kind=SyncKind.INCREMENTAL, resources=["calls"],
                                   queued_at=now - timedelta(minutes=4))  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        assert sync_dispatch(now=now) == []
    assert len(sent) == 1  # the stuck run's task, again; no new run
    stuck.refresh_from_db()
    assert (stuck.status, stuck.sent_at) == (SyncStatus.QUEUED, now)
    assert runs(tenant.account) == [stuck]

    with django_capture_on_commit_callbacks() as sent:
        sync_dispatch(now=now + timedelta(minutes=1))
    assert sent == []  # sent a minute ago: not yet

    for account in accounts[2:]:  # two runs sent within the last three minutes, not started: behind
        SyncRun.objects.create(client_account=account, kind=SyncKind.INCREMENTAL, resources=["calls"],
                               queued_at=now + timedelta(minutes=2))  # fmt: skip
    with django_capture_on_commit_callbacks() as sent:
        sync_dispatch(now=now + timedelta(minutes=4))
    assert sent == []
    finish(*accounts[2:])  # the workers caught up
    with django_capture_on_commit_callbacks() as sent:
        sync_dispatch(now=now + timedelta(minutes=5))
    assert len(sent) == 1
    stuck.refresh_from_db()
    assert stuck.sent_at == now + timedelta(minutes=5)


def test_task_executes_the_run_and_is_a_no_op_for_a_finished_one(sandbox, sandbox_account):
    run = SyncRun.objects.create(client_account=sandbox_account, kind=SyncKind.FULL, resources=["companies"])
    result = sync_run_task.apply(kwargs={"client_account_id": sandbox_account.pk, "sync_run_id": run.pk})
    assert result.get() == SyncStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.records_created == 2
    assert run.requests == 1
    again = sync_run_task.apply(kwargs={"client_account_id": sandbox_account.pk, "sync_run_id": run.pk})
    assert again.get() == SyncStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.requests == 1
    assert run.attempts == 1
    # Another account's id with this run's id finds nothing (tasks are scoped by account).
    assert sync_run_task.apply(
        kwargs={"client_account_id": sandbox_account.pk + 999, "sync_run_id": run.pk}
    ).get() == "missing"


def test_sync_run_selector_is_scoped_to_the_user(tenant, other_tenant):
    from apps.sync.selectors import sync_run_list

    mine = SyncRun.objects.create(client_account=tenant.account, kind=SyncKind.FULL, resources=["calls"])
    SyncRun.objects.create(client_account=other_tenant.account, kind=SyncKind.FULL, resources=["calls"])
    assert list(sync_run_list(user=tenant.owner)) == [mine]
    assert list(sync_run_list(user=tenant.client_user, active=True)) == [mine]
    assert mine.progress_percent == 0
    assert list(sync_run_list(user=other_tenant.staff, account=tenant.account)) == []
