"""Edits made through the portal's forms reach the CallRail sandbox over HTTP (outbox drained in-process)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.calls.models import Call
from apps.companies.models import Company
from apps.push.models import PENDING_PREFIX, EntryStatus
from apps.tags.models import Tag
from tests.push.conftest import drain, entries, mirrored, upstream  # noqa: F401  (fixtures)
from tests.sync.conftest import sandbox_account  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_call_form_edit_reaches_the_sandbox_and_the_badge_turns_synced(login, tenant, mirrored, sandbox):  # noqa: F811
    the_call = Call.objects.for_account(mirrored).exclude(company=None).filter(spam=False).order_by("pk").first()
    tag = Tag.objects.for_account(mirrored).live().filter(company=the_call.company, status="enabled").first()
    client = login(tenant.staff)
    url = reverse("portal:resource_edit", args=[mirrored.pk, "calls", the_call.pk])
    response = client.post(url, {
        "note": "Wants a quote by Friday", "lead_status": "good_lead", "value": "310.25", "tags": tag.name,
        "tags_mode": "replace", "customer_name": "Pat Doe",
    })  # fmt: skip
    assert response.status_code == 302
    badge_url = reverse("portal:resource_badge", args=[mirrored.pk, "calls", the_call.pk])
    assert "Pending" in client.get(badge_url).content.decode()
    drain(mirrored)
    up = upstream(sandbox, mirrored, "calls", the_call.callrail_id)
    the_call.refresh_from_db()
    assert (up["note"], up["lead_status"], up["customer_name"]) == ("Wants a quote by Friday", "good_lead", "Pat Doe")
    assert float(up["value"]) == 310.25
    assert float(the_call.value) == 310.25
    assert up["tags"] == [tag.name] or [t["name"] for t in up["tags"]] == [tag.name]
    assert "Synced" in client.get(badge_url).content.decode()
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored))


def test_tag_created_renamed_and_deleted_through_the_pages(login, tenant, mirrored, sandbox):  # noqa: F811
    company = Company.objects.for_account(mirrored).live().filter(status="active").order_by("pk").first()
    client = login(tenant.staff)
    response = client.post(
        reverse("portal:resource_create", args=[mirrored.pk, "tags"]),
        {"name": "Portal tag", "color": "purple1", "tag_level": "company", "company": company.pk},
    )
    assert response.status_code == 302
    tag = Tag.objects.for_account(mirrored).get(name="Portal tag")
    assert tag.callrail_id.startswith(PENDING_PREFIX)
    drain(mirrored)
    tag.refresh_from_db()
    up = upstream(sandbox, mirrored, "tags", tag.callrail_id)
    assert (up["name"], up["color"]) == ("Portal tag", "purple1")
    client.post(
        reverse("portal:resource_edit", args=[mirrored.pk, "tags", tag.pk]), {"name": "Portal tag 2", "color": "red1"}
    )
    drain(mirrored)
    up = upstream(sandbox, mirrored, "tags", tag.callrail_id)
    assert (up["name"], up["color"]) == ("Portal tag 2", "red1")
    client.post(reverse("portal:resource_delete", args=[mirrored.pk, "tags", tag.pk]))
    drain(mirrored)
    assert upstream(sandbox, mirrored, "tags", tag.callrail_id) is None


def test_a_4xx_from_callrail_shows_as_a_failed_badge_with_its_message(login, tenant, mirrored, sandbox):  # noqa: F811
    from apps.callrail.client import client_for_account

    company = Company.objects.for_account(mirrored).live().filter(status="active").order_by("pk").first()
    # someone creates the tag in CallRail itself after the last pull: the mirror does not know it
    client_for_account(mirrored, lane="interactive").post(
        "tags.json", json={"name": "Referral", "company_id": company.callrail_id}
    )
    client = login(tenant.staff)
    response = client.post(
        reverse("portal:resource_create", args=[mirrored.pk, "tags"]),
        {"name": "Referral", "color": "blue1", "tag_level": "company", "company": company.pk},
    )
    tag = Tag.objects.for_account(mirrored).get(name="Referral")
    drain(mirrored)
    body = client.get(response["Location"]).content.decode()
    assert "push-failed" in body
    assert "Name has already been taken" in body
    assert reverse("push:outbox", args=[mirrored.pk]) in body
    tag.refresh_from_db()  # the edit is kept, to fix or retry
    assert tag.name == "Referral"


def test_company_summary_email_and_webhooks_through_the_pages_equal_the_sandbox(login, tenant, mirrored, sandbox):  # noqa: F811
    from apps.integrations.models import Integration
    from apps.summary_emails.models import SummaryEmail
    from apps.users.models import CallRailUser

    client = login(tenant.staff)
    create = reverse("portal:resource_create", args=[mirrored.pk, "companies"])
    assert client.post(create, {"name": "Portal Branch", "time_zone": "America/Denver"}).status_code == 302
    drain(mirrored)
    company = Company.objects.for_account(mirrored).get(name="Portal Branch")
    up = upstream(sandbox, mirrored, "companies", company.callrail_id)
    assert (up["name"], up["time_zone"]) == ("Portal Branch", "America/Denver")
    edit = reverse("portal:resource_edit", args=[mirrored.pk, "companies", company.pk])
    assert client.post(edit, {"name": "Portal Branch West", "time_zone": "America/Denver"}).status_code == 302
    drain(mirrored)
    assert upstream(sandbox, mirrored, "companies", company.callrail_id)["name"] == "Portal Branch West"

    user = CallRailUser.objects.for_account(mirrored).live().order_by("pk").first()
    response = client.post(
        reverse("portal:resource_create", args=[mirrored.pk, "summary_emails"]),
        {"user": user.pk, "frequency": ["weekly"], "config": ["summary_statistics", "top_sources"]},
    )
    assert response.status_code == 302, response.context["form"].errors
    drain(mirrored)
    summary = SummaryEmail.objects.for_account(mirrored).live().order_by("-pk").first()
    up = upstream(sandbox, mirrored, "summary_emails", summary.callrail_id)
    assert up["frequency"] == ["weekly"] or up["frequency"] == "weekly"

    response = client.post(
        reverse("portal:resource_create", args=[mirrored.pk, "integrations"]),
        {"company": company.pk, "post_call_webhook": "https://hooks.example.com/post"},
    )
    assert response.status_code == 302, response.context["form"].errors
    drain(mirrored)
    integration = Integration.objects.for_account(mirrored).live().get(company=company)
    up = upstream(sandbox, mirrored, "integrations", integration.callrail_id)
    assert up["config"]["post_call_webhook"] == ["https://hooks.example.com/post"]

    disable = reverse("portal:resource_delete", args=[mirrored.pk, "companies", company.pk])
    assert "Yes, disable" in client.get(disable).content.decode()
    assert client.post(disable).status_code == 302
    drain(mirrored)
    up = upstream(sandbox, mirrored, "companies", company.callrail_id)
    assert up is None or up["status"] == "disabled"
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored)), [
        (e.resource, e.message) for e in entries(mirrored)
    ]
