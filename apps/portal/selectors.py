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


def _of(queryset: Any, account_ids: list[int] | None) -> Any:
    """Rows of these accounts only (a page of them), or of every account the queryset reaches."""
    return queryset if account_ids is None else queryset.filter(client_account_id__in=account_ids)


def sync_health(*, user: Any, agency: Any, account_ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """Per visible account (of ``account_ids`` when given): when its last successful sync finished (``last``) and
    how many runs failed or finished with errors in the last 24 hours (``failures``). One query, whose cost is in
    the accounts, not in their run history: an index probe each for the last success, a short range for the
    last day's failures."""
    runs = SyncRun.objects.visible_to(user, agency)
    failed = runs.filter(status__in=(SyncStatus.FAILED, SyncStatus.PARTIAL),
                         finished_at__gte=timezone.now() - timedelta(days=1))  # fmt: skip
    accounts = ClientAccount.objects.visible_to(user, agency)
    accounts = accounts if account_ids is None else accounts.filter(pk__in=account_ids)
    rows = accounts.order_by().annotate(last=last_success_of_account(runs), failures=failed.count_per_account())
    return {pk: {"last": last, "failures": n} for pk, last, n in rows.values_list("pk", "last", "failures")}


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
    from apps.push.models import EntryStatus, OutboxEntry

    entries = OutboxEntry.objects.visible_to(user, agency)
    return entries.filter(status__in=[EntryStatus.FAILED, EntryStatus.CONFLICT]).count()


def dashboard_push_and_webhooks(
    *, user: Any, agency: Any, account_ids: list[int] | None = None
) -> tuple[dict[int, dict], dict[int, dict]]:
    """Per visible account (of ``account_ids`` when given): outbox counts (pending, failed, conflict) and webhook
    figures (last accepted event, accepted / rejected / failed in 24 h, connected). Four queries for any number of
    accounts, none of them reading an account's whole event log."""
    from apps.push.models import OPEN_STATUSES, EntryStatus, OutboxEntry
    from apps.webhooks.models import ACCEPTED_STATUSES, EventStatus, WebhookEvent, WebhookSigningKey

    outbox = {
        row["client_account_id"]: row
        for row in _of(OutboxEntry.objects.visible_to(user, agency), account_ids)
        .filter(status__in=[*OPEN_STATUSES, EntryStatus.FAILED, EntryStatus.CONFLICT])
        .values("client_account_id")
        .annotate(
            pending=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
            failed=Count("pk", filter=Q(status=EntryStatus.FAILED)),
            conflict=Count("pk", filter=Q(status=EntryStatus.CONFLICT)),
        )
        .order_by()
    }
    # Webhooks: each account's last accepted event a probe from the newest end, the counts a range over the last
    # day; never the whole event log (a busy account keeps tens of thousands of events).
    since = timezone.now() - timedelta(hours=24)
    events = WebhookEvent.objects.visible_to(user, agency)
    of_account = events.filter(client_account=OuterRef("pk"))
    last = of_account.filter(status__in=ACCEPTED_STATUSES).order_by("-received_at").values("received_at")[:1]
    accounts = ClientAccount.objects.visible_to(user, agency)
    accounts = accounts if account_ids is None else accounts.filter(pk__in=account_ids)
    hooks = {
        pk: {"client_account_id": pk, "last": when, "accepted": 0, "rejected": 0, "failed": 0}
        for pk, when in accounts.filter(Exists(of_account)).annotate(last=Subquery(last)).order_by()
        .values_list("pk", "last")
    }  # fmt: skip
    for row in (
        _of(events, account_ids).filter(received_at__gte=since).values("client_account_id")
        .annotate(
            accepted=Count("pk", filter=Q(status__in=ACCEPTED_STATUSES)),
            rejected=Count("pk", filter=Q(status=EventStatus.REJECTED)),
            failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
        )
        .order_by()
    ):  # fmt: skip
        hooks.setdefault(row["client_account_id"], {"last": None}).update(row)
    keyed = set(
        _of(WebhookSigningKey.objects.visible_to(user, agency), account_ids).values_list("client_account_id", flat=True)
    )
    for account_id in keyed:
        hooks.setdefault(account_id, {"last": None, "accepted": 0, "rejected": 0, "failed": 0})
    for account_id, row in hooks.items():
        row["connected"] = account_id in keyed
    return outbox, hooks
