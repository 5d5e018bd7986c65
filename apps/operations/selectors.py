"""Reads for the metrics endpoint and the system page: per-account figures, Celery queues and workers.

The per-account figures are read in a few grouped queries over a given account queryset (the caller
scopes it: ``visible_to`` for a person, ``unscoped(reason="metrics")`` for the operators'
Prometheus scrape), never one query per account and figure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.callrail.budget import BudgetStatus, budget_statuses_for_accounts
from apps.core.redis import get_redis
from apps.sync.models import SyncRun, SyncTotals
from apps.sync.selectors import last_success_of_account, latest_run_of_account
from apps.tenancy.models import ClientAccount

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "worker-heartbeat"  # written by the core.heartbeat beat task (apps/core/tasks.py)
PING_CACHE_KEY = "operations:worker-ping"
#: kombu's Redis transport keeps a queue's messages of priority step p > 0 in "<queue>\x06\x16<p>"
KOMBU_PRIORITY_SEP = "\x06\x16"


@dataclass
class AccountFigures:
    """What the UI shows about one account's health, for the system page and Prometheus."""

    account: ClientAccount
    budget: BudgetStatus | None = None
    last_success_at: datetime | None = None
    last_run: SyncRun | None = None
    rate_limited_total: int = 0  # 429s recorded by the account's sync runs (SyncTotals)
    requests_total: int = 0  # CallRail requests recorded by the account's sync runs (SyncTotals)
    outbox: dict[str, int] = field(default_factory=dict)  # status -> count
    webhooks_last_hour: dict[str, int] = field(default_factory=dict)  # "accepted" / "rejected" -> count

    @property
    def sync_lag(self) -> timedelta | None:
        return None if self.last_success_at is None else timezone.now() - self.last_success_at

    @property
    def outbox_depth(self) -> int:
        return self.outbox.get("pending", 0) + self.outbox.get("in_flight", 0)

    @property
    def outbox_attention(self) -> int:
        """Entries a person must retry or discard (failed, conflict)."""
        return self.outbox.get("failed", 0) + self.outbox.get("conflict", 0)


#: What a scrape of every account reads of each (its labels, its budget's overrides and its key's).
SCRAPE_ACCOUNT_FIELDS = (
    "pk", "name", "callrail_account_id", "budget_overrides", "agency__slug", "credential__name",
    "credential__key_limit_enabled", "credential__budget_overrides",
)  # fmt: skip


def _grouped(queryset: QuerySet, *values: str, **aggregates: Any) -> list[dict]:
    return list(queryset.values("client_account_id", *values).order_by().annotate(**aggregates))


def account_figures(
    scope: Callable[[type], QuerySet], *, with_budget: bool = True, with_last_run: bool = True,
    accounts: list[ClientAccount] | None = None,
) -> list[AccountFigures]:  # fmt: skip
    """Figures of every account ``scope`` reaches, or of ``accounts`` (a page of them, read through the same
    scope). ``scope(Model)`` returns the model's rows the caller may read: ``lambda m: m.objects.visible_to(user,
    agency)`` for a person, or an operator's ``unscoped``. The same few queries and one Redis pipeline for any
    number of accounts."""
    listed = accounts is not None
    if accounts is None:  # every account: only what the scrape labels and the budget read (not 3 rows' every date)
        accounts = list(
            scope(ClientAccount).select_related("agency", "credential").only(*SCRAPE_ACCOUNT_FIELDS)
            .order_by("agency__slug", "pk")
        )  # fmt: skip
    figures = {a.pk: AccountFigures(account=a) for a in accounts}
    if not figures:
        return []
    # A page of accounts is named by id; every account is the scope itself (a thousand ids in every statement
    # cost more to send and parse than the scope's own filter). A row of an account added since is skipped.
    of_accounts = {"client_account_id__in": list(figures)} if listed else {}
    # Each account's last success and latest run: an index probe each, however long the run history.
    latest = {"last_success": last_success_of_account(scope(SyncRun))}
    if with_last_run:
        latest["last_pk"] = latest_run_of_account(scope(SyncRun))
    these = scope(ClientAccount).filter(pk__in=list(figures)) if listed else scope(ClientAccount)
    last_pks = []
    for row in these.annotate(**latest).order_by().values("pk", *latest):
        if (fig := figures.get(row["pk"])) is not None:
            fig.last_success_at = row["last_success"]
            last_pks += [row["last_pk"]] if row.get("last_pk") else []
    for pk, requests, rate_limited in (
        scope(SyncTotals).filter(**of_accounts).values_list("client_account_id", "requests", "rate_limited")
    ):
        if (fig := figures.get(pk)) is not None:
            fig.requests_total, fig.rate_limited_total = requests, rate_limited
    runs = scope(SyncRun).filter(pk__in=last_pks).only("pk", "client_account_id", "kind", "status", "finished_at")
    for run in runs if last_pks else ():
        if (fig := figures.get(run.client_account_id)) is not None:
            fig.last_run = run
    if apps.is_installed("apps.push"):
        from apps.push.models import OutboxEntry

        for row in _grouped(scope(OutboxEntry).filter(**of_accounts), "status", n=Count("pk")):
            if (fig := figures.get(row["client_account_id"])) is not None:
                fig.outbox[row["status"]] = row["n"]
    if apps.is_installed("apps.webhooks"):  # the last hour's events of each account: a range of its index each
        from apps.webhooks.models import ACCEPTED_STATUSES, EventStatus, WebhookEvent

        events = scope(WebhookEvent).filter(received_at__gte=timezone.now() - timedelta(hours=1))
        of_hour = events.figures_per_account(
            accepted=Count("pk", filter=Q(status__in=ACCEPTED_STATUSES)),
            rejected=Count("pk", filter=Q(status=EventStatus.REJECTED)),
        )
        for pk, counts in these.order_by().annotate(of_hour=of_hour).values_list("pk", "of_hour"):
            if counts and (fig := figures.get(pk)) is not None and (counts["accepted"] or counts["rejected"]):
                fig.webhooks_last_hour = counts
    if with_budget:
        budgets = budget_statuses([fig.account for fig in figures.values()])
        for fig in figures.values():
            fig.budget = budgets.get(fig.account.pk)
    return list(figures.values())


