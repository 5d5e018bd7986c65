"""Reads the portal pages need that belong to no single resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from apps.sync.models import SyncRun, SyncStatus
from apps.sync.selectors import last_success_of_account
from apps.tenancy.models import ClientAccount


def account_machinery(*, user: Any, agency: Any, account_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per visible account of ``account_ids`` (a page of them): when its last successful sync finished
    (``last_sync``), its runs that failed or finished with errors in the last 24 hours (``sync_failures``), its
    outbox (``outbox``: pending, failed, conflict) and its webhooks (``webhooks``: last accepted event, accepted /
    rejected / failed in 24 h, connected; None when it has neither events nor a signing key).

    One query whatever the history's length: per account an index probe for the newest success and the newest
    accepted event, a range for the day's runs, events and the open edits, never an account's whole log."""
    from apps.push.models import BLOCKING_STATUSES, OPEN_STATUSES, EntryStatus, OutboxEntry
    from apps.webhooks.models import ACCEPTED_STATUSES, EventStatus, WebhookEvent, WebhookSigningKey

    day_ago = timezone.now() - timedelta(days=1)
    runs = SyncRun.objects.visible_to(user, agency)
    failed_runs = runs.filter(status__in=(SyncStatus.FAILED, SyncStatus.PARTIAL))
    edits = OutboxEntry.objects.visible_to(user, agency)
    events = WebhookEvent.objects.visible_to(user, agency)
    keys = WebhookSigningKey.objects.visible_to(user, agency)
    accepted = Q(status__in=ACCEPTED_STATUSES)
    figures = {
        "last_sync": last_success_of_account(runs),
        "sync_failures": failed_runs.filter(finished_at__gte=day_ago).count_per_account(),
        "outbox": edits.filter(status__in=BLOCKING_STATUSES).figures_per_account(
            pending=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            failed=Count("pk", filter=Q(status=EntryStatus.FAILED)),
            conflict=Count("pk", filter=Q(status=EntryStatus.CONFLICT)),
        ),
        "hooks_day": events.filter(received_at__gte=day_ago).figures_per_account(
            accepted=Count("pk", filter=accepted),
            rejected=Count("pk", filter=Q(status=EventStatus.REJECTED)),
            failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
        ),
        "hook_last": Subquery(
            events.filter(accepted, client_account=OuterRef("pk")).order_by("-received_at").values("received_at")[:1]
        ),
        "hooked": Exists(events.filter(client_account=OuterRef("pk"))),
        "connected": Exists(keys.filter(client_account=OuterRef("pk"))),
    }
    rows = ClientAccount.objects.visible_to(user, agency).filter(pk__in=account_ids).order_by().annotate(**figures)
    machinery = {}
    for row in rows.values("pk", *figures):
        hooks = None
        if row["hooked"] or row["connected"]:
            hooks = {"accepted": 0, "rejected": 0, "failed": 0, **(row["hooks_day"] or {}),
                     "last": row["hook_last"], "connected": row["connected"]}  # fmt: skip
        machinery[row["pk"]] = {
            "last_sync": row["last_sync"],
            "sync_failures": row["sync_failures"],
            "outbox": {"pending": 0, "failed": 0, "conflict": 0, **(row["outbox"] or {})},
            "webhooks": hooks,
        }
    return machinery


@dataclass(frozen=True)
class HistoryItem:
    """One line of a record's history: when, what kind (pull / webhook / edit / audit), what, who, state."""

    at: datetime
    kind: str
    text: str
    who: str = ""
    state: str = ""
    detail: str = ""


def _run_at(runs: list[SyncRun], when: datetime | None) -> SyncRun | None:
    for run in runs:
        if run.started_at and run.started_at <= when and (run.finished_at is None or when <= run.finished_at):
            return run
    return None


def call_history(*, call: Any, user: Any, agency: Any, limit: int = 100) -> list[HistoryItem]:
    """The call's pulls (first seen / changed, with the sync run), webhook events and edits, newest first.

    Four queries whatever the history's length: sync runs around the call's pull times, its webhook
    events (by CallRail id), its outbox entries and the audit events of the record.
    """
    from apps.audit.selectors import audit_event_list
    from apps.push.models import OutboxEntry
    from apps.webhooks.models import WebhookEvent

    account_id = call.client_account_id
    items: list[HistoryItem] = []
    times = [t for t in (call.first_seen_at, call.changed_at) if t]
    runs = list(
        SyncRun.objects.for_account(account_id)
        .filter(started_at__lte=max(times), started_at__gte=min(times) - timedelta(days=1))
        .order_by("-started_at")[:50]
    ) if times else []  # fmt: skip
    events = list(
        WebhookEvent.objects.for_account(account_id).filter(record_id=call.callrail_id).order_by("-received_at")[:limit]
    )
    event_times = {e.received_at.replace(microsecond=0) for e in events}
    if call.first_seen_at:
        run = _run_at(runs, call.first_seen_at)
        how = f"{run.get_kind_display().lower()} sync #{run.pk}" if run else "a pull or webhook"
        items.append(HistoryItem(call.first_seen_at, "pull", f"First mirrored ({how})"))
    entries = list(
        OutboxEntry.objects.for_account(account_id)
        .filter(resource="calls", object_pk=call.pk)
        .select_related("actor")
        .order_by("-pk")[:limit]
    )
    for entry in entries:
        fields = ", ".join(sorted(entry.changes or {})) or entry.get_operation_display()
        items.append(HistoryItem(entry.created_at, "edit", f"Edit sent to CallRail: {fields}",
                                 who=str(entry.actor or ""), state=entry.get_status_display(),
                                 detail=entry.message))  # fmt: skip
    slack = timedelta(seconds=5)
    ours = any(
        e.created_at - slack <= call.changed_at <= (e.done_at or e.updated_at) + slack for e in entries
    ) if call.changed_at else False  # fmt: skip
    if (
        call.changed_at
        and call.first_seen_at
        and call.changed_at - call.first_seen_at > timedelta(seconds=1)
        and not ours
    ):
        run = _run_at(runs, call.changed_at)
        if run or call.changed_at.replace(microsecond=0) not in event_times:
            how = f"{run.get_kind_display().lower()} sync #{run.pk}" if run else "a pull"
            items.append(HistoryItem(call.changed_at, "pull", f"Changed in CallRail, brought in by {how}"))
    for event in events:
        changes = ", ".join(event.changes or [])
        items.append(HistoryItem(event.received_at, "webhook", f"Webhook: {event.get_event_type_display()}",
                                 state=event.status, detail=changes or event.reason))  # fmt: skip
    audits = audit_event_list(user=user, agency=agency).filter(
        client_account_id=account_id, object_type=call._meta.label_lower, object_id=str(call.pk)
    )
    for event in audits.exclude(action__startswith="calls.").order_by("-created_at")[:limit]:
        items.append(HistoryItem(event.created_at, "audit", event.action, who=str(event.actor or "")))
    items.sort(key=lambda i: i.at, reverse=True)
    return items[:limit]


def outbox_attention_count(*, user: Any, agency: Any) -> int:
    """Edits of every visible account that did not reach CallRail (failed or in conflict): one count."""
    from apps.push.models import STUCK_STATUSES, OutboxEntry

    return OutboxEntry.objects.visible_to(user, agency).filter(status__in=STUCK_STATUSES).count()
