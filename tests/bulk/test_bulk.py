"""Bulk actions against the CallRail sandbox: preview counts and budget estimate, a job run by a real Celery
worker over "all matching" a filter whose edits drain to the sandbox, per-record failures with reasons, foreign
ids ignored, permissions, and audit events that carry the person who started the job."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.bulk.models import BulkJob, JobStatus
from apps.bulk.services import bulk_job_run
from apps.calls.models import Call
from apps.companies.models import Company
from apps.push.models import EntryStatus, OutboxEntry
from apps.tags.models import Tag
from tests.portal.mirror import call as mirror_call
from tests.portal.mirror import mirror
from tests.push.conftest import drain, mirrored, upstream  # noqa: F401  (fixture)
from tests.sync.conftest import sandbox_account  # noqa: F401  (fixture)
from tests.workers import wait_for


def company_and_tag(account: Any) -> tuple[Company, Tag, Company]:
    """The company with the most calls, an enabled company tag of it, and another company with calls."""
    calls = Call.objects.for_account(account).live()
    counts: dict[int, int] = {}
    for company_id in calls.values_list("company_id", flat=True):
        counts[company_id] = counts.get(company_id, 0) + 1
    ranked = sorted((c for c in counts if c), key=lambda c: -counts[c])
    assert len(ranked) >= 2, "the sandbox seed has fewer than two companies with calls"
    tag = (
        Tag.objects.for_account(account)
        .live()
        .filter(company_id=ranked[0], status="enabled")
        .exclude(callrail_id__startswith="pending:")
        .order_by("name")
        .first()
    )
    assert tag is not None, "the sandbox seed has no company tag on the company with most calls"
    companies = Company.objects.for_account(account)
    return companies.get(pk=ranked[0]), tag, companies.get(pk=ranked[1])


def preview(client, account, *, query: str = "", ids: list[int] | None = None, **params: Any):
    data: dict[str, Any] = {"action": "tags_add", "query": query, **params}
    if ids is None:
        data["scope"] = "all"
    else:
        data.update(scope="selected", ids=[str(i) for i in ids])
    return client.post(reverse("bulk:start", args=[account.pk, "calls"]), data)


def token_of(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


@pytest.mark.django_db
def test_preview_counts_and_request_estimate(login, tenant, mirrored):  # noqa: F811
    account = mirrored
    company, tag, _ = company_and_tag(account)
    matching = list(Call.objects.for_account(account).live().filter(company=company))
    lacking = [c for c in matching if tag.name.lower() not in {t.lower() for t in c.tags or []}]
    assert lacking, "every call of the company already has the tag: choose another"

    client = login(tenant.staff)
    query = f"company={company.pk}&sort=-start_time&date_range=all_time"
    response = preview(client, account, query=query, tags=[tag.name])
    assert response.status_code == 200, response.content.decode()[:3000]
    page = response.content.decode()
    preview_obj = response.context["preview"]
    assert preview_obj.count == len(matching)
    assert preview_obj.expected_changes == len(lacking)
    assert preview_obj.refused == 0
    [estimate] = preview_obj.estimates
    assert estimate.account == account
    assert estimate.requests == len(lacking)
    assert estimate.hour_left > 0
    assert estimate.day_left > 0
    assert f'id="preview-requests">{len(lacking)}<' in page
    assert f"add {tag.name}" in page
    # a dry run: nothing changed, nothing queued
    assert not OutboxEntry.objects.for_account(account).exists()
    assert not BulkJob.objects.for_account(account).exists()


@pytest.mark.django_db
def test_invalid_parameters_keep_the_input_and_say_why(login, tenant, mirrored):  # noqa: F811
    client = login(tenant.staff)
    account = mirrored
    response = client.post(
        reverse("bulk:start", args=[account.pk, "calls"]),
        {"action": "value", "scope": "all", "query": "spam=no", "value": "12,3x"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "is not an amount" in page
    assert 'value="12,3x"' in page  # nothing typed is lost
    assert 'name="query" value="spam=no"' in page
    response = preview(client, account, ids=[])
    assert response.status_code == 400
    assert "Select at least one row" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_bulk_tag_add_over_all_matching_runs_in_a_worker_and_drains_to_the_sandbox(
    login,
    tenant,
    mirrored,  # noqa: F811
    sandbox,
    celery_worker,
):
    account = mirrored
    company, tag, _ = company_and_tag(account)
    matching = list(Call.objects.for_account(account).live().filter(company=company))
    lacking = {c.pk for c in matching if tag.name.lower() not in {t.lower() for t in c.tags or []}}
    client = login(tenant.staff)
    response = preview(client, account, query=f"company={company.pk}&date_range=all_time", tags=[tag.name])
    assert response.status_code == 200
    response = client.post(reverse("bulk:confirm", args=[account.pk, "calls"]), {"token": token_of(response)})
    assert response.status_code == 302
    job = BulkJob.objects.for_account(account).get()
    assert response["Location"] == reverse("bulk:job", args=[account.pk, job.pk])

    def finished():
        job.refresh_from_db()
        return job.finished

    wait_for(finished, timeout=90, step=0.3, what="the bulk job")
    assert job.status == JobStatus.DONE, job.message
    assert job.all_matching
    assert job.total == len(matching)
    assert (job.done, job.succeeded, job.unchanged, job.failed) == (
        len(matching), len(lacking), len(matching) - len(lacking), 0,
    )  # fmt: skip
    assert job.requested_by == tenant.staff

    entries = OutboxEntry.objects.for_account(account).filter(resource="calls")
    assert set(entries.values_list("object_pk", flat=True)) == lacking
    # the worker drains the outbox (push queue) to the sandbox
    wait_for(
        lambda: not entries.exclude(status=EntryStatus.DONE).exists(), timeout=90, step=0.3, what="the outbox to drain"
    )
    for call in Call.objects.for_account(account).filter(pk__in=list(lacking)[:5]):
        record = upstream(sandbox, account, "calls", call.callrail_id)
        assert tag.name in record["tags"] or tag.name in [t.get("name") for t in record["tags"] if isinstance(t, dict)]

    # the progress partial and the report
    page = client.get(reverse("bulk:job_progress", args=[account.pk, job.pk])).content.decode()
    assert 'data-status="done"' in page
    assert "hx-trigger" not in page
    assert reverse("push:outbox", args=[account.pk]) in page

    # audit: one event for the job (start and end) and one per record, all for the person who started it
    events = AuditEvent.objects.filter(client_account_id=account.pk)
    job_events = events.filter(action__startswith="bulk.job_")
    assert set(job_events.values_list("action", flat=True)) == {"bulk.job_start", "bulk.job_finish"}
    assert set(job_events.values_list("actor_id", flat=True)) == {tenant.staff.pk}
    record_events = events.filter(action="calls.update", object_type="calls.call")
    assert record_events.count() == len(lacking)
    assert set(record_events.values_list("actor_id", flat=True)) == {tenant.staff.pk}
    assert set(record_events.values_list("via", flat=True)) == {"task"}


@pytest.mark.django_db
def test_failures_are_reported_with_reasons_and_foreign_ids_ignored(login, tenant, other_tenant, mirrored):  # noqa: F811
    account = mirrored
    company, _, other_company = company_and_tag(account)
    # a tag only this company has (mirrored as a pull would): on the other company's call it is unknown
    tag = mirror(Tag, account, name="Bulk Only", tag_level="company", company=company, status="enabled", color="blue1")
    ours = list(Call.objects.for_account(account).live().filter(company=company).order_by("pk")[:4])
    elsewhere = Call.objects.for_account(account).live().filter(company=other_company).first()
    foreign = mirror_call(other_tenant.account)
    ids = [c.pk for c in ours] + [elsewhere.pk, foreign.pk]
    client = login(tenant.staff)
    response = preview(client, account, ids=ids, tags=[tag.name])
    assert response.status_code == 200
    shown = response.context["preview"]
    assert shown.count == 5
    assert shown.ignored_ids == [foreign.pk]
    assert shown.refused == 0  # the tag check happens in the service, the preview plans names only
    response = client.post(reverse("bulk:confirm", args=[account.pk, "calls"]), {"token": token_of(response)})
    assert response.status_code == 302
    job = BulkJob.objects.for_account(account).get()

    # one selected call disappears before the job reaches it
    gone = ours[0]
    Call.objects.for_account(account).filter(pk=gone.pk).update(deleted_upstream_at=timezone.now())
    job = bulk_job_run(job=job)  # the task's service, in this process

    assert job.status == JobStatus.DONE
    assert job.ignored_ids == [foreign.pk]
    assert job.total == 5
    assert job.done == 5
    reasons = {f["id"]: f["reason"] for f in job.failures}
    assert set(reasons) == {gone.pk, elsewhere.pk}
    assert "deleted meanwhile" in reasons[gone.pk]
    assert "Unknown tag" in reasons[elsewhere.pk]
    assert job.failed == 2
    assert job.succeeded + job.unchanged == 3
    assert not OutboxEntry.objects.for_account(other_tenant.account).exists()
    foreign.refresh_from_db()
    assert tag.name not in (foreign.tags or [])
    page = client.get(reverse("bulk:job", args=[account.pk, job.pk])).content.decode()
    assert "Unknown tag" in page
    assert "deleted meanwhile" in page
    assert str(foreign.pk) in page


@pytest.mark.django_db
def test_destructive_actions_need_the_confirmation_and_a_genuine_preview(login, tenant, mirrored):  # noqa: F811
    account = mirrored
    tag = Tag.objects.for_account(account).live().filter(status="enabled").order_by("pk").first()
    client = login(tenant.staff)
    response = client.post(
        reverse("bulk:start", args=[account.pk, "tags"]), {"action": "delete", "scope": "selected", "ids": [tag.pk]}
    )
    assert response.status_code == 200
    token = token_of(response)
    confirm = reverse("bulk:confirm", args=[account.pk, "tags"])
    response = client.post(confirm, {"token": token})
    assert response.status_code == 400
    assert "Tick the confirmation box" in response.content.decode()
    response = client.post(confirm, {"token": token[:-3] + "abc", "confirm": "yes"})
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    # another person cannot replay the preview
    response = login(tenant.admin).post(confirm, {"token": token, "confirm": "yes"})
    assert response.status_code == 400
    assert not BulkJob.objects.for_account(account).exists()
    response = login(tenant.staff).post(confirm, {"token": token, "confirm": "yes"})
    assert response.status_code == 302
    job = bulk_job_run(job=BulkJob.objects.for_account(account).get())
    assert (job.succeeded, job.failed) == (1, 0)
    entry = OutboxEntry.objects.for_account(account).get()
    assert (entry.resource, entry.operation, entry.object_pk) == ("tags", "delete", tag.pk)


@pytest.mark.django_db
def test_clients_never_get_bulk_actions_and_other_agencies_are_404(login, tenant, other_tenant):
    account = tenant.account
    start = reverse("bulk:start", args=[account.pk, "calls"])
    client = login(tenant.client_user)
    assert client.get(start).status_code == 403
    assert client.post(start, {"action": "tags_add", "scope": "all"}).status_code == 403
    assert client.get(reverse("bulk:jobs", args=[account.pk])).status_code == 403
    assert client.post(reverse("bulk:confirm", args=[account.pk, "calls"]), {"token": "x"}).status_code == 403
    page = client.get(reverse("portal:resource_list", args=[account.pk, "calls"])).content.decode()
    assert "bulk-form" not in page
    assert "bulk-row" not in page

    staff = login(tenant.staff)
    assert staff.get(start).status_code == 200
    mirror(Company, account, name="Acme North", status="active", time_zone="America/New_York")
    page = staff.get(reverse("portal:resource_list", args=[account.pk, "companies"])).content.decode()
    assert 'id="bulk-form"' in page
    foreign_job = BulkJob.objects.create(
        client_account=other_tenant.account, agency=other_tenant.agency, resource="calls", action="tags_add"
    )
    for url in (
        reverse("bulk:start", args=[other_tenant.account.pk, "calls"]),
        reverse("bulk:jobs", args=[other_tenant.account.pk]),
        reverse("bulk:job", args=[other_tenant.account.pk, foreign_job.pk]),
        reverse("bulk:job", args=[account.pk, foreign_job.pk]),
        reverse("bulk:job_progress", args=[account.pk, foreign_job.pk]),
    ):
        assert staff.get(url).status_code == 404, url
    assert staff.post(reverse("bulk:start", args=[other_tenant.account.pk, "calls"]), {}).status_code == 404
    # a list without bulk actions
    assert staff.get(reverse("bulk:start", args=[account.pk, "integrations"])).status_code == 404
