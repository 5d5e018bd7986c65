"""Trackers: source and session trackers, as the docs' request and response examples show them."""

import re

TRACKER_KEYS = {
    "id", "name", "type", "status", "destination_number", "tracking_numbers", "whisper_message", "sms_enabled",
    "sms_supported", "company", "call_flow", "source", "created_at", "disabled_at",
}  # fmt: skip
UTC_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CALL_FLOW = {
    "type": "basic",
    "recording_enabled": True,
    "destination_number": "+15553104554",
    "greeting_text": "This call will be recorded for quality assurance",
}


def test_list_trackers_has_both_kinds(api):
    body = api.get("trackers").json()
    assert body["total_records"] == 6
    kinds = {t["type"] for t in body["trackers"]}
    assert kinds == {"source", "session"}
    for tracker in body["trackers"]:
        assert set(tracker) == TRACKER_KEYS
        assert tracker["id"].startswith("TRK")
        assert set(tracker["company"]) == {"id", "name"}
        assert UTC_S.match(tracker["created_at"])
        assert all(re.match(r"^\+1\d{10}$", n) for n in tracker["tracking_numbers"])
    session = next(t for t in body["trackers"] if t["type"] == "session")
    assert len(session["tracking_numbers"]) >= 4
    assert api.get("trackers", params={"type": "session"}).json()["total_records"] == 2
    assert api.get("trackers", params={"type": "pool"}).status_code == 400


def test_create_source_tracker_as_in_the_docs(api):
    company_id = api.first("companies")["id"]
    response = api.post("trackers", json={
        "name": "My Billboard",
        "company_id": company_id,
        "call_flow": {**CALL_FLOW, "recording_enabled": False},
        "tracking_number": {"area_code": "555", "local": "+15553104554"},
        "sms_enabled": True,
        "source": {"type": "search", "search_engine": "google", "search_type": "organic"},
        "type": "source",
        "swap_targets": ["7704761456", "7705551234"],
        "whisper_message": "Call from My Billboard",
        "campaign_name": "Summer billboard campaign",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    tracker = response.json()
    assert set(tracker) == TRACKER_KEYS
    assert tracker["type"] == "source"
    assert tracker["status"] == "active"
    assert len(tracker["tracking_numbers"]) == 1
    assert tracker["tracking_numbers"][0].startswith("+1555")
    assert tracker["destination_number"] == "+15553104554"
    assert tracker["source"] == {"type": "search", "search_engine": "google", "search_type": "organic"}
    assert tracker["company"]["id"] == company_id
    extra = api.get(f"trackers/{tracker['id']}", params={"fields": "campaign_name,swap_targets"}).json()
    assert extra["campaign_name"] == "Summer billboard campaign"
    assert extra["swap_targets"] == ["7704761456", "7705551234"]


def test_create_session_tracker_as_in_the_docs(api):
    company_id = api.first("companies")["id"]
    body = {
        "type": "session",
        "name": "Website Call Tracker",
        "company_id": company_id,
        "swap_targets": ["7704761456", "7705551234"],
        "whisper_message": "Call from [source]",
        "sms_enabled": True,
        "pool_size": 10,
        "call_flow": CALL_FLOW,
        "pool_numbers": {"area_code": "555", "local": "+15553104554"},
        "source": {"google": ["paid", "organic"], "bing": ["paid", "organic"], "yahoo": ["paid", "organic"]},
    }
    response = api.post("trackers", json=body)
    assert response.status_code == 201, response.text
    tracker = response.json()
    assert tracker["type"] == "session"
    assert len(set(tracker["tracking_numbers"])) == 10
    assert tracker["source"] == body["source"]
    # "all" is accepted and returned as an object
    everyone = api.post("trackers", json={**body, "name": "All visitors", "source": "all"}).json()
    assert everyone["source"] == {"type": "all"}


def test_create_tracker_validation(api):
    company_id = api.first("companies")["id"]
    base = {"type": "session", "name": "T", "company_id": company_id, "call_flow": CALL_FLOW, "pool_size": 10,
            "pool_numbers": {"area_code": "404"}, "source": "all"}
    assert api.post("trackers", json={**base, "pool_size": 3}).status_code == 400
    assert api.post("trackers", json={**base, "pool_numbers": {}}).status_code == 400
    assert api.post("trackers", json={**base, "type": "keyword"}).status_code == 400
    assert api.post("trackers", json={**base, "call_flow": {"type": "basic"}}).status_code == 400
    assert api.post("trackers", json={**base, "company_id": "COMmissing"}).status_code == 404
    no_source = {k: v for k, v in base.items() if k != "source"}
    assert api.post("trackers", json=no_source).status_code == 400
    src = {"type": "source", "name": "S", "company_id": company_id, "call_flow": CALL_FLOW,
           "tracking_number": {"toll_free": True}, "source": {"type": "carrier_pigeon"}}
    assert api.post("trackers", json=src).status_code == 400


def test_update_trackers_as_in_the_docs(api):
    session = api.first("trackers", type="session")
    response = api.put(f"trackers/{session['id']}", json={
        "name": "My Website Tracker",
        "whisper_message": "Call from [source]",
        "pool_size": len(session["tracking_numbers"]) + 2,
        "call_flow": {**CALL_FLOW, "destination_number": "+14044554321"},
        "source": {"google": ["paid", "organic"], "bing": ["paid", "local"]},
        "replace_tracking_number": session["tracking_numbers"][0],
    })  # fmt: skip
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "My Website Tracker"
    assert updated["destination_number"] == "+14044554321"
    assert len(updated["tracking_numbers"]) == len(session["tracking_numbers"]) + 2
    assert session["tracking_numbers"][0] not in updated["tracking_numbers"]
    shrink = api.put(f"trackers/{session['id']}", json={"pool_size": 4})
    assert shrink.status_code == 422
    source = api.first("trackers", type="source")
    partial = api.put(f"trackers/{source['id']}", json={"call_flow": {"type": "basic", "recording_enabled": False},
                                                         "whisper_message": ""}).json()
    assert partial["call_flow"]["recording_enabled"] is False
    assert partial["call_flow"]["destination_number"] == source["call_flow"]["destination_number"]
    assert partial["whisper_message"] is None
    assert api.put(f"trackers/{session['id']}", json={"campaign_name": "x"}).status_code == 422


def test_disable_tracker(api):
    tracker = api.first("trackers", type="source")
    response = api.delete(f"trackers/{tracker['id']}")
    assert response.status_code == 204
    after = api.get(f"trackers/{tracker['id']}").json()
    assert after["status"] == "disabled"
    assert UTC_S.match(after["disabled_at"])
    assert api.get("trackers", params={"status": "disabled"}).json()["total_records"] == 1
    assert api.delete("trackers/TRKnope").status_code == 404


def test_tracker_used_for_outbound_form_calls_cannot_be_disabled(sandbox, api):
    sandbox.reset(seed=1, profile="demo", calls_per_account=10)
    acc = sandbox.state.accounts[api.account_id]
    tracker_id = next(t["id"] for t in acc.trackers.values() if t["_outbound_form_number"])
    response = api.delete(f"trackers/{tracker_id}")
    assert response.status_code == 400
    assert response.json() == {
        "error": "You must select a different number for outbound Form Submission calls before disabling this tracker."
    }
