"""The account page's sync section: Sync now (interactive lane), run history with progress, schedule."""

import time

import pytest
from django.urls import reverse

from apps.sync.models import SyncRun, SyncSchedule, SyncStatus
from tests.sync.conftest import point_at_sandbox

pytestmark = [pytest.mark.django_db]


def runs_of(account):
    return SyncRun.objects.for_account(account)


def test_staff_queue_a_sync_now_once_and_see_it(login, tenant):
    client = login(tenant.staff)
    url = reverse("portal:account_sync", args=[tenant.account.pk])
    response = client.post(url, {"kind": "incremental"}, follow=True)
    assert "Incremental sync of" in response.content.decode()
    run = runs_of(tenant.account).get()
    assert (run.trigger, run.lane, run.status) == ("manual", "interactive", SyncStatus.QUEUED)
    response = client.post(url, {"kind": "full"}, follow=True)
    assert "already queued" in response.content.decode()
    assert runs_of(tenant.account).count() == 1
    body = client.get(reverse("portal:account_detail", args=[tenant.account.pk])).content.decode()
    assert f"#{run.pk}" in body
    assert 'hx-trigger="every 2s"' in body  # polls while the run is active


def test_sync_of_one_resource(login, tenant):
    url = reverse("portal:account_sync", args=[tenant.account.pk])
    login(tenant.owner).post(url, {"kind": "full", "resource": "tags"})
    assert runs_of(tenant.account).get().resources == ["tags"]


@pytest.mark.parametrize("data", [{"kind": "everything"}, {"kind": "full", "resource": "bogus"}])
def test_unknown_kind_or_resource_is_refused(login, tenant, data):
    response = login(tenant.owner).post(reverse("portal:account_sync", args=[tenant.account.pk]), data, follow=True)
    assert "Choose a known kind" in response.content.decode()
    assert not runs_of(tenant.account).exists()


def test_clients_cannot_sync_and_refused_accounts_do_not(login, tenant):
    assert login(tenant.client_user).post(reverse("portal:account_sync", args=[tenant.account.pk])).status_code == 403
    tenant.account.connection_error = "CallRail rejected the key for account Acme Dental: bad key"
    tenant.account.save()
    response = login(tenant.staff).post(reverse("portal:account_sync", args=[tenant.account.pk]), follow=True)
    assert "Sync is off" in response.content.decode()
    assert not runs_of(tenant.account).exists()


def test_schedule_is_set_by_managers_and_bad_values_keep_what_was_typed(login, tenant):
    url = reverse("portal:account_schedule", args=[tenant.account.pk])
    data = {"incremental_every_minutes": 5, "full_every_hours": 24, "full_at_hour": 3}  # (the re-read is continuous)
    assert login(tenant.owner).post(url, data).status_code == 302
    assert SyncSchedule.objects.for_account(tenant.account).get().incremental_every_minutes == 5
    response = login(tenant.owner).post(url, {**data, "full_at_hour": "noon"})
    assert response.status_code == 400
    assert 'value="noon"' in response.content.decode()
    assert login(tenant.staff).post(url, data).status_code == 403


@pytest.mark.worker
def test_sync_now_runs_on_a_real_worker_against_the_sandbox(login, tenant, sandbox, celery_worker):
    account = point_at_sandbox(tenant.account, sandbox)
    client = login(tenant.staff)
    client.post(reverse("portal:account_sync", args=[account.pk]), {"kind": "full", "resource": "companies"})
    deadline = time.monotonic() + 60
    while (run := runs_of(account).get()).is_active:
        assert time.monotonic() < deadline, celery_worker.log.read_text()[-3000:]
        time.sleep(0.2)
    assert run.status == SyncStatus.SUCCEEDED, run.summary()
    assert run.records_created == len(sandbox.state.accounts[account.callrail_account_id].companies) > 0
    body = client.get(reverse("portal:account_sync_runs", args=[account.pk])).content.decode()
    assert "Succeeded" in body
    assert 'hx-trigger="every 2s"' not in body  # polling stops once the run is over
