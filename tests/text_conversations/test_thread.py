"""A text conversation's thread (issue 18, item 3): the messages CallRail's conversation endpoint returns,
stored in the mirror and shown oldest first, newest last, with direction and time, titled by the customer.

The docs list a conversation's messages newest first (offset-paginated), and each conversation of the list
carries its two most recent messages without ids; the thread is built for that contract, whatever order the
sandbox happens to use.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import requests
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.callrail.budget import mark_exhausted
from apps.callrail.client import client_for_account
from apps.portal.formatting import format_phone
from apps.tenancy.models import Role
from apps.text_conversations.models import TextConversation, TextMessage
from tests.factories import MembershipFactory
from tests.portal.mirror import every_resource, mirror
from tests.sync.conftest import _clear_redis, execute, point_at_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    run = execute(account, resources=["companies", "trackers", "text_conversations"])
    assert run.status == "succeeded", run.errors
    yield account
    _clear_redis(account.pk)


def longest(account) -> TextConversation:
    conversations = TextConversation.objects.for_account(account).live()
    best = max(conversations, key=lambda c: (len(c.payload.get("recent_messages") or []), c.pk))
    return best


def thread_url(account, conversation) -> str:
    return reverse("portal:conversation_thread", args=[account.pk, conversation.pk])


def page_url(account, conversation) -> str:
    return reverse("portal:resource_detail", args=[account.pk, "text_conversations", conversation.pk])


def shown(html: str) -> list[str]:
    """The message texts of the thread, top to bottom."""
    return [unescape(m) for m in re.findall(r'<div class="msg-body">(.*?)</div>', html, re.S)]


def thread_reads(sandbox, account) -> int:
    log = requests.get(f"{sandbox.url}/_sandbox/requests", params={"account_id": account.callrail_account_id,
                       "limit": 10000}, timeout=30).json()["requests"]  # fmt: skip
    return sum(1 for r in log if re.search(r"/text-messages/[^/]+\.json$", r["path"]))


def test_the_thread_reads_oldest_first_newest_last_titled_by_the_customer(login, tenant, synced, sandbox):
    conversation = longest(synced)
    client = login(tenant.client_user)
    page = client.get(page_url(synced, conversation)).content.decode()
    payload = conversation.payload
    # the customer as CallRail formats them: the name, else the number
    title = payload.get("formatted_customer_name") or format_phone(conversation.customer_phone_number)
    assert title
    assert f"<h1>{title}</h1>" in unescape(page)
    assert conversation.callrail_id not in page
    assert 'hx-get="' + thread_url(synced, conversation) in page  # the rest of the thread loads after the page

    response = client.get(thread_url(synced, conversation))
    assert response.status_code == 200
    html = response.content.decode()
    # every message CallRail lists for the conversation, stored and shown in time order
    upstream = client_for_account(synced, lane="interactive").get(f"text-messages/{conversation.callrail_id}.json")
    messages = sorted(upstream["messages"], key=lambda m: parse_datetime(m["created_at"]))
    assert len(messages) >= 2
    assert shown(html) == [m["content"] for m in messages]
    stored = TextMessage.objects.for_account(synced).filter(conversation=conversation)
    assert sorted(stored.values_list("callrail_id", flat=True)) == sorted(str(m["id"]) for m in messages)
    # direction: the customer's on the left, the business's on the right, each with its time
    directions = re.findall(r'<li class="msg (msg-incoming|msg-outgoing)', html)
    assert directions == [f"msg-{m['direction']}" for m in messages]
    assert html.count("<time ") >= len(messages)
    assert 'hx-trigger="load"' not in html  # complete: no further loading


def test_the_thread_is_read_again_only_after_a_newer_message(login, tenant, synced, sandbox):
    conversation = longest(synced)
    client = login(tenant.staff)
    client.get(thread_url(synced, conversation))
    assert thread_reads(sandbox, synced) == 1
    page = client.get(page_url(synced, conversation)).content.decode()
    assert 'hx-trigger="load"' not in page  # read since its last message: shown from the mirror
    client.get(thread_url(synced, conversation))
    assert thread_reads(sandbox, synced) == 1
    TextConversation.objects.for_account(synced).filter(pk=conversation.pk).update(
        last_message_at=timezone.now() + timedelta(minutes=1)  # the pull saw a newer message
    )
    assert 'hx-trigger="load"' in client.get(page_url(synced, conversation)).content.decode()
    client.get(thread_url(synced, conversation))
    assert thread_reads(sandbox, synced) == 2


def test_a_spent_budget_shows_the_latest_messages_and_says_why(login, tenant, synced, sandbox):
    conversation = longest(synced)
    mark_exhausted(synced.pk, "general", retry_after=900)
    html = login(tenant.client_user).get(thread_url(synced, conversation)).content.decode()
    assert "allowance" in html
    recent = sorted(conversation.payload["recent_messages"], key=lambda m: parse_datetime(m["created_at"]))
    assert shown(html) == [m["content"] for m in recent]
    assert thread_reads(sandbox, synced) == 0


def test_messages_follow_the_conversations_scope(login, tenant, other_tenant, synced):
    conversation = longest(synced)
    login(tenant.staff).get(thread_url(synced, conversation))
    assert TextMessage.objects.for_account(synced).filter(conversation=conversation).exists()
    assert login(other_tenant.owner).get(thread_url(synced, conversation)).status_code == 404
    membership = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[synced])
    other_company = (
        TextConversation.objects.for_account(synced).exclude(company=conversation.company).first().company
    )
    membership.companies.set([other_company])
    assert login(membership.user).get(thread_url(synced, conversation)).status_code == 404
    visible = TextMessage.objects.visible_to(membership.user, tenant.agency).filter(conversation=conversation)
    assert not visible.exists()


def test_recent_messages_and_stored_ones_make_one_thread(login, tenant):
    """Docs-shaped data: the list's recent messages (newest first, no ids) and the stored thread overlap."""
    records = every_resource(tenant.account)
    now = timezone.now().replace(microsecond=0)
    at = [now - timedelta(minutes=m) for m in (30, 20, 10)]
    conversation = mirror(
        TextConversation, tenant.account, company=records["companies"], customer_name="MANN KEVIN",
        customer_phone_number="+14042223333", last_message_at=at[2], state="active",
        thread_synced_at=at[1] + timedelta(seconds=5),
        payload={"formatted_customer_name": "Mann Kevin", "recent_messages": [
            {"direction": "outgoing", "content": "See you at 3.", "created_at": at[2].isoformat()},
            {"direction": "incoming", "content": "Can I come at 3?", "created_at": at[1].isoformat()},
        ]},
    )  # fmt: skip
    for number, (when, direction, text) in enumerate([(at[0], "incoming", "Hi, are you open today?"),
                                                      (at[1], "incoming", "Can I come at 3?")]):  # fmt: skip
        mirror(TextMessage, tenant.account, callrail_id=f"{9000 + number}", conversation=conversation,
               direction=direction, content=text, sent_at=when)  # fmt: skip
    html = login(tenant.client_user).get(page_url(tenant.account, conversation)).content.decode()
    assert shown(html) == ["Hi, are you open today?", "Can I come at 3?", "See you at 3."]
    assert "<h1>Mann Kevin</h1>" in html
    assert "(404) 222-3333" in html
