"""Reads of the outbox: a record's push badge, an account's outbox list and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from .models import BLOCKING_STATUSES, OPEN_STATUSES, EntryStatus, OutboxEntry

#: model label -> write name (the outbox's ``resource``)
_RESOURCE_OF = {
    "tags.tag": "tags", "companies.company": "companies", "trackers.tracker": "trackers",
    "callrail_users.callrailuser": "users", "notifications.notification": "notifications",
    "summary_emails.summaryemail": "summary_emails", "integrations.integration": "integrations",
    "calls.call": "calls",
}  # fmt: skip


@dataclass(frozen=True)
class PushBadge:
    """What a record's badge shows: ``state`` is pending / synced / failed / conflict (None: never edited)."""

    state: str | None
    message: str = ""
    entry_id: int | None = None

    @property
    def label(self) -> str:
        return {"pending": "Pending", "synced": "Synced", "failed": "Failed", "conflict": "Conflict"}.get(
            self.state or "", ""
        )


def _badge(entries: list[OutboxEntry]) -> PushBadge:
    """The badge of one object from its entries (newest last)."""
    live = [e for e in entries if e.status not in (EntryStatus.SUPERSEDED, EntryStatus.DISCARDED)]
    for entry in live:
        if entry.status == EntryStatus.CONFLICT:
            return PushBadge("conflict", entry.message, entry.pk)
        if entry.status == EntryStatus.FAILED:
            return PushBadge("failed", entry.message, entry.pk)
    for entry in live:
        if entry.status in OPEN_STATUSES:
            return PushBadge("pending", entry.message, entry.pk)
    if live:
        return PushBadge("synced", "", live[-1].pk)
    return PushBadge(None)


def push_status_map(*, account: Any, resource: str, object_pks: list[int]) -> dict[int, PushBadge]:
    """Badges for many rows of one resource (list pages): one query."""
    out: dict[int, list[OutboxEntry]] = {}
    rows = (
        OutboxEntry.objects.for_account(account)
        .filter(resource=resource, object_pk__in=list(object_pks))
        .only("pk", "object_pk", "status", "message")
        .order_by("pk")
    )
    for entry in rows:
        out.setdefault(entry.object_pk, []).append(entry)
    return {pk: _badge(entries) for pk, entries in out.items()}


def push_status_for(obj: Any) -> PushBadge:
    """The push badge of one mirrored record (pending / synced / failed with CallRail's message / conflict)."""
    resource = _RESOURCE_OF.get(obj._meta.label_lower)
    if resource is None:
        return PushBadge(None)
    return push_status_map(account=obj.client_account_id, resource=resource, object_pks=[obj.pk]).get(
        obj.pk, PushBadge(None)
    )


def outbox_counts(account: Any) -> dict[str, int]:
    """Counts for the dashboard: pending (incl. in flight), failed, conflict, done today."""
    since = timezone.now() - timezone.timedelta(days=1)
    agg = OutboxEntry.objects.for_account(account).aggregate(
        pending=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        failed=Count("pk", filter=Q(status=EntryStatus.FAILED)),
        conflict=Count("pk", filter=Q(status=EntryStatus.CONFLICT)),
        done_recent=Count("pk", filter=Q(status=EntryStatus.DONE, done_at__gte=since)),
    )
    return {k: int(v or 0) for k, v in agg.items()}


def outbox_entry_list(*, account: Any, status: str | None = None):
    """An account's outbox, newest first; ``status`` "open" / "attention" / one status / None (all)."""
    rows = OutboxEntry.objects.for_account(account).select_related("actor").order_by("-pk")
    if status == "open":
        rows = rows.filter(status__in=OPEN_STATUSES)
    elif status == "attention":
        rows = rows.filter(status__in=(EntryStatus.FAILED, EntryStatus.CONFLICT))
    elif status:
        rows = rows.filter(status=status)
    return rows


def outbox_is_settled(account: Any) -> bool:
    """Nothing left to send: every entry is done, failed, conflicting, superseded or discarded."""
    return not OutboxEntry.objects.for_account(account).filter(status__in=OPEN_STATUSES).exists()


def accounts_with_open_entries() -> list[int]:
    rows = OutboxEntry.objects.unscoped(reason="beat-dispatch").filter(status__in=OPEN_STATUSES)
    return sorted(set(rows.values_list("client_account_id", flat=True)))


__all__ = [
    "BLOCKING_STATUSES", "PushBadge", "accounts_with_open_entries", "outbox_counts", "outbox_entry_list",
    "outbox_is_settled", "push_status_for", "push_status_map",
]  # fmt: skip
