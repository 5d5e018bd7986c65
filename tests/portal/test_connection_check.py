"""“Test connection” against the CallRail sandbox over HTTP: a wrong key is reported on the account page."""

import pytest
from django.urls import reverse

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import ClientAccount

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def sandbox_account(tenant, sandbox):
    demo = DEMO_ACCOUNTS[0]
    account = tenant.account
    account.callrail_account_id, account.api_key, account.base_url = demo.account_id, demo.api_key, sandbox.url
    account.save()
    return account


def test_right_key_is_accepted(login, tenant, sandbox_account):
    response = login(tenant.owner).post(reverse("portal:account_check", args=[sandbox_account.pk]), follow=True)
    assert "CallRail accepted the key" in response.content.decode()
    assert ClientAccount.objects.for_account(sandbox_account).get().connection_error == ""


def test_wrong_key_is_reported_on_the_page_and_a_new_key_clears_it(login, tenant, sandbox_account):
    sandbox_account.api_key = "not-the-right-key"
    sandbox_account.save()
    client = login(tenant.owner)
    response = client.post(reverse("portal:account_check", args=[sandbox_account.pk]), follow=True)
    body = response.content.decode()
    assert f"CallRail rejected the key for account {sandbox_account.name}" in body
    assert "Sync is stopped for this account" in body
    stored = ClientAccount.objects.for_account(sandbox_account).get()
    assert stored.connection_error.startswith("CallRail rejected the key")
    client.post(
        reverse("portal:account_edit", args=[sandbox_account.pk]),
        {"name": stored.name, "callrail_account_id": stored.callrail_account_id, "auth_mode": "direct",
         "api_key": DEMO_ACCOUNTS[0].api_key, "base_url": stored.base_url, "time_zone": stored.time_zone},
    )
    assert ClientAccount.objects.for_account(sandbox_account).get().connection_error == ""


def test_staff_cannot_spend_requests_on_checks(login, tenant, sandbox_account):
    assert login(tenant.staff).post(reverse("portal:account_check", args=[sandbox_account.pk])).status_code == 403


def test_the_check_spends_one_budget_token_and_the_account_page_shows_it(login, tenant, sandbox_account):
    from apps.callrail.budget import budget_status_for_account

    before = budget_status_for_account(sandbox_account).general.hour_spent
    client = login(tenant.owner)
    client.post(reverse("portal:account_check", args=[sandbox_account.pk]))
    after = budget_status_for_account(sandbox_account).general
    assert after.hour_spent == before + 1
    body = client.get(reverse("portal:account_detail", args=[sandbox_account.pk])).content.decode()
    assert "CallRail API budget" in body
    assert f"<strong>{after.hour_spent}</strong> / {after.hour_limit}" in body
