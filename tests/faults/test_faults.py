"""The fault suite: real worker processes, the sandbox over HTTP, and one fault each.

After each fault: the mirror equals the sandbox (ids per resource, then field by field), every outbox entry is
done or visibly failed, no upstream object was created twice, and no sliding window of the sandbox's own
request log exceeded the account's limit. A summary table (fault, recovered, records lost, duplicates, budget
overrun) is printed at the end of the run and written to ``var/fault-summary.txt`` (see conftest.py).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from agency_portal.celery import app as celery_app
from apps.calls import services as calls
from apps.calls.models import Call
from apps.push.models import PENDING_PREFIX, EntryStatus
from apps.push.selectors import outbox_is_settled
from apps.push.tasks import push_sweep_task
from apps.sync.models import FINISHED_STATUSES, SyncKind, SyncRun, SyncSchedule, SyncState, SyncStatus
from apps.sync.resources import get_resource
from apps.sync.services import sync_request, sync_schedule_for
from apps.tags import services as tags
from apps.tags.models import Tag
from apps.tenancy.models import ClientAccount
from tests.push.conftest import MIRRORED, entries
from tests.push.test_writes import company_of
from tests.sync.conftest import control, execute, point_at_sandbox, upstream_records
from tests.sync.test_full_sync import assert_mirror_equals_upstream
from tests.workers import wait_for

from .conftest import budget_check, limit_account, mirror_vs_sandbox, start_fault_worker

# `long`: left out of `make test`, always run by CI; one xdist group, so the fault tests run one at a time.
pytestmark = [
    pytest.mark.faults, pytest.mark.worker, pytest.mark.slow, pytest.mark.long, pytest.mark.xdist_group("faults"),
]  # fmt: skip

SYNCED = ["companies", "trackers", "users", "tags", "calls"]
BIG = 2400  # calls: ~10 pages of 250, slowed down by sandbox latency so a fault lands mid-run


@pytest.fixture
def live_account(transactional_db, tenant, sandbox):
    return point_at_sandbox(tenant.account, sandbox)


def _run(pk: int) -> SyncRun:
    return SyncRun.objects.unscoped(reason="system-check").get(pk=pk)


def calls_pages(account) -> int:
    state = SyncState.objects.for_account(account).filter(resource="calls").first()
    return (state.checkpoint or {}).get("pages", 0) if state else 0


def wait_finished(pk: int, timeout: float = 90.0) -> SyncRun:
    return wait_for(lambda: (r := _run(pk)).status in FINISHED_STATUSES and r, timeout=timeout, what=f"run {pk}")


def finished(pk: int) -> SyncRun | None:
    run = _run(pk)
    return run if run.status in FINISHED_STATUSES else None


def beat(broker_url: str) -> None:
    with celery_app.connection_for_write(broker_url) as conn:
        celery_app.send_task("sync.dispatch", queue="sync", connection=conn)


def restart_via_schedule(account, resources: list[str], timeout: float = 30.0) -> SyncRun:
    """What the schedule (and "Sync now") does: retire the abandoned run once its lock expired, queue the next."""

    def attempt():
        run, created = sync_request(account=account, kind=SyncKind.INCREMENTAL, resources=resources)
        return run if created else None

    return wait_for(attempt, timeout=timeout, step=0.5, what="the abandoned run to be retired")


def check_mirror(account, sandbox, row, names: list[str], expected_calls: int) -> None:
    """Record budget, lost and duplicate figures on the summary row, then assert them and every field."""
    budget = budget_check(sandbox, account, row)  # before the comparison's own reads
    row.lost, row.duplicates, extra = mirror_vs_sandbox(account, names)
    assert Call.objects.for_account(account).live().count() == expected_calls
    assert (row.lost, row.duplicates, extra) == (0, 0, 0)
    assert_mirror_equals_upstream(account, only=set(names))
    assert row.overrun == 0, budget


# ---------------------------------------------------------------------------------------- 1. SIGKILL mid-sync
@pytest.mark.fault("SIGKILL worker mid-sync")
def test_worker_sigkilled_mid_sync(live_account, sandbox, summary_row):
    sandbox.reset(seed=1, profile="small", calls_per_account=BIG)
    limit_account(live_account, sandbox)
    control(sandbox, "POST", "faults", path_pattern="/calls.json", latency_ms=400)
    worker = start_fault_worker()
    try:
        run, _ = sync_request(account=live_account, kind=SyncKind.FULL, resources=SYNCED, lock_ttl=3)
        wait_for(lambda: calls_pages(live_account) >= 3, what="three pages of calls")
        worker.kill()
    finally:
        worker.stop()
    at_kill = Call.objects.for_account(live_account).count()
    assert 0 < at_kill < BIG
    assert _run(run.pk).status == SyncStatus.RUNNING  # nobody told it: the worker is simply gone
    control(sandbox, "DELETE", "faults")

    worker = start_fault_worker()
    try:
        resumed = restart_via_schedule(live_account, SYNCED)
        resumed = wait_finished(resumed.pk)
    finally:
        worker.stop()
    assert _run(run.pk).status == SyncStatus.INTERRUPTED
    assert resumed.status == SyncStatus.SUCCEEDED, resumed.errors
    summary_row.notes.append(f"{at_kill} calls mirrored at the kill; the next run created {resumed.records_created}")
    summary_row.recovered = True
    check_mirror(live_account, sandbox, summary_row, SYNCED, BIG)
    assert resumed.records_created == BIG - at_kill  # resumed after the checkpoint, nothing written twice
    assert summary_row.rejected_429 == 0


# ---------------------------------------------------------------------------------------- 2. SIGKILL mid-push
@pytest.mark.fault("SIGKILL worker mid-push")
def test_worker_sigkilled_mid_push(live_account, sandbox, summary_row):
    limit_account(live_account, sandbox)
    execute(live_account, SyncKind.FULL, [*MIRRORED, "calls"])
    control(sandbox, "POST", "faults", latency_ms=300)
    worker = start_fault_worker()
    try:
        company = company_of(live_account)
        names = [f"Fault tag {i}" for i in range(8)]
        for name in names:
            tags.tag_create(account=live_account, name=name, company=company)
        call_rows = list(Call.objects.for_account(live_account).exclude(company=None).filter(spam=False)
                         .order_by("pk")[:6])  # fmt: skip
        for call in call_rows:
            calls.call_note_update(call=call, note=f"fault note {call.callrail_id}")
        total = len(entries(live_account))
        wait_for(lambda: sum(e.status == EntryStatus.DONE for e in entries(live_account)) >= 3, what="3 sent")
        worker.kill()
    finally:
        worker.stop()
    at_kill = {e.pk: e.status for e in entries(live_account)}
    assert sum(s == EntryStatus.DONE for s in at_kill.values()) < total, "the drain finished before the kill"
    control(sandbox, "DELETE", "faults")

    worker = start_fault_worker()
    try:
        time.sleep(4.5)  # the dead worker's drain lock expires (PUSH_LOCK_TTL of the fault workers)
        push_sweep_task.apply_async()  # what beat does every minute
        wait_for(lambda: outbox_is_settled(live_account), timeout=60, what="the outbox to settle")
    finally:
        worker.stop()
    final = entries(live_account)
    statuses = {e.status for e in final}
    assert statuses <= {EntryStatus.DONE, EntryStatus.SUPERSEDED, EntryStatus.FAILED, EntryStatus.CONFLICT}
    for e in final:
        if e.status in (EntryStatus.FAILED, EntryStatus.CONFLICT):
            assert e.message, f"entry {e.pk} failed without saying why"
    summary_row.recovered = statuses <= {EntryStatus.DONE, EntryStatus.SUPERSEDED}
    summary_row.notes.append(
        f"{total} entries; {sum(s == EntryStatus.DONE for s in at_kill.values())} done and "
        f"{sum(s == EntryStatus.IN_FLIGHT for s in at_kill.values())} in flight at the kill"
    )
    budget = budget_check(sandbox, live_account, summary_row)
    upstream_tags = upstream_records(live_account, get_resource("tags"))
    by_name: dict[str, list[str]] = {}
    for rid, record in upstream_tags.items():
        by_name.setdefault(record["name"], []).append(rid)
    summary_row.duplicates = sum(len(by_name.get(n, [])) - 1 for n in names if by_name.get(n))
    summary_row.lost = sum(1 for n in names if not by_name.get(n))
    mirror_tags = {t.name: t.callrail_id for t in Tag.objects.for_account(live_account).live().filter(name__in=names)}
    summary_row.lost += sum(1 for n in names if str(mirror_tags.get(n, PENDING_PREFIX)).startswith(PENDING_PREFIX))
    for call in call_rows:
        record = control(sandbox, "GET", f"accounts/{live_account.callrail_account_id}/calls/{call.callrail_id}")
        if record["note"] != f"fault note {call.callrail_id}":
            summary_row.lost += 1
    assert summary_row.duplicates == 0, by_name
    assert summary_row.lost == 0
    for name in names:
        assert mirror_tags[name] == by_name[name][0]
    assert summary_row.recovered, [str(e) for e in final]
    assert summary_row.overrun == 0, budget
    assert summary_row.rejected_429 == 0


# ------------------------------------------------------------------------------------ 3. Redis restarted
@pytest.mark.fault("Redis restarted mid-sync")
def test_redis_restarted_mid_sync(live_account, sandbox, private_redis, summary_row):
    sandbox.reset(seed=1, profile="small", calls_per_account=BIG)
    limit_account(live_account, sandbox)
    control(sandbox, "POST", "faults", path_pattern="/calls.json", latency_ms=400)
    # Broker, budget and locks of this worker live on a private Redis: the shared one is never touched.
    # The dispatcher below only re-sends this run: no other account is scheduled, nothing else is due.
    ClientAccount.objects.unscoped(reason="system-check").exclude(pk=live_account.pk).update(sync_enabled=False)
    now = timezone.now()
    sync_schedule_for(account=live_account)
    SyncSchedule.objects.for_account(live_account).update(last_full_at=now, last_reread_at=now, last_incremental_at=now)
    worker = start_fault_worker(redis_url=private_redis.url)
    try:
        run = SyncRun.objects.create(client_account=live_account, kind=SyncKind.FULL, resources=SYNCED, lock_ttl=3)
        with celery_app.connection_for_write(private_redis.url) as conn:
            celery_app.send_task("sync.run_account", kwargs={"client_account_id": live_account.pk,
                                 "sync_run_id": run.pk}, queue="sync", connection=conn)  # fmt: skip
        wait_for(lambda: calls_pages(live_account) >= 2, what="two pages of calls")
        private_redis.stop()
        down_at = calls_pages(live_account)
        time.sleep(3)
        private_redis.start()
        summary_row.notes.append(f"Redis down for 3 s after {down_at} pages of calls")
        # Beat's sync.dispatch, every 2 s instead of every minute: it re-sends a run whose retry could not be
        # published while the broker was down.
        run = wait_for(lambda: beat(private_redis.url) or finished(run.pk), timeout=90, step=2, what="the run")
    finally:
        worker.stop()
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.attempts >= 2
    assert any("Redis unreachable" in e["message"] and e.get("transient") for e in run.errors), run.errors
    summary_row.recovered = True
    check_mirror(live_account, sandbox, summary_row, SYNCED, BIG)
    assert summary_row.rejected_429 == 0


# ------------------------------------------------------------------------------ 4. database connection dropped
WORKER_BACKENDS = """
    SELECT pid, state FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


