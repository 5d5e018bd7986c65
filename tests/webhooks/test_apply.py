"""Applying received events to the mirror (the service the ``webhooks.apply_event`` task calls)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from apps.callrail.client import client_for_account
from apps.calls.models import Call
from apps.sync.resources import get_resource
from apps.webhooks.models import EventStatus, WebhookEvent
from apps.webhooks.services import webhook_event_apply
from tests.push.conftest import faults
from tests.sync.conftest import control, execute, upstream_records
from tests.sync.test_full_sync import EXPECTED, actual
from tests.workers import wait_for

from .conftest import connect_webhooks, deliveries

pytestmark = pytest.mark.django_db


def receive(client, account, sent: list[dict]) -> list[WebhookEvent]:
    """Post the sandbox's deliveries to the portal, as they were signed; the events they created."""
    for delivery in sent:
        answer = client.post(urlsplit(delivery["url"]).path, data=delivery["body"].encode(),
                             content_type="application/json", HTTP_SIGNATURE=delivery["signature"])  # fmt: skip
        assert answer.status_code == 202, answer.content
    return list(WebhookEvent.objects.for_account(account).order_by("-pk")[: len(sent)])[::-1]


def apply_all(events: list[WebhookEvent]) -> list[str]:
    return [webhook_event_apply(event=event).status for event in events]


def assert_rows_equal_upstream(account, resource_name: str, ids: set[str], columns=None) -> None:
    upstream = upstream_records(account, get_resource(resource_name))
    model = get_resource(resource_name).model
    rows = {r.callrail_id: r for r in model.objects.for_account(account).filter(callrail_id__in=ids)}
    assert set(rows) == ids, resource_name
    for callrail_id in ids:
        for column, expected in EXPECTED[resource_name].items():
            if columns is None or column in columns:
                assert actual(rows[callrail_id], column) == expected(upstream[callrail_id]), (
                    f"{resource_name} {callrail_id} {column}"
                )


@pytest.fixture
def connected(hooked_account, sandbox, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"  # the sandbox's own deliveries go nowhere; tests post them
    connect_webhooks(sandbox, hooked_account)
    return hooked_account


def test_post_call_and_call_modified_make_the_mirror_equal_the_sandbox(client, connected, sandbox):
    account = connected
    report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=3,
                     modified_calls=4, complete_outbound=False)[account.callrail_account_id]  # fmt: skip
    new_ids = set(report["new_calls"])
    modified = {m["id"]: m["changes"] for m in report["modified_calls"]}
    assert set(modified) - new_ids
    before = {c.callrail_id: c for c in Call.objects.for_account(account).filter(callrail_id__in=list(modified))}
    assert not Call.objects.for_account(account).filter(callrail_id__in=list(new_ids)).exists()

    calls_before = Call.objects.for_account(account).count()
    events = receive(client, account, deliveries(sandbox))
    statuses = apply_all(events)
    # the payloads name calls by their legacy numeric id: each new call was looked up once (its first
    # delivery), its later deliveries were older than that look-up; modified calls were found in the mirror
    assert set(statuses) <= {EventStatus.APPLIED, EventStatus.IGNORED}
    for event in events:
        event.refresh_from_db()
        assert event.record_id.startswith("CAL"), event
        assert event.legacy_id.isdigit(), event
        if event.status == EventStatus.IGNORED:  # an earlier stage, or nothing the look-up did not bring
            assert event.reason in ("CallRail's current record was fetched after this delivery arrived",
                                    "the mirror already holds this"), event.reason
    assert Call.objects.for_account(account).count() == calls_before + len(new_ids)  # no phantom rows

    assert_rows_equal_upstream(account, "calls", new_ids | set(modified))
    for callrail_id, changes in modified.items():  # the fields that moved did move
        row = Call.objects.for_account(account).get(callrail_id=callrail_id)
        if callrail_id in before:  # (a new call may be modified at once, too)
            assert row.changed_at > before[callrail_id].changed_at
        event = next(e for e in events if e.record_id == callrail_id and e.event_type == "updated_call")
        assert event.changes == changes
    # applying again changes nothing; and a sync afterwards finds the calls as the webhooks left them
    assert apply_all(events) == [e.status for e in events]
    run = execute(account, "incremental", ["calls"])
    assert run.status == "succeeded", run.errors
    assert run.records_created == 0
    assert run.records_updated == 0  # the webhooks' records hash like the listing's


def test_an_older_event_arriving_after_a_newer_one_changes_nothing(client, connected, sandbox):
    account = connected
    report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=1,
                     complete_outbound=False)[account.callrail_account_id]  # fmt: skip
    (call_id,) = report["new_calls"]
    time.sleep(0.01)  # the edit's webhook carries a later timestamp
    client_for_account(account, lane="interactive").put(f"calls/{call_id}.json", json={"note": "Called back"})
    sent = deliveries(sandbox)
    post_call = next(d for d in sent if d["event"] == "post_call_webhook")
    modified = next(d for d in sent if d["event"] == "updated_call_webhook")

    late = receive(client, account, [modified, post_call])
    assert apply_all(late) == [EventStatus.APPLIED, EventStatus.IGNORED]
    assert late[1].reason == "CallRail's current record was fetched after this delivery arrived"
    assert Call.objects.for_account(account).get(callrail_id=call_id).note == "Called back"
    assert_rows_equal_upstream(account, "calls", {call_id})


