"""The sandbox emulates what agencies do with keys: a key reaching several accounts, limits per key as well as
per account, and the managed-OAuth gateway's control API (create, authorise, list, get, delete, revoke)."""

import time

import requests

from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS, GATEWAY_KEY

A, B, C, D = DEMO_ACCOUNTS


def token(key: str) -> dict:
    return {"Authorization": f'Token token="{key}"'}


def control(sandbox, method: str, route: str, body: dict | None = None) -> dict:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{route}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def ctrl(sandbox, method: str, path: str, key: str = GATEWAY_KEY, **kwargs) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/ctrl{path}", headers={"Authorization": f"Bearer {key}"},
                            timeout=10, **kwargs)  # fmt: skip


def test_the_multi_account_key_lists_three_accounts(sandbox):
    response = requests.get(f"{sandbox.url}/v3/a.json", headers=token(MULTI_ACCOUNT_KEY), timeout=10)
    assert response.status_code == 200
    assert {a["id"] for a in response.json()["accounts"]} == {A.account_id, B.account_id, C.account_id}


def test_keys_made_on_demand_reach_the_accounts_named_and_can_be_revoked(sandbox):
    key = control(sandbox, "POST", "keys", {"accounts": [B.account_id, D.account_id]})["key"]
    listed = requests.get(f"{sandbox.url}/v3/a.json", headers=token(key), timeout=10).json()["accounts"]
    assert {a["id"] for a in listed} == {B.account_id, D.account_id}
    assert requests.get(f"{sandbox.url}/v3/a/{A.account_id}.json", headers=token(key), timeout=10).status_code == 404
    empty = control(sandbox, "POST", "keys", {"accounts": []})["key"]
    nothing = requests.get(f"{sandbox.url}/v3/a.json", headers=token(empty), timeout=10)
    assert (nothing.status_code, nothing.json()["accounts"]) == (200, [])  # a valid key of a user without accounts
    assert control(sandbox, "DELETE", f"keys/{key}")["revoked"] is True
    assert requests.get(f"{sandbox.url}/v3/a.json", headers=token(key), timeout=10).status_code == 401


def test_a_key_is_limited_across_its_accounts_as_well_as_per_account(sandbox):
    control(sandbox, "POST", "rate-limits/keys", {"key": MULTI_ACCOUNT_KEY, "limits": {"general": {"hour": 4}}})
    statuses = [
        requests.get(f"{sandbox.url}/v3/a/{acc.account_id}/companies.json", headers=token(MULTI_ACCOUNT_KEY),
                     timeout=10).status_code
        for acc in (A, B, C, A, B)
    ]  # fmt: skip
    assert statuses == [200, 200, 200, 200, 429]  # each account has room; the key has not
    # the accounts' own keys are other keys: they still have room
    assert requests.get(f"{sandbox.url}/v3/a/{B.account_id}/companies.json", headers=token(B.api_key),
                        timeout=10).status_code == 200  # fmt: skip
    usage = control(sandbox, "GET", f"usage/key?key={MULTI_ACCOUNT_KEY}")
    assert usage["general"]["hour"] == 4
    assert usage["general"]["rejected"] == 1
    assert usage["all"]["max_per_hour"] == 4
    # refused requests use no allowance of the accounts either
    assert control(sandbox, "GET", f"usage?account_id={B.account_id}")[B.account_id]["general"]["hour"] == 2
    control(sandbox, "POST", "clock/advance", {"seconds": 3600})
    assert requests.get(f"{sandbox.url}/v3/a/{B.account_id}/companies.json", headers=token(MULTI_ACCOUNT_KEY),
                        timeout=10).status_code == 200  # fmt: skip


def test_the_key_limit_defaults_to_callrails_account_limits_and_can_be_switched_off(sandbox):
    limits = control(sandbox, "GET", "rate-limits")
    assert limits["key_limits"]["general"] == {"hour": 1000, "day": 10000}
    control(sandbox, "POST", "rate-limits/keys", {"limits": {"general": {"hour": 1}}})
    get = lambda: requests.get(f"{sandbox.url}/v3/a/{A.account_id}.json", headers=token(A.api_key), timeout=10)  # noqa: E731
    assert [get().status_code, get().status_code] == [200, 429]
    control(sandbox, "POST", "rate-limits/keys", {"enabled": False})
    assert get().status_code == 200