@pytest.mark.fault("DB connection dropped mid-upsert")
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a database server dropping a connection is a PostgreSQL fault (SQLite is a file: no connection to drop)",
)
def test_database_connection_dropped_during_upsert(live_account, sandbox, summary_row):
    sandbox.reset(seed=1, profile="small", calls_per_account=BIG)
    limit_account(live_account, sandbox)
    control(sandbox, "POST", "faults", path_pattern="/calls.json", latency_ms=300)
    worker = start_fault_worker()
    try:
        run, _ = sync_request(account=live_account, kind=SyncKind.FULL, resources=SYNCED, lock_ttl=3)
        wait_for(lambda: calls_pages(live_account) >= 2, what="two pages of calls")

        def kill_mid_transaction():
            with connection.cursor() as cursor:
                cursor.execute(WORKER_BACKENDS)
                busy = [pid for pid, state in cursor.fetchall() if state in ("active", "idle in transaction")]
                for pid in busy:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                return busy

        killed = wait_for(kill_mid_transaction, timeout=30, step=0.01, what="the worker's backend mid-write")
        summary_row.notes.append(f"terminated backend(s) {killed} mid-transaction at page {calls_pages(live_account)}")
        run = wait_finished(run.pk, timeout=120)
    finally:
        worker.stop()
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.attempts >= 2  # retried by the task (countdown), from the checkpoint
    assert any("database connection lost" in e["message"] and e.get("transient") for e in run.errors), run.errors
    summary_row.recovered = True
    check_mirror(live_account, sandbox, summary_row, SYNCED, BIG)
    assert summary_row.rejected_429 == 0


