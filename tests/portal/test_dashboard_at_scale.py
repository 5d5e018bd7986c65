"""The dashboard at agency scale (issue 22): its queries do not grow with the agency's accounts or the number of
agencies, and its account list pages, with counts, and finds an account by name or CallRail id."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.portal.views import DashboardView
from apps.push.models import EntryStatus, OutboxEntry
from apps.sync.models import SyncKind, SyncRun, SyncStatus
from tests.conftest import make_tenant
from tests.factories import ClientAccountFactory

pytestmark = pytest.mark.django_db
PAGE = 5


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    monkeypatch.setattr(DashboardView, "paginate_by", PAGE)


ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]


def add_accounts(agency, count: int, start: int = 0) -> list:
    """Connected accounts in several time zones with a sync history: a success, and a failure in the last day for
    every other one."""
    accounts = [
        ClientAccountFactory(agency=agency, name=f"Scale Client {start + i:03d}", time_zone=ZONES[i % len(ZONES)])
        for i in range(count)
    ]
    now = timezone.now()
    runs = []
    for i, account in enumerate(accounts):
        runs.append(SyncRun(client_account=account, kind=SyncKind.FULL, status=SyncStatus.SUCCEEDED,
                            started_at=now, finished_at=now))  # fmt: skip
        if i % 2:
            runs.append(SyncRun(client_account=account, kind=SyncKind.INCREMENTAL, status=SyncStatus.FAILED,
                                started_at=now, finished_at=now))  # fmt: skip
    SyncRun.objects.bulk_create(runs)
    return accounts


def queries(client, url: str) -> int:
    client.get(url)  # warm: what a first request caches is not the page's cost
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_queries_do_not_grow_with_accounts_agencies_or_time_zones(login, tenant):
    client = login(tenant.owner)
    add_accounts(tenant.agency, 2)
    few = queries(client, "/")
    add_accounts(tenant.agency, 4 * PAGE, start=100)
    for n in range(3):
        add_accounts(make_tenant(f"Other {n}").agency, PAGE + 1)
    assert queries(client, "/") == few
    assert queries(client, "/?page=3") == few


def test_the_account_list_pages_with_counts(login, tenant):
    client = login(tenant.owner)
    accounts = add_accounts(tenant.agency, 2 * PAGE)  # and the tenant's own two: 12 in all
    names = sorted([a.name for a in accounts] + [tenant.account.name, tenant.other_account.name])
    first = client.get("/").content.decode()
    assert "12 client accounts · showing 1–5" in first
    assert all(name in first for name in names[:PAGE])
    assert not any(name in first for name in names[PAGE:])
    assert "Page 1 of 3" in first
    assert 'rel="next"' in first
    last = client.get("/?page=3").content.decode()
    assert "showing 11–12" in last
    assert all(name in last for name in names[2 * PAGE :])
    assert not any(name in last for name in names[: 2 * PAGE])
    assert 'rel="prev"' in last
    assert 'rel="next"' not in last


def test_the_figures_cover_every_account_not_only_the_page(login, tenant):
    accounts = add_accounts(tenant.agency, 2 * PAGE)
    far = accounts[-1]  # on the last page
    OutboxEntry.objects.create(client_account=far, resource="calls", object_pk=1, operation="update",
                               status=EntryStatus.FAILED)  # fmt: skip
    page = login(tenant.owner).get("/").content.decode()
    assert far.name not in page
    assert "1 edit did not reach CallRail" in page


def test_find_an_account_by_name_or_callrail_id(login, tenant):
    client = login(tenant.owner)
    accounts = add_accounts(tenant.agency, 2 * PAGE)
    page = client.get("/", {"q": "client 007"}).content.decode()
    assert "1 of 12 client accounts match “client 007”" in page
    assert accounts[7].name in page
    assert accounts[6].name not in page
    page = client.get("/", {"q": accounts[3].callrail_account_id}).content.decode()
    assert accounts[3].name in page
    assert accounts[4].name not in page
    page = client.get("/", {"q": "nothing like it"}).content.decode()
    assert "No client account matches “nothing like it”" in page


def test_another_agencys_accounts_are_never_listed_or_counted(login, tenant, other_tenant):
    add_accounts(other_tenant.agency, 3 * PAGE)
    page = login(tenant.owner).get("/").content.decode()
    assert "2 client accounts" in page
    assert other_tenant.account.name not in page
    assert 'rel="next"' not in page
