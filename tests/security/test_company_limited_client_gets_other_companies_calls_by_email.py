"""Finding 3 (high): a client limited to some companies received other companies' calls by email.

A whole-account portal summary could be subscribed by a company-limited client (/me/summaries/) and offered
to them by staff; its email lists the calls of every company. Chosen rule (README, "Roles"): a
company-limited client receives summaries of their own companies only; whole-account summaries (and those of
other companies) are neither offered to them, nor subscribable, nor sent to them.
"""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.summaries.models import DeliveryStatus, SummaryRecipient
from apps.summaries.schedule import latest_occurrence
from apps.summaries.services import delivery_for_period, delivery_send, summary_save
from apps.tenancy.models import Membership
from tests.portal.mirror import call, every_resource
from tests.summaries.factories import make_summary

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def limited(tenant):
    """The tenant's client, limited to the first of two companies; one call in each company yesterday."""
    mine = every_resource(tenant.account, label="Mine")["companies"]
    theirs = every_resource(tenant.account, label="Theirs")["companies"]
    yesterday = timezone.now() - timezone.timedelta(days=1)
    call(tenant.account, company=mine, customer_name="Mine Yesterday", start=yesterday)
    call(tenant.account, company=theirs, customer_name="Theirs Yesterday", start=yesterday)
    Membership.objects.get(user=tenant.client_user).companies.set([mine])
    tenant.agency.client_can_manage_summary_emails = True
    tenant.agency.save()
    return mine, theirs


def test_a_company_limited_client_cannot_subscribe_to_a_whole_account_summary(tenant, limited, client):
    whole = make_summary(tenant.account, frequency="daily")
    client.force_login(tenant.client_user)
    page = client.get(reverse("summaries:mine")).content.decode()
    assert "whole account" not in page
    response = client.post(reverse("summaries:mine"), {"summary": whole.pk, "action": "subscribe"})
    assert response.status_code in (403, 404)
    assert not SummaryRecipient.objects.for_account(tenant.account).filter(email=tenant.client_user.email).exists()


def test_staff_cannot_add_a_company_limited_client_to_a_summary_of_other_companies(tenant, limited, login):
    mine, theirs = limited
    for company in (None, theirs):
        with pytest.raises(ValidationError, match="only sees"):
            summary_save(account=tenant.account, actor=tenant.owner, frequency="daily", company=company,
                         users=[tenant.client_user])  # fmt: skip
        with pytest.raises(ValidationError, match="only sees"):  # nor by typing their address
            summary_save(account=tenant.account, actor=tenant.owner, frequency="daily", company=company,
                         emails=[tenant.client_user.email.upper()])  # fmt: skip
    response = login(tenant.owner).post(
        reverse("summaries:create", args=[tenant.account.pk]),
        {"frequency": "daily", "weekday": "0", "hour": "7", "users": [tenant.client_user.pk], "is_active": "on"},
    )
    assert response.status_code == 400
    assert "only sees" in response.content.decode()
    assert f"sees only {mine.name}" in response.content.decode()  # the form says so before anyone saves
    own = summary_save(account=tenant.account, actor=tenant.owner, frequency="daily", company=mine,
                       users=[tenant.client_user])  # fmt: skip
    assert own.recipients.get().user == tenant.client_user


def test_a_whole_account_summary_is_not_sent_to_a_company_limited_client(tenant, limited):
    whole = make_summary(tenant.account, frequency="daily", emails=("boss@acme.test",))
    # a subscription made before the rule (or before the client was limited) is skipped when sending
    recipient = SummaryRecipient.objects.create(
        client_account=tenant.account, summary=whole, user=tenant.client_user, email=tenant.client_user.email
    )
    _instant, period = latest_occurrence(whole, timezone.now())
    delivery = delivery_for_period(summary=whole, recipient=recipient, period=period)
    outcome = delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk)
    assert outcome.status == DeliveryStatus.SKIPPED
    assert [m for m in mail.outbox if tenant.client_user.email in m.to] == []
    delivery.refresh_from_db()
    assert "only sees" in delivery.error
