"""What the pages and the scrape say of an account's sync runs (and the dashboard of its webhooks) does not come
from adding up its whole history: the last success, the latest run and the last accepted webhook are read per
account (an index probe each), counts of the last day by range, the requests and 429s from ``SyncTotals``,
which the runs' workers add to as they save. So the figures stay right when the history is long, or gone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.operations.selectors import account_figures
from apps.portal.selectors import account_machinery, outbox_attention_count
from apps.push.models import EntryStatus, OutboxEntry
from apps.sync.models import SyncKind, SyncRun, SyncStatus, SyncTotals
from apps.sync.services import sync_totals_add
from apps.webhooks.models import EventStatus, WebhookEvent
from tests.sync.conftest import control, execute, point_at_sandbox

pytestmark = pytest.mark.django_db


def _run(account, status, *, finished_ago: timedelta | None, **fields) -> SyncRun:
    now = timezone.now()
    finished = None if finished_ago is None else now - finished_ago
    return SyncRun.objects.create(client_account=account, kind=SyncKind.INCREMENTAL, status=status,
                                  started_at=finished, finished_at=finished, **fields)  # fmt: skip


def test_last_success_latest_run_and_failures_of_a_mixed_history(tenant, other_tenant):
    account = tenant.account
    _run(account, SyncStatus.SUCCEEDED, finished_ago=timedelta(hours=3))
    newest_success = _run(account, SyncStatus.SUCCEEDED, finished_ago=timedelta(hours=1))
    _run(account, SyncStatus.SUCCEEDED, finished_ago=timedelta(hours=2))  # a later run that finished earlier
    _run(account, SyncStatus.FAILED, finished_ago=timedelta(minutes=30))
    _run(account, SyncStatus.PARTIAL, finished_ago=timedelta(hours=5))
    _run(account, SyncStatus.FAILED, finished_ago=timedelta(days=2))  # not in the last day
    _run(account, SyncStatus.INTERRUPTED, finished_ago=timedelta(minutes=20))
    latest = _run(account, SyncStatus.RUNNING, finished_ago=None)
    _run(other_tenant.account, SyncStatus.SUCCEEDED, finished_ago=timedelta(minutes=1))  # another agency's
    _run(tenant.other_account, SyncStatus.FAILED, finished_ago=timedelta(minutes=1))  # only failures

    ids = [account.pk, tenant.other_account.pk, other_tenant.account.pk]
    machinery = account_machinery(user=tenant.owner, agency=tenant.agency, account_ids=ids)
    health = {pk: (row["last_sync"], row["sync_failures"]) for pk, row in machinery.items()}
    assert health == {
        account.pk: (newest_success.finished_at, 2),
        tenant.other_account.pk: (None, 1),
    }  # the other agency's account is not visible: not there

    figures = {
        fig.account.pk: fig
        for fig in account_figures(lambda m: m.objects.visible_to(tenant.owner, tenant.agency), with_budget=False)
    }
    assert set(figures) == {account.pk, tenant.other_account.pk}
    assert figures[account.pk].last_success_at == newest_success.finished_at
    assert figures[account.pk].last_run.pk == latest.pk
    assert figures[tenant.other_account.pk].last_success_at is None


def test_the_totals_are_what_the_runs_sent_and_outlive_the_run_history(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    since = time.time()
    runs = [execute(account, SyncKind.FULL), execute(account, SyncKind.INCREMENTAL)]
    sent = control(sandbox, "GET", f"requests?since={since}&account_id={account.callrail_account_id}")["requests"]
    assert all(run.status == SyncStatus.SUCCEEDED for run in runs), [run.errors for run in runs]
    totals = SyncTotals.objects.for_account(account).get()
    assert totals.requests == sum(run.requests for run in runs) == len(sent) > 0
    assert totals.rate_limited == 0
    sync_totals_add(account_id=account.pk, requests=0, rate_limited=2)  # as a run's worker records two 429s

    SyncRun.objects.for_account(account).delete()  # the run history pruned
    figures = {fig.account.pk: fig for fig in account_figures(lambda m: m.objects.unscoped(reason="metrics"),
                                                              with_budget=False)}  # fmt: skip
    assert (figures[account.pk].requests_total, figures[account.pk].rate_limited_total) == (len(sent), 2)
    assert figures[account.pk].last_success_at is None
    assert figures[account.pk].last_run is None
    assert SyncTotals.objects.for_account(tenant.other_account).count() == 0  # no run: no row, zero figures
    assert figures[tenant.other_account.pk].requests_total == 0


def test_the_dashboards_outbox_and_webhook_figures_of_long_logs(tenant, other_tenant):
    account, quiet = tenant.account, tenant.other_account
    now = timezone.now()

    def event(acc, status, ago: timedelta) -> WebhookEvent:
        return WebhookEvent.objects.create(client_account=acc, event_type="post_call", status=status,
                                           received_at=now - ago)  # fmt: skip

    for hours in range(30, 200, 10):  # days of older events
        event(account, EventStatus.APPLIED, timedelta(hours=hours))
    newest = event(account, EventStatus.APPLIED, timedelta(hours=2))
    event(account, EventStatus.VERIFIED, timedelta(hours=3))
    event(account, EventStatus.REJECTED, timedelta(hours=1))  # newer, not accepted
    event(account, EventStatus.FAILED, timedelta(hours=5))
    event(quiet, EventStatus.REJECTED, timedelta(days=3))  # only an old refusal: known, nothing in the last day
    event(other_tenant.account, EventStatus.APPLIED, timedelta(minutes=1))  # another agency's

    for acc, statuses in ((account, [*[EntryStatus.DONE] * 5, EntryStatus.PENDING, EntryStatus.IN_FLIGHT,
                                     EntryStatus.FAILED, EntryStatus.CONFLICT, EntryStatus.CONFLICT]),
                          (other_tenant.account, [EntryStatus.FAILED])):  # fmt: skip
        for status in statuses:
            OutboxEntry.objects.create(client_account=acc, resource="tags", object_pk=1, operation="update",
                                       status=status)  # fmt: skip

    machinery = account_machinery(user=tenant.owner, agency=tenant.agency,
                                  account_ids=[account.pk, quiet.pk, other_tenant.account.pk])  # fmt: skip
    assert set(machinery) == {account.pk, quiet.pk}
    assert machinery[account.pk]["outbox"] == {"pending": 2, "failed": 1, "conflict": 2}  # the done ones not
    assert machinery[quiet.pk]["outbox"] == {"pending": 0, "failed": 0, "conflict": 0}
    # the dashboard's banner: failed and in conflict, not open or done, not another agency's failed one
    assert outbox_attention_count(user=tenant.owner, agency=tenant.agency) == 3
    hooks = {pk: row["webhooks"] for pk, row in machinery.items() if row["webhooks"]}
    assert set(hooks) == {account.pk, quiet.pk}
    assert {k: hooks[account.pk][k] for k in ("last", "accepted", "rejected", "failed", "connected")} == {
        "last": newest.received_at, "accepted": 3, "rejected": 1, "failed": 1, "connected": False,
    }  # fmt: skip (accepted: answered 202 in the last day, the one that failed later too)
    assert {k: hooks[quiet.pk][k] for k in ("last", "accepted", "rejected", "failed")} == {
        "last": None, "accepted": 0, "rejected": 0, "failed": 0,
    }  # fmt: skip
