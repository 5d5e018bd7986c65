"""End to end with a real Celery worker: the management command's --wait, and a worker killed mid-run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.calls.models import Call
from apps.sync.models import SyncKind, SyncRun, SyncState, SyncStatus
from apps.sync.resources import CALLS
from apps.sync.services import sync_request
from tests.workers import start_worker, wait_for

from .conftest import control, point_at_sandbox, set_key, upstream_records
from .test_full_sync import assert_mirror_equals_upstream

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def live_account(transactional_db, tenant, sandbox):
    return point_at_sandbox(tenant.account, sandbox)


def test_sync_account_command_queues_through_celery_and_waits(live_account, celery_worker):
    out = io.StringIO()
    call_command("sync_account", live_account.callrail_account_id, "--full", "--wait", "--timeout", "60", stdout=out)

    text = out.getvalue()
    assert "queued sync #" in text, text
    assert "full succeeded: created 173" in text, text  # the seed's verified outbound caller ID too
    run = SyncRun.objects.for_account(live_account).get()
    assert run.status == SyncStatus.SUCCEEDED
    assert run.trigger == "command"
    assert_mirror_equals_upstream(live_account)

    out = io.StringIO()
    call_command("sync_account", live_account.callrail_account_id, "--resource", "tags", "--wait", stdout=out)
    assert "incremental succeeded: created 0, updated 0, unchanged 11" in out.getvalue()

    with pytest.raises(CommandError, match="No client account"):
        call_command("sync_account", "ACC" + "0" * 32)


def test_failed_run_makes_the_command_exit_non_zero(live_account, celery_worker):
    set_key(live_account, "wrong-key")
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed"):
        call_command("sync_account", live_account.callrail_account_id, "--resource", "companies", "--wait",
                     "--timeout", "60", stdout=out)  # fmt: skip
    assert "failed" in out.getvalue()
    assert "rejected the key" in out.getvalue()


def test_worker_killed_mid_run_the_next_run_resumes_without_duplicates(live_account, sandbox):
    sandbox.reset(seed=1, profile="small", calls_per_account=2400)  # ~10 pages of 250 calls
    control(sandbox, "POST", "faults", path_pattern="/calls.json", latency_ms=400)
    worker = start_worker(concurrency=1)
    try:
        run, _ = sync_request(account=live_account, kind=SyncKind.FULL, resources=["companies", "trackers", "calls"],
                              lock_ttl=2)  # fmt: skip
        state = wait_for(lambda: SyncState.objects.for_account(live_account).filter(
            resource="calls", checkpoint__pages__gte=3).first(), timeout=60)  # fmt: skip
        worker.kill()
    finally:
        worker.stop()
    mirrored_at_kill = Call.objects.for_account(live_account).count()
    assert 0 < mirrored_at_kill < 2400
    assert mirrored_at_kill % 250 == 0
    run.refresh_from_db()
    assert run.status == SyncStatus.RUNNING

    control(sandbox, "POST", "faults", latency_ms=0)
    worker = start_worker()
    try:
        # once the dead worker's lock expired (lock_ttl, 2 s; later on a loaded machine) the run is retired
        def request_anew():
            request, created = sync_request(account=live_account, kind=SyncKind.INCREMENTAL, resources=["calls"])
            return request if created else None

        resumed = wait_for(request_anew, timeout=60, step=0.5, what="the abandoned run to be retired")
        assert resumed.pk != run.pk
        wait_for(lambda: SyncRun.objects.for_account(live_account).get(pk=resumed.pk).status == "succeeded")
    finally:
        worker.stop()
    run.refresh_from_db()
    resumed.refresh_from_db()
    assert run.status == SyncStatus.INTERRUPTED
    calls = Call.objects.for_account(live_account)
    upstream = upstream_records(live_account, CALLS)
    assert calls.count() == len(upstream) == 2400
    assert resumed.records_created == 2400 - mirrored_at_kill
    assert resumed.requests < 10  # resumed from the checkpoint, not the start
    state.refresh_from_db()
    assert state.checkpoint == {}
    assert state.last_full_at is not None
    assert_mirror_equals_upstream(live_account, only={"calls"})


def test_worker_rides_out_500s_and_429s_with_task_retries(live_account, sandbox):
    control(sandbox, "POST", "faults", error_500=0.15, error_503=0.1, seed=3)
    # 3 requests per sandbox hour, one real second per sandbox hour — and per budget hour of the worker: a 429
    # (without Retry-After, as CallRail's) holds the account until the budget's next hour.
    control(sandbox, "POST", "rate-limits", time_scale=3600, limits={"general": {"hour": 3, "day": 100000}},
            account_id=live_account.callrail_account_id)  # fmt: skip
    worker = start_worker(env={"CALLRAIL_BUDGET_TIME_SCALE": "3600"})
    try:
        run, _ = sync_request(account=live_account, kind=SyncKind.FULL)
        run = wait_for(lambda: SyncRun.objects.for_account(live_account).filter(
            pk=run.pk, status__in=["succeeded", "partial", "failed"]).first(), timeout=180)  # fmt: skip
    finally:
        worker.stop()
    faults = control(sandbox, "GET", "faults")["counts"]
    control(sandbox, "DELETE", "faults")
    control(sandbox, "POST", "rate-limits", enabled=False)
    from .conftest import _clear_redis

    _clear_redis(live_account.pk)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.rate_limited >= 1
    assert run.attempts >= 2  # the task was retried (by countdown), not slept in
    assert faults["500"] + faults["503"] >= 1
    assert_mirror_equals_upstream(live_account)
