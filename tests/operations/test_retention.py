"""Retention: the nightly job deletes exactly each account's records past its agency's retention."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.calls.models import Call
from apps.form_submissions.models import FormSubmission
from apps.operations.services import agency_set_retention, retention_enforce
from apps.operations.tasks import enforce_retention_task
from apps.push.models import EntryStatus, OutboxEntry
from apps.text_conversations.models import TextConversation
from apps.webhooks.models import EventStatus, WebhookEvent

from .conftest import mirror_row, months_ago

pytestmark = pytest.mark.django_db


def ids(model, account) -> set[int]:
    return set(model.objects.for_account(account).values_list("pk", flat=True))


def populate(account, now) -> dict[str, set[int]]:
    """Rows at 6, 13 and 26 months of age (and undated ones first seen that long ago); returns the pks
    that must survive a 12-month and a 25-month retention."""
    keep12, keep25 = set(), set()

    def add(obj, age):
        if age < 12:
            keep12.add((type(obj).__name__, obj.pk))
        if age < 25:
            keep25.add((type(obj).__name__, obj.pk))

    for age in (6, 13, 26):
        when = months_ago(age, now)
        add(mirror_row(Call, account, start_time=when), age)
        add(mirror_row(Call, account, start_time=None, seen=when), age)  # undated: judged by first seen
        add(mirror_row(FormSubmission, account, submitted_at=when), age)
        add(mirror_row(TextConversation, account, last_message_at=when), age)
        event = WebhookEvent.objects.create(client_account=account, event_type="post_call",
                                            status=EventStatus.APPLIED, received_at=when)  # fmt: skip
        add(event, age)
        # an event still waiting to be applied is never dropped, however old
        waiting = WebhookEvent.objects.create(client_account=account, event_type="post_call",
                                              status=EventStatus.VERIFIED, received_at=when)  # fmt: skip
        add(waiting, 0)
        done = OutboxEntry.objects.create(client_account=account, resource="tags", object_pk=1,
                                          operation="update", status=EntryStatus.DONE, done_at=when)  # fmt: skip
        add(done, age)
        pending = OutboxEntry.objects.create(client_account=account, resource="tags", object_pk=1,
                                             operation="update", status=EntryStatus.PENDING)  # fmt: skip
        add(pending, 0)
    return {"12": keep12, "25": keep25}


MODELS = (Call, FormSubmission, TextConversation, WebhookEvent, OutboxEntry)


def remaining(account) -> set[tuple[str, int]]:
    return {(model.__name__, pk) for model in MODELS for pk in ids(model, account)}


def test_retention_deletes_exactly_the_old_rows_of_each_account(tenant, other_tenant):
    now = timezone.now()
    agency_set_retention(agency=tenant.agency, months=12, actor=tenant.owner)
    expected = {
        tenant.account: populate(tenant.account, now)["12"],
        tenant.other_account: populate(tenant.other_account, now)["12"],
        other_tenant.account: populate(other_tenant.account, now)["25"],  # Globex keeps the default 25 months
    }
    untouched = remaining(other_tenant.other_account)
    result = retention_enforce(now=now, batch_size=2)  # small batches: several rounds per model
    for account, keep in expected.items():
        assert remaining(account) == keep, account
    assert remaining(other_tenant.other_account) == untouched
    assert result[tenant.account.pk] == {
        "calls.Call": 4, "form_submissions.FormSubmission": 2, "text_conversations.TextConversation": 2,
        "webhooks.WebhookEvent": 2, "push.OutboxEntry": 2,
    }  # fmt: skip
    assert result[other_tenant.account.pk]["calls.Call"] == 2
    audit = AuditEvent.objects.filter(action="retention.enforce", client_account_id=tenant.account.pk).get()
    assert audit.after["deleted"]["calls.Call"] == 4
    # a second run finds nothing more
    assert retention_enforce(now=now) == {}


def test_the_beat_task_enforces_retention(tenant):
    old = mirror_row(Call, tenant.account, start_time=months_ago(30))
    young = mirror_row(Call, tenant.account, start_time=months_ago(1))
    assert enforce_retention_task() == 1
    assert ids(Call, tenant.account) == {young.pk}
    assert old.pk not in ids(Call, tenant.account)


def test_set_retention_validates_and_audits(tenant):
    with pytest.raises(ValidationError) as error:
        agency_set_retention(agency=tenant.agency, months=0, actor=tenant.owner)
    assert "retention_months" in error.value.message_dict
    tenant.agency.refresh_from_db()
    assert tenant.agency.retention_months == 25
    agency_set_retention(agency=tenant.agency, months=13, actor=tenant.owner)
    tenant.agency.refresh_from_db()
    assert tenant.agency.retention_months == 13
    event = AuditEvent.objects.get(action="agency.retention")
    assert (event.before, event.after, event.actor) == (
        {"retention_months": 25},
        {"retention_months": 13},
        tenant.owner,
    )


def test_sync_run_history_is_kept_its_own_days_and_the_totals_stay(tenant, other_tenant, settings):
    from datetime import timedelta

    from apps.operations.selectors import account_figures
    from apps.sync.models import SyncKind, SyncRun, SyncStatus
    from apps.sync.services import sync_totals_add

    settings.SYNC_RUN_HISTORY_DAYS = 60
    now = timezone.now()

    def run(account, status, days: float | None, queued_days: float = 0) -> SyncRun:
        finished = None if days is None else now - timedelta(days=days)
        return SyncRun.objects.create(client_account=account, kind=SyncKind.INCREMENTAL, status=status,
                                      queued_at=now - timedelta(days=queued_days), finished_at=finished,
                                      requests=5)  # fmt: skip

    gone = [run(tenant.account, SyncStatus.SUCCEEDED, 61), run(tenant.account, SyncStatus.FAILED, 70),
            run(tenant.account, SyncStatus.INTERRUPTED, 300)]  # fmt: skip
    kept = [run(tenant.account, SyncStatus.SUCCEEDED, 59),
            run(tenant.account, SyncStatus.WAITING, None, queued_days=90)]  # unfinished: kept, however old
    other = run(other_tenant.account, SyncStatus.SUCCEEDED, 31)  # within 60 days, past the agency's month
    sync_totals_add(account_id=tenant.account.pk, requests=25, rate_limited=1)  # what the five runs recorded
    agency_set_retention(agency=other_tenant.agency, months=1, actor=other_tenant.owner)  # shorter: it wins

    result = retention_enforce(now=now)
    assert ids(SyncRun, tenant.account) == {r.pk for r in kept}
    assert result[tenant.account.pk] == {"sync.SyncRun": len(gone)}
    assert other.pk not in ids(SyncRun, other_tenant.account)
    assert result[other_tenant.account.pk] == {"sync.SyncRun": 1}
    scope = lambda model: model.objects.visible_to(tenant.owner, tenant.agency)  # noqa: E731
    figures = {fig.account.pk: fig for fig in account_figures(scope, with_budget=False)}
    assert (figures[tenant.account.pk].requests_total, figures[tenant.account.pk].rate_limited_total) == (25, 1)
    assert figures[tenant.account.pk].last_success_at == kept[0].finished_at
