"""The continuous re-read only uses the workers' leftover time: its slices are sent at the last priority
(``LEFTOVER_PRIORITY``), so an incremental queued after them still starts first."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.core.queues import LEFTOVER_PRIORITY
from apps.sync.models import FINISHED_STATUSES, SyncKind, SyncRun, SyncStatus, SyncTrigger
from apps.sync.services import sync_request
from apps.sync.tasks import sync_run_task
from tests.factories import ClientAccountFactory
from tests.sync.conftest import _clear_redis, point_at_sandbox
from tests.workers import start_worker, wait_for

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
        worker = start_worker("sync", concurrency=1, name="leftover")
        try:
            wait_for(lambda: all(r.status in FINISHED_STATUSES for r in _runs()), timeout=180,
                     what="every run to finish")  # fmt: skip
        finally:
            worker.stop()
        runs = _runs()
        assert all(r.status == SyncStatus.SUCCEEDED for r in runs), [(r.pk, r.status, r.errors) for r in runs]
        order = [r.pk for r in sorted(runs, key=lambda r: (r.started_at, r.pk))]
        assert order == [incremental.pk, *(r.pk for r in rereads)]  # the slices keep their own order after it
    finally:
        for account in accounts:
            _clear_redis(account.pk)


def _runs() -> list[SyncRun]:
    return list(SyncRun.objects.unscoped(reason="beat-dispatch").order_by("pk"))


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
