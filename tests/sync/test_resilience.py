"""Interruptions, injected 500s/503s/dropped connections and 429s, and one run per account at a time."""

from __future__ import annotations

import time

import pytest

from apps.callrail.errors import Transient
from apps.calls.models import Call
from apps.sync.locks import AccountSyncLock
from apps.sync.models import SyncKind, SyncRun, SyncState, SyncStatus
from apps.sync.resources import CALLS, get_resource, resource_names
from apps.sync.services import LockBusy, sync_run_execute

from .conftest import _clear_redis, control, upstream_records
from .test_full_sync import assert_mirror_equals_upstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_retries(settings):
    settings.CALLRAIL_BACKOFF_BASE = 0.001
    settings.CALLRAIL_BACKOFF_MAX = 0.005


def new_run(account, kind=SyncKind.FULL, resources=None) -> SyncRun:
    return SyncRun.objects.create(client_account=account, kind=kind, resources=resources or resource_names())


def calls_requests(sandbox, since):
    log = control(sandbox, "GET", f"requests?since={since}")["requests"]
    return [r for r in log if r["path"].endswith("/calls.json") and r["status"] == 200]


def test_run_interrupted_half_way_resumes_after_the_last_committed_page(
    sandbox, sandbox_account, settings, fast_retries
):
    settings.SYNC_PER_PAGE = 20  # 120 calls -> 6 pages
    run = new_run(sandbox_account, resources=["companies", "trackers", "calls"])
    # CallRail fails every attempt at the 4th page of calls (the client retries 3 times, then gives up).
    control(sandbox, "POST", "faults", path_pattern="/calls.json", script=["ok", "ok", "ok", *["500"] * 4])

    with pytest.raises(Transient):
        sync_run_execute(run=run)

    run.refresh_from_db()
    assert run.status == SyncStatus.WAITING
    assert run.not_before is not None
    assert Call.objects.for_account(sandbox_account).count() == 60  # three whole pages, nothing half-written
    checkpoint = SyncState.objects.for_account(sandbox_account).get(resource="calls").checkpoint
    assert checkpoint["pages"] == 3
    assert checkpoint["after"]
    assert run.progress["done"] == ["companies", "trackers"]

    since = time.time()
    run = sync_run_execute(run=run)  # what the task's retry does

    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert len(calls_requests(sandbox, since)) <= 4  # resumed after page 3, not listed again from the start
    upstream = upstream_records(sandbox_account, CALLS)
    calls = Call.objects.for_account(sandbox_account)
    assert calls.count() == len(upstream) == 120  # no duplicates, nothing skipped
    assert run.records_created == 120 + 2 + 6
    assert_mirror_equals_upstream(sandbox_account, only={"calls", "companies", "trackers"})
    assert SyncState.objects.for_account(sandbox_account).get(resource="calls").checkpoint == {}


def test_a_new_run_resumes_an_abandoned_pass(sandbox, sandbox_account, settings, fast_retries):
    settings.SYNC_PER_PAGE = 25
    control(sandbox, "POST", "faults", path_pattern="/calls.json", script=["ok", "ok", *["503"] * 4])
    first = new_run(sandbox_account, resources=["companies", "trackers", "calls"])
    with pytest.raises(Transient):
        sync_run_execute(run=first)
    first.status = SyncStatus.INTERRUPTED  # e.g. retired by the dispatcher
    first.save()

    # An incremental run finds the unfinished full pass of calls and completes it before anything narrower.
    second = sync_run_execute(run=new_run(sandbox_account, kind=SyncKind.INCREMENTAL, resources=["calls"]))
    assert second.status == SyncStatus.SUCCEEDED
    assert second.records_created == 120 - 50
    assert Call.objects.for_account(sandbox_account).count() == 120
    state = SyncState.objects.for_account(sandbox_account).get(resource="calls")
    assert state.last_full_at is not None
    assert state.checkpoint == {}


def test_injected_500s_503s_and_dropped_connections_delay_but_never_corrupt(
    sandbox, sandbox_account, settings, fast_retries
):
    settings.SYNC_PER_PAGE = 30
    control(sandbox, "POST", "faults", error_500=0.25, error_503=0.15, drop=0.05, seed=7)
    run = new_run(sandbox_account)
    attempts = 0
    while True:
        attempts += 1
        assert attempts < 60, run.errors
        try:
            run = sync_run_execute(run=run)
            break
        except Transient:
            run.refresh_from_db()
    faults = control(sandbox, "GET", "faults")["counts"]
    control(sandbox, "DELETE", "faults")
    assert run.status == SyncStatus.SUCCEEDED
    assert faults["500"] + faults["503"] + faults["drop"] > 5  # the faults did happen
    assert run.attempts == attempts
    assert run.requests > 20
    assert_mirror_equals_upstream(sandbox_account)
    for resource in ("calls", "form_submissions"):
        model = get_resource(resource).model
        ids = list(model.objects.for_account(sandbox_account).values_list("callrail_id", flat=True))
        assert len(ids) == len(set(ids))


def test_429s_pause_the_run_until_callrail_allows_it_and_then_finish_it(
    sandbox, sandbox_account, settings, budget_as_fast_as_the_sandbox
):
    settings.SYNC_PER_PAGE = 40
    # 6 requests per sandbox hour, and one real second is one sandbox hour (the portal's budget hour too): a
    # 429 (without Retry-After, as CallRail's) holds the account until the next hour.
    control(sandbox, "POST", "rate-limits", time_scale=3600, limits={"general": {"hour": 6, "day": 100000}},
            account_id=sandbox_account.callrail_account_id)  # fmt: skip
    run = new_run(sandbox_account)
    waits = 0
    while True:
        try:
            run = sync_run_execute(run=run)
            break
        except Transient as exc:
            waits += 1
            assert waits < 40
            run.refresh_from_db()
            assert run.status == SyncStatus.WAITING
            time.sleep(max(0.05, float(exc.retry_after or 1)))  # the task's countdown, in a test
    assert run.status == SyncStatus.SUCCEEDED
    assert run.rate_limited >= 1
    assert waits >= 1
    control(sandbox, "POST", "rate-limits", enabled=False)
    _clear_redis(sandbox_account.pk)  # the 429 also held back the portal's own budget for the account
    assert_mirror_equals_upstream(sandbox_account)


def test_one_run_per_account_at_a_time(sandbox, sandbox_account, other_tenant):
    from .conftest import point_at_sandbox

    held = AccountSyncLock(sandbox_account.pk, owner="another-worker")
    assert held.acquire(30)
    run = new_run(sandbox_account, resources=["companies"])
    try:
        with pytest.raises(LockBusy) as busy:
            sync_run_execute(run=run)
        assert 0 < busy.value.retry_after <= 30
        run.refresh_from_db()
        assert run.status == SyncStatus.QUEUED
        assert run.requests == 0
        # Another account is not held up by this one's lock.
        other = point_at_sandbox(other_tenant.account, sandbox, index=1)
        assert sync_run_execute(run=new_run(other, resources=["companies"])).status == SyncStatus.SUCCEEDED
    finally:
        held.release()
    assert sync_run_execute(run=run).status == SyncStatus.SUCCEEDED
    assert not AccountSyncLock(sandbox_account.pk).holder()  # released at the end
