"""Reads the portal pages need that belong to no single resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Max

from apps.sync.models import SyncRun, SyncStatus


def sync_last_finished(*, user: Any, agency: Any) -> dict[int, datetime]:
    """When each visible account's last successful sync finished (one grouped query)."""
    rows = (
        SyncRun.objects.visible_to(user, agency)
        .filter(status=SyncStatus.SUCCEEDED)
        .values("client_account_id")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    return {row["client_account_id"]: row["last"] for row in rows}
