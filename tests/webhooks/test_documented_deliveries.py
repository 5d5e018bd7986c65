"""End to end with a live portal server and a real worker: call webhooks shaped as CallRail documents them
(legacy numeric ids, ``timestamp`` taken from the data) are accepted whatever their age, applied to the
right mirrored call (never to a phantom row), and a replayed older delivery changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from apps.calls.models import Call
from apps.companies.models import Company
from apps.webhooks.models import EventStatus, WebhookEvent
from apps.webhooks.services import webhook_signing_key_set, webhook_urls
from tests.sync.conftest import control
from tests.workers import wait_for

from .conftest import connect_webhooks, deliveries, post
from .test_apply import assert_rows_equal_upstream

pytestmark = [pytest.mark.worker, pytest.mark.slow]

VECTOR = Path(__file__).resolve().parents[1] / "fixtures" / "callrail" / "webhooks" / "docs_signature_vector.json"
DOCS_KEY = "072e77e426f92738a72fe23c4d1953b4"
DOCS_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="


@pytest.fixture
def live(transactional_db, hooked_account, sandbox, live_server, settings):
    settings.PORTAL_BASE_URL = live_server.url
    connect_webhooks(sandbox, hooked_account)
    return hooked_account


def done(account, count: int) -> list[WebhookEvent]:
    """The account's events once ``count`` of them were received and none waits for the worker any more."""
    events = list(WebhookEvent.objects.for_account(account).order_by("pk"))
    return events if len(events) >= count and all(e.status != EventStatus.VERIFIED for e in events) else []


def held_deliveries(sandbox, act) -> list[dict]:
    """Let CallRail (the sandbox) ``act`` and sign its webhooks without delivering them: the test delivers."""
    sandbox.state.webhooks.enabled = False
    try:
        act()
    finally:
        sandbox.state.webhooks.enabled = True
    return deliveries(sandbox)


def test_the_docs_test_vector_is_accepted_with_its_2018_timestamp_and_applied_to_the_right_call(
    live, celery_worker, live_server
):
    account = live
    account.agency.retention_months = 120  # the docs' call is from 2018: kept by this agency
    account.agency.save()
    body = VECTOR.read_bytes()
    payload = json.loads(body)
    company = Company.objects.for_account(account).order_by("name").first()
    # the docs' company (numeric id 155920786, as its swap.js URL in the companies listing shows it)
    company.payload = {**company.payload, "script_url": "//cdn.callrail.com/companies/155920786/0a1b2c/12/swap.js"}
    company.save(update_fields=["payload"])
    webhook_signing_key_set(company=company, signing_key=DOCS_KEY)  # and its test signing key
    # the call as the portal mirrored it from the API: its CAL… id, the numeric id only inside its URLs
    start = datetime.fromisoformat(payload["start_time"])
    call = Call.objects.create(
        client_account=account, company=company, callrail_id="CAL" + "7" * 32, start_time=start,
        customer_phone_number=payload["customer_phone_number"], tracking_phone_number=payload["tracking_phone_number"],
        recording_player="https://app.callrail.com/calls/766970532/recording?access_key=aaaabbbbccccdddd",
        lead_status=None, payload={
            "id": "CAL" + "7" * 32, "lead_status": None, "start_time": payload["start_time"],
            "recording": "https://api.callrail.com/v3/a/227799611/calls/766970532/recording.json",
        },
        payload_hash="x", first_seen_at=start, last_seen_at=start, changed_at=start,
    )  # fmt: skip
    calls_before = Call.objects.for_account(account).count()

    answer = post(webhook_urls(account)["post_call_webhook"], body, DOCS_SIGNATURE)
    assert answer.status_code == 202, answer.text  # 2018: accepted all the same (genuine, signed)

    (event,) = wait_for(lambda: done(account, 1), timeout=60, what="the worker applied the delivery")
    assert (event.status, event.legacy_id, event.record_id) == (EventStatus.APPLIED, "766970532", call.callrail_id)
    assert event.payload_timestamp == datetime.fromisoformat("2018-02-19T13:41:00.236-05:00")
    call.refresh_from_db()
    assert call.lead_status == "previously_marked_good_lead"  # the right call, updated
    assert call.company_id == company.pk
    assert Call.objects.for_account(account).count() == calls_before  # and no phantom "766970532"
    assert not Call.objects.for_account(account).filter(callrail_id="766970532").exists()


