"""Texts sent from the portal (issue 21): a reply in a thread and "text back" to a call, through the outbox under
the SMS budget class, against the sandbox over HTTP. Bad input is refused before anything is queued; CallRail's
4xx keeps the draft; an opt-out blocks further sends; a text whose local write was lost is not sent again."""

from __future__ import annotations

import pytest
import requests

from apps.callrail.budget import budget_status_for_account, mark_exhausted
from apps.callrail.client import client_for_account
from apps.calls.models import Call
from apps.push.models import EntryStatus, OutboxEntry
from apps.text_conversations.models import OutgoingText, TextConversation
from apps.text_conversations.sending import (
    TextRefused,
    e164_us,
    opt_out_of,
    sms_senders,
    text_send,
    unsent_texts,
)
from apps.trackers.models import Tracker
from tests.push.conftest import drain, request_log
from tests.sync.conftest import _clear_redis, control, execute, point_at_sandbox

pytestmark = pytest.mark.django_db

RESOURCES = ["companies", "users", "trackers", "calls", "form_submissions", "text_conversations"]


@pytest.fixture
def synced(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    run = execute(account, resources=RESOURCES)
    assert run.status == "succeeded", run.errors
    yield account
    _clear_redis(account.pk)


def a_conversation(account) -> TextConversation:
    for conversation in TextConversation.objects.for_account(account).live().order_by("pk"):
        tracker = Tracker.objects.for_account(account).filter(company=conversation.company).first()
        if (
            conversation.company_id
            and tracker is not None
            and sms_senders(account=account, company=conversation.company)
        ):
            return conversation
    raise AssertionError("the sandbox seed has no conversation with an SMS sender")


def sms_posts(sandbox, account) -> list[dict]:
    return [r for r in request_log(sandbox, account) if r["method"] == "POST" and "text-messages" in r["path"]]


def upstream_conversation(account, callrail_id: str) -> dict:
    return client_for_account(account, lane="interactive").get(f"text-messages/{callrail_id}.json")


def sms_spent(account) -> int:
    status = budget_status_for_account(account)
    return next(c.hour_spent for c in status.classes if c.limit_class == "sms_send")


def test_a_reply_is_pending_at_once_then_sent_under_the_sms_budget(synced, sandbox, tenant):
    conversation = a_conversation(synced)
    text = text_send(account=synced, conversation=conversation, content="Thanks! We can come Tuesday at 9.",
                     customer_phone_number=conversation.customer_phone_number, actor=tenant.staff)  # fmt: skip
    assert [t.pk for t in unsent_texts(account=synced, conversation=conversation)] == [text.pk]
    assert text.entry.status == EntryStatus.PENDING
    assert sms_posts(sandbox, synced) == []
    drain(synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.DONE, text.entry.message
    assert text.sent_at is not None
    assert text.conversation_id == conversation.pk
    assert unsent_texts(account=synced, conversation=conversation) == []
    assert len(sms_posts(sandbox, synced)) == 1
    assert sms_spent(synced) == 1  # the SMS class, and only one token of it
    messages = upstream_conversation(synced, conversation.callrail_id)["messages"]
    assert messages[0]["direction"] == "outgoing"
    assert messages[0]["content"].startswith("Thanks! We can come Tuesday at 9.")
    conversation.refresh_from_db()
    assert conversation.thread_is_stale  # the page reads the new message from CallRail


def test_text_back_from_a_call_starts_a_conversation_from_the_chosen_number(synced, sandbox):
    call = None
    for candidate in Call.objects.for_account(synced).exclude(company=None).order_by("pk"):
        known = TextConversation.objects.for_account(synced).filter(
            customer_phone_number=candidate.customer_phone_number).exists()  # fmt: skip
        if (
            not known
            and e164_us(candidate.customer_phone_number)
            and sms_senders(account=synced, company=candidate.company)
        ):
            call = candidate
            break
    assert call is not None
    sender = sms_senders(account=synced, company=call.company)[-1]
    text = text_send(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                     tracking_number=sender.number, content="Sorry we missed you - how can we help?")  # fmt: skip
    assert text.conversation is None
    drain(synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.DONE, text.entry.message
    conversation = text.conversation
    assert conversation is not None
    assert conversation.customer_phone_number == call.customer_phone_number
    assert conversation.current_tracking_number == sender.number
    body = sms_posts(sandbox, synced)[0]
    assert body["path"].endswith("/text-messages.json")


def test_bad_input_is_refused_before_anything_is_queued(synced, sandbox):
    conversation = a_conversation(synced)
    number = conversation.customer_phone_number
    with pytest.raises(TextRefused, match="at most 140 characters") as refused:
        text_send(account=synced, conversation=conversation, customer_phone_number=number, content="x" * 141)
    assert refused.value.field == "content"
    no_sms = Tracker.objects.for_account(synced).filter(company=conversation.company).first()
    Tracker.objects.for_account(synced).filter(pk=no_sms.pk).update(sms_enabled=False)
    with pytest.raises(TextRefused, match="cannot send texts: texting is not enabled") as refused:
        text_send(account=synced, conversation=conversation, customer_phone_number=number, content="Hi",
                  tracking_number=no_sms.tracking_numbers[0])  # fmt: skip
    assert refused.value.field == "tracking_number"
    with pytest.raises(TextRefused, match="not a tracking number of this lead's company"):
        text_send(account=synced, conversation=conversation, customer_phone_number=number, content="Hi",
                  tracking_number="+13035550199")  # fmt: skip
    Tracker.objects.for_account(synced).filter(pk=no_sms.pk).update(sms_enabled=True)
    retry_after = mark_exhausted(synced.pk, "sms_send", retry_after=600)
    assert retry_after >= 600
    with pytest.raises(TextRefused, match=r"text allowance for now: the next text can be sent at .*in about 1\d mi"):
        text_send(account=synced, conversation=conversation, customer_phone_number=number, content="Hi")
    assert OutgoingText.objects.for_account(synced).count() == 0
    assert OutboxEntry.objects.for_account(synced).count() == 0
    assert sms_posts(sandbox, synced) == []


def test_an_opt_out_blocks_further_texts_queued_or_not(synced, sandbox):
    conversation = a_conversation(synced)
    number = conversation.customer_phone_number
    queued = text_send(account=synced, conversation=conversation, customer_phone_number=number, content="Hello?")
    control(sandbox, "POST", "texts", account_id=synced.callrail_account_id, customer_phone_number=number,
            content="Stop", tracking_number=conversation.current_tracking_number)  # fmt: skip
    execute(synced, resources=["text_conversations"])
    assert opt_out_of(account=synced, number=number).word == "STOP"
    drain(synced)
    queued.refresh_from_db()
    assert queued.entry.status == EntryStatus.FAILED
    assert "replied STOP" in queued.entry.message
    assert "opted out" in queued.entry.message
    assert sms_posts(sandbox, synced) == []  # queued before the STOP, never sent after it
    with pytest.raises(TextRefused, match=r"replied STOP .* has opted out of texts"):
        text_send(account=synced, conversation=conversation, customer_phone_number=number, content="Are you sure?")
    control(sandbox, "POST", "texts", account_id=synced.callrail_account_id, customer_phone_number=number,
            content="START", tracking_number=conversation.current_tracking_number)  # fmt: skip
    execute(synced, resources=["text_conversations"])
    assert opt_out_of(account=synced, number=number) is None


def test_a_refusal_from_callrail_keeps_the_draft_with_its_message(synced, sandbox):
    conversation = a_conversation(synced)
    text = text_send(account=synced, conversation=conversation,
                     customer_phone_number=conversation.customer_phone_number,
                     content="Your estimate is ready.")  # fmt: skip
    # SMS switched off in CallRail since the mirror last read the tracker: CallRail refuses the send.
    for tracker in Tracker.objects.for_account(synced).filter(company=conversation.company):
        client_for_account(synced, lane="interactive").put(f"trackers/{tracker.callrail_id}.json",
                                                           json={"sms_enabled": False})  # fmt: skip
    drain(synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.FAILED
    assert text.entry.last_status_code in (400, 422)
    assert "SMS-enabled" in text.entry.message
    assert text.content == "Your estimate is ready."  # the draft is kept
    assert [t.pk for t in unsent_texts(account=synced, conversation=conversation)] == [text.pk]


def test_a_text_whose_local_write_was_lost_is_found_not_sent_again(synced, sandbox):
    conversation = a_conversation(synced)
    text = text_send(account=synced, conversation=conversation,
                     customer_phone_number=conversation.customer_phone_number,
                     content="Confirming 3pm today.")  # fmt: skip
    drain(synced)
    # As if the worker died after CallRail accepted the text, before the local write.
    OutboxEntry.objects.for_account(synced).filter(pk=text.entry_id).update(status=EntryStatus.IN_FLIGHT, done_at=None)
    OutgoingText.objects.for_account(synced).filter(pk=text.pk).update(sent_at=None)
    drain(synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.DONE
    assert text.entry.options.get("found_upstream") is True
    assert len(sms_posts(sandbox, synced)) == 1
    messages = upstream_conversation(synced, conversation.callrail_id)["messages"]
    assert sum(1 for m in messages if m["content"].startswith("Confirming 3pm today.")) == 1


def test_the_sms_budget_defers_texts_and_never_the_other_edits(synced, sandbox):
    conversation = a_conversation(synced)
    text = text_send(account=synced, conversation=conversation,
                     customer_phone_number=conversation.customer_phone_number, content="Soon.")  # fmt: skip
    mark_exhausted(synced.pk, "sms_send", retry_after=300)
    from apps.calls import services as calls

    call = Call.objects.for_account(synced).exclude(company=None).filter(spam=False).first()
    calls.call_note_update(call=call, note="edited while texts wait")
    result = drain(synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.PENDING
    assert text.entry.not_before is not None
    assert result.done == 1
    assert result.retry_in is not None
    assert sms_posts(sandbox, synced) == []
    response = requests.get(f"{sandbox.url}/_sandbox/accounts/{synced.callrail_account_id}/calls/{call.callrail_id}",
                            timeout=30)  # fmt: skip
    assert response.json()["note"] == "edited while texts wait"
