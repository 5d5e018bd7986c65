"""Fault injection: scripted and seeded 500/503, dropped connections, latency; switchable at run time."""

import time

import pytest
import requests


def test_scripted_faults_in_order(control, api):
    control("POST", "faults", {"script": ["503", "500", "drop", "ok"]})
    first = api.get("companies")
    assert first.status_code == 503
    assert first.json() == {"error": "Service Unavailable"}
    assert api.get("companies").status_code == 500
    with pytest.raises(requests.ConnectionError):
        requests.get(api.url("companies"), headers=api.headers, timeout=5)
    assert api.get("companies").status_code == 200
    assert api.get("companies").status_code == 200
    assert control("GET", "faults")["counts"] == {"500": 1, "503": 1, "drop": 1, "delayed": 0}


def test_error_rates_are_seeded_and_switchable(control, api):
    def statuses() -> list[int]:
        return [api.get().status_code for _ in range(30)]

    control("POST", "faults", {"error_503": 0.3, "error_500": 0.2, "seed": 42})
    first = statuses()
    assert set(first) == {200, 500, 503}
    control("POST", "faults", {"seed": 42})
    assert statuses() == first
    control("POST", "faults", {"seed": 43})
    assert statuses() != first
    control("DELETE", "faults")
    assert set(statuses()) == {200}


def test_faulted_requests_do_not_use_up_the_allowance(sandbox, control, api):
    control("POST", "faults", {"error_500": 1.0})
    assert {api.get().status_code for _ in range(5)} == {500}
    usage = sandbox.state.usage(api.account_id)[api.account_id]["general"]
    assert usage["hour"] == 0


def test_added_latency(control, api):
    control("POST", "faults", {"latency_ms": 200})
    started = time.monotonic()
    assert api.get().status_code == 200
    assert time.monotonic() - started >= 0.2
    control("POST", "faults", {"latency_ms": 0})
    started = time.monotonic()
    api.get()
    assert time.monotonic() - started < 0.2


def test_path_pattern_limits_faults(control, api):
    control("POST", "faults", {"error_503": 1.0, "path_pattern": r"/calls"})
    assert api.get("calls").status_code == 503
    assert api.get("companies").status_code == 200


def test_invalid_fault_settings_are_400(sandbox):
    url = f"{sandbox.url}/_sandbox/faults"
    assert requests.post(url, json={"error_500": 2}, timeout=5).status_code == 400
    assert requests.post(url, json={"error_500": 0.7, "error_503": 0.7}, timeout=5).status_code == 400
    assert requests.post(url, json={"script": ["teapot"]}, timeout=5).status_code == 400
    assert requests.post(url, json={"volume": 11}, timeout=5).status_code == 400
