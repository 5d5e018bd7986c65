"""Every bulk action through the pages (choose, preview, confirm) and the job's service, on mirrored rows: each
record's edit is queued to the outbox through the mirror app's service, or refused with the service's reason."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from apps.bulk.actions import ACTIONS
from apps.bulk.models import BulkJob, JobStatus
from apps.bulk.services import bulk_job_run
from apps.push.models import OutboxEntry
from tests.portal.mirror import every_resource

pytestmark = pytest.mark.django_db

# (resource, action) -> (parameters, succeeded, unchanged, failed, a reason expected among the failures)
CASES: dict[tuple[str, str], tuple[dict[str, Any], int, int, int, str]] = {
    ("calls", "tags_add"): ({"tags": ["Acme-vip"]}, 0, 1, 0, ""),
    ("calls", "tags_remove"): ({"tags": ["Acme-vip"]}, 1, 0, 0, ""),
    ("calls", "lead_status"): ({"lead_status": "not_a_lead"}, 1, 0, 0, ""),
    ("calls", "spam"): ({}, 1, 0, 0, ""),
    ("calls", "value"): ({"value": "99.50"}, 1, 0, 0, ""),
    ("calls", "text_back"): ({"template": "Hi {name}, sorry we missed you!"}, 0, 0, 1, "can send texts"),
    ("form_submissions", "text_back"): ({"template": "Hi {name}, thanks!"}, 0, 0, 1, "No valid US or Canadian"),
    ("trackers", "disable"): ({}, 1, 0, 0, ""),
    ("companies", "time_zone"): ({"time_zone": "America/Chicago"}, 1, 0, 0, ""),
    ("companies", "disable"): ({}, 0, 0, 1, "at least one active company"),
    ("companies", "notify_email"): (
        {"email": "ops@acme.test", "alert_type": "all", "call_enabled": "on", "send_email": "on"},
        1,
        0,
        0,
        "",
    ),
    ("companies", "summary_email"): (
        {"email": "ops@acme.test", "frequency": ["weekly"], "config": ["summary_statistics"]},
        1,
        0,
        0,
        "",
    ),
    ("tags", "recolour"): ({"color": "blue1"}, 1, 0, 0, ""),
    ("tags", "delete"): ({}, 1, 0, 0, ""),
    ("users", "companies_add"): ({"companies": "COMPANY"}, 0, 1, 0, ""),
    ("users", "companies_remove"): ({"companies": "COMPANY"}, 0, 0, 1, "at least one company"),
    ("users", "notify"): ({"alert_type": "first_call", "call_enabled": "on", "send_email": "on"}, 1, 0, 0, ""),
    ("users", "summary"): ({"frequency": ["daily"], "config": ["call_log"]}, 1, 0, 0, ""),
    ("notifications", "copy"): ({"targets": "TARGET"}, 1, 0, 0, ""),
    ("notifications", "delete"): ({}, 1, 0, 0, ""),
    ("summary_emails", "copy"): ({"targets": "TARGET"}, 1, 0, 0, ""),
    ("summary_emails", "delete"): ({}, 1, 0, 0, ""),
}


def test_every_action_has_a_case():
    assert {(a.resource, a.name) for a in ACTIONS} == set(CASES)


@pytest.mark.parametrize(("resource", "name"), list(CASES))
def test_action_from_preview_to_report(login, tenant, resource, name):
    rows = every_resource(tenant.account)
    target_rows = every_resource(tenant.other_account)  # same names: a copy finds its user and company there
    params, succeeded, unchanged, failed, reason = CASES[(resource, name)]
    params = dict(params)
    if params.get("companies") == "COMPANY":
        params["companies"] = [str(rows["companies"].pk)]
    if params.get("targets") == "TARGET":
        params["targets"] = [str(tenant.other_account.pk)]
        existing = target_rows[resource]  # the target has the same set-up already: remove it to copy it anew
        type(existing).objects.for_account(tenant.other_account).filter(pk=existing.pk).delete()
    client = login(tenant.staff)
    start = reverse("bulk:start", args=[tenant.account.pk, resource])
    assert client.get(start, {"action": name, "scope": "all"}).status_code == 200
    response = client.post(start, {"action": name, "scope": "all", "query": "", **params})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert response.context["preview"].count == 1
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)
    response = client.post(reverse("bulk:confirm", args=[tenant.account.pk, resource]),
                           {"token": token, "confirm": "yes"})  # fmt: skip
    assert response.status_code == 302
    job = bulk_job_run(job=BulkJob.objects.for_account(tenant.account).get())
    assert job.status == JobStatus.DONE, job.message
    assert (job.succeeded, job.unchanged, job.failed) == (succeeded, unchanged, failed), job.failures
    if reason:
        assert reason in job.failures[0]["reason"]
    queued = OutboxEntry.objects.for_account(tenant.other_account if params.get("targets") else tenant.account)
    assert queued.count() == succeeded
    assert all(e.actor_id == tenant.staff.pk for e in queued)
    if params.get("targets"):
        entry = queued.get()
        assert entry.operation == "create"
        created = type(target_rows[resource]).objects.for_account(tenant.other_account).get(pk=entry.object_pk)
        assert (created.user_id, created.company_id) == (target_rows["users"].pk, target_rows["companies"].pk)
    page = client.get(reverse("bulk:job", args=[tenant.account.pk, job.pk])).content.decode()
    assert 'data-status="done"' in page
    jobs = client.get(reverse("bulk:jobs", args=[tenant.account.pk])).content.decode()
    assert reverse("bulk:job", args=[tenant.account.pk, job.pk]) in jobs


def test_copy_reports_accounts_without_a_match(login, tenant):
    every_resource(tenant.account)
    every_resource(tenant.other_account, label="Other")  # other names: nothing to match
    client = login(tenant.staff)
    start = reverse("bulk:start", args=[tenant.account.pk, "notifications"])
    response = client.post(start, {"action": "copy", "scope": "all", "targets": [str(tenant.other_account.pk)]})
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)
    client.post(reverse("bulk:confirm", args=[tenant.account.pk, "notifications"]), {"token": token})
    job = bulk_job_run(job=BulkJob.objects.for_account(tenant.account).get())
    assert (job.succeeded, job.failed) == (0, 1)
    assert job.failures[0]["target"] == tenant.other_account.name
    assert "no CallRail user manager@acme.test" in job.failures[0]["reason"]
    assert not OutboxEntry.objects.for_account(tenant.other_account).exists()


def test_copy_targets_are_limited_to_visible_accounts(login, tenant, other_tenant):
    every_resource(tenant.account)
    client = login(tenant.staff)
    start = reverse("bulk:start", args=[tenant.account.pk, "notifications"])
    response = client.post(start, {"action": "copy", "scope": "all", "targets": [str(other_tenant.account.pk)]})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
