"""Every resource page over data the sync engine pulled from the CallRail sandbox (real payload shapes)."""

from __future__ import annotations

import csv
import io
from html import escape

import pytest
from django.urls import reverse

from apps.portal.catalog import PORTAL_RESOURCES
from tests.sync.conftest import _clear_redis, add_integrations, execute, point_at_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced_account(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    add_integrations(account)  # integrations, integration triggers, an unverified outbound caller ID per company
    run = execute(account)
    assert run.status == "succeeded", run.errors
    yield account
    _clear_redis(account.pk)


def test_every_list_detail_and_export_over_synced_data(login, tenant, synced_account):
    filled = 0
    for resource in PORTAL_RESOURCES:
        every = {"date_range": "all_time"} if "date_range" in {f.name for f in resource.filters} else {}
        records = resource.model.objects.for_account(synced_account).live()
        expected = records.count()
        filled += bool(expected)
        # the agency's CallRail set-up is read by its staff; clients read their calls, forms, texts, companies
        client = login(tenant.staff if resource.staff_only else tenant.client_user)
        response = client.get(reverse("portal:resource_list", args=[synced_account.pk, resource.name]), every)
        assert response.status_code == 200, resource.name
        assert response.context["page"].count == expected, resource.name
        if not expected:
            assert "yet</h2>" in response.content.decode()  # the empty state
        for record in records.order_by("pk")[:3]:
            detail = client.get(reverse("portal:resource_detail", args=[synced_account.pk, resource.name, record.pk]))
            assert detail.status_code == 200, (resource.name, record.pk)
            assert escape(resource.title(record)) in detail.content.decode()  # titled for people, not by id
        export = client.get(reverse("portal:resource_export", args=[synced_account.pk, resource.name]), every)
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
        assert len(rows) == expected + 1, resource.name
    assert filled == len(PORTAL_RESOURCES)  # the seed and add_integrations: every resource has records


def test_call_filters_agree_with_the_mirror_on_synced_calls(login, tenant, synced_account):
    from apps.calls.models import Call

    client = login(tenant.staff)
    url = reverse("portal:resource_list", args=[synced_account.pk, "calls"])
    calls = Call.objects.for_account(synced_account).live()
    checks = {
        "answered": calls.filter(answered=True).count(),
        "voicemail": calls.filter(voicemail=True).count(),
        "missed": calls.exclude(answered=True).exclude(voicemail=True).count(),
    }
    for status, expected in checks.items():
        assert client.get(url, {"answer_status": status, "date_range": "all_time"}).context["page"].count == expected
    assert sum(checks.values()) >= calls.count()  # every call is in at least one bucket
    tagged = calls.exclude(tags=[]).first()
    assert tagged is not None
    tag = tagged.tags[0]
    count = client.get(url, {"tag": tag, "date_range": "all_time"}).context["page"].count
    assert count == sum(1 for c in calls if tag in c.tags)
