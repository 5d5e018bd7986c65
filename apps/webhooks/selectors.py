"""Reads of webhook data: the event log, signing keys, and the health that slows polling down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from apps.tenancy.models import ClientAccount

from .events import CALL_EVENTS
from .models import ACCEPTED_STATUSES, EventStatus, WebhookEndpoint, WebhookEvent, WebhookSigningKey

#: How far back the call rate (to know whether calls "were expected" during a silence) is measured.
RATE_LOOKBACK = timedelta(days=14)


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def webhook_event_list(*, user: Any, account: ClientAccount, status: str | None = None) -> QuerySet[WebhookEvent]:
    events = WebhookEvent.objects.visible_to(user).filter(client_account=account).select_related("company")
    if status:
        events = events.filter(status=status)
    return events.defer("raw_body")


def webhook_event_get(*, user: Any, account: ClientAccount, pk: int) -> WebhookEvent | None:
    return WebhookEvent.objects.visible_to(user).filter(client_account=account, pk=pk).select_related("company").first()


def webhook_signing_keys(*, account: ClientAccount) -> dict[int, WebhookSigningKey]:
    """Company pk -> its signing key row."""
    return {k.company_id: k for k in WebhookSigningKey.objects.for_account(account)}


@dataclass(frozen=True)
class WebhookHealth:
    """Whether CallRail's webhooks reach the portal for an account, and so whether polling may slow down."""

    connected: bool  # an endpoint and at least one company signing key
    healthy: bool
    state: str  # off | waiting | healthy | silent
    message: str
    last_event_at: datetime | None = None
    last_call_event_at: datetime | None = None
    last_rejected_at: datetime | None = None
    accepted_24h: int = 0
    rejected_24h: int = 0
    failed_24h: int = 0
    expected_calls: float = 0.0


def webhook_health(account: ClientAccount, *, now: datetime | None = None) -> WebhookHealth:
    """Healthy: signed webhooks arrive, and none has been missing for long while calls were expected.

    "Expected" uses the account's call rate over the last 14 days in the mirror: a silence during which
    ``WEBHOOK_EXPECTED_CALLS`` calls would normally have come in (or any silence longer than
    ``WEBHOOK_MAX_SILENCE_HOURS``) means webhooks are not arriving, and polling goes back to its pace.
    """
    from apps.calls.models import Call

    now = now or timezone.now()
    connected = (
        WebhookEndpoint.objects.for_account(account).exists()
        and WebhookSigningKey.objects.for_account(account).exists()
    )
    events = WebhookEvent.objects.for_account(account)
    day = events.filter(received_at__gte=now - timedelta(hours=24), received_at__lte=now).aggregate(
        accepted=Count("pk", filter=Q(status__in=ACCEPTED_STATUSES)),
        rejected=Count("pk", filter=Q(status=EventStatus.REJECTED)),
        failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
    )
    accepted = events.filter(status__in=ACCEPTED_STATUSES, received_at__lte=now).order_by("-received_at")
    last = accepted.values_list("received_at", flat=True).first()
    last_call = accepted.filter(event_type__in=CALL_EVENTS).values_list("received_at", flat=True).first()
    last_rejected = (
        events.filter(status=EventStatus.REJECTED, received_at__lte=now)
        .order_by("-received_at").values_list("received_at", flat=True).first()
    )  # fmt: skip
    facts = {
        "last_event_at": last, "last_call_event_at": last_call, "last_rejected_at": last_rejected,
        "accepted_24h": day["accepted"], "rejected_24h": day["rejected"], "failed_24h": day["failed"],
    }  # fmt: skip
    if not connected:
        return WebhookHealth(False, False, "off", "Webhooks are not set up (no company signing key).", **facts)
    if last is None:
        return WebhookHealth(True, False, "waiting", "No signed webhook has arrived yet.", **facts)
    recent_calls = Call.objects.for_account(account).filter(start_time__gte=now - RATE_LOOKBACK, start_time__lte=now)
    return _health_of_arriving(last, last_call, recent_calls.count(), now=now, facts=facts)


def _health_of_arriving(
    last: datetime, last_call: datetime | None, recent_calls: int, *, now: datetime, facts: dict[str, Any]
) -> WebhookHealth:
    """Connected, and signed webhooks have arrived: healthy unless a silence is too long for the call rate."""
    since = last_call or last
    silence = now - since
    rate_per_hour = recent_calls / (RATE_LOOKBACK.total_seconds() / 3600)
    expected = rate_per_hour * silence.total_seconds() / 3600
    facts["expected_calls"] = round(expected, 1)
    max_silence = timedelta(hours=float(setting("WEBHOOK_MAX_SILENCE_HOURS", 24)))
    if silence > max_silence:
        return WebhookHealth(True, False, "silent", f"No call webhook for over {max_silence}.", **facts)
    if expected >= float(setting("WEBHOOK_EXPECTED_CALLS", 3)):
        return WebhookHealth(
            True, False, "silent",
            f"No call webhook since {since:%Y-%m-%d %H:%M} UTC while about {expected:.0f} calls were expected.",
            **facts,
        )  # fmt: skip
    return WebhookHealth(True, True, "healthy", "Signed webhooks are arriving.", **facts)


def webhooks_healthy(accounts: Sequence[ClientAccount], now: datetime) -> set[int]:
    """The accounts whose webhooks are healthy (``webhook_health(...).healthy``), for many accounts at once
    in four queries: the beat dispatcher asks this for every account whose incremental sync may wait."""
    from apps.calls.models import Call

    reason = "beat-dispatch"
    ids = [a.pk for a in accounts]
    with_endpoint = WebhookEndpoint.objects.unscoped(reason=reason).filter(client_account_id__in=ids)
    with_key = WebhookSigningKey.objects.unscoped(reason=reason).filter(client_account_id__in=ids)
    connected = set(with_endpoint.values_list("client_account_id", flat=True)) & set(
        with_key.values_list("client_account_id", flat=True)
    )
    if not connected:
        return set()
    accepted = Q(status__in=ACCEPTED_STATUSES, received_at__lte=now)
    lasts = {
        row["client_account_id"]: (row["last"], row["last_call"])
        for row in WebhookEvent.objects.unscoped(reason=reason)
        .filter(accepted, client_account_id__in=connected)
        .values("client_account_id")
        .annotate(last=Max("received_at"), last_call=Max("received_at", filter=Q(event_type__in=CALL_EVENTS)))
    }
    calls = dict(
        Call.objects.unscoped(reason=reason)
        .filter(client_account_id__in=list(lasts), start_time__gte=now - RATE_LOOKBACK, start_time__lte=now)
        .values("client_account_id").annotate(n=Count("pk")).values_list("client_account_id", "n")
    )  # fmt: skip
    return {
        pk for pk, (last, last_call) in lasts.items()
        if _health_of_arriving(last, last_call, calls.get(pk, 0), now=now, facts={}).healthy
    }  # fmt: skip
