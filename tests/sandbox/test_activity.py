"""Activity: new, modified and deleted calls, texts and forms, with the webhooks CallRail would send."""

import json
import time

from apps.sandbox.server import start_sandbox
from apps.sandbox.webhooks import sign


def signing_keys(sandbox, account_id):
    """Company id -> signing key, by the numeric (legacy) company id call webhooks carry."""
    return {c["_numeric_id"]: c["_signing_key"] for c in sandbox.state.accounts[account_id].companies.values()}


def legacy_ids(sandbox, account_id, call_ids):
    """CAL… id -> the numeric id the call's webhooks carry."""
    calls = sandbox.state.accounts[account_id].calls
    return {call_id: calls.legacy_id(calls.by_id[call_id]) for call_id in call_ids}


def test_new_calls_appear_and_post_call_webhooks_are_signed(sandbox, control, api, webhook_receiver):
    control("POST", "webhooks", {"url": webhook_receiver.url, "account_id": api.account_id})
    report = control("POST", "activity", {"account_id": api.account_id, "new_calls": 3})
    new_ids = report[api.account_id]["new_calls"]
    assert len(new_ids) == 3
    listed = [c["id"] for c in api.get("calls", params={"per_page": 10}).json()["calls"]]
    assert set(new_ids) <= set(listed[:5])
    keys = signing_keys(sandbox, api.account_id)
    legacy = legacy_ids(sandbox, api.account_id, new_ids)
    post_calls = [json.loads(r.body) for r in webhook_receiver.received
                  if json.loads(r.body).get("id") in legacy.values() and r.headers.get("Signature")]
    events = [d.event for d in sandbox.state.webhooks.deliveries]
    assert events.count("post_call_webhook") == 3
    assert events.count("pre_call_webhook") == 3
    for received in webhook_receiver.received:
        payload = json.loads(received.body)
        assert received.headers["Signature"] == sign(keys[payload["company_id"]], received.body)
    assert {p["id"] for p in post_calls} == set(legacy.values())
    assert all(p["timestamp"] == p["start_time"] for p in post_calls)  # taken from the data, as in the docs


def test_modified_calls_change_and_say_what_changed(sandbox, control, api, webhook_receiver):
    control("POST", "webhooks", {"url": webhook_receiver.url, "events": ["updated_call_webhook"]})
    fields = "tags,note,lead_status,value,transcription,call_summary"
    before = {c["id"]: c for c in api.get("calls", params={"per_page": 250, "fields": fields}).json()["calls"]}
    report = control("POST", "activity", {"account_id": api.account_id, "modified_calls": 4})
    modified = report[api.account_id]["modified_calls"]
    assert len(modified) == 4
    for item in modified:
        after = api.get(f"calls/{item['id']}", params={"fields": fields}).json()
        assert after != before[item["id"]], item
    payloads = [json.loads(r.body) for r in webhook_receiver.received]
    legacy = legacy_ids(sandbox, api.account_id, [m["id"] for m in modified])
    assert sorted(p["id"] for p in payloads) == sorted(legacy.values())
    assert all(p["changes"] and list(p)[-2:] == ["timestamp", "changes"] for p in payloads)


def test_deleted_calls_are_gone(control, api):
    report = control("POST", "activity", {"account_id": api.account_id, "deleted_calls": 2})
    deleted = report[api.account_id]["deleted_calls"]
    assert len(deleted) == 2
    for call_id in deleted:
        assert api.get(f"calls/{call_id}").status_code == 404
    state = control("GET", f"accounts/{api.account_id}")
    assert state["deleted_call_ids"] == deleted


def test_texts_forms_and_outbound_completion(sandbox, control, api, webhook_receiver):
    control("POST", "webhooks", {"url": webhook_receiver.url, "account_id": api.account_id})
    tracker = api.first("trackers", status="active")
    outbound = api.post("calls", json={"caller_id": tracker["tracking_numbers"][0],
                                       "business_phone_number": "+14045556666",
                                       "customer_phone_number": "+14044442233"}).json()
    report = control("POST", "activity", {"account_id": api.account_id, "text_messages": 1, "form_submissions": 1})
    mine = report[api.account_id]
    assert mine["completed_outbound_calls"] == [outbound["id"]]
    assert api.get(f"calls/{outbound['id']}").json()["answered"] is True
    conversation = api.get(f"text-messages/{mine['text_messages'][0]}").json()
    assert conversation["messages"][0]["direction"] == "incoming"
    forms = api.get("form_submissions").json()["form_submissions"]
    assert forms[0]["id"] == mine["form_submissions"][0]
    events = [d.event for d in sandbox.state.webhooks.deliveries]
    assert {"sms_received_webhook", "form_captured_webhook", "post_outbound_call_webhook"} <= set(events)
    sms = next(json.loads(d.body) for d in sandbox.state.webhooks.deliveries if d.event == "sms_received_webhook")
    assert set(sms) == {"id", "resource_id", "source_number", "destination_number", "content", "timestamp",
                        "lead_status", "conversation_id", "company_resource_id", "person_resource_id"}


def test_failed_deliveries_are_recorded_not_retried(sandbox, control, api, webhook_receiver):
    webhook_receiver.status = 500
    control("POST", "webhooks", {"url": webhook_receiver.url, "account_id": api.account_id,
                                 "events": ["post_call_webhook"]})
    control("POST", "activity", {"account_id": api.account_id, "new_calls": 1})
    deliveries = control("GET", "webhooks/deliveries", event="post_call_webhook")["deliveries"]
    assert [d["status"] for d in deliveries] == [500]
    assert len(webhook_receiver.received) == 1


def test_background_activity_ticker():
    live = start_sandbox(profile="small", accounts=1, activity_interval=0.1)
    try:
        acc = next(iter(live.state.accounts.values()))
        before = len(acc.calls)
        deadline = time.monotonic() + 5
        while len(acc.calls) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(acc.calls) > before
    finally:
        live.stop()