@pytest.mark.django_db(transaction=True)  # the look-up runs in a thread of its own, with its own connection
def test_a_record_fetched_before_a_later_delivery_arrived_does_not_hide_that_delivery(client, connected, sandbox):
    """A look-up answered slowly, written after the next delivery arrived: that delivery is newer than the
    record fetched, and its note is not lost (the order is judged by when the record was asked for)."""
    account = connected
    report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=1,
                     complete_outbound=False)[account.callrail_account_id]  # fmt: skip
    (call_id,) = report["new_calls"]
    post_call = next(d for d in deliveries(sandbox) if d["event"] == "post_call_webhook")
    (first,) = receive(client, account, [post_call])
    # The legacy-id look-up (GET calls/<numeric id>.json) is carried out at once but answered 4 s later.
    faults(sandbox, latency_ms=1, answer_latency_ms=4000, path_pattern=r"/calls/\d+\.json$")

    def apply_first() -> str:
        try:
            return webhook_event_apply(event=first).status
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            applying = pool.submit(apply_first)
            wait_for(lambda: control(sandbox, "GET", "faults")["counts"]["delayed"], timeout=30, what="the look-up")
            time.sleep(0.3)  # carried out: CallRail's record has no note yet
            client_for_account(account, lane="interactive").put(f"calls/{call_id}.json", json={"note": "Called back"})
            modified = next(d for d in deliveries(sandbox) if d["event"] == "updated_call_webhook")
            (second,) = receive(client, account, [modified])
            assert applying.result(timeout=60) == EventStatus.APPLIED
    finally:
        requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=30)
    assert Call.objects.for_account(account).get(callrail_id=call_id).note is None  # what the look-up brought
    assert apply_all([second]) == [EventStatus.APPLIED]
    assert Call.objects.for_account(account).get(callrail_id=call_id).note == "Called back"
    assert_rows_equal_upstream(account, "calls", {call_id})


def test_texts_and_form_submissions_reach_the_mirror(client, connected, sandbox):
    account = connected
    report = control(sandbox, "POST", "activity", account_id=account.callrail_account_id, text_messages=3,
                     form_submissions=2, complete_outbound=False)[account.callrail_account_id]  # fmt: skip
    events = receive(client, account, deliveries(sandbox))
    assert {e.event_type for e in events} == {"sms_received", "form_captured"}
    assert set(apply_all(events)) == {EventStatus.APPLIED}, [(e.event_type, e.reason) for e in events]
    for event in events:
        if event.event_type == "form_captured":  # named by a legacy numeric id: mapped to the FOR… id
            event.refresh_from_db()
            assert event.record_id in report["form_submissions"]
            assert event.legacy_id.isdigit()

    # what the webhooks carry is mirrored at once (a form webhook has no customer name, lead status, tags…)
    forms = set(report["form_submissions"])
    assert_rows_equal_upstream(account, "form_submissions", forms, columns={"submitted_at", "company", "source"})
    conversations = {c for c in report["text_messages"] if c}
    carried = {"customer_phone_number", "last_message_at", "company", "current_tracker"}
    assert_rows_equal_upstream(account, "text_conversations", conversations, columns=carried)
    # and the next sync completes the records
    assert execute(account, "incremental", ["form_submissions", "text_conversations"]).status == "succeeded"
    assert_rows_equal_upstream(account, "form_submissions", forms)
    assert_rows_equal_upstream(account, "text_conversations", conversations)


def test_convert_assist_is_verified_logged_and_needs_nothing_mirrored(client, connected):
    """The docs' Convert Assist example (the sandbox does not emit it), signed with a company's key."""
    import json

    from django.utils import timezone

    from apps.webhooks.models import WebhookSigningKey
    from apps.webhooks.services import webhook_signature, webhook_urls

    key = WebhookSigningKey.objects.for_account(connected).first()
    body = json.dumps({
        "person_resource_id": "PERb122rc301ec45f5yy021d4jj180c1a79",
        "last_interaction_resource_id": "CALc14896tw1b64fb970ab62aaf4fbefd9", "last_interaction_type": "Call",
        "answers": [{"answer_key": "Action plan", "answer_text": "1. Confirm the reservation"}],
        "interaction_count": 5, "timestamp": timezone.now().isoformat(),
    }).encode()  # fmt: skip
    url = webhook_urls(connected)["post_call_webhook"].replace("post_call", "convert_assist_complete")
    answer = client.post(urlsplit(url).path, data=body, content_type="application/json",
                         HTTP_SIGNATURE=webhook_signature(signing_key=key.signing_key, body=body))  # fmt: skip
    assert answer.status_code == 202
    event = WebhookEvent.objects.for_account(connected).get()
    assert event.company_id == key.company_id
    assert webhook_event_apply(event=event).status == EventStatus.IGNORED
    assert event.reason == "nothing of this event is mirrored"