# ------------------------------------------------------------------------------ 5. 30% 500/503 and 429s
@pytest.mark.fault("30% 500/503 + random 429s")
def test_whole_sync_under_server_errors_and_429s(live_account, sandbox, summary_row):
    sandbox.reset(seed=1, profile="small", calls_per_account=BIG // 2)
    control(sandbox, "POST", "faults", error_500=0.15, error_503=0.15, seed=11)
    # CallRail allows fewer requests than the portal believes (3 an "hour"; an hour lasts one second), so 429s
    # come whenever a burst outruns it — without Retry-After, as CallRail's: the worker's budget hour lasts a
    # second too, so the account is held until the next one.
    limits = {"general": {"hour": 3, "day": 100000}}
    control(sandbox, "POST", "rate-limits", time_scale=3600, limits=limits, account_id=live_account.callrail_account_id)
    worker = start_fault_worker(env={"CALLRAIL_BACKOFF_BASE": "0.05", "CALLRAIL_BACKOFF_MAX": "0.3",
                                     "CALLRAIL_BUDGET_TIME_SCALE": "3600"})  # fmt: skip
    try:
        run, _ = sync_request(account=live_account, kind=SyncKind.FULL)
        # Repeated 429s soon after a block are taken as the daily limit (a scaled day: 24 s) and failures back
        # off exponentially (up to 64 s after six): a few such waits in a row legitimately take minutes.
        run = wait_finished(run.pk, timeout=360)
    finally:
        worker.stop()
    counts = control(sandbox, "GET", "faults")["counts"]
    control(sandbox, "DELETE", "faults")
    log = control(sandbox, "GET", f"requests?account_id={live_account.callrail_account_id}&limit=100000")["requests"]
    statuses = Counter(r["status"] for r in log)
    budget = budget_check(sandbox, live_account, summary_row)
    control(sandbox, "POST", "rate-limits", enabled=False)
    summary_row.notes.append(
        f"{counts['500']} x 500 and {counts['503']} x 503 injected, {statuses[429]} x 429 and {statuses[200]} x 200 "
        f"answered (the log holds answered requests only); {run.attempts} task attempts"
    )
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    summary_row.recovered = True
    names = [r for r in run.resources]
    summary_row.lost, summary_row.duplicates, extra = mirror_vs_sandbox(live_account, names)
    assert (summary_row.lost, summary_row.duplicates, extra) == (0, 0, 0)
    assert_mirror_equals_upstream(live_account)
    assert counts["500"] + counts["503"] >= 5
    assert summary_row.rejected_429 >= 1
    assert summary_row.overrun == 0, budget
