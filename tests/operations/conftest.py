"""Fixtures of the operations tests: mirrored rows of any age, and an account synced from the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.utils import timezone

from apps.sync.models import SyncKind, SyncRun, SyncStatus
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import execute, point_at_sandbox

_ids = count(1)


def mirror_row(model: Any, account: ClientAccount, *, seen: datetime | None = None, **fields: Any):
    """One mirrored row as the engine would store it (first seen at ``seen``)."""
    seen = seen or timezone.now()
    return model.objects.create(
        client_account=account,
        callrail_id=f"T{next(_ids)}",
        payload={"id": "x"},
        payload_hash="x",
        first_seen_at=seen,
        last_seen_at=seen,
        changed_at=seen,
        **fields,
    )


def months_ago(months: float, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=months * 30.4375)


@pytest.fixture
def synced_account(tenant, sandbox) -> ClientAccount:
    """The tenant's first account, pointed at the sandbox and fully synced (a succeeded run)."""
    account = point_at_sandbox(tenant.account, sandbox)
    run = execute(account, SyncKind.FULL)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    return account


__all__ = ["SyncRun", "mirror_row", "months_ago"]
