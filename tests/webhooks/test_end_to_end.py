"""End to end: the sandbox sends signed webhooks over HTTP to a live portal server, a real Celery worker
applies them, and the mirror equals the sandbox — for every event type CallRail documents and the sandbox
emits, and for a burst of concurrent deliveries (each delivered twice), none lost and none applied twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.callrail.client import client_for_account
from apps.calls.models import Call
from apps.sync.models import SyncRun
from apps.text_conversations.models import TextConversation
from apps.trackers.models import Tracker
from apps.webhooks.models import EventStatus, WebhookEvent
from tests.sync.conftest import control
from tests.workers import wait_for

from .conftest import connect_webhooks, deliveries, post
from .test_apply import assert_rows_equal_upstream

# The sandbox's activity depends on the time of day (calls outside business hours go unanswered: no
# answered_call event): the clock of this process, the sandbox's and the live server's, is pinned to a weekday
# morning in New York; the worker shares that clock (tests.workers.clock_offset).
pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.usefixtures("clock")]

EVERY_EVENT = {
    "pre_call", "answered_call", "post_call", "updated_call", "post_outbound_call", "updated_outbound_call",
    "sms_received", "sms_sent", "form_captured",
}  # fmt: skip


@pytest.fixture
def live(transactional_db, hooked_account, sandbox, live_server, settings):
    settings.PORTAL_BASE_URL = live_server.url
    keys = connect_webhooks(sandbox, hooked_account)
    return hooked_account, keys


def history(account, callrail_id: str) -> list[tuple]:
    """What wrote the record: its deliveries (in the order applied) and the account's sync runs."""
    events = WebhookEvent.objects.for_account(account).filter(record_id=callrail_id).order_by("applied_at")
    runs = SyncRun.objects.for_account(account).order_by("pk")
    return [(e.event_type, e.status, e.reason, e.received_at, e.applied_at) for e in events] + [
        (r.kind, r.trigger, r.status, r.started_at, r.finished_at) for r in runs
    ]


def settled(account) -> list[WebhookEvent]:
    """Every event once none is waiting for the worker any more."""
    events = list(WebhookEvent.objects.for_account(account).order_by("pk"))
    return events if events and all(e.status != EventStatus.VERIFIED for e in events) else []


def test_every_event_type_reaches_the_mirror_through_the_worker(live, sandbox, celery_worker):
    account, _ = live
    api = client_for_account(account, lane="interactive")
    tracker = next(
        t for t in Tracker.objects.for_account(account).live() if t.status == "active" and t.tracking_numbers
    )
    outbound = api.post("calls.json", json={"caller_id": tracker.tracking_numbers[0],
                                            "customer_phone_number": "+13035550123",
                                            "business_phone_number": "+13035550100"})  # fmt: skip
    conversation = TextConversation.objects.for_account(account).select_related("company").first()
    api.post("text-messages.json", json={"company_id": conversation.company.callrail_id,
                                         "customer_phone_number": conversation.customer_phone_number,
                                         "content": "See you at 3."})  # fmt: skip
    report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=3,
                     modified_calls=3, text_messages=2, form_submissions=2,
                     complete_outbound=True)[account.callrail_account_id]  # fmt: skip
    assert report["completed_outbound_calls"] == [outbound["id"]]
    api.put(f"calls/{outbound['id']}.json", json={"note": "Left a voicemail"})
    control(sandbox, "POST", "webhooks/flush")

    sent = deliveries(sandbox)
    assert {d["event"].removesuffix("_webhook") for d in sent} == EVERY_EVENT
    assert [d["status"] for d in sent] == [202] * len(sent), [(d["event"], d["status"], d["error"]) for d in sent]
    events = wait_for(lambda: settled(account), timeout=60)
    assert len(events) == len(sent)
    assert {e.status for e in events} <= {EventStatus.APPLIED, EventStatus.IGNORED}, [
        (e.event_type, e.status, e.reason) for e in events if e.status not in ("applied", "ignored")
    ]
    # every event reached the mirror: applied, or older than CallRail's record a look-up brought (the call
    # payloads name calls by their legacy numeric id: the first delivery of a new call looks it up once)
    superseded = ("CallRail's current record was fetched after this delivery arrived", "the mirror already holds this")
    assert {e.event_type for e in events if e.status == EventStatus.APPLIED or e.reason in superseded} == EVERY_EVENT
    assert all(e.record_id.startswith(("CAL", "FOR")) for e in events if e.event_type not in ("sms_received",
                                                                                             "sms_sent"))

    calls = {*report["new_calls"], *(m["id"] for m in report["modified_calls"]), outbound["id"]}
    assert_rows_equal_upstream(account, "calls", calls)
    assert Call.objects.for_account(account).get(callrail_id=outbound["id"]).note == "Left a voicemail", history(
        account, outbound["id"]
    )
    assert_rows_equal_upstream(account, "form_submissions", set(report["form_submissions"]),
                               columns={"submitted_at", "company", "source"})  # fmt: skip
    texts = {c for c in report["text_messages"] if c} | {conversation.callrail_id}
    assert_rows_equal_upstream(account, "text_conversations", texts,
                               columns={"customer_phone_number", "last_message_at", "company"})  # fmt: skip


def test_a_burst_of_concurrent_deliveries_loses_none_and_applies_each_once(live, sandbox, celery_worker):
    account, _ = live
    sandbox.state.webhooks.enabled = False  # the sandbox signs and records them; the test delivers them
    try:
        report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=20,
                         complete_outbound=False)[account.callrail_account_id]  # fmt: skip
    finally:
        sandbox.state.webhooks.enabled = True
    sent = [d for d in deliveries(sandbox) if d["event"].removesuffix("_webhook") in EVERY_EVENT]
    assert len(sent) >= 40  # pre-call and post-call of each, routing complete of the answered ones
    calls_before = Call.objects.for_account(account).count()
    before = WebhookEvent.objects.for_account(account).count()

    with ThreadPoolExecutor(max_workers=16) as pool:  # each delivery twice, all at once
        answers = list(pool.map(lambda d: post(d["url"], d["body"].encode(), d["signature"]).status_code, sent + sent))

    assert sorted(answers) == [200] * len(sent) + [202] * len(sent)
    events = wait_for(lambda: settled(account), timeout=90)[before:]
    assert len(events) == 2 * len(sent)
    assert sum(e.status == EventStatus.DUPLICATE for e in events) == len(sent)
    assert {e.status for e in events} <= {EventStatus.APPLIED, EventStatus.IGNORED, EventStatus.DUPLICATE}
    new_ids = set(report["new_calls"])
    assert Call.objects.for_account(account).count() == calls_before + len(new_ids)  # none lost, no phantom
    assert_rows_equal_upstream(account, "calls", new_ids)
