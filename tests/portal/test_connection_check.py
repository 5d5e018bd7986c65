"""“Test connection” against the CallRail sandbox over HTTP: a wrong key is reported on the account page."""

import pytest
from django.urls import reverse

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import set_key

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def sandbox_account(tenant, sandbox):
    demo = DEMO_ACCOUNTS[0]
    account = tenant.account
    account.callrail_account_id = demo.account_id
    account.save()
    return set_key(account, demo.api_key, base_url=sandbox.url)


def test_right_key_is_accepted(login, tenant, sandbox_account):
    response = login(tenant.owner).post(reverse("portal:account_check", args=[sandbox_account.pk]), follow=True)
    assert "CallRail accepted the key" in response.content.decode()
    assert ClientAccount.objects.for_account(sandbox_account).get().connection_error == ""


def test_wrong_key_is_reported_on_the_page_and_a_new_key_clears_it(login, tenant, sandbox_account):
    set_key(sandbox_account, "not-the-right-key")
    client = login(tenant.owner)
    response = client.post(reverse("portal:account_check", args=[sandbox_account.pk]), follow=True)
    body = response.content.decode()
    assert "CallRail refused the key" in body
    assert "Sync is stopped for this account" in body
    stored = ClientAccount.objects.for_account(sandbox_account).get()
    assert stored.connection_error.startswith("CallRail refused the key")
    assert stored.credential.error == stored.connection_error
    response = client.post(
        reverse("credentials:key", args=[stored.credential_id]),
        {"api_key": DEMO_ACCOUNTS[0].api_key, "base_url": stored.credential.base_url},
    )
    assert response.status_code == 302, response.content.decode()
    stored = ClientAccount.objects.for_account(sandbox_account).get()
    assert (stored.connection_error, stored.credential.error) == ("", "")


def test_staff_cannot_spend_requests_on_checks(login, tenant, sandbox_account):
    assert login(tenant.staff).post(reverse("portal:account_check", args=[sandbox_account.pk])).status_code == 403


def test_the_check_spends_one_budget_token_and_the_account_page_shows_it(login, tenant, sandbox_account):
    from apps.callrail.budget import budget_status_for_account

    before = budget_status_for_account(sandbox_account)
    client = login(tenant.owner)
    client.post(reverse("portal:account_check", args=[sandbox_account.pk]))
    after = budget_status_for_account(sandbox_account)
    assert after.general.hour_spent == before.general.hour_spent + 1
    assert after.key.general.hour_spent == before.key.general.hour_spent + 1  # and one of its key's
    body = client.get(reverse("portal:account_detail", args=[sandbox_account.pk])).content.decode()
    assert "CallRail API budget" in body
    assert f"<strong>{after.general.hour_spent}</strong> / {after.general.hour_limit}" in body
    assert "Key budget (shared with the other accounts of" in body
