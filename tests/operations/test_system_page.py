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
    assert set(queues) == {"default", "interactive", "sync", "push", "webhooks", "email"}
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
