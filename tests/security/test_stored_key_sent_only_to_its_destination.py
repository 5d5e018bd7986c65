"""Issue 16, finding 2 (high): the stored CallRail key could be sent anywhere.

Reproduction: an admin set a client account's base URL (web form, or ``PATCH /api/v1/client-accounts/<id>/``)
to a listener of theirs, left the key field blank, clicked "Test connection", and the listener received
``Authorization: Token token="<the key>"``. Now a stored key only ever goes to the destination it was saved
with: the destination belongs to the account's credential, is fixed with its key, and changes only together
with a new key (which the person typing it knows).
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.credentials.models import Credential
from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import ClientAccount
from apps.tenancy.services import api_token_create
from tests.sync.conftest import set_key

pytestmark = pytest.mark.django_db

KEY = DEMO_ACCOUNTS[0].api_key


@pytest.fixture
def account(tenant, sandbox):
    account = tenant.account
    account.callrail_account_id = DEMO_ACCOUNTS[0].account_id
    account.save()
    return set_key(account, KEY, base_url=sandbox.url)


def stored_key_sent(listener) -> bool:
    return any(KEY in header for header in listener.authorizations())


def test_the_api_cannot_point_a_stored_key_elsewhere(login, tenant, account, listener, sandbox):
    _, token = api_token_create(user=tenant.admin, name="attack")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.patch(f"/api/v1/client-accounts/{account.pk}/", {"base_url": listener.url, "auth_mode": "direct"},
                         format="json")  # fmt: skip
    login(tenant.admin).post(reverse("portal:account_check", args=[account.pk]))
    assert not stored_key_sent(listener)
    assert listener.requests == []
    assert response.status_code == 400
    assert ClientAccount.objects.for_account(account).get().effective_base_url == sandbox.url


def test_the_web_form_cannot_point_a_stored_key_elsewhere(login, tenant, account, listener, sandbox):
    client = login(tenant.admin)
    client.post(reverse("portal:account_edit", args=[account.pk]), {
        "name": account.name, "callrail_account_id": account.callrail_account_id, "auth_mode": "direct",
        "api_key": "", "connection_id": "", "base_url": listener.url, "time_zone": account.time_zone,
        "credential": account.credential_id,
    })  # fmt: skip
    client.post(reverse("portal:account_check", args=[account.pk]))
    assert not stored_key_sent(listener)
    assert listener.requests == []
    assert ClientAccount.objects.for_account(account).get().effective_base_url == sandbox.url


def test_a_credentials_base_url_changes_only_together_with_a_new_key(login, tenant, account, listener, sandbox):
    client = login(tenant.admin)
    url = reverse("credentials:key", args=[account.credential_id])
    refused = client.post(url, {"api_key": "", "base_url": listener.url})
    assert refused.status_code == 400
    # A new key typed with a new base URL goes there — it is that person's key — but never the stored one;
    # and since nothing CallRail-like answers there, nothing changes.
    tried = client.post(url, {"api_key": "a-key-i-typed-myself", "base_url": listener.url})
    assert tried.status_code == 400
    assert listener.authorizations() == ['Token token="a-key-i-typed-myself"']
    credential = Credential.objects.get(pk=account.credential_id)
    assert (credential.api_key, credential.base_url) == (KEY, sandbox.url)


def test_moving_an_account_to_another_credential_sends_only_that_credentials_key(login, tenant, account, listener):
    elsewhere = Credential.objects.create(agency=tenant.agency, name="Listener key", api_key="listener-own-key",
                                          base_url=listener.url)  # fmt: skip
    client = login(tenant.admin)
    response = client.post(reverse("portal:account_edit", args=[account.pk]), {
        "name": account.name, "time_zone": account.time_zone, "credential": elsewhere.pk,
    })  # fmt: skip
    assert response.status_code == 200  # the listener does not know the account: refused, nothing changed
    assert not stored_key_sent(listener)
    assert listener.authorizations() == ['Token token="listener-own-key"']
    assert ClientAccount.objects.for_account(account).get().credential_id == account.credential_id
