"""Liberal in what it accepts, strict in what it answers: never a 500 for a bad request."""

import itertools

import pytest
import requests


def test_last_repeated_parameter_wins(api):
    response = api.get("calls", params=[("per_page", "10"), ("per_page", "20"), ("date_range", "this_year")])
    assert response.json()["per_page"] == 20
    assert len(response.json()["calls"]) == 20


def test_unknown_parameters_are_ignored(api):
    plain = api.get("companies").json()
    assert api.get("companies", params={"utm_whatever": "1", "format": "json", "action": "index"}).json() == plain


def test_json_suffix_is_optional(api, sandbox):
    with_suffix = api.get("companies").json()
    bare = requests.get(f"{sandbox.url}/v3/a/{api.account_id}/companies", headers=api.headers, timeout=10)
    assert bare.json() == with_suffix


def test_form_encoded_bodies_are_accepted(api):
    company = api.first("companies")["id"]
    response = api.post("tags", data={"name": "From a form", "company_id": company})
    assert response.status_code == 201
    assert response.json()["name"] == "From a form"


def test_method_not_allowed_and_unknown_paths(api, sandbox):
    assert api.delete("calls/" + api.first("calls")["id"]).status_code == 405
    assert api.put("calls", json={}).status_code == 405
    assert api.post("companies/" + api.first("companies")["id"], json={}).status_code == 405
    unknown = api.get("spaceships")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Not found"}
    assert requests.get(f"{sandbox.url}/v2/a.json", timeout=10).status_code == 404
    assert requests.get(f"{sandbox.url}/v3/b.json", headers=api.headers, timeout=10).status_code == 404


BAD_BODIES = [
    None, [], "", "null", 17, {"name": None}, {"name": ["a"]}, {"name": {"x": 1}}, {"company_id": 12},
    {"name": "x" * 5000}, {"tags": "not-a-list"}, {"tags": [{"nested": True}]}, {"value": [1]},
    {"lead_status": 7}, {"call_flow": "basic"}, {"source": 3}, {"pool_size": "ten"}, {"frequency": {}},
    {"config": []}, {"companies": "COMx"}, {"state": None}, {"disabled": "maybe"}, {"form_data": "x"},
    {"customer_phone_number": True}, {"time_zone": 5}, {"swap_cookie_duration": -1}, {"type": ["Webhooks"]},
]  # fmt: skip
RESOURCES = ["companies", "trackers", "users", "tags", "notifications", "summary_emails", "integrations",
             "form_submissions", "text-messages", "calls"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_bad_bodies_never_cause_a_500(api, resource):
    items = api.get(resource, params={"company_id": api.first("companies")["id"]}).json()
    key = {"text-messages": "conversations"}.get(resource, resource)
    item_id = items[key][0]["id"] if items.get(key) else "missing"
    for body, method in itertools.product(BAD_BODIES, ("POST", "PUT")):
        path = resource if method == "POST" else f"{resource}/{item_id}"
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        response = api.request(method, path, **kwargs)
        assert response.status_code < 500, (method, path, body, response.text)
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text


BAD_QUERIES = [
    {"page": "-1"}, {"per_page": "1e9"}, {"sort": "x"}, {"order": "up"}, {"date_range": "soon"},
    {"start_date": "2026-02-30"}, {"end_date": "tomorrow"}, {"time_zone": "../../etc"}, {"offset": "x",
    "relative_pagination": "true"}, {"relative_pagination": "perhaps"}, {"fields": "%00"}, {"search": "%"},
    {"tags[]": ""}, {"status": "x"}, {"type": "x"}, {"interval": "x"}, {"group_by": "x"}, {"min_duration": "x"},
    {"first_time_callers": "x"}, {"device": "x"}, {"lead_status": "x"}, {"hipaa_account": "x"},
]  # fmt: skip


@pytest.mark.parametrize("path", ["", "companies", "trackers", "users", "tags", "notifications", "summary_emails",
                                  "form_submissions", "text-messages", "calls", "calls/summary", "calls/timeseries"])
def test_bad_queries_never_cause_a_500(api, path):
    for params in BAD_QUERIES:
        response = api.get(path, params=params)
        assert response.status_code in (200, 400), (path, params, response.text)
        if response.status_code == 400:
            assert set(response.json()) == {"error"}


def test_garbage_ids_and_paths_are_404(api):
    for path in ["calls/%00", "companies/' OR 1=1", "tags/99999999999999999999", "users/../../etc",
                 "text-messages/x/y/z", "calls/CALx/recording/more"]:
        response = api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert "error" in response.json()


def test_an_empty_list_is_one_empty_page(api):
    company = api.first("companies")["id"]
    body = api.get("integrations", params={"company_id": company}).json()
    assert body == {"page": 1, "per_page": 100, "total_pages": 1, "total_records": 0, "integrations": []}
