"""Freshness: while signed webhooks arrive, scheduled incremental polling slows down; when they fall silent
while calls were expected, polling is back at the schedule's pace."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.sync.models import SyncKind, SyncRun, SyncStatus
from apps.sync.services import sync_dispatch, sync_schedule_for
from apps.webhooks.models import WebhookEvent
from apps.webhooks.selectors import webhook_health
from apps.webhooks.services import webhook_event_apply
from tests.sync.conftest import control

from .conftest import connect_webhooks, deliveries

# Webhook health is about silences measured from now, and the sandbox's activity depends on the time of day:
# pinned clock (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def incremental_queued(account, now, since: float = 11) -> bool:
    """Dispatch at ``now``, the last incremental run ``since`` minutes ago and only the incremental pass
    possibly due; whether the account got a run."""
    SyncRun.objects.for_account(account).update(status=SyncStatus.SUCCEEDED)
    schedule = sync_schedule_for(account=account)
    schedule.last_full_at = schedule.last_reread_at = now - timedelta(minutes=30)
    schedule.last_incremental_at = now - timedelta(minutes=since)  # default: the normal 10 minutes have passed
    schedule.save()
    queued = [r for r in sync_dispatch(now=now) if r.client_account_id == account.pk]
    return any(r.kind == SyncKind.INCREMENTAL for r in queued)


def test_polling_slows_while_webhooks_are_healthy_and_resumes_when_they_fall_silent(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks
):
    account = hooked_account
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        assert webhook_health(account, now=now).state == "off"
        assert incremental_queued(account, now)  # no webhooks: the schedule's pace

        connect_webhooks(sandbox, account)
        assert webhook_health(account, now=now).state == "waiting"
        assert incremental_queued(account, now)

        control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=1,
                complete_outbound=False)  # fmt: skip
        for delivery in deliveries(sandbox):
            answer = client.post(urlsplit(delivery["url"]).path, data=delivery["body"].encode(),
                                 content_type="application/json", HTTP_SIGNATURE=delivery["signature"])  # fmt: skip
            assert answer.status_code == 202
        for event in WebhookEvent.objects.for_account(account):
            webhook_event_apply(event=event)
        now = timezone.now()
        health = webhook_health(account, now=now)
        assert (health.state, health.healthy, health.accepted_24h) == ("healthy", True, 3), health
        assert not incremental_queued(account, now)  # healthy: the incremental pass waits …
        assert not incremental_queued(account, now, since=59)
        assert incremental_queued(account, now, since=61)  # … up to an hour after the last one

        # a silence in which calls were expected (the mirror's last 14 days give the account's call rate)
        recent = Call.objects.for_account(account).filter(start_time__gte=now - timedelta(days=14)).count()
        assert recent > 14
        hours_per_call = 14 * 24 / recent
        settings.WEBHOOK_EXPECTED_CALLS = 1
        quiet = now + timedelta(hours=hours_per_call * 0.7)
        assert webhook_health(account, now=quiet).healthy
        assert not incremental_queued(account, quiet)
        silent = now + timedelta(hours=hours_per_call * 1.3)
        health = webhook_health(account, now=silent)
        assert (health.state, health.healthy) == ("silent", False)
        assert "calls were expected" in health.message
        assert incremental_queued(account, silent)  # back at the schedule's pace

        settings.WEBHOOK_EXPECTED_CALLS = 1000  # even with few calls, a day without any webhook is silence
        assert webhook_health(account, now=now + timedelta(hours=23)).healthy
        assert not webhook_health(account, now=now + timedelta(hours=25)).healthy
        assert incremental_queued(account, now + timedelta(hours=25))

        settings.WEBHOOK_HEALTHY_INCREMENTAL_MINUTES = 0  # the slowdown can be switched off
        assert incremental_queued(account, now)
