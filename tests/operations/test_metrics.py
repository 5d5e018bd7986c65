"""/metrics: who may scrape it, and that every figure equals the database / Redis state at scrape time."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.callrail.budget import budget_status_for_account, get_budget
from apps.core.redis import get_redis
from apps.core.tasks import heartbeat
from apps.push.models import EntryStatus, OutboxEntry
from apps.sync.models import SyncRun
from apps.sync.services import sync_totals_add
from apps.webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db
TOKEN = "test-metrics-token-7f3a"


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content[:300]
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(account, **extra) -> tuple:
    base = {"agency": account.agency.slug, "account": str(account.pk), "callrail_account": account.callrail_account_id}
    return tuple(sorted({**base, **extra}.items()))


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_access(client, login, tenant, superuser):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert login(tenant.owner).get("/metrics").status_code == 403  # an agency owner sees one agency, not all
    assert login(superuser).get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN="")
def test_metrics_without_a_token_setting_only_superusers(client, login, superuser, tenant):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert login(superuser).get("/metrics").status_code == 200


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_equal_database_and_redis(client, synced_account, tenant, other_tenant):
    account = synced_account
    runs = SyncRun.objects.for_account(account)
    run = runs.get()
    # 429s: one from CallRail (budget event, blocks the account) and some recorded on a run
    get_budget().mark_exhausted(account.pk, retry_after=30)
    sync_totals_add(account_id=account.pk, requests=0, rate_limited=3)  # as the run's worker records 429s
    # outbox: 2 waiting, 1 failed, 1 done
    for status in (EntryStatus.PENDING, EntryStatus.IN_FLIGHT, EntryStatus.FAILED, EntryStatus.DONE):
        OutboxEntry.objects.create(client_account=account, resource="tags", object_pk=1, operation="update",
                                   status=status)  # fmt: skip
    # webhooks: 2 accepted and 1 rejected in the last hour, 1 accepted two hours ago (outside the window)
    now = timezone.now()
    for status, age in [(EventStatus.APPLIED, 5), (EventStatus.VERIFIED, 50), (EventStatus.REJECTED, 10),
                        (EventStatus.APPLIED, 120)]:  # fmt: skip
        WebhookEvent.objects.create(client_account=account, event_type="post_call", status=status,
                                    received_at=now - timezone.timedelta(minutes=age))  # fmt: skip
    # queues: messages waiting in the email queue (plain and a priority list)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    conn = get_redis()
    conn.delete(f"{prefix}email", f"{prefix}email\x06\x163")
    conn.rpush(f"{prefix}email", "a", "b")
    conn.rpush(f"{prefix}email\x06\x163", "c")
    heartbeat()
    try:
        samples = scrape(client)
        budget = budget_status_for_account(account)
    finally:
        conn.delete(f"{prefix}email", f"{prefix}email\x06\x163")
        get_budget().reset(account.pk)

    general = labels(account, limit_class="general")
    assert run.requests > 0
    assert samples[("agency_portal_callrail_requests_hour", general)] == budget.general.hour_spent == run.requests
    assert samples[("agency_portal_callrail_requests_day", general)] == budget.general.day_spent == run.requests
    assert samples[("agency_portal_callrail_budget_hour_limit", general)] == budget.general.hour_limit
    assert samples[("agency_portal_callrail_rate_limited_day", labels(account))] == budget.rate_limited_day == 1
    assert samples[("agency_portal_callrail_budget_blocked", labels(account))] == 1
    assert samples[("agency_portal_sync_rate_limited_total", labels(account))] == 3
    assert samples[("agency_portal_sync_requests_total", labels(account))] == run.requests > 0
    finished = SyncRun.objects.for_account(account).get().finished_at
    assert samples[("agency_portal_sync_last_success_timestamp_seconds", labels(account))] == pytest.approx(
        finished.timestamp(), abs=0.001
    )
    lag = samples[("agency_portal_sync_lag_seconds", labels(account))]
    assert 0 <= lag <= (timezone.now() - finished).total_seconds()
    assert samples[("agency_portal_outbox_depth", labels(account))] == 2
    assert samples[("agency_portal_outbox_entries", labels(account, status="failed"))] == 1
    assert samples[("agency_portal_outbox_entries", labels(account, status="done"))] == 1
    assert samples[("agency_portal_webhook_events_last_hour", labels(account, result="accepted"))] == 2
    assert samples[("agency_portal_webhook_events_last_hour", labels(account, result="rejected"))] == 1
    assert samples[("agency_portal_celery_queue_length", (("queue", "email"),))] == 3
    assert samples[("agency_portal_celery_queue_length", (("queue", "sync"),))] == conn.llen(f"{prefix}sync")
    assert samples[("agency_portal_beat_heartbeat_timestamp_seconds", ())] == pytest.approx(now.timestamp(), abs=60)

    # every account of every agency is there, each with its own agency label; never-synced: no lag sample
    for other in (tenant.other_account, other_tenant.account, other_tenant.other_account):
        assert samples[("agency_portal_outbox_depth", labels(other))] == 0
        assert ("agency_portal_sync_lag_seconds", labels(other)) not in samples
        spent = budget_status_for_account(other).general.hour_spent  # Redis may hold an earlier run's count
        assert samples[("agency_portal_callrail_requests_hour", labels(other, limit_class="general"))] == spent


@override_settings(METRICS_TOKEN=TOKEN)
def test_metrics_never_contain_a_key(client, tenant):
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert tenant.account.api_key
    assert tenant.account.api_key not in body
    assert tenant.account.callrail_account_id in body


def test_the_scrape_is_prometheus_text_as_the_library_writes_it(tenant, other_tenant):
    """``exposition`` (the fast writer) gives byte for byte what ``prometheus_client.generate_latest`` gives."""
    from prometheus_client import CollectorRegistry, generate_latest

    from apps.operations.metrics import PortalCollector, exposition

    get_budget().mark_exhausted(tenant.account.pk, retry_after=30)
    SyncRun.objects.create(client_account=tenant.account, kind="full", status="succeeded", requests=12,
                           finished_at=timezone.now() - timezone.timedelta(hours=2))  # fmt: skip
    with time_frozen():
        registry = CollectorRegistry(auto_describe=False)
        registry.register(PortalCollector())
        assert exposition(PortalCollector().collect()) == generate_latest(registry)


def time_frozen():
    import time_machine

    return time_machine.travel(timezone.now(), tick=False)


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_scrape_costs_the_same_queries_for_more_accounts_and_agencies(client, tenant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_tenant

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
        return len(captured.captured_queries)

    SyncRun.objects.create(client_account=tenant.account, kind="full", status="succeeded")  # its last run is read
    few = queries()
    for n in range(4):
        other = make_tenant(f"Other {n}")
        SyncRun.objects.create(client_account=other.account, kind="full", status="succeeded")
    samples = scrape(client)
    assert sum(1 for name, _ in samples if name == "agency_portal_sync_requests_total") == 10
    assert queries() == few
