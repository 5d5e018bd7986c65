"""'Connect webhooks': the company's CallRail Webhooks integration is created through the outbox, points at
the portal, and the signing key CallRail answers with is kept encrypted, never in the mirror."""

import pytest
from django.urls import reverse

from apps.companies.models import Company
from apps.integrations.models import Integration
from apps.integrations.services import webhooks_connect
from apps.webhooks.models import WebhookSigningKey
from apps.webhooks.services import webhook_urls
from tests.push.conftest import drain, upstream
from tests.sync.conftest import execute, point_at_sandbox

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_connect_creates_the_integration_upstream_and_keeps_the_key(tenant, sandbox, client):
    account = point_at_sandbox(tenant.account, sandbox)
    execute(account, resources=["companies", "integrations"])
    company = Company.objects.for_account(account).live().order_by("name").first()
    Integration.objects.for_account(account).filter(company=company, type="Webhooks").delete()  # a clean start

    client.force_login(tenant.staff)
    url = reverse("integrations:webhooks_connect", kwargs={"account_pk": account.pk, "company_pk": company.pk})
    assert client.post(url).status_code == 302
    assert drain(account).failed == 0

    row = Integration.objects.for_account(account).get(company=company, type="Webhooks")
    assert not row.callrail_id.startswith("pending:")
    theirs = upstream(sandbox, account, "integrations", row.callrail_id)
    ours = webhook_urls(account)
    assert {event: theirs["config"][event] for event in ours} == {event: [u] for event, u in ours.items()}

    with sandbox.state.lock:
        expected_key = sandbox.state.accounts[account.callrail_account_id].companies[company.callrail_id][
            "_signing_key"
        ]
    stored = WebhookSigningKey.objects.for_account(account).get(company=company)
    assert stored.signing_key == expected_key
    assert "signing_key" not in row.payload

    # connecting again updates the same integration instead of creating a second one
    webhooks_connect(company=company, actor=tenant.staff)
    drain(account)
    assert Integration.objects.for_account(account).live().filter(company=company, type="Webhooks").count() == 1


def test_clients_cannot_connect_and_other_agencies_get_404(tenant, other_tenant, sandbox, client):
    account = point_at_sandbox(tenant.account, sandbox)
    execute(account, resources=["companies"])
    company = Company.objects.for_account(account).live().first()
    url = reverse("integrations:webhooks_connect", kwargs={"account_pk": account.pk, "company_pk": company.pk})
    client.force_login(tenant.client_user)
    assert client.post(url).status_code == 403
    client.force_login(other_tenant.owner)
    assert client.post(url).status_code == 404
    assert not Integration.objects.for_account(account).filter(callrail_id__startswith="pending:").exists()
