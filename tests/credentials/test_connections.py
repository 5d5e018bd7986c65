"""Gateway connections and refusals, in-process against the sandbox: listing a gateway key's connections,
sending the authorisation link under the agency's branding, removing a connection (its accounts paused
after a confirmation naming them), and a refused key flagged on every account with one email."""

import pytest
from django.core import mail
from django.urls import reverse

from apps.credentials.models import ConnectionStatus, Credential, GatewayConnection
from apps.credentials.services import (
    ImportChoice,
    accounts_import,
    connection_create,
    credential_create,
    credential_sync_connections,
)
from apps.sandbox.seed import DEMO_ACCOUNTS, GATEWAY_KEY
from apps.sync.services import sync_dispatch
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import execute

from .conftest import THREE

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway(tenant, sandbox, gateway_control) -> Credential:
    return credential_create(agency=tenant.agency, name="Gateway", auth_mode="gateway", api_key=GATEWAY_KEY,
                             base_url=sandbox.url)  # fmt: skip


def test_reading_the_gateway_lists_its_connections(gateway):
    connections = credential_sync_connections(credential=gateway)
    assert {c.connection_id for c in connections} == {d.connection_id for d in DEMO_ACCOUNTS}
    assert {c.status for c in connections} == {ConnectionStatus.ACTIVE}


def test_the_link_goes_to_the_client_under_the_agencys_name(login, tenant, gateway, django_capture_on_commit_callbacks):
    tenant.agency.primary_colour = "#0f766e"
    tenant.agency.save()
    connection = connection_create(credential=gateway, label="Harbor")
    url = reverse("credentials:connection_send", args=[gateway.pk, connection.pk])
    client = login(tenant.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "owner@harbor.example", "note": "Takes a minute."})
    assert response.status_code == 302
    sent = mail.outbox[-1]
    assert sent.to == ["owner@harbor.example"]
    assert sent.from_email.startswith("Acme <")
    assert sent.subject == "Acme asks you to connect your CallRail account"
    assert connection.authorization_url in sent.body
    html = sent.alternatives[0][0]
    assert "#0f766e" in html
    assert connection.authorization_url in html
    assert GATEWAY_KEY not in sent.message().as_string()
    assert client.post(url, {"email": "not an email"}).status_code == 400


def test_removing_a_connection_pauses_its_accounts_after_a_confirmation_that_names_them(login, tenant, gateway):
    connection = GatewayConnection.objects.create(credential=gateway, connection_id=DEMO_ACCOUNTS[3].connection_id,
                                                  status="ACTIVE", label="Harbor")  # fmt: skip
    account = accounts_import(credential=gateway, start_sync=False, choices=[
        ImportChoice(DEMO_ACCOUNTS[3].account_id, connection=connection)]).accounts[0]  # fmt: skip
    client = login(tenant.owner)
    url = reverse("credentials:connection_remove", args=[gateway.pk, connection.pk])
    confirm = client.get(url).content.decode()
    assert account.name in confirm
    assert "will be paused" in confirm
    assert client.post(url).status_code == 302  # without the confirmation nothing happens
    assert ClientAccount.objects.for_account(account).get().sync_enabled
    client.post(url, {"confirm": "yes"})
    account = ClientAccount.objects.for_account(account).get()
    assert not account.sync_enabled
    assert "was removed by" in account.connection_error
    assert GatewayConnection.objects.get(pk=connection.pk).status == ConnectionStatus.REMOVED
    page = client.get(reverse("portal:account_detail", args=[account.pk])).content.decode()
    assert "Sync is stopped for this account" in page


def test_a_wrong_gateway_key_creates_no_connection_and_is_flagged(login, tenant, sandbox, gateway_control):
    credential = Credential.objects.create(agency=tenant.agency, name="Typo", auth_mode="gateway",
                                           api_key="not-a-gateway-key", base_url=sandbox.url)  # fmt: skip
    response = login(tenant.owner).post(reverse("credentials:connection_create", args=[credential.pk]), follow=True)
    assert "The gateway refused the key" in response.content.decode()
    assert not credential.connections.exists()
    assert Credential.objects.get(pk=credential.pk).error


def test_a_refused_key_flags_every_account_of_the_credential_and_emails_once(
    tenant, sandbox, agency_key, django_capture_on_commit_callbacks
):
    choices = [ImportChoice(a) for a in THREE]
    accounts = accounts_import(credential=agency_key, choices=choices, start_sync=False).accounts
    Credential.objects.filter(pk=agency_key.pk).update(api_key="rotated-elsewhere")  # CallRail no longer knows it
    with django_capture_on_commit_callbacks(execute=True):
        for account in accounts:  # every account's sync meets the refusal
            execute(ClientAccount.objects.for_account(account).get(), resources=["companies"])
    refused = [m for m in mail.outbox if "CallRail refused the key" in m.subject]
    assert len(refused) == 1
    assert sorted(refused[0].to) == sorted([tenant.owner.email, tenant.admin.email])
    for account in accounts:
        assert account.name in refused[0].body
        assert ClientAccount.objects.for_account(account).get().connection_error.startswith("CallRail refused the key")
    assert not [r for r in sync_dispatch() if r.client_account_id in {a.pk for a in accounts}]
