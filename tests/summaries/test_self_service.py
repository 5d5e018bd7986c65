"""A person subscribes to or leaves a summary themselves; clients only where their agency allows it."""

import pytest
from django.urls import reverse

from apps.summaries.models import SummaryRecipient
from apps.summaries.services import summary_save

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def summary(tenant):
    return summary_save(account=tenant.account, actor=tenant.owner, frequency="daily", hour=7, emails=["x@acme.test"])


def recipients(summary) -> dict[str, bool]:
    rows = SummaryRecipient.objects.for_account(summary.client_account).filter(summary=summary)
    return {r.email: r.unsubscribed_at is None for r in rows}


def test_client_subscribes_and_leaves_when_the_agency_allows(tenant, summary, client):
    tenant.agency.client_can_manage_summary_emails = True
    tenant.agency.save()
    client.force_login(tenant.client_user)
    url = reverse("summaries:mine")
    assert "not receiving" in client.get(url).content.decode()
    client.post(url, {"summary": summary.pk, "action": "subscribe"})
    assert recipients(summary)[tenant.client_user.email] is True
    client.post(url, {"summary": summary.pk, "action": "unsubscribe"})
    assert recipients(summary)[tenant.client_user.email] is False
    assert recipients(summary)["x@acme.test"] is True  # nobody else is touched


def test_client_cannot_when_the_agency_manages_it(tenant, summary, client):
    tenant.agency.client_can_manage_summary_emails = False
    tenant.agency.save()
    client.force_login(tenant.client_user)
    url = reverse("summaries:mine")
    page = client.get(url).content.decode()
    assert "manages who receives these emails" in page
    assert client.post(url, {"summary": summary.pk, "action": "subscribe"}).status_code == 403
    assert tenant.client_user.email not in recipients(summary)


def test_summaries_of_other_tenants_are_invisible(tenant, other_tenant, summary, client):
    client.force_login(other_tenant.owner)
    url = reverse("summaries:mine")
    assert tenant.account.name not in client.get(url).content.decode()
    assert client.post(url, {"summary": summary.pk, "action": "subscribe"}).status_code == 404
    assert other_tenant.owner.email not in recipients(summary)
