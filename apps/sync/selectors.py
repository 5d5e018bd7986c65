"""Read side of the sync: runs and their progress, for the account page and the UI."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from .models import ACTIVE_STATUSES, SyncRun, SyncState, SyncStatus


def sync_run_list(*, user: Any, agency: Any = None, account: Any = None, active: bool | None = None) -> QuerySet:
    """Runs the user may see (newest first), optionally of one account, optionally only active ones."""
    runs = SyncRun.objects.visible_to(user, agency).select_related("client_account")
    if account is not None:
        runs = runs.filter(client_account=account)
    if active is True:
        runs = runs.filter(status__in=ACTIVE_STATUSES)
    elif active is False:
        runs = runs.exclude(status__in=ACTIVE_STATUSES)
    return runs.order_by("-queued_at", "-pk")


def last_success_of_account(runs: QuerySet) -> Subquery:
    """For a query of accounts: when the account's newest succeeded run among ``runs`` (the caller's scope)
    finished. An index probe from the newest end of the account's runs, however long its history."""
    succeeded = runs.filter(client_account=OuterRef("pk"), status=SyncStatus.SUCCEEDED, finished_at__isnull=False)
    return Subquery(succeeded.order_by("-finished_at").values("finished_at")[:1])


def latest_run_of_account(runs: QuerySet) -> Subquery:
    """For a query of accounts: the pk of the account's newest run among ``runs`` (as ``sync_run_list`` orders)."""
    return Subquery(runs.filter(client_account=OuterRef("pk")).order_by("-queued_at", "-pk").values("pk")[:1])


def sync_run_latest(*, user: Any, account: Any) -> SyncRun | None:
    return sync_run_list(user=user, account=account).first()


def sync_state_list(*, user: Any, account: Any) -> QuerySet:
    """Per-resource cursors (last full sync, last re-read) of one account."""
    return SyncState.objects.visible_to(user).filter(client_account=account).order_by("resource")


def mirror_list(model: Any, *, user: Any, agency: Any = None, include_deleted: bool = False) -> QuerySet:
    """Mirrored records of any resource the user may see; records CallRail deleted are hidden unless asked."""
    rows = model.objects.visible_to(user, agency)
    return rows if include_deleted else rows.live()