def test_a_post_call_30_minutes_after_its_start_is_accepted_and_applied(live, sandbox, celery_worker):
    account = live
    with sandbox.state.lock:  # a call that started 30 minutes ago, whose post-call webhook fires only now
        acc = sandbox.state.accounts[account.callrail_account_id]
        synth = sandbox.state.synths[acc.id]
        tracker = next(t for t in acc.trackers.values() if t["status"] == "active")
        ctx = sandbox.state.system_ctx(acc)
        started = ctx.now - timedelta(minutes=30)
        new = synth.make_call(round(started.timestamp(), 3), tracker=tracker, direction="inbound")
        new.created = started
        sandbox.state.add_call(acc, new)
        from apps.sandbox.resources import call_webhook_payload

        sandbox.state.emit(acc, new.company_id, "post_call_webhook", call_webhook_payload(ctx, new), call=new)
    control(sandbox, "POST", "webhooks/flush")
    (sent,) = deliveries(sandbox)
    assert sent["status"] == 202
    body = json.loads(sent["body"])
    assert datetime.fromisoformat(body["timestamp"]) <= timezone.now() - timedelta(minutes=29)
    (event,) = wait_for(lambda: done(account, 1), timeout=60, what="the worker applied the delivery")
    assert (event.status, event.record_id) == (EventStatus.APPLIED, new.id)
    assert_rows_equal_upstream(account, "calls", {new.id})


def test_a_call_modified_of_a_40_day_old_call_is_applied_to_the_real_row(live, sandbox, celery_worker):
    account = live
    now = timezone.now()
    old = (
        Call.objects.for_account(account).filter(start_time__lte=now - timedelta(days=40), direction="inbound")
        .order_by("-start_time").first()
    )  # fmt: skip
    assert old is not None
    calls_before = Call.objects.for_account(account).count()
    # the edit, made in CallRail 40 days after the call; CallRail sends Call Modified at once
    answer = requests.put(f"{sandbox.api_url}/a/{account.callrail_account_id}/calls/{old.callrail_id}.json",
                          json={"note": "Called back about the quote"}, timeout=30,
                          headers={"Authorization": f'Token token="{account.api_key}"'})  # fmt: skip
    assert answer.status_code == 200
    control(sandbox, "POST", "webhooks/flush")
    (sent,) = [d for d in deliveries(sandbox) if d["event"] == "updated_call_webhook"]
    assert sent["status"] == 202
    assert json.loads(sent["body"])["changes"] == ["note"]
    (event,) = wait_for(lambda: done(account, 1), timeout=60, what="the worker applied the delivery")
    assert event.status == EventStatus.APPLIED, event.reason
    assert event.record_id == old.callrail_id
    old.refresh_from_db()
    assert old.note == "Called back about the quote"
    assert Call.objects.for_account(account).count() == calls_before
    assert_rows_equal_upstream(account, "calls", {old.callrail_id})


def test_a_replayed_older_delivery_after_a_newer_one_changes_nothing(live, sandbox, celery_worker):
    account = live
    call = Call.objects.for_account(account).filter(direction="inbound").order_by("-start_time")[5]
    url = f"{sandbox.api_url}/a/{account.callrail_account_id}/calls/{call.callrail_id}.json"
    headers = {"Authorization": f'Token token="{account.api_key}"'}

    def two_edits() -> None:
        for note in ("First note", "Second note"):
            assert requests.put(url, json={"note": note}, headers=headers, timeout=30).status_code == 200

    sent = held_deliveries(sandbox, two_edits)
    first, second = [d for d in sent if d["event"] == "updated_call_webhook"]
    assert json.loads(first["body"])["timestamp"] == json.loads(second["body"])["timestamp"]  # order not in data

    assert post(second["url"], second["body"].encode(), second["signature"]).status_code == 202
    wait_for(lambda: done(account, 1), timeout=60, what="the newer delivery applied")
    call.refresh_from_db()
    assert call.note == "Second note"
    assert post(first["url"], first["body"].encode(), first["signature"]).status_code == 202  # replayed later
    events = wait_for(lambda: done(account, 2), timeout=60, what="the older delivery handled")
    call.refresh_from_db()
    assert call.note == "Second note"  # not moved backwards
    assert events[1].status in (EventStatus.APPLIED, EventStatus.IGNORED)
    assert events[1].result.get("fetched") or events[1].status == EventStatus.IGNORED  # CallRail's state decided
    assert post(second["url"], second["body"].encode(), second["signature"]).json() == {"ok": True, "duplicate": True}
    assert_rows_equal_upstream(account, "calls", {call.callrail_id})
