"""Integrations (incl. the Webhooks type) and the signed webhooks they make the sandbox send."""

import json

from apps.sandbox.webhooks import sign


def test_list_integrations_requires_company_id(api):
    missing = api.get("integrations")
    assert missing.status_code == 400
    assert missing.json() == {"error": "Missing required parameter: company_id"}
    assert api.get("integrations", params={"company_id": "COMnope"}).status_code == 404
    company = api.first("companies")["id"]
    body = api.get("integrations", params={"company_id": company}).json()
    assert {"page", "per_page", "total_pages", "total_records", "integrations"} == set(body)


def test_create_update_disable_webhooks_integration_as_in_the_docs(api):
    company = api.first("companies")["id"]
    response = api.post("integrations", json={"type": "Webhooks", "company_id": company,
                                              "config": {"pre_call_webhook": ["http://example.com/webhook.php"]}})
    assert response.status_code == 201, response.text
    integration = response.json()
    assert set(integration) == {"id", "type", "state", "config", "signing_key"}
    assert integration["state"] == "active"
    assert integration["config"] == {"pre_call_webhook": ["http://example.com/webhook.php"]}
    assert len(integration["signing_key"]) == 32
    listed = api.get("integrations", params={"company_id": company}).json()["integrations"]
    assert [i["id"] for i in listed] == [integration["id"]]
    assert set(listed[0]) == {"id", "config", "state", "type"}  # signing_key only when selected
    selected = api.get(f"integrations/{integration['id']}", params={"fields": "signing_key"}).json()
    assert selected["signing_key"] == integration["signing_key"]
    again = api.post("integrations", json={"type": "Webhooks", "company_id": company, "config": {}})
    assert again.status_code == 422  # one integration of a type per company
    updated = api.put(f"integrations/{integration['id']}", json={
        "state": "active", "config": {"post_call_webhook": ["https://example.com/post"]}})
    assert updated.status_code == 200
    assert updated.json()["config"]["post_call_webhook"] == ["https://example.com/post"]
    assert api.delete(f"integrations/{integration['id']}").status_code == 204
    assert api.get(f"integrations/{integration['id']}").json()["state"] == "disabled"


def test_integration_validation(api):
    company = api.first("companies")["id"]
    assert api.post("integrations", json={"type": "Slack", "company_id": company, "config": {}}).status_code == 400
    bad_url = {"type": "Webhooks", "company_id": company, "config": {"post_call_webhook": ["not a url"]}}
    assert api.post("integrations", json=bad_url).status_code == 400
    bad_event = {"type": "Webhooks", "company_id": company, "config": {"someday_webhook": ["https://x.io"]}}
    assert api.post("integrations", json=bad_event).status_code == 400
    assert api.post("integrations", json={"type": "Custom", "company_id": company,
                                           "config": {}}).status_code == 400
    custom = api.post("integrations", json={"type": "Custom", "company_id": company,
                                             "config": {"grab_cookies": ["_ga", "mycookie31"]}})
    assert custom.status_code == 201
    assert "signing_key" not in custom.json()
    assert api.put(f"integrations/{custom.json()['id']}", json={"state": "paused"}).status_code == 400


def test_webhook_integration_routes_signed_events(api, sandbox, webhook_receiver):
    company = api.first("companies")["id"]
    integration = api.post("integrations", json={"type": "Webhooks", "company_id": company, "config": {
        "updated_call_webhook": [f"{webhook_receiver.url}/modified"],
        "post_call_webhook": [f"{webhook_receiver.url}/post-call"],
    }}).json()  # fmt: skip
    call = api.first("calls", company_id=company)
    response = api.put(f"calls/{call['id']}", json={"note": "Call customer back tomorrow"})
    assert response.status_code == 200
    assert sandbox.state.webhooks.flush(timeout=5)
    received = [r for r in webhook_receiver.received if r.path == "/modified"]
    assert len(received) == 1
    hook = received[0]
    assert hook.headers["Signature"] == sign(integration["signing_key"], hook.body)
    payload = json.loads(hook.body)
    calls = sandbox.state.accounts[api.account_id].calls
    assert payload["id"] == calls.legacy_id(calls.by_id[call["id"]])  # the legacy numeric id, as documented
    assert payload["company_id"] == sandbox.state.accounts[api.account_id].companies[company]["_numeric_id"]
    assert payload["note"] == "Call customer back tomorrow"
    assert payload["changes"] == ["note"]
    assert payload["timestamp"] == payload["start_time"]  # "based on the data in the request"
    # a call in another company of the account does not go to this company's webhook
    other_company = api.get("companies").json()["companies"][1]["id"]
    other_call = api.first("calls", company_id=other_company)
    api.put(f"calls/{other_call['id']}", json={"note": "x"})
    sandbox.state.webhooks.flush(timeout=5)
    assert len([r for r in webhook_receiver.received if r.path == "/modified"]) == 1
    deliveries = sandbox.state.webhooks.deliveries
    assert [d.status for d in deliveries if d.event == "updated_call_webhook"] == [200]
