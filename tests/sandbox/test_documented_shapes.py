"""What the docs show, the sandbox sends: the call webhook's shape (the signature test vector's keys, legacy
numeric ids and types, ``timestamp`` from the data), form webhooks, text conversations newest first, and the
endpoints it lacked: integration triggers, outbound caller IDs, ``forms/summary.json`` and
``form_submissions/ignored_fields.json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from apps.sandbox.webhooks import sign

VECTOR = Path(__file__).resolve().parents[1] / "fixtures" / "callrail" / "webhooks" / "docs_signature_vector.json"


def delivered(sandbox, event: str) -> list[dict]:
    return [json.loads(d.body) for d in sandbox.state.webhooks.deliveries if d.event == event]


def test_a_call_webhook_has_the_docs_keys_in_the_docs_order_and_legacy_ids(sandbox, control, api, webhook_receiver):
    control("POST", "webhooks", {"url": webhook_receiver.url, "account_id": api.account_id})
    report = control("POST", "activity", {"account_id": api.account_id, "new_calls": 2, "modified_calls": 1})
    docs = json.loads(VECTOR.read_bytes())
    for payload in delivered(sandbox, "post_call_webhook") + delivered(sandbox, "updated_call_webhook"):
        keys = list(payload)
        shared = [k for k in keys if k in docs]
        assert shared == [k for k in docs if k in payload], "the docs' key order"
        assert set(docs) <= set(payload), set(docs) - set(payload)
        assert keys[-1] == ("changes" if "changes" in payload else "timestamp")
        assert isinstance(payload["id"], int)  # legacy numeric ids, no CAL…/COM…
        assert isinstance(payload["company_id"], int)
        assert "CAL" not in json.dumps({k: v for k, v in payload.items() if k != "milestones"})
        assert isinstance(payload["duration"], str)  # "13" in the docs
        assert payload["timestamp"] == payload["start_time"]  # "based on the data in the request"
        start = datetime.fromisoformat(payload["start_time"]).astimezone(UTC)
        assert payload["datetime"] == start.strftime("%Y-%m-%d %H:%M:%S")  # a legacy field: UTC, no "T"
    (modified,) = delivered(sandbox, "updated_call_webhook")
    assert modified["changes"] == report[api.account_id]["modified_calls"][0]["changes"]
    # the numeric id names the same call in the API
    calls = sandbox.state.accounts[api.account_id].calls
    for call_id in report[api.account_id]["new_calls"]:
        legacy = calls.legacy_id(calls.by_id[call_id])
        assert api.get(f"calls/{legacy}").json()["id"] == call_id


def test_a_form_webhook_is_the_documented_shape(sandbox, control, api, webhook_receiver):
    control("POST", "webhooks", {"url": webhook_receiver.url, "account_id": api.account_id})
    control("POST", "activity", {"account_id": api.account_id, "form_submissions": 1})
    (payload,) = delivered(sandbox, "form_captured_webhook")
    assert list(payload) == ["id", "company_id", "form_data", "form_url", "landing_page_url", "referrer",
                             "referring_url", "submitted_at", "first_form", "source", "keywords", "campaign",
                             "medium", "utm_source", "utm_medium", "utm_campaign"]  # fmt: skip
    assert isinstance(payload["id"], int)
    assert isinstance(payload["company_id"], int)


def test_the_docs_test_vector_signs_as_documented():
    assert sign("072e77e426f92738a72fe23c4d1953b4", VECTOR.read_bytes()) == "UZAHbUdfm3GqL7qzilGozGzWV64="


def test_text_conversations_list_messages_newest_first_and_last_message_at_is_the_newest(api):
    listed = api.get("text-messages", params={"per_page": 250}).json()["conversations"]
    assert listed
    for conversation in listed:
        recent = [m["created_at"] for m in conversation["recent_messages"]]
        assert recent == sorted(recent, reverse=True)
        assert conversation["last_message_at"] == recent[0]
        messages = api.get(f"text-messages/{conversation['id']}").json()["messages"]
        times = [m["created_at"] for m in messages]
        assert times == sorted(times, reverse=True)
        assert times[0] == conversation["last_message_at"]


def test_integration_triggers_filter_the_call_webhooks_of_their_integration(sandbox, api, control, webhook_receiver):
    company = api.first("companies")["id"]
    integration = api.post("integrations", json={"type": "Webhooks", "company_id": company,
                                                 "config": {"post_call_webhook": [webhook_receiver.url]}}).json()
    assert api.get("integration_triggers").status_code == 400  # company_id is required
    created = api.post("integration_triggers", json={"company_id": company, "integration_id": integration["id"],
                                                     "call_type": "vm", "min_duration": 1})  # fmt: skip
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert trigger["integration"] == {"id": integration["id"], "type": "Webhooks"}
    assert set(trigger) == {"id", "company_id", "integration_id", "tracker_ids", "call_type", "min_duration",
                            "max_duration", "lead_status", "integration"}  # fmt: skip
    again = api.post("integration_triggers", json={"company_id": company, "integration_id": integration["id"]})
    assert again.status_code == 400  # one trigger per integration
    listed = api.get("integration_triggers", params={"company_id": company}).json()
    assert [t["id"] for t in listed["integration_criteria"]] == [trigger["id"]]
    default = api.post("integration_triggers", json={"company_id": company, "lead_status": "good_lead"}).json()
    assert default["integration"] == {"id": None, "type": "All (Default Integration Trigger)"}

    store = sandbox.state.accounts[api.account_id].calls
    new_calls: list[str] = []
    for _ in range(20):  # how many calls go to voicemail depends on the hour of the (faked) clock
        new_calls += control("POST", "activity", {"account_id": api.account_id, "new_calls": 12})[api.account_id][
            "new_calls"
        ]
        if delivered(sandbox, "post_call_webhook"):
            break
    sent = delivered(sandbox, "post_call_webhook")
    assert sent  # some voicemails came in …
    assert len(sent) < len(new_calls)  # … among calls the trigger filters out
    for payload in sent:  # … and only voicemails were sent
        call = store.find(str(payload["id"]))
        assert call.voicemail
        assert call.company_id == company

    assert api.put(f"integration_triggers/{trigger['id']}", json={"call_type": None}).json()["call_type"] is None
    assert api.delete(f"integration_triggers/{trigger['id']}").status_code == 204
    assert api.get(f"integration_triggers/{trigger['id']}").status_code == 404


def test_outbound_caller_ids_are_registered_unverified_and_verified_ones_place_calls(api):
    company = api.first("companies")["id"]
    assert api.get("caller_ids").status_code == 400
    seeded = api.get("caller_ids", params={"company_id": company}).json()["caller_ids"]
    assert seeded
    assert seeded[0]["verified"] is True
    assert set(seeded[0]) == {"id", "phone_number", "name", "verified", "created_at", "validation_code"}
    verified = api.get(f"companies/{company}", params={"fields": "verified_caller_ids"}).json()
    assert verified["verified_caller_ids"] == [{"name": seeded[0]["name"], "phone_number": seeded[0]["phone_number"]}]
    created = api.post("caller_ids", json={"company_id": company, "phone_number": "+14047704070",
                                           "name": "Widget Shop"})  # fmt: skip
    assert created.status_code == 201
    assert created.json()["verified"] is False
    assert len(created.json()["validation_code"]) == 6
    # an unverified number cannot be the caller ID of an outbound call; a verified one can
    body = {"customer_phone_number": "+14045550199", "business_phone_number": "+14045550100"}
    assert api.post("calls", json={**body, "caller_id": "+14047704070"}).status_code == 422
    assert api.post("calls", json={**body, "caller_id": seeded[0]["phone_number"]}).status_code == 201
    assert api.delete(f"caller_ids/{created.json()['id']}").status_code == 204
    assert api.get(f"caller_ids/{created.json()['id']}").status_code == 404


def test_forms_summary_counts_and_groups_form_submissions(api):
    forms = api.get("form_submissions", params={"per_page": 250}).json()
    summary = api.get("forms/summary", params={"fields": "total_forms,first_forms,leads", "group_by": "source"})
    assert summary.status_code == 200
    body = summary.json()
    assert set(body) == {"start_date", "end_date", "time_zone", "total_results", "grouped_by", "grouped_results"}
    assert body["total_results"]["total_forms"] == forms["total_records"]
    assert sum(g["total_forms"] for g in body["grouped_results"]) == forms["total_records"]
    assert api.get("forms/summary").json()["total_results"] == {"total_forms": forms["total_records"]}
    assert api.get("forms/summary", params={"group_by": "nope"}).status_code == 400
    assert api.get("forms/summary", params={"fields": "calls"}).status_code == 400


def test_ignored_form_fields_are_removed_from_past_and_future_submissions(sandbox, api, control):
    company = sandbox.state.accounts[api.account_id].companies[api.first("companies")["id"]]
    forms = [f for f in api.get("form_submissions", params={"per_page": 250}).json()["form_submissions"]
             if f["company_id"] == company["id"]]  # fmt: skip
    field = next(iter(forms[0]["form_data"]))
    answer = api.post("form_submissions/ignored_fields",
                      json={"company_ids": [company["_numeric_id"]], "field_names": [field]})  # fmt: skip
    assert answer.json() == {"message": "Ingored form fields created"}  # sic, as the docs answer
    again = api.get("form_submissions", params={"per_page": 250}).json()["form_submissions"]
    assert all(field not in f["form_data"] for f in again if f["company_id"] == company["id"])
    assert api.post("form_submissions/ignored_fields", json={"company_ids": [1]}).status_code == 400
