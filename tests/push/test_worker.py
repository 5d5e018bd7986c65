"""End to end with a real Celery worker: edits made in quick succession reach CallRail in order, server
errors are retried by re-enqueueing, a create whose local write was lost is not duplicated, and
``manage.py push_outbox --wait`` drains through the same Celery path."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from apps.callrail.client import client_for_account
from apps.calls import services as calls
from apps.calls.models import Call
from apps.push.models import PENDING_PREFIX, EntryStatus, OutboxEntry
from apps.push.selectors import outbox_is_settled
from apps.sync.models import SyncKind
from apps.tags import services as tags
from apps.trackers import services as trackers
from apps.trackers.models import Tracker
from tests.sync.conftest import execute, point_at_sandbox
from tests.workers import start_worker

from .conftest import MIRRORED, entries, faults, upstream
from .test_writes import company_of

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def live_mirrored(transactional_db, tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    execute(account, SyncKind.FULL, [*MIRRORED, "calls"])
    return account


def wait_settled(account, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not outbox_is_settled(account):
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not settled: {[str(e) for e in entries(account)]}")
        time.sleep(0.1)


def test_rapid_successive_edits_reach_callrail_in_order(live_mirrored, sandbox, celery_worker):
    account = live_mirrored
    company = company_of(account)
    call_rows = list(Call.objects.for_account(account).exclude(company=None).filter(spam=False).order_by("pk")[:3])
    tag = tags.tag_create(account=account, name="Rapid 0", company=company)
    for i in range(1, 8):  # renames and recolours while the worker is already sending
        tags.tag_update(tag=tag, name=f"Rapid {i}", color=("blue1", "red1")[i % 2])
        for call in call_rows:
            calls.call_update(call=call, note=f"note {i} of {call.callrail_id}", value=str(i * 10))
    wait_settled(account)
    statuses = {e.status for e in entries(account)}
    assert statuses <= {EntryStatus.DONE, EntryStatus.SUPERSEDED}, [str(e) for e in entries(account)]
    tag.refresh_from_db()
    up = upstream(sandbox, account, "tags", tag.callrail_id)
    assert (up["name"], up["color"]) == (tag.name, tag.color) == ("Rapid 7", "red1")
    for call in call_rows:
        up = upstream(sandbox, account, "calls", call.callrail_id)
        call.refresh_from_db()
        assert up["note"] == call.note == f"note 7 of {call.callrail_id}"
    # Per object the done entries were sent in the order they were made.
    for key in {(e.resource, e.object_pk) for e in entries(account)}:
        done = [e for e in entries(account) if (e.resource, e.object_pk) == key and e.status == EntryStatus.DONE]
        assert [e.done_at for e in done] == sorted(e.done_at for e in done)


def test_server_errors_are_retried_by_the_worker(live_mirrored, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_MAX_RETRIES", "0")
    monkeypatch.setenv("PUSH_RETRY_BASE_SECONDS", "0.5")
    worker = start_worker()
    try:
        faults(sandbox, script=["500", "503", "500"])
        call = Call.objects.for_account(live_mirrored).exclude(company=None).filter(spam=False).first()
        calls.call_note_update(call=call, note="after three failures")
        wait_settled(live_mirrored)
    finally:
        worker.stop()
    entry = entries(live_mirrored)[0]
    assert entry.status == EntryStatus.DONE
    assert entry.attempts == 4
    assert upstream(sandbox, live_mirrored, "calls", call.callrail_id)["note"] == "after three failures"


def test_no_duplicate_tracker_when_the_local_write_was_lost(live_mirrored, sandbox, celery_worker):
    account = live_mirrored
    tracker = trackers.tracker_create(
        account=account, company=company_of(account), name="Mailer Q3", type="source", source={"type": "offline"},
        destination_number="+13035550100", area_code="303",
    )  # fmt: skip
    wait_settled(account)
    tracker.refresh_from_db()
    created = tracker.callrail_id
    assert not created.startswith(PENDING_PREFIX)
    # As if the worker had been killed after CallRail answered the create, before the local write.
    Tracker.objects.for_account(account).filter(pk=tracker.pk).update(callrail_id=f"{PENDING_PREFIX}lost")
    OutboxEntry.objects.for_account(account).update(status=EntryStatus.IN_FLIGHT, done_at=None)
    out = io.StringIO()
    call_command("push_outbox", account.callrail_account_id, "--wait", "--timeout", "60", stdout=out)
    assert "1 sent, 0 failed" in out.getvalue()
    upstream_trackers = [
        t
        for t in client_for_account(account, lane="interactive").iter_records("trackers.json", list_key="trackers")
        if t["name"] == "Mailer Q3"
    ]
    assert [t["id"] for t in upstream_trackers] == [created]
    tracker.refresh_from_db()
    assert tracker.callrail_id == created


def test_push_outbox_command_reports_failures(live_mirrored, sandbox, celery_worker):
    account = live_mirrored
    company = company_of(account)
    client_for_account(account, lane="interactive").post(
        "tags.json", json={"name": "Taken", "company_id": company.callrail_id}
    )
    tags.tag_create(account=account, name="Taken", company=company)
    wait_settled(account)
    out = io.StringIO()
    with pytest.raises(Exception, match="did not reach CallRail"):
        call_command("push_outbox", account.callrail_account_id, "--wait", "--timeout", "60", stdout=out)
    assert "Name has already been taken" in out.getvalue()
