"""Issue 19's fast accept path: signing keys cached per process (and checked against the database, so a key
rotated or removed in another process counts at once), one statement per accepted delivery, and the batch
hand-off to the worker with its sweeper (an accepted delivery whose hand-off was lost is still applied)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.companies.models import Company
from apps.webhooks import services
from apps.webhooks.models import EventStatus, WebhookEndpoint, WebhookEvent, WebhookSigningKey
from apps.webhooks.services import webhook_events_sweep, webhook_pending_apply, webhook_signature
from tests.sync.conftest import control
from tests.workers import ROOT, wait_for, worker_environment

from .conftest import connect_webhooks, deliveries


def signed_deliveries(sandbox, account, calls: int = 2) -> tuple[dict[str, str], list[dict]]:
    """Connect the account's webhooks and have the sandbox deliver the post-call webhooks of ``calls`` new calls."""
    keys = connect_webhooks(sandbox, account)
    control(sandbox, "POST", "activity", account_id=account.callrail_account_id, new_calls=calls,
            complete_outbound=False)  # fmt: skip
    sent = [d for d in deliveries(sandbox) if d["event"] == "post_call_webhook"]
    assert len(sent) == calls
    return keys, sent


def deliver(client, delivery: dict, *, body: bytes | None = None, signature: str | None = None):
    return client.post(urlsplit(delivery["url"]).path, data=body or delivery["body"].encode(),
                       content_type="application/json", HTTP_SIGNATURE=signature or delivery["signature"])  # fmt: skip


def in_another_process(code: str) -> None:
    """Run ``code`` in a fresh Django process on the test database (its saves fire no signal here)."""
    script = f"import django\ndjango.setup()\n{code}"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=worker_environment(), check=True, timeout=120)


def pending() -> list[bytes]:
    conn = services._redis(services.settings.REDIS_URL)
    return conn.lrange(services._pending_key(), 0, -1)


@pytest.fixture
def empty_hand_off():
    services._redis(services.settings.REDIS_URL).delete(services._pending_key())
    yield
    services._redis(services.settings.REDIS_URL).delete(services._pending_key())


