"""Fixtures of the push tests: an account pointed at the live sandbox, mirrored once by the pull engine."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from apps.push.engine import DrainResult, drain_account
from apps.push.models import OutboxEntry
from apps.sync.models import SyncKind
from tests.sync.conftest import execute, point_at_sandbox, sandbox_account  # noqa: F401  (fixture)

MIRRORED = ["account", "companies", "users", "trackers", "tags", "notifications", "summary_emails", "integrations"]


@pytest.fixture
def mirrored(sandbox_account):  # noqa: F811  (the imported fixture)
    """The account with its small resources mirrored (calls too: the sandbox's small profile has 120)."""
    execute(sandbox_account, SyncKind.FULL, [*MIRRORED, "calls"])
    return sandbox_account


def drain(account: Any, rounds: int = 1) -> DrainResult:
    """Drain in this process (the service the Celery task calls)."""
    result = DrainResult()
    for _ in range(rounds):
        result = drain_account(account)
    return result


def upstream(sandbox: Any, account: Any, resource: str, rid: Any) -> dict | None:
    """One record with every field, from the sandbox's control plane over HTTP (None when gone)."""
    response = requests.get(
        f"{sandbox.url}/_sandbox/accounts/{account.callrail_account_id}/{resource}/{rid}", timeout=30
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def entries(account: Any) -> list[OutboxEntry]:
    return list(OutboxEntry.objects.for_account(account).order_by("pk"))


def faults(sandbox: Any, **body: Any) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=30)
    assert response.status_code == 200, response.text


def request_log(sandbox: Any, account: Any) -> list[dict]:
    response = requests.get(
        f"{sandbox.url}/_sandbox/requests", params={"account_id": account.callrail_account_id, "limit": 10000},
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    return body.get("requests", body) if isinstance(body, dict) else body