def test_control_api_creates_a_connection_whose_link_completes_the_authorisation(sandbox):
    key = control(sandbox, "POST", "gateway/keys")["key"]
    control(sandbox, "POST", "gateway", {"grant_accounts": [B.account_id, C.account_id]})
    assert ctrl(sandbox, "GET", "/connections", key).json() == {"connections": []}
    assert ctrl(sandbox, "POST", "/connections", key, json={"app": "nope"}).status_code == 400
    created = ctrl(sandbox, "POST", "/connections", key, json={"app": "callrail"}).json()["connection"]
    assert created["status"] == "PENDING"
    assert created["app"] == "callrail"
    connection_id = created["connection_id"]
    gateway = {"Authorization": f"Bearer {key}", "Maton-Connection": connection_id}
    refused = requests.get(f"{sandbox.url}/callrail/v3/a.json", headers=gateway, timeout=10)
    assert refused.status_code == 400  # not authorised yet
    page = requests.get(created["url"], timeout=10)
    assert page.status_code == 200
    assert "Lakeside Auto Repair" in page.text
    shown = ctrl(sandbox, "GET", f"/connections/{connection_id}", key).json()["connection"]
    assert shown["status"] == "ACTIVE"
    listed = requests.get(f"{sandbox.url}/callrail/v3/a.json", headers=gateway, timeout=10).json()["accounts"]
    assert {a["id"] for a in listed} == {B.account_id, C.account_id}
    assert [c["connection_id"] for c in ctrl(sandbox, "GET", "/connections?status=ACTIVE", key).json()["connections"]] \
        == [connection_id]  # fmt: skip
    # another key cannot see it; no key at all is a 401
    assert ctrl(sandbox, "GET", f"/connections/{connection_id}").status_code == 404
    assert ctrl(sandbox, "GET", "/connections", "not-a-key").status_code == 401
    assert ctrl(sandbox, "DELETE", f"/connections/{connection_id}", key).json()["connection"]["status"] == "DELETED"
    assert ctrl(sandbox, "GET", f"/connections/{connection_id}", key).status_code == 404
    assert requests.get(f"{sandbox.url}/callrail/v3/a.json", headers=gateway, timeout=10).status_code == 400


def test_connections_activate_after_a_delay_expire_or_fail(sandbox):
    key = control(sandbox, "POST", "gateway/keys")["key"]
    control(sandbox, "POST", "gateway", {"activate_after_seconds": 0.3})
    delayed = ctrl(sandbox, "POST", "/connections", key, json={"app": "callrail"}).json()["connection"]
    time.sleep(0.4)
    shown = ctrl(sandbox, "GET", f"/connections/{delayed['connection_id']}", key).json()["connection"]
    assert shown["status"] == "ACTIVE"
    control(sandbox, "POST", "gateway", {"activate_after_seconds": None, "expire_after_seconds": 0.2})
    expiring = ctrl(sandbox, "POST", "/connections", key, json={"app": "callrail"}).json()["connection"]
    time.sleep(0.3)
    expired = ctrl(sandbox, "GET", f"/connections/{expiring['connection_id']}", key).json()["connection"]
    assert expired["status"] == "EXPIRED"
    assert "not used within" in expired["metadata"]["reason"]
    assert requests.get(expiring["url"], timeout=10).status_code == 410
    control(sandbox, "POST", "gateway", {"expire_after_seconds": 3600, "fail_next": "The owner declined access"})
    failing = ctrl(sandbox, "POST", "/connections", key, json={"app": "callrail"}).json()["connection"]
    assert requests.get(failing["url"], timeout=10).status_code == 410
    failed = ctrl(sandbox, "GET", f"/connections/{failing['connection_id']}", key).json()["connection"]
    assert (failed["status"], failed["metadata"]["reason"]) == ("FAILED", "The owner declined access")


def test_a_connection_revoked_on_callrails_side_stops_answering(sandbox):
    gateway = D.gateway_headers()
    assert requests.get(f"{sandbox.url}/callrail/v3/a/{D.account_id}.json", headers=gateway, timeout=10).ok
    seeded = ctrl(sandbox, "GET", f"/connections/{D.connection_id}").json()["connection"]
    assert seeded["status"] == "ACTIVE"  # the seeded connections are listed by the control API too
    control(sandbox, "POST", f"gateway/connections/{D.connection_id}/revoke", {"reason": "Access withdrawn"})
    answer = requests.get(f"{sandbox.url}/callrail/v3/a/{D.account_id}.json", headers=gateway, timeout=10)
    assert answer.status_code == 400
    assert "Maton-Connection" in answer.json()["error"]
    revoked = ctrl(sandbox, "GET", f"/connections/{D.connection_id}").json()["connection"]
    assert (revoked["status"], revoked["metadata"]["reason"]) == ("REVOKED", "Access withdrawn")
    # the other connections of the same gateway key keep working
    assert requests.get(f"{sandbox.url}/callrail/v3/a/{A.account_id}.json", headers=A.gateway_headers(), timeout=10).ok
