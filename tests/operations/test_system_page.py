"""The system page: owners (and operators) only; queues, workers, heartbeat and each account of the agency."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from apps.core.redis import get_redis
from apps.core.tasks import heartbeat
from apps.operations.selectors import PING_CACHE_KEY

pytestmark = pytest.mark.django_db
URL = "/agency/system/"


def test_url_name():
    assert reverse("operations:system") == URL


@pytest.mark.parametrize("role", ["admin", "staff", "restricted_staff", "client_user"])
def test_others_are_refused(login, tenant, role):
    assert login(getattr(tenant, role)).get(URL).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_owner_sees_queues_heartbeat_and_only_their_accounts(login, tenant, other_tenant):
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    conn = get_redis()
    conn.delete(f"{prefix}push")
    conn.rpush(f"{prefix}push", *["m"] * 7)
    cache.delete(PING_CACHE_KEY)
    heartbeat()
    try:
        response = login(tenant.owner).get(URL)
    finally:
        conn.delete(f"{prefix}push")
    assert response.status_code == 200
    queues = dict(response.context["queues"])
    assert queues["push"] == 7
    assert set(queues) == {"default", "sync", "push", "webhooks", "email"}
    assert response.context["heartbeat"] is not None
    assert not response.context["heartbeat_stale"]
    assert response.context["ping"] is None  # not pinged by the page: loaded afterwards (below)
    html = response.content.decode()
    assert tenant.account.name in html
    assert tenant.other_account.name in html
    assert other_tenant.account.name not in html
    assert other_tenant.other_account.name not in html
    assert reverse("operations:system_workers") in html
    assert "asking the workers" in html

    workers = login(tenant.owner).get(reverse("operations:system_workers"))
    assert workers.status_code == 200
    assert workers.context["ping"].workers == ()  # no worker runs in this test
    assert "no worker answered" in workers.content.decode()
    again = login(tenant.owner).get(URL)  # a recent answer is shown at once
    assert again.context["ping"].workers == ()
    assert "no worker answered" in again.content.decode()


def test_the_page_never_waits_for_workers_to_answer_a_ping(login, tenant):
    """The ping waits up to a second when no worker answers: the page itself never sends one."""
    cache.delete(PING_CACHE_KEY)
    assert login(tenant.owner).get(URL).status_code == 200
    assert cache.get(PING_CACHE_KEY) is None


@pytest.mark.parametrize("role", ["admin", "staff", "client_user"])
def test_others_cannot_ping_the_workers(login, tenant, role):
    assert login(getattr(tenant, role)).get(reverse("operations:system_workers")).status_code == 403


def test_superuser_sees_the_page(login, superuser, tenant):
    assert login(superuser).get(URL).status_code == 200


@pytest.mark.worker
def test_a_running_worker_answers_the_ping(celery_worker, login, tenant):
    cache.delete(PING_CACHE_KEY)
    response = login(tenant.owner).get(reverse("operations:system_workers"))
    assert response.status_code == 200
    workers = response.context["ping"].workers
    assert any(name.startswith(celery_worker.name.split("@")[0]) for name in workers), workers


def _accounts(agency, count: int, start: int = 0) -> list:
    from django.utils import timezone

    from apps.sync.models import SyncKind, SyncRun, SyncStatus
    from tests.factories import ClientAccountFactory

    accounts = [ClientAccountFactory(agency=agency, name=f"Scale Client {start + i:03d}") for i in range(count)]
    now = timezone.now()
    SyncRun.objects.bulk_create([
        SyncRun(client_account=a, kind=SyncKind.FULL, status=SyncStatus.SUCCEEDED, started_at=now, finished_at=now)
        for a in accounts
    ])  # fmt: skip
    return accounts


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_queries_do_not_grow_with_accounts_or_agencies(login, tenant, monkeypatch):
    from apps.operations.views import SystemView
    from tests.conftest import make_tenant

    monkeypatch.setattr(SystemView, "paginate_by", 4)
    client = login(tenant.owner)
    _accounts(tenant.agency, 1)  # (an account with a sync run: its last run is read)
    few = _queries(client, URL)
    _accounts(tenant.agency, 10, start=1)
    for n in range(3):
        _accounts(make_tenant(f"Other {n}").agency, 5)
    assert _queries(client, URL) == few
    assert _queries(client, URL + "?page=3") == few


def test_the_accounts_page_with_counts(login, tenant, other_tenant, monkeypatch):
    from apps.operations.views import SystemView

    monkeypatch.setattr(SystemView, "paginate_by", 4)
    accounts = _accounts(tenant.agency, 4)  # and the tenant's own two: 6
    _accounts(other_tenant.agency, 9, start=50)
    accounts[0].sync_enabled = False
    accounts[0].save()
    names = sorted([a.name for a in accounts] + [tenant.account.name, tenant.other_account.name])
    client = login(tenant.owner)
    first = client.get(URL).content.decode()
    assert "6 client accounts · 1 with sync off · showing 1–4" in first
    assert all(name in first for name in names[:4])
    assert not any(name in first for name in names[4:])
    assert "Page 1 of 2" in first
    second = client.get(URL, {"page": 2}).content.decode()
    assert "showing 5–6" in second
    assert all(name in second for name in names[4:])
    assert not any(name in second for name in names[:4])
    assert "Scale Client 050" not in first + second  # another agency's
