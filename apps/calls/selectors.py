"""Read side of the call mirror."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.sync.selectors import mirror_list

from .models import Call


def call_list(*, user: Any, agency: Any = None, include_deleted: bool = False) -> QuerySet:
    """Calls the user may see, newest first; calls CallRail deleted are hidden unless ``include_deleted``."""
    return (
        mirror_list(Call, user=user, agency=agency, include_deleted=include_deleted)
        .select_related("company", "tracker")
        .order_by("-start_time", "-pk")
    )