@pytest.mark.django_db
def test_a_known_endpoint_costs_one_statement_once_its_keys_are_cached(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    _, (first, second) = signed_deliveries(sandbox, hooked_account)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert deliver(client, first).status_code == 202  # reads the keys
        with CaptureQueriesContext(connection) as queries:
            assert deliver(client, second).status_code == 202
        statements = [q["sql"] for q in queries.captured_queries]  # (before the next request resets the log)
        assert deliver(client, second).status_code == 200  # the same delivery again: applied once
    assert len(statements) == 1, statements
    assert statements[0].startswith("INSERT INTO webhooks_webhookevent")
    assert len(queued) == 2
    assert [e.status for e in WebhookEvent.objects.for_account(hooked_account).order_by("pk")] == [
        EventStatus.VERIFIED, EventStatus.VERIFIED, EventStatus.DUPLICATE,
    ]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_the_accepting_insert_is_prepared_once_per_connection(client, hooked_account, sandbox, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    _, sent = signed_deliveries(sandbox, hooked_account, calls=7)
    for delivery in sent:
        assert deliver(client, delivery).status_code == 202
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [sql for sql in prepared if sql.startswith("INSERT INTO webhooks_webhookevent")], prepared


@pytest.mark.slow
def test_a_key_rotated_or_removed_in_another_process_counts_at_once(
    transactional_db, client, hooked_account, sandbox, settings, empty_hand_off
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    keys, (first, _) = signed_deliveries(sandbox, hooked_account)
    token = WebhookEndpoint.objects.for_account(hooked_account).get().token
    company = Company.objects.for_account(hooked_account).get(callrail_id=first["company_id"])
    assert deliver(client, first).status_code == 202
    cached_before = services._KEYS[token]
    # more deliveries of the same company (the same event, told apart by the JSON's spacing)
    second, third = (first["body"].replace('"answered":', '"answered":' + " " * n, 1).encode() for n in (1, 2))
    before = keys[company.callrail_id]

    rotated = "rotated" + before[7:]
    in_another_process(
        "from apps.companies.models import Company\n"
        "from apps.webhooks.services import webhook_signing_key_set\n"
        f"company = Company.objects.for_account({hooked_account.pk}).get(pk={company.pk})\n"
        f"webhook_signing_key_set(company=company, signing_key={rotated!r})\n"
    )
    assert services._KEYS[token] is cached_before  # this process was not told: it still holds the old key
    # signed with the key CallRail had before: refused at once, exactly like any bad signature
    answer = deliver(client, first, body=second, signature=webhook_signature(signing_key=before, body=second))
    assert (answer.status_code, answer.content) == (401, b'{"error": "invalid signature"}')
    # signed with the rotated key: accepted at once
    answer = deliver(client, first, body=second, signature=webhook_signature(signing_key=rotated, body=second))
    assert answer.status_code == 202
    assert services._KEYS[token] is not cached_before

    in_another_process(
        "from apps.webhooks.models import WebhookSigningKey\n"
        f"WebhookSigningKey.objects.for_account({hooked_account.pk}).filter(company_id={company.pk}).delete()\n"
    )
    assert WebhookSigningKey.objects.for_account(hooked_account).filter(company=company).count() == 0
    answer = deliver(client, first, body=third, signature=webhook_signature(signing_key=rotated, body=third))
    assert (answer.status_code, answer.content) == (401, b'{"error": "invalid signature"}')
    logged = list(WebhookEvent.objects.for_account(hooked_account).order_by("pk"))
    assert [(e.status, e.http_status) for e in logged] == [
        (EventStatus.VERIFIED, 202), (EventStatus.REJECTED, 401), (EventStatus.VERIFIED, 202),
        (EventStatus.REJECTED, 401),
    ]  # fmt: skip


@pytest.mark.django_db
def test_an_accepted_delivery_whose_hand_off_was_lost_is_applied_by_the_sweeper(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks, empty_hand_off
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    settings.WEBHOOK_HAND_OFF_GRACE_SECONDS = 60
    _, (lost, taken) = signed_deliveries(sandbox, hooked_account)
    with django_capture_on_commit_callbacks(execute=False):  # the hand-off never happened (web process died)
        assert deliver(client, lost).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):  # handed off …
        assert deliver(client, taken).status_code == 202
    services.webhook_hand_off_flush()  # (the process's hand-off thread pushes within 20 ms)
    assert len(pending()) == 1
    services._redis(settings.REDIS_URL).lpop(services._pending_key())  # … and taken by a worker that died
    events = list(WebhookEvent.objects.for_account(hooked_account).order_by("pk"))
    assert [e.status for e in events] == [EventStatus.VERIFIED] * 2

    arrived = max(e.received_at for e in events)
    assert webhook_events_sweep(now=arrived + timedelta(seconds=30)) == 0  # a worker may still be on them
    assert pending() == []
    assert webhook_events_sweep(now=arrived + timedelta(seconds=61)) == 2
    assert sorted(pending()) == sorted(f"{hooked_account.pk}:{e.pk}".encode() for e in events)
    assert webhook_pending_apply() == 2
    assert pending() == []
    applied = list(WebhookEvent.objects.for_account(hooked_account).order_by("pk"))
    assert [e.status for e in applied] == [EventStatus.APPLIED] * 2, [e.reason for e in applied]
    assert webhook_events_sweep(now=arrived + timedelta(seconds=120)) == 0  # nothing left behind


@pytest.mark.django_db
def test_a_batch_of_deliveries_reads_their_account_once_and_writes_each_record_state_once(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks, empty_hand_off
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    _, sent = signed_deliveries(sandbox, hooked_account, calls=4)
    with django_capture_on_commit_callbacks(execute=True):
        for delivery in sent:
            assert deliver(client, delivery).status_code == 202
    services.webhook_hand_off_flush()
    assert len(pending()) == 4
    with CaptureQueriesContext(connection) as queries:
        assert webhook_pending_apply() == 4
    applied = list(WebhookEvent.objects.for_account(hooked_account).order_by("pk"))
    assert [e.status for e in applied] == [EventStatus.APPLIED] * 4, [e.reason for e in applied]
    if connection.vendor != "postgresql":
        return  # the batch's reads and writes are counted on the production database (PostgreSQL)
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    for table in ("tenancy_clientaccount", "credentials_credential", "companies_company"):
        read = [sql for sql in reads if f' FROM "{table}"' in sql]
        assert len(read) <= 1, (table, read)  # once for the batch (joined to the account), not once per delivery
    writes = ('INSERT INTO "webhooks_webhookrecord"', 'UPDATE "webhooks_webhookrecord"')
    kept = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(writes)]
    assert [sql.split(" ")[0] for sql in kept] == ["INSERT"] * 4, kept  # each new record's state: one write


@pytest.mark.django_db
def test_the_sweeper_leaves_a_delivery_still_waiting_in_the_hand_off_list(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks, empty_hand_off
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    _, (delivery, _) = signed_deliveries(sandbox, hooked_account)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, delivery).status_code == 202
    services.webhook_hand_off_flush()
    event = WebhookEvent.objects.for_account(hooked_account).get()
    assert pending() == [f"{hooked_account.pk}:{event.pk}".encode()]  # a backlog the worker has not reached
    assert webhook_events_sweep(now=event.received_at + timedelta(minutes=5)) == 0
    assert len(pending()) == 1  # not pushed twice


@pytest.mark.django_db
def test_the_sweeper_leaves_a_delivery_its_retrying_task_holds(
    client, hooked_account, sandbox, settings, django_capture_on_commit_callbacks, empty_hand_off
):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    _, (delivery, _) = signed_deliveries(sandbox, hooked_account)
    with django_capture_on_commit_callbacks(execute=False):
        assert deliver(client, delivery).status_code == 202
    event = WebhookEvent.objects.for_account(hooked_account).get()
    services.webhook_event_deferred(event=event)  # its look-up waited for budget: webhooks.apply_event retries it
    assert webhook_events_sweep(now=event.received_at + timedelta(minutes=5)) == 0
    assert pending() == []


@pytest.mark.django_db
def test_the_hand_off_thread_pushes_what_the_process_gathered_in_one_go(settings, empty_hand_off):
    settings.WEBHOOK_HAND_OFF_WINDOW_SECONDS = 0.05
    for event_id in (11, 12, 13):
        services.webhook_hand_off(client_account_id=7, event_id=event_id)
    assert pending() == []  # gathered, not pushed by the request itself
    wait_for(lambda: len(pending()) == 3, timeout=10, what="the hand-off thread pushed")
    assert pending() == [b"7:11", b"7:12", b"7:13"]
    assert services.webhook_hand_off_flush() == 0
