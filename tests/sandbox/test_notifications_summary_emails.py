"""Notifications and summary email subscriptions (CRUD), from the docs' examples."""

import requests

from apps.sandbox.seed import DEMO_ACCOUNTS, REPORTING_KEY

LIST_KEYS = {"id", "user_id", "email", "alert_type", "call_enabled", "company_id", "name", "send_desktop",
             "send_email", "send_push", "sms_enabled", "tracker_id"}
FULL_KEYS = LIST_KEYS | {"agent_id", "agent_name", "company_name", "tracker_name"}


def test_list_notifications(api):
    body = api.get("notifications").json()
    assert body["total_records"] == len(body["notifications"]) >= 3
    for note in body["notifications"]:
        assert set(note) == LIST_KEYS
        assert isinstance(note["id"], int)
    email_only = api.get("notifications", params={"notification_type": "send_push"}).json()["notifications"]
    assert email_only
    assert all(n["send_push"] for n in email_only)
    assert api.get("notifications", params={"notification_type": "carrier_pigeon"}).status_code == 400


def test_notification_crud_as_in_the_docs(api):
    tracker = api.first("trackers")
    user = api.first("users")
    response = api.post("notifications", json={
        "user_id": user["id"], "tracker_id": tracker["id"], "send_email": True, "send_push": True,
        "send_desktop": True, "alert_type": "vm_only", "sms_enabled": True, "call_enabled": True,
    })  # fmt: skip
    assert response.status_code == 201, response.text
    note = response.json()
    assert set(note) == FULL_KEYS
    assert note["company_id"] == tracker["company"]["id"]
    assert note["tracker_name"] == tracker["name"]
    assert note["company_name"] == tracker["company"]["name"]
    # the docs' update example body is a JavaScript object literal, not JSON
    updated = api.put(f"notifications/{note['id']}", data="{\n call_enabled: false,\n sms_enabled: true\n}",
                      headers={"Content-Type": "application/json"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["call_enabled"] is False
    ids = [n["id"] for n in api.get("notifications", params={"user_id": user["id"]}).json()["notifications"]]
    assert note["id"] in ids
    assert api.delete(f"notifications/{note['id']}").status_code == 204
    assert note["id"] not in [n["id"] for n in api.get("notifications").json()["notifications"]]


def test_notification_validation(api):
    company = api.first("companies")["id"]
    assert api.post("notifications", json={"call_enabled": True}).status_code == 400  # alert_type required
    assert api.post("notifications", json={"alert_type": "sometimes"}).status_code == 400
    assert api.post("notifications", json={"email": "x@example.com", "send_email": True}).status_code == 400
    assert api.post("notifications", json={"email": "x@example.com", "company_id": company,
                                           "send_push": True}).status_code == 400
    assert api.post("notifications", json={"user_id": "USRnope"}).status_code == 404
    own = api.post("notifications", json={"sms_enabled": True}).json()  # assigned to the key's own user
    assert own["user_id"] is not None


def test_other_users_notifications_are_forbidden_to_a_reporting_key(api, sandbox):
    admin_note = next(n for n in api.get("notifications").json()["notifications"] if n["user_id"])
    reporting = {"Authorization": f'Token token="{REPORTING_KEY}"'}
    url = f"{sandbox.url}/v3/a/{DEMO_ACCOUNTS[0].account_id}/notifications/{admin_note['id']}.json"
    response = requests.delete(url, headers=reporting, timeout=10)
    assert response.status_code == 403
    assert response.json() == {"error": "You do not have permission to perform the requested action"}


def test_list_summary_emails(api):
    body = api.get("summary_emails").json()
    assert body["total_records"] == len(body["summary_emails"]) == 3
    for record in body["summary_emails"]:
        assert record["id"].startswith("CSS")
        assert {"id", "scope", "frequency", "config", "user"} <= set(record)
        assert record["scope"]["type"] in ("Account", "Company")
        assert set(record["config"]) == {"summary_statistics", "top_sources", "top_keywords", "call_log"}
    weekly = api.get("summary_emails", params={"frequency": "weekly"}).json()["summary_emails"]
    assert weekly
    assert all("weekly" in s["frequency"] for s in weekly)
    # the docs' listing path has no .json suffix
    bare = api.session.get(api.url("summary_emails")[: -len(".json")], headers=api.headers, timeout=10)
    assert bare.status_code == 200


def test_summary_email_crud_as_in_the_docs(api):
    user = api.first("users")
    company = api.first("companies")
    response = api.post("summary_emails", json={
        "user_id": user["id"], "company_id": company["id"], "frequency": ["weekly", "daily"],
        "filters": {"lead_status": "Not a Lead"},
        "config": {"summary_statistics": True, "top_sources": True, "top_keywords": True, "call_log": True},
    })  # fmt: skip
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["scope"] == {"id": company["id"], "type": "Company", "name": company["name"]}
    assert record["frequency"] == ["weekly", "daily"]
    assert record["filters"] == {"lead_status": "Not a Lead"}
    assert record["user"] == {"id": user["id"], "name": user["name"], "email": user["email"]}
    updated = api.put(f"summary_emails/{record['id']}", json={"frequency": ["monthly", "weekly"],
                                                              "config": {"call_log": False}}).json()
    assert updated["frequency"] == ["monthly", "weekly"]
    assert updated["config"] == {"summary_statistics": True, "top_sources": True, "top_keywords": True,
                                 "call_log": False}
    assert api.get(f"summary_emails/{record['id']}").json() == updated
    assert api.put(f"summary_emails/{record['id']}", json={"frequency": ["daily"]}).status_code == 400
    assert api.delete(f"summary_emails/{record['id']}").status_code == 204
    assert api.get(f"summary_emails/{record['id']}").status_code == 404


def test_summary_email_validation(api):
    config = {"call_log": True}
    assert api.post("summary_emails", json={"config": config, "frequency": ["daily"]}).status_code == 400
    assert api.post("summary_emails", json={"user_id": api.first("users")["id"], "config": config,
                                            "frequency": ["hourly"]}).status_code == 400
    assert api.post("summary_emails", json={"email": "x@example.com", "config": config,
                                            "frequency": ["daily"]}).status_code == 400  # company needed
    assert api.post("summary_emails", json={"user_id": api.first("users")["id"], "config": {},
                                            "frequency": ["daily"]}).status_code == 400
