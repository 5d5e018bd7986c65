"""The reply box under a thread and the "text back" page of a call (issue 21): pending at once, refusals with
their reason and the draft kept, and who may send (staff; clients only where the agency allows it)."""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from apps.calls.models import Call
from apps.push.models import EntryStatus
from apps.text_conversations.models import OutgoingText
from apps.text_conversations.sending import e164_us, sms_senders
from tests.push.conftest import drain

from .test_sending import a_conversation, synced  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def page(account, conversation) -> str:
    return reverse("portal:resource_detail", args=[account.pk, "text_conversations", conversation.pk])


def reply_url(account, conversation) -> str:
    return reverse("portal:conversation_reply", args=[account.pk, conversation.pk])


def test_staff_reply_from_the_thread_shows_pending_then_sent(synced, tenant, login):  # noqa: F811
    conversation = a_conversation(synced)
    client = login(tenant.staff)
    html = client.get(page(synced, conversation)).content.decode()
    assert 'id="reply-content"' in html
    assert f'maxlength="{140}"' in html
    response = client.post(reply_url(synced, conversation), {"content": "On our way!"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "On our way!" in html
    assert 'data-state="pending"' in html
    assert ">Pending<" in html
    drain(synced)
    html = unescape(client.get(page(synced, conversation)).content.decode())
    assert 'data-state="pending"' not in html
    text = OutgoingText.objects.for_account(synced).get()
    assert text.entry.status == EntryStatus.DONE
    assert text.actor == tenant.staff


def test_a_refused_reply_says_why_and_keeps_the_draft(synced, tenant, login):  # noqa: F811
    conversation = a_conversation(synced)
    client = login(tenant.staff)
    draft = "A" * 141
    response = client.post(reply_url(synced, conversation), {"content": draft}, HTTP_HX_REQUEST="true")
    html = unescape(response.content.decode())
    assert "at most 140 characters (CallRail's limit); this one has 141" in html
    assert f">{draft}</textarea>" in html
    response = client.post(reply_url(synced, conversation), {"content": draft})  # without JavaScript
    assert response.status_code == 422
    assert f">{draft}</textarea>" in unescape(response.content.decode())
    assert not OutgoingText.objects.for_account(synced).exists()


def test_clients_reply_only_where_the_agency_allows_it(synced, tenant, login):  # noqa: F811
    conversation = a_conversation(synced)
    client = login(tenant.client_user)
    assert 'id="reply-content"' not in client.get(page(synced, conversation)).content.decode()
    refused = client.post(reply_url(synced, conversation), {"content": "Hi"})
    assert refused.status_code == 403
    assert "not allowed clients to answer leads" in unescape(refused.content.decode())
    tenant.agency.client_can_answer_leads = True
    tenant.agency.save()
    assert 'id="reply-content"' in client.get(page(synced, conversation)).content.decode()
    assert client.post(reply_url(synced, conversation), {"content": "Hi"}).status_code == 302
    assert OutgoingText.objects.for_account(synced).get().actor == tenant.client_user


def test_text_back_from_a_call_page(synced, tenant, login):  # noqa: F811
    call = next(
        c
        for c in Call.objects.for_account(synced).exclude(company=None).order_by("pk")
        if e164_us(c.customer_phone_number) and sms_senders(account=synced, company=c.company)
    )
    client = login(tenant.staff)
    detail = client.get(reverse("portal:resource_detail", args=[synced.pk, "calls", call.pk])).content.decode()
    url = reverse("portal:call_text_back", args=[synced.pk, call.pk])
    assert f'href="{url}"' in detail
    html = unescape(client.get(url).content.decode())
    senders = sms_senders(account=synced, company=call.company)
    assert all(s.number in html for s in senders)
    response = client.post(url, {"content": "Hi there", "tracking_number": ""})
    assert response.status_code == 422
    assert "Choose the tracking number" in unescape(response.content.decode())
    response = client.post(url, {"content": "Hi there", "tracking_number": senders[0].number}, follow=True)
    html = unescape(response.content.decode())
    assert "Text queued" in html
    assert 'data-state="pending"' in html
    text = OutgoingText.objects.for_account(synced).get()
    assert (text.source_call, text.tracking_number) == (call, senders[0].number)
    drain(synced)
    html = unescape(client.get(url).content.decode())
    assert 'data-state="sent"' in html
    assert ">conversation</a>" in html
