"""Fixtures of the webhook tests: an account mirrored from the live sandbox, whose Webhooks integrations
point at the portal, with the signing keys CallRail (the sandbox) generated entered in the portal."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from apps.companies.models import Company
from apps.sync.models import SyncKind, SyncStatus
from apps.tenancy.models import ClientAccount
from apps.webhooks.services import webhook_signing_key_set, webhook_urls
from tests.sync.conftest import _clear_redis, control, execute, point_at_sandbox


def mirror_from_sandbox(account: ClientAccount) -> None:
    run = execute(account, SyncKind.FULL)
    assert run.status == SyncStatus.SUCCEEDED, run.errors


def connect_webhooks(sandbox: Any, account: ClientAccount) -> dict[str, str]:
    """Register the portal's URL of every event in each company's Webhooks integration upstream (as "Connect
    webhooks" will), and enter the signing keys CallRail returns. Returns company CallRail id -> key."""
    keys: dict[str, str] = {}
    for config_key, url in webhook_urls(account).items():
        answer = control(sandbox, "POST", "webhooks", url=url, account_id=account.callrail_account_id,
                         events=[config_key])  # fmt: skip
        for item in answer if isinstance(answer, list) else answer.get("integrations", answer.get("webhooks", [])):
            keys[item["company_id"]] = item["signing_key"]
    for company in Company.objects.for_account(account):
        webhook_signing_key_set(company=company, signing_key=keys[company.callrail_id])
    return keys


def deliveries(sandbox: Any, event: str | None = None) -> list[dict]:
    answer = control(sandbox, "GET", f"webhooks/deliveries{'?event=' + event if event else ''}")
    return answer if isinstance(answer, list) else answer["deliveries"]


def post(url: str, body: bytes, signature: str | None = None, **headers: str) -> requests.Response:
    if signature is not None:
        headers["Signature"] = signature
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=30)


@pytest.fixture
def hooked_account(tenant, sandbox):
    """The tenant's account pointed at the sandbox and fully mirrored (companies, trackers, calls, ...)."""
    account = point_at_sandbox(tenant.account, sandbox)
    mirror_from_sandbox(account)
    yield account
    _clear_redis(account.pk)
