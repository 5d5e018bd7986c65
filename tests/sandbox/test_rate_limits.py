"""Per-account rate limits with sliding hourly and daily windows, a time scale, and exact counting."""

import time

import requests

from apps.sandbox.seed import DEMO_ACCOUNTS

from .conftest import api_for

A, B = DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[1]


def test_documented_default_limits(control):
    limits = control("GET", "rate-limits")["limits"]
    assert limits == {
        "general": {"hour": 1000, "day": 10000},
        "sms": {"hour": 150, "day": 1000},
        "outbound": {"hour": 100, "day": 2000},
    }


def test_hourly_limit_gives_429_and_the_window_slides(sandbox, control, api):
    control("POST", "rate-limits", {"limits": {"general": {"hour": 5}}, "account_id": A.account_id})
    statuses = [api.get("companies").status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = api.get("companies")
    assert refused.status_code == 429
    assert set(refused.json()) == {"error"}
    assert "Retry-After" not in refused.headers  # the docs promise none: the portal must not depend on one
    # the limit is per account: another account is untouched
    assert api_for(sandbox, B).get("companies").status_code == 200
    usage = control("GET", "usage", account_id=A.account_id)[A.account_id]["general"]
    assert usage["hour"] == 5
    assert usage["accepted"] == 5
    assert usage["rejected"] == 1
    assert usage["max_per_hour"] == 5
    # an hour later (on the sandbox clock) the window has room again
    control("POST", "clock/advance", {"seconds": 3600})
    assert api.get("companies").status_code == 200


def test_daily_limit(control, api):
    control("POST", "rate-limits", {"limits": {"general": {"hour": 100, "day": 3}}})
    assert [api.get().status_code for _ in range(4)] == [200, 200, 200, 429]
    control("POST", "clock/advance", {"seconds": 3601})
    assert api.get().status_code == 429  # the daily window still holds three
    control("POST", "clock/advance", {"seconds": 86400})
    assert api.get().status_code == 200


def test_time_scale_makes_an_hour_short(control, api):
    control("POST", "rate-limits", {"limits": {"general": {"hour": 2}}, "time_scale": 7200})  # an hour = 0.5 s
    assert [api.get().status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.6)
    assert api.get().status_code == 200


def test_sms_and_outbound_are_separate_classes(control, api):
    control("POST", "rate-limits", {"limits": {"sms": {"hour": 1}, "outbound": {"hour": 1}}})
    tracker = next(t for t in api.get("trackers").json()["trackers"] if t["sms_enabled"])
    text = {"customer_phone_number": "+14044442233", "content": "Hello", "company_id": tracker["company"]["id"],
            "tracking_number": tracker["tracking_numbers"][0]}
    assert api.post("text-messages", json=text).status_code == 201
    assert api.post("text-messages", json=text).status_code == 429
    assert api.get("text-messages").status_code == 200  # reading is a general request
    call = {"caller_id": tracker["tracking_numbers"][0], "business_phone_number": "+14045556666",
            "customer_phone_number": "+14044442233"}
    assert api.post("calls", json=call).status_code == 201
    assert api.post("calls", json=call).status_code == 429


def test_every_request_is_counted_exactly(sandbox, control, api):
    control("POST", "usage/reset")
    for _ in range(7):
        api.get("calls")
    api.get("calls/CALnope")  # a 404 inside the account still reached the API
    api.put("tags/1", json={"name": "x"})
    requests.get(f"{sandbox.url}/v3/a/{A.account_id}/calls.json", timeout=10)  # 401: not the account's request
    usage = sandbox.state.usage(A.account_id)[A.account_id]["general"]
    assert usage["hour"] == 9
    log = control("GET", "requests", account_id=A.account_id)["requests"]
    assert len(log) == 9
    assert [r["status"] for r in log][-2:] == [404, 404]
    assert all(r["rate_class"] == "general" and r["counted"] for r in log)


def test_reset_restores_default_limits(sandbox, control):
    control("POST", "rate-limits", {"limits": {"general": {"hour": 1}}})
    sandbox.reset(seed=1, profile="small")
    assert control("GET", "rate-limits")["limits"]["general"]["hour"] == 1000


def test_bad_control_input_is_400(sandbox):
    url = f"{sandbox.url}/_sandbox/rate-limits"
    assert requests.post(url, json={"limits": {"chat": {"hour": 1}}}, timeout=10).status_code == 400
    assert requests.post(url, json={"limits": {"general": {"minute": 1}}}, timeout=10).status_code == 400
    assert requests.post(url, json={"time_scale": 0}, timeout=10).status_code == 400