def budget_statuses(accounts: list[ClientAccount]) -> dict[int, BudgetStatus | None]:
    """Each account's budget gauge (``apps/callrail/budget.py``), for many accounts at once: one Redis
    pipeline for all of them and their keys (``budget_statuses_for_accounts``), so a page or a scrape costs
    the same few round trips for 20 accounts or 1,000. None for every account if they could not be read (a
    gauge must not take the page down)."""
    if not accounts:
        return {}
    try:
        return dict(budget_statuses_for_accounts(accounts))
    except Exception:  # the budget logs its own degradation
        logger.warning("budget statuses of %s accounts unavailable", len(accounts), exc_info=True)
        return dict.fromkeys((account.pk for account in accounts), None)


def queue_names() -> tuple[str, ...]:
    default = ("default", "interactive", "sync", "push", "webhooks", "email")
    return tuple(getattr(settings, "CELERY_TASK_QUEUES_NAMES", default))


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each Celery queue (Redis list lengths, every priority), None if Redis is down."""
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"]
    names = queue_names()
    try:
        pipe = get_redis().pipeline(transaction=False)
        for name in names:
            for step in steps:
                pipe.llen(f"{prefix}{name}" if step == 0 else f"{prefix}{name}{KOMBU_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
    except Exception:
        logger.warning("queue depths unavailable: Redis did not answer", exc_info=True)
        return dict.fromkeys(names)
    per = len(steps)
    return {name: sum(lengths[i * per : (i + 1) * per]) for i, name in enumerate(names)}


def last_heartbeat() -> datetime | None:
    """When a worker last ran beat's ``core.heartbeat`` (every minute while beat and a worker are up)."""
    try:
        value = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:
        return None
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class WorkerPing:
    workers: tuple[str, ...]
    checked_at: datetime
    error: str = ""


def cached_worker_ping() -> WorkerPing | None:
    """The last ping's answer if it is recent (``worker_ping``'s cache), without waiting for workers."""
    with contextlib.suppress(Exception):
        return cache.get(PING_CACHE_KEY)
    return None


def worker_ping(*, timeout: float | None = None, max_age: float = 10.0) -> WorkerPing:
    """Workers that answered a broadcast ping within ``timeout`` seconds (default WORKER_PING_TIMEOUT).

    Cached for ``max_age`` seconds so a page reload (or several people) never stacks up pings.
    """
    cached = None
    with contextlib.suppress(Exception):  # the cache is Redis: if it is down, ping without it
        cached = cache.get(PING_CACHE_KEY)
    if cached is not None:
        return cached
    from agency_portal.celery import app

    timeout = float(getattr(settings, "WORKER_PING_TIMEOUT", 1.0)) if timeout is None else timeout
    try:
        replies = app.control.inspect(timeout=timeout).ping() or {}
        result = WorkerPing(workers=tuple(sorted(replies)), checked_at=timezone.now())
    except Exception as exc:
        result = WorkerPing(workers=(), checked_at=timezone.now(), error=type(exc).__name__)
    with contextlib.suppress(Exception):
        cache.set(PING_CACHE_KEY, result, timeout=max_age)
    return result
