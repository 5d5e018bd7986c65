"""The event log is kept ``WEBHOOK_EVENT_RETENTION_DAYS`` in every account, then pruned by the nightly beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.webhooks.models import WebhookEvent
from apps.webhooks.tasks import webhook_events_prune_task

pytestmark = pytest.mark.django_db


def test_old_events_of_every_account_are_pruned_recent_ones_kept(tenant, other_tenant, settings):
    now = timezone.now()
    for account in (tenant.account, other_tenant.account):
        for age in (31, 29, 0):
            WebhookEvent.objects.create(client_account=account, event_type="post_call", status="applied",
                                        received_at=now - timedelta(days=age))  # fmt: skip
    assert webhook_events_prune_task.apply().get() == 2
    for account in (tenant.account, other_tenant.account):
        ages = sorted((now - e.received_at).days for e in WebhookEvent.objects.for_account(account))
        assert ages == [0, 29]
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 0  # kept for ever
    assert webhook_events_prune_task.apply().get() == 0
    assert "webhooks.prune" in django_settings.CELERY_BEAT_SCHEDULE
