"""End to end: the sandbox sends signed webhooks over HTTP to a live portal server, a real Celery worker
applies them, and the mirror equals the sandbox — for every event type CallRail documents and the sandbox
emits, and for a burst of concurrent deliveries (each delivered twice), none lost and none applied twice."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from apps.callrail.client import client_for_account
from apps.calls.models import Call
from apps.text_conversations.models import TextConversation
from apps.trackers.models import Tracker
from apps.webhooks.models import EventStatus, WebhookEvent
from apps.webhooks.services import webhook_signature
from tests.sync.conftest import control
from tests.workers import wait_for

from .conftest import connect_webhooks, deliveries, post
from .test_apply import assert_rows_equal_upstream

# The sandbox's activity depends on the time of day (calls outside business hours go unanswered: no
# answered_call event): the clock of this process, the sandbox's and the live server's, is pinned to a weekday
# morning in New York. The worker keeps the real clock; applying an event does not read it.
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
    assert {e.event_type for e in events if e.status == EventStatus.APPLIED} == EVERY_EVENT

    calls = {*report["new_calls"], *(m["id"] for m in report["modified_calls"]), outbound["id"]}
    assert_rows_equal_upstream(account, "calls", calls)
    assert Call.objects.for_account(account).get(callrail_id=outbound["id"]).note == "Left a voicemail"
    assert_rows_equal_upstream(account, "form_submissions", set(report["form_submissions"]),
                               columns={"submitted_at", "company", "source"})  # fmt: skip
    texts = {c for c in report["text_messages"] if c} | {conversation.callrail_id}
    assert_rows_equal_upstream(account, "text_conversations", texts,
                               columns={"customer_phone_number", "last_message_at", "company"})  # fmt: skip


def test_a_burst_of_concurrent_deliveries_loses_none_and_applies_each_once(live, sandbox, celery_worker):
    account, keys = live
    control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=1, complete_outbound=False)
    template = next(d for d in deliveries(sandbox) if d["event"] == "post_call_webhook")
    url = template["url"]
    wait_for(lambda: settled(account), timeout=30)
    before = WebhookEvent.objects.for_account(account).count()

    bodies = []
    for _ in range(60):  # 60 distinct calls, as CallRail would sign them
        payload = json.loads(template["body"])
        payload["id"] = "CAL" + uuid.uuid4().hex
        payload["timestamp"] = timezone.now().isoformat()
        body = json.dumps(payload).encode()
        bodies.append((body, webhook_signature(signing_key=keys[template["company_id"]], body=body)))
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda pair: post(url, *pair).status_code, bodies + bodies))  # each one twice

    assert sorted(answers) == [200] * 60 + [202] * 60
    events = wait_for(lambda: settled(account), timeout=60)[before:]
    assert len(events) == 120
    assert sum(e.status == EventStatus.APPLIED for e in events) == 60
    assert sum(e.status == EventStatus.DUPLICATE for e in events) == 60
    ids = {json.loads(body)["id"] for body, _ in bodies}
    assert Call.objects.for_account(account).filter(callrail_id__in=ids).count() == 60
