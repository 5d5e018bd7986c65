"""Authentication as documented: Token token="KEY" (direct) and Bearer KEY + Maton-Connection (gateway)."""

import pytest
import requests

from apps.sandbox.seed import AGENCY_KEY, DEMO_ACCOUNTS, GATEWAY_KEY, REPORTING_KEY

from .conftest import api_for

A, B = DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[1]


def get(url, **headers):
    return requests.get(url, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "header",
    [
        f'Token token="{A.api_key}"',  # as documented
        f"Token token={A.api_key}",  # without quotes (the docs' curl examples)
        f'token token="{A.api_key}"',
    ],
)
def test_token_header_forms_are_accepted(sandbox, header):
    response = get(f"{sandbox.url}/v3/a.json", Authorization=header)
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["accounts"]] == [A.account_id]


@pytest.mark.parametrize(
    "header",
    [None, "", 'Token token="not-a-key"', f"Bearer {A.api_key}", f"Basic {A.api_key}", "Token token="],
)
def test_missing_or_wrong_key_is_401_with_json_error(sandbox, header):
    headers = {"Authorization": header} if header is not None else {}
    response = get(f"{sandbox.url}/v3/a/{A.account_id}/calls.json", **headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"error"}


def test_key_sees_only_its_own_accounts(sandbox):
    own = api_for(sandbox, A)
    assert own.get("companies").status_code == 200
    # another account that exists, and one that does not: both 404 for this key
    other = requests.get(f"{sandbox.url}/v3/a/{B.account_id}/companies.json", headers=A.token_headers(), timeout=10)
    assert other.status_code == 404
    assert other.json() == {"error": "Account not found"}
    missing = requests.get(f"{sandbox.url}/v3/a/ACC0000/calls.json", headers=A.token_headers(), timeout=10)
    assert missing.status_code == 404


def test_agency_key_lists_every_account_it_was_granted(sandbox):
    response = get(f"{sandbox.url}/v3/a.json", Authorization=f'Token token="{AGENCY_KEY}"')
    assert response.status_code == 200
    body = response.json()
    assert body["total_records"] == 2
    assert sorted(a["id"] for a in body["accounts"]) == sorted([A.account_id, B.account_id])
    # sorting by name, as documented for accounts
    names = [a["name"] for a in get(f"{sandbox.url}/v3/a.json?sort=name",
                                    Authorization=f'Token token="{AGENCY_KEY}"').json()["accounts"]]
    assert names == sorted(names)


def test_numeric_account_id_is_accepted_in_paths(sandbox):
    response = get(f"{sandbox.url}/v3/a/{A.numeric_id}.json", **A.token_headers())
    assert response.status_code == 200
    assert response.json()["id"] == A.account_id


def test_gateway_bearer_with_and_without_connection_header(sandbox):
    base = f"{sandbox.url}/callrail/v3"
    # without Maton-Connection the default (oldest) connection is used: the first account
    default = get(f"{base}/a.json", Authorization=f"Bearer {GATEWAY_KEY}")
    assert default.status_code == 200
    assert [a["id"] for a in default.json()["accounts"]] == [A.account_id]
    chosen = get(f"{base}/a.json", Authorization=f"Bearer {GATEWAY_KEY}", **{"Maton-Connection": B.connection_id})
    assert [a["id"] for a in chosen.json()["accounts"]] == [B.account_id]
    calls = get(f"{base}/a/{B.account_id}/calls.json", **B.gateway_headers())
    assert calls.status_code == 200
    # the connection scopes the key: account A is not reachable through B's connection
    assert get(f"{base}/a/{A.account_id}/calls.json", **B.gateway_headers()).status_code == 404


def test_gateway_rejects_bad_credentials(sandbox):
    base = f"{sandbox.url}/callrail/v3/a.json"
    assert get(base).status_code == 401
    assert get(base, Authorization="Bearer nope").status_code == 401
    # a direct Token header is not a gateway credential
    assert get(base, **A.token_headers()).status_code == 401
    unknown = get(base, Authorization=f"Bearer {GATEWAY_KEY}", **{"Maton-Connection": "no-such-connection"})
    assert unknown.status_code == 400
    assert "error" in unknown.json()


def test_gateway_links_point_back_through_the_gateway(sandbox):
    api = api_for(sandbox, A, gateway=True)
    body = api.get("calls", params={"relative_pagination": "true", "per_page": 5}).json()
    assert body["has_next_page"] is True
    assert body["next_page"].startswith(f"{sandbox.url}/callrail/v3/a/{A.account_id}/calls.json?")
    assert requests.get(body["next_page"], headers=A.gateway_headers(), timeout=10).status_code == 200


def test_reporting_key_is_forbidden_to_manage_users_and_sees_only_its_companies(sandbox):
    reporting = {"Authorization": f'Token token="{REPORTING_KEY}"'}
    base = f"{sandbox.url}/v3/a/{A.account_id}"
    created = requests.post(f"{base}/users.json", headers=reporting, timeout=10,
                            json={"first_name": "Bob", "last_name": "Belcher", "email": "bob@example.com",
                                  "role": "admin"})
    assert created.status_code == 403
    assert created.json() == {"error": "You do not have permission to perform the requested action"}
    admin_companies = requests.get(f"{base}/companies.json", headers=A.token_headers(), timeout=10).json()
    mine = requests.get(f"{base}/companies.json", headers=reporting, timeout=10).json()
    assert admin_companies["total_records"] == 2
    assert mine["total_records"] == 1
    hidden = next(c["id"] for c in admin_companies["companies"] if c["id"] != mine["companies"][0]["id"])
    calls = requests.get(f"{base}/calls.json", headers=reporting, params={"date_range": "last_month"}, timeout=10)
    assert calls.status_code == 200
    assert requests.get(f"{base}/companies/{hidden}.json", headers=reporting, timeout=10).status_code == 404
