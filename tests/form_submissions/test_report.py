"""The forms report (issue 21): CallRail's documented form summary on the account's page (a company-limited client
sees one company of theirs, never whole-account totals) and the documented "ignored fields" setting, sent through
the outbox; clients cannot change it."""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from apps.companies.models import Company
from apps.form_submissions.models import FormSubmission, IgnoredFormField
from apps.push.models import EntryStatus
from tests.push.conftest import drain, request_log
from tests.text_conversations.test_sending import synced  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def report(account) -> str:
    return reverse("portal:forms_report", args=[account.pk])


def test_the_summary_matches_the_mirrored_submissions_and_groups_by_source(synced, tenant, login, sandbox):  # noqa: F811
    client = login(tenant.staff)
    assert client.get(report(synced)).context["summary"] is None  # the page asks for it on load
    assert not [r for r in request_log(sandbox, synced) if r["path"].endswith("/forms/summary.json")]
    response = client.get(report(synced), {"summary": "1"})
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary is not None, response.context["problem"]
    assert summary.grouped_by == "source"
    assert summary.totals["total_forms"] == sum(r["total_forms"] for r in summary.rows)
    mirrored = FormSubmission.objects.for_account(synced).live().count()
    assert 0 < summary.totals["total_forms"] <= mirrored
    html = unescape(response.content.decode())
    assert "Form submissions" in html
    assert 'id="ignored-fields"' in html
    summaries = [r for r in request_log(sandbox, synced) if r["path"].endswith("/forms/summary.json")]
    assert len(summaries) == 1


def test_a_company_limited_client_gets_one_company_never_the_whole_account(synced, tenant, login, sandbox):  # noqa: F811
    membership = tenant.client_user.memberships.get(agency=tenant.agency)
    company = Company.objects.for_account(synced).live().order_by("name").first()
    membership.companies.set([company])
    response = login(tenant.client_user).get(report(synced), {"summary": "1"})
    assert response.status_code == 200
    assert response.context["company"] == company
    assert 'id="ignored-fields"' not in response.content.decode()
    theirs = response.context["summary"].totals["total_forms"]
    assert theirs <= FormSubmission.objects.for_account(synced).live().filter(company=company).count()
    whole = login(tenant.staff).get(report(synced), {"summary": "1"}).context["summary"].totals["total_forms"]
    assert whole > theirs  # the other companies' submissions are not in the client's figures
    assert login(tenant.client_user).post(report(synced), {"field_names": "ssn"}).status_code == 403


def test_ignored_fields_are_sent_to_callrail_and_listed(synced, tenant, login, sandbox):  # noqa: F811
    client = login(tenant.staff)
    response = client.post(report(synced), {"field_names": "bad name!"})
    assert response.status_code == 422
    assert "Not a form field name" in unescape(response.content.decode())
    response = client.post(report(synced), {"field_names": "date_of_birth, ssn_last4"}, follow=True)
    assert 'data-state="pending"' in response.content.decode()
    drain(synced)
    rows = list(IgnoredFormField.objects.for_account(synced).select_related("entry"))
    assert sorted(r.field_name for r in rows) == ["date_of_birth", "ssn_last4"]
    assert {r.entry.status for r in rows} == {EntryStatus.DONE}
    posts = [r for r in request_log(sandbox, synced) if r["method"] == "POST" and "ignored_fields" in r["path"]]
    assert len(posts) == 2
    assert client.post(report(synced), {"field_names": "ssn_last4"}).status_code == 302  # already ignored: no entry
    assert IgnoredFormField.objects.for_account(synced).count() == 2
