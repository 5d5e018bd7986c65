"""Accounts and companies, following the docs' examples field by field."""

import re

from apps.sandbox.seed import DEMO_ACCOUNTS

ACCOUNT_KEYS = {"id", "name", "outbound_recording_enabled", "hipaa_account"}
COMPANY_KEYS = {
    "id", "name", "status", "time_zone", "created_at", "disabled_at", "dni_active", "script_url",
    "callscribe_enabled", "lead_scoring_enabled", "swap_exclude_jquery", "swap_ppc_override",
    "swap_landing_override", "swap_cookie_duration", "swap_cookie_duration_unit", "callscore_enabled",
    "keyword_spotting_enabled", "form_capture",
}  # fmt: skip
UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_account_list_and_single_have_the_documented_keys(api, sandbox):
    listing = api.session.get(f"{sandbox.url}/v3/a.json", headers=api.headers, timeout=10).json()
    assert {k: listing[k] for k in ("page", "per_page", "total_pages", "total_records")} == {
        "page": 1, "per_page": 100, "total_pages": 1, "total_records": 1,
    }  # fmt: skip
    assert set(listing["accounts"][0]) == ACCOUNT_KEYS
    single = api.get().json()
    assert set(single) == ACCOUNT_KEYS
    assert single["id"] == DEMO_ACCOUNTS[0].account_id
    assert single["id"].startswith("ACC")
    with_numeric = api.get(params={"fields": "numeric_id"}).json()
    assert with_numeric["numeric_id"] == DEMO_ACCOUNTS[0].numeric_id


def test_list_companies(api):
    body = api.get("companies").json()
    assert body["total_records"] == 2
    company = body["companies"][0]
    assert set(company) == COMPANY_KEYS
    assert company["id"].startswith("COM")
    assert len(company["id"]) == 35
    assert company["status"] == "active"
    assert UTC_MS.match(company["created_at"])
    assert company["disabled_at"] is None
    extra = api.get("companies", params={"fields": "verified_caller_ids"}).json()["companies"][0]
    assert set(extra) == COMPANY_KEYS | {"verified_caller_ids"}


def test_create_company_as_in_the_docs(api):
    response = api.post("companies", json={"name": "Widget Shop", "time_zone": "America/New_York"})
    assert response.status_code == 201
    company = response.json()
    assert company["name"] == "Widget Shop"
    assert company["time_zone"] == "America/New_York"
    assert company["status"] == "active"
    assert company["id"].startswith("COM")
    assert api.get(f"companies/{company['id']}").json() == company
    assert api.get("companies").json()["total_records"] == 3


def test_create_company_errors(api):
    missing = api.post("companies", json={"time_zone": "America/New_York"})
    assert missing.status_code == 400
    assert missing.json() == {"error": "Missing required parameter: name"}
    assert api.post("companies", json={"name": "X", "time_zone": "Mars/Olympus"}).status_code == 400
    assert api.post("companies", data="{not json", headers={"Content-Type": "application/json"}).status_code == 400


def test_update_company_as_in_the_docs(api):
    company_id = api.first("companies")["id"]
    response = api.put(f"companies/{company_id}", json={
        "swap_ppc_override": "true",
        "swap_landing_override": "utm_source",
        "callscribe_enabled": True,
        "external_form_capture": True,
    })  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["swap_ppc_override"] is True
    assert body["swap_landing_override"] == "utm_source"
    assert body["callscribe_enabled"] is True
    assert body["form_capture"] is True
    too_long = api.put(f"companies/{company_id}", json={"swap_cookie_duration": 9,
                                                        "swap_cookie_duration_unit": "months"})
    assert too_long.status_code == 422
    assert api.put(f"companies/{company_id}", json={"swap_cookie_duration_unit": "years"}).status_code == 400
    assert api.put("companies/COMnope", json={"name": "x"}).status_code == 404


def test_disable_company_and_the_last_active_company_rule(api):
    first, second = (c["id"] for c in api.get("companies").json()["companies"])
    response = api.delete(f"companies/{second}")
    assert response.status_code == 204
    assert response.content == b""
    disabled = api.get(f"companies/{second}").json()
    assert disabled["status"] == "disabled"
    assert UTC_MS.match(disabled["disabled_at"])
    # its trackers are disabled with it
    trackers = api.get("trackers", params={"company_id": second}).json()["trackers"]
    assert trackers
    assert all(t["status"] == "disabled" for t in trackers)
    last = api.delete(f"companies/{first}")
    assert last.status_code == 422
    assert last.json() == {"error": "You must have at least one active company."}


def test_company_filter_search_and_sort(api):
    api.post("companies", json={"name": "Aardvark Annex"})
    names = [c["name"] for c in api.get("companies", params={"sort": "name"}).json()["companies"]]
    assert names == sorted(names, key=str.lower)
    names_desc = [c["name"] for c in api.get("companies", params={"sort": "name", "order": "desc"}).json()["companies"]]
    assert names_desc == names[::-1]
    found = api.get("companies", params={"search": "aardvark"}).json()
    assert [c["name"] for c in found["companies"]] == ["Aardvark Annex"]
    second = api.get("companies").json()["companies"][1]["id"]
    api.delete(f"companies/{second}")
    disabled = api.get("companies", params={"status": "disabled"}).json()
    assert [c["id"] for c in disabled["companies"]] == [second]
    assert api.get("companies", params={"status": "sleeping"}).status_code == 400
    assert api.get("companies", params={"sort": "shoe_size"}).status_code == 400


def test_bulk_update_external_form_capture(api):
    response = api.post("companies/bulk_update", json={"company_ids": ["all"], "external_form_capture": False})
    assert response.status_code == 200
    assert response.json() == {"updated_records": 2}
    assert all(c["form_capture"] is False for c in api.get("companies").json()["companies"])
    assert api.post("companies/bulk_update", json={}).status_code == 400
