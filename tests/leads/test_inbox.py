"""The missed-lead inbox (issue 21): missed calls, unanswered forms and texts awaiting an answer, per agency and per
account, with their age, assignable to staff, cleared at once when answered from the portal and, once the mirror
sees it, when answered from CallRail (sync)."""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from apps.callrail.client import client_for_account
from apps.calls.callbacks import call_back_start, caller_ids
from apps.leads.models import LeadAssignment
from apps.leads.selectors import missed_leads
from apps.text_conversations.models import TextConversation
from apps.text_conversations.sending import sms_senders, text_send
from tests.sync.conftest import control, execute
from tests.text_conversations.test_sending import synced  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
NEW_LEAD = "+13035550177"


def leads_of(tenant, account=None):
    return missed_leads(user=tenant.staff, agency=tenant.agency, account=account)


def a_missed_call_lead(tenant, account):
    for lead in leads_of(tenant, account):
        if lead.kind == "call" and lead.row.company_id and caller_ids(account=account, company=lead.row.company,
                                                                       read_upstream=False)[0]:  # fmt: skip
            return lead
    raise AssertionError("the sandbox seed has no missed call to answer")


def test_inbox_lists_missed_calls_and_waiting_texts_with_age_per_agency_and_account(synced, sandbox, tenant,  # noqa: F811
                                                                                    login):  # fmt: skip
    control(sandbox, "POST", "texts", account_id=synced.callrail_account_id, customer_phone_number=NEW_LEAD,
            content="Do you have openings tomorrow?")  # fmt: skip
    execute(synced, resources=["text_conversations"])
    leads = leads_of(tenant)
    text = next(lead for lead in leads if lead.number == NEW_LEAD)
    assert text.kind == "text"
    assert {lead.kind for lead in leads} >= {"call", "text"}
    assert len({(lead.account.pk, lead.number) for lead in leads}) == len(leads)  # one lead per number
    assert [lead.at for lead in leads] == sorted(lead.at for lead in leads)  # oldest waiting first
    client = login(tenant.staff)
    html = unescape(client.get(reverse("portal:leads")).content.decode())
    assert "Text awaiting an answer" in html
    assert "Missed call" in html or "Voicemail" in html
    assert synced.name in html
    account_html = unescape(client.get(reverse("portal:account_leads", args=[synced.pk])).content.decode())
    assert f'data-pk="{text.row.pk}"' in account_html
    assert reverse("portal:account_leads", args=[synced.pk]) in unescape(
        client.get(reverse("portal:account_detail", args=[synced.pk])).content.decode()
    )


def test_assigning_a_lead_to_staff(synced, tenant, login):  # noqa: F811
    lead = a_missed_call_lead(tenant, synced)
    client = login(tenant.owner)
    response = client.post(reverse("portal:lead_assign", args=[synced.pk]),
                           {"kind": lead.kind, "pk": lead.row.pk, "assignee": tenant.staff.pk})  # fmt: skip
    assert response.status_code == 302
    assert LeadAssignment.objects.for_account(synced).get().assignee == tenant.staff
    mine = [x for x in leads_of(tenant, synced) if x.assignee == tenant.staff]
    assert [(x.kind, x.row.pk) for x in mine] == [(lead.kind, lead.row.pk)]
    html = unescape(login(tenant.staff).get(reverse("portal:account_leads", args=[synced.pk]), {"assignee": "me"})
                    .content.decode())  # fmt: skip
    assert f'data-pk="{lead.row.pk}"' in html
    # another tenant's lead cannot be assigned
    refused = client.post(reverse("portal:lead_assign", args=[synced.pk]), {"kind": "call", "pk": 10**9})
    assert refused.status_code == 404


def test_answered_from_the_portal_the_lead_leaves_at_once(synced, tenant):  # noqa: F811
    lead = a_missed_call_lead(tenant, synced)
    number = caller_ids(account=synced, company=lead.row.company, read_upstream=False)[0][0].number
    call_back_start(account=synced, source_call=lead.row, customer_phone_number=lead.number,
                    business_phone_number="+13035550142", caller_id=number)  # fmt: skip
    assert (synced.pk, lead.number) not in {(x.account.pk, x.number) for x in leads_of(tenant)}


def test_answered_from_callrail_the_lead_leaves_once_the_mirror_sees_it(synced, sandbox, tenant):  # noqa: F811
    control(sandbox, "POST", "texts", account_id=synced.callrail_account_id, customer_phone_number=NEW_LEAD,
            content="Hello? Anyone there?")  # fmt: skip
    execute(synced, resources=["text_conversations"])
    call_lead = a_missed_call_lead(tenant, synced)
    numbers = {x.number for x in leads_of(tenant, synced)}
    assert {NEW_LEAD, call_lead.number} <= numbers
    conversation = TextConversation.objects.for_account(synced).get(customer_phone_number=NEW_LEAD)
    sender = sms_senders(account=synced, company=conversation.company)[0].number
    api = client_for_account(synced, lane="interactive")  # CallRail's own app, not the portal
    api.post("text-messages.json", json={"company_id": conversation.company.callrail_id, "content": "Yes, 9am!",
                                         "customer_phone_number": NEW_LEAD, "tracking_number": sender})  # fmt: skip
    caller = caller_ids(account=synced, company=call_lead.row.company, read_upstream=False)[0][0].number
    api.post("calls.json", json={"caller_id": caller, "customer_phone_number": call_lead.number,
                                 "business_phone_number": "+13035550142"})  # fmt: skip
    assert {NEW_LEAD, call_lead.number} <= {x.number for x in leads_of(tenant, synced)}  # not seen yet
    execute(synced, resources=["calls", "text_conversations"])
    numbers = {x.number for x in leads_of(tenant, synced)}
    assert NEW_LEAD not in numbers
    assert call_lead.number not in numbers


def test_texting_back_from_the_portal_clears_a_waiting_text(synced, sandbox, tenant):  # noqa: F811
    control(sandbox, "POST", "texts", account_id=synced.callrail_account_id, customer_phone_number=NEW_LEAD,
            content="How much is a cleaning?")  # fmt: skip
    execute(synced, resources=["text_conversations"])
    conversation = TextConversation.objects.for_account(synced).get(customer_phone_number=NEW_LEAD)
    assert NEW_LEAD in {x.number for x in leads_of(tenant, synced)}
    text_send(account=synced, conversation=conversation, customer_phone_number=NEW_LEAD, content="$89 - book?")
    assert NEW_LEAD not in {x.number for x in leads_of(tenant, synced)}
