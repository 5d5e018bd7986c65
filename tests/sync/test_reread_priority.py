"""The continuous re-read only uses the workers' leftover time: its slices are sent at the last priority
(``LEFTOVER_PRIORITY``), so an incremental queued after them still starts first; a slice no worker started yet
gives way when its own account's incremental is due, is never sent again as "stuck", and no more slices are
queued while ``SYNC_REREAD_MAX_BACKLOG`` of them wait."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.core.queues import LEFTOVER_PRIORITY
from apps.core.redis import get_redis, redis_key
from apps.sync.dispatch import GAVE_WAY
from apps.sync.models import SyncKind, SyncRun, SyncSchedule, SyncState, SyncStatus, SyncTrigger
from apps.sync.services import sync_dispatch, sync_request, sync_reread_dispatch
from apps.sync.tasks import sync_run_task
from tests.factories import ClientAccountFactory
from tests.sync.conftest import _clear_redis, drain_with_one_worker, point_at_sandbox

SLICES = 3  # re-read slices queued before the incremental (one per demo account of the sandbox but the last)


def _window() -> dict[str, list[list[str]]]:
    end = timezone.now()
    return {"calls": [[(end - timedelta(days=7)).isoformat(), end.isoformat()]]}


@pytest.mark.worker
@pytest.mark.slow
def test_an_incremental_starts_before_the_rereads_queued_ahead_of_it(transactional_db, sandbox, tenant):
    accounts = [point_at_sandbox(ClientAccountFactory(agency=tenant.agency), sandbox, i) for i in range(SLICES + 1)]
    try:
        rereads = [
            sync_request(account=account, kind=SyncKind.REREAD, windows=_window(), trigger=SyncTrigger.SCHEDULE)[0]
            for account in accounts[:SLICES]
        ]
        incremental, _ = sync_request(account=accounts[-1], resources=["companies", "tags"],
                                      trigger=SyncTrigger.SCHEDULE)  # fmt: skip
        # One worker taking one task at a time: on one list, first in first out, the incremental would start last.
        order = drain_with_one_worker("sync", name="leftover")
        assert order == [incremental.pk, *(r.pk for r in rereads)]  # the slices keep their own order after it
    finally:
        for account in accounts:
            _clear_redis(account.pk)


def test_only_the_schedules_rereads_wait_for_leftover_time(db, tenant, django_capture_on_commit_callbacks):
    """A webhook's targeted pull and a person's re-read are awaited: they keep the first priority."""
    accounts = [tenant.account, tenant.other_account, ClientAccountFactory(agency=tenant.agency),
                ClientAccountFactory(agency=tenant.agency)]  # fmt: skip
    requests = [(SyncKind.REREAD, SyncTrigger.SCHEDULE), (SyncKind.REREAD, SyncTrigger.WEBHOOK),
                (SyncKind.REREAD, SyncTrigger.COMMAND), (SyncKind.INCREMENTAL, SyncTrigger.SCHEDULE)]  # fmt: skip
    capture = django_capture_on_commit_callbacks(execute=True)
    with mock.patch.object(sync_run_task, "apply_async") as send, capture:
        for account, (kind, trigger) in zip(accounts, requests, strict=True):
            sync_request(account=account, kind=kind, windows=_window() if kind == SyncKind.REREAD else None,
                         trigger=trigger)  # fmt: skip
    sent = [call.kwargs.get("priority") for call in send.call_args_list]
    assert sent == [LEFTOVER_PRIORITY, None, None, None]  # None: the default, first priority


def test_a_sliced_reread_goes_back_at_its_own_queue_and_priority(db, tenant):
    from apps.sync.engine import SliceOver

    run = SyncRun.objects.create(client_account=tenant.account, kind=SyncKind.REREAD, resources=["calls"])
    kwargs = {"client_account_id": tenant.account.pk, "sync_run_id": run.pk}
    with (
        mock.patch("apps.sync.services.sync_run_execute", side_effect=SliceOver),
        mock.patch.object(sync_run_task, "apply_async") as send,
    ):
        assert sync_run_task.apply(kwargs=kwargs, routing_key="sync", priority=LEFTOVER_PRIORITY).get() == "sliced"
    send.assert_called_once_with(kwargs={**kwargs, "failures": 0}, queue="sync", priority=LEFTOVER_PRIORITY)


def _schedule(account, now, *, minutes_since_incremental: int) -> None:
    SyncSchedule.objects.create(client_account=account, last_full_at=now - timedelta(hours=1), last_reread_at=now,
                                last_incremental_at=now - timedelta(minutes=minutes_since_incremental))  # fmt: skip


def _slice(account, now, *, status=SyncStatus.QUEUED, queued_minutes_ago: int = 1) -> SyncRun:
    queued = now - timedelta(minutes=queued_minutes_ago)
    started = {"started_at": now, "heartbeat_at": now} if status == SyncStatus.RUNNING else {}
    return SyncRun.objects.create(client_account=account, kind=SyncKind.REREAD, trigger=SyncTrigger.SCHEDULE,
                                  resources=["calls"], windows=_window(), status=status, queued_at=queued,
                                  **started)  # fmt: skip


def _sent(capture, call) -> tuple[list[SyncRun], dict[int, dict]]:
    """What ``call()`` queued, and the options of each task it sent (by run pk)."""
    with mock.patch.object(sync_run_task, "apply_async") as send, capture(execute=True):
        queued = call()
    return queued, {c.kwargs["kwargs"]["sync_run_id"]: c.kwargs for c in send.call_args_list}


@pytest.mark.usefixtures("clock")
def test_a_queued_slice_gives_way_to_its_accounts_due_incremental(db, tenant, django_capture_on_commit_callbacks):
    now = timezone.now()
    due, not_due, started = tenant.account, tenant.other_account, ClientAccountFactory(agency=tenant.agency)
    for account, minutes in ((due, 11), (not_due, 3), (started, 11)):
        _schedule(account, now, minutes_since_incremental=minutes)
    waiting, untouched = _slice(due, now), _slice(not_due, now)
    running = _slice(started, now, status=SyncStatus.RUNNING)
    try:
        get_redis().set(redis_key("sync", "lock", started.pk), "worker", ex=60)  # its worker holds the account

        queued, sent = _sent(django_capture_on_commit_callbacks, lambda: sync_dispatch(now=now))
    finally:
        _clear_redis(started.pk)
    assert [(r.client_account_id, r.kind) for r in queued] == [(due.pk, SyncKind.INCREMENTAL)]
    assert "priority" not in sent[queued[0].pk]  # the schedule's run: the first priority
    waiting.refresh_from_db()
    assert waiting.status == SyncStatus.INTERRUPTED
    assert waiting.errors == [{"resource": "", "message": GAVE_WAY}]
    assert SyncRun.objects.for_account(not_due).get().status == SyncStatus.QUEUED  # nothing due: it waits on
    assert SyncRun.objects.for_account(started).get().status == SyncStatus.RUNNING  # started: it runs on
    assert untouched.pk not in sent
    assert running.pk not in sent


@pytest.mark.usefixtures("clock")
def test_a_slice_waiting_long_is_not_sent_again_as_stuck(db, tenant, django_capture_on_commit_callbacks):
    now = timezone.now()
    for account in (tenant.account, tenant.other_account):
        _schedule(account, now, minutes_since_incremental=3)
    slow = _slice(tenant.account, now, queued_minutes_ago=20)
    lost = SyncRun.objects.create(client_account=tenant.other_account, kind=SyncKind.INCREMENTAL, resources=["calls"],
                                  trigger=SyncTrigger.SCHEDULE, queued_at=now - timedelta(minutes=20))  # fmt: skip
    _, sent = _sent(django_capture_on_commit_callbacks, lambda: sync_dispatch(now=now))
    assert set(sent) == {lost.pk}  # the incremental a dead worker may hold is sent again; the slice just waits
    slow.refresh_from_db()
    assert slow.status == SyncStatus.QUEUED


@pytest.mark.usefixtures("clock")
def test_no_more_slices_while_the_backlog_of_slices_waits(db, tenant, settings, django_capture_on_commit_callbacks):
    settings.SYNC_REREAD_MAX_BACKLOG = 1
    now = timezone.now()
    for account in (tenant.account, tenant.other_account):
        _schedule(account, now, minutes_since_incremental=3)
        _clear_redis(account.pk)
    # the other account synced its calls an hour ago and was never re-read: a slice is due
    SyncState.objects.create(client_account=tenant.other_account, resource="calls", cursor=now - timedelta(hours=1))
    waiting = _slice(tenant.account, now)

    queued, _ = _sent(django_capture_on_commit_callbacks, lambda: sync_reread_dispatch(now=now))
    assert queued == []
    SyncRun.objects.for_account(tenant.account).filter(pk=waiting.pk).update(status=SyncStatus.SUCCEEDED)
    queued, sent = _sent(django_capture_on_commit_callbacks, lambda: sync_reread_dispatch(now=now))
    assert [(r.client_account_id, r.kind) for r in queued] == [(tenant.other_account.pk, SyncKind.REREAD)]
    assert sent[queued[0].pk]["priority"] == LEFTOVER_PRIORITY
