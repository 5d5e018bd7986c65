"""Fixtures of the pull-sync tests: a client account pointed at the live sandbox, and a run helper."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from apps.callrail.client import client_for_account
from apps.core.redis import get_redis, redis_key
from apps.sync.models import SyncKind, SyncRun
from apps.sync.resources import RESOURCES, Resource
from apps.sync.services import sync_run_execute
from apps.tenancy.models import ClientAccount

DEMO = 0  # the first demo account of the sandbox seed


def _clear_redis(account_pk: int) -> None:
    conn = get_redis()
    keys = [redis_key("sync", "lock", account_pk)]
    credential_pk = ClientAccount.objects.for_account(account_pk).values_list("credential_id", flat=True).first()
    if credential_pk is not None:  # the account's own key scope (the factory gives each account its own key)
        keys += list(conn.scan_iter(match=redis_key("callrail:budget", f"{{key:{credential_pk}}}", "*"), count=1000))
    keys += list(conn.scan_iter(match=redis_key("callrail:budget", f"{{{account_pk}}}", "*"), count=1000))
    keys += list(conn.scan_iter(match=redis_key("sync", "seen", account_pk, "*"), count=1000))
    conn.delete(*keys)


def set_key(account: ClientAccount, api_key: str, *, base_url: str | None = None) -> ClientAccount:
    """Give the account's own credential (the factory's) this key, and a base URL; clears a refused flag."""
    credential = account.credential
    credential.api_key = api_key
    if base_url is not None:
        credential.base_url = base_url
    credential.error = ""
    credential.save()
    return account


def point_at_sandbox(account: ClientAccount, sandbox: Any, index: int = DEMO) -> ClientAccount:
    from apps.sandbox.seed import DEMO_ACCOUNTS

    demo = DEMO_ACCOUNTS[index]
    account.callrail_account_id = demo.account_id
    account.time_zone = demo.time_zone
    account.save()
    set_key(account, demo.api_key, base_url=sandbox.url)
    _clear_redis(account.pk)
    return account


@pytest.fixture
def sandbox_account(tenant, sandbox) -> Iterator[ClientAccount]:
    account = point_at_sandbox(tenant.account, sandbox)
    yield account
    _clear_redis(account.pk)


def execute(account: ClientAccount, kind: str = SyncKind.FULL, resources: list[str] | None = None) -> SyncRun:
    """Create a run and execute it in this process (the service the Celery task calls)."""
    run = SyncRun.objects.create(
        client_account=account, kind=kind, resources=resources or [r.name for r in RESOURCES]
    )
    return sync_run_execute(run=run)


def control(sandbox: Any, method: str, route: str, **body: Any) -> Any:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{route}", json=body or None, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def add_integrations(account):
    """The small seed has none: create a webhook integration per company upstream (listed per company), with
    an integration trigger and a default trigger each, and an outbound caller ID not verified yet (the seed
    has one verified)."""
    client = client_for_account(account, lane="interactive")
    for n, company in enumerate(client.iter_records("companies.json", list_key="companies")):
        integration = client.post(
            "integrations.json",
            json={"company_id": company["id"], "type": "Webhooks",
                  "config": {"post_call_webhook": ["https://hooks.example.test/callrail"]}},
        )  # fmt: skip
        client.post("integration_triggers.json", json={
            "company_id": company["id"], "integration_id": integration["id"], "call_type": "first_call",
            "min_duration": 10, "max_duration": 300, "lead_status": "good_lead"})  # fmt: skip
        client.post("integration_triggers.json", json={"company_id": company["id"], "call_type": "missed_and_vm"})
        client.post("caller_ids.json", json={"company_id": company["id"], "phone_number": f"+1404770{4070 + n}",
                                             "name": f"Widget Shop {n}"})  # fmt: skip


# ------------------------------------------------------------------ what the sandbox says, over HTTP
def upstream_records(account: ClientAccount, resource: Resource) -> dict[str, dict]:
    """Every record of a resource as the API lists it now, read with the plain client (not the engine)."""
    client = client_for_account(account, lane="interactive")
    from datetime import UTC, timedelta

    now = datetime.now(UTC)
    dates = {
        "start_date": (now - timedelta(days=700)).date().isoformat(),
        "end_date": (now + timedelta(days=1)).date().isoformat(),
    }
    fields = list(resource.fields) or None
    if resource.name == "account":
        record = client.get(f"/a/{account.callrail_account_id}.json", fields=fields)
        return {record["id"]: record}
    if resource.parent is not None:  # integrations, outbound caller IDs, integration triggers: per company
        out = {}
        for company in client.iter_records("companies.json", list_key="companies"):
            for record in client.iter_records(
                resource.path, list_key=resource.list_key, params={resource.parent.param: company["id"]}
            ):
                out[str(record["id"])] = record
        return out
    params = dates if resource.dated else {}
    if resource.name == "calls":
        records = client.iter_records_relative("calls.json", list_key="calls", params=params, fields=fields)
    else:
        records = client.iter_records(resource.path, list_key=resource.list_key, params=params, fields=fields)
    return {str(r["id"]): r for r in records}


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def money(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace("$", "").replace(",", "")
    return Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.fixture
def budget_as_fast_as_the_sandbox(settings) -> Iterator[float]:
    """The portal's budget clock running as fast as a sandbox whose hour lasts a second: CallRail sends no
    Retry-After with a 429, so the portal holds the account until its next (budget) hour — one second here."""
    from apps.callrail import budget

    settings.CALLRAIL_BUDGET_TIME_SCALE = 3600
    budget._default.clear()
    yield 3600.0
    budget._default.clear()


def drain_with_one_worker(queues: str, name: str) -> list[int]:
    """Start one worker process taking one task at a time from ``queues``, wait until every sync run has
    finished, and return the runs' pks in the order the worker started them (each must have succeeded)."""
    from apps.sync.models import FINISHED_STATUSES, SyncStatus
    from tests.workers import start_worker, wait_for

    def runs() -> list[SyncRun]:
        return list(SyncRun.objects.unscoped(reason="beat-dispatch").order_by("pk"))

    worker = start_worker(queues, concurrency=1, name=name)
    try:
        wait_for(lambda: all(r.status in FINISHED_STATUSES for r in runs()), timeout=180, what="every run to finish")
    finally:
        worker.stop()
    finished = runs()
    assert all(r.status == SyncStatus.SUCCEEDED for r in finished), [(r.pk, r.status, r.errors) for r in finished]
    return [r.pk for r in sorted(finished, key=lambda r: (r.started_at, r.pk))]
