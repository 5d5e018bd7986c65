"""Texts with a real Celery worker (issue 21): a reply reaches CallRail through the push queue, and a worker killed
after CallRail carried the send out but before the portal wrote it down does not make the next worker send the
text a second time (it finds the text in the conversation first)."""

from __future__ import annotations

import io
import time

import pytest
import requests
from django.core.management import call_command

from apps.core.redis import get_redis, redis_key
from apps.push.models import EntryStatus, OutboxEntry
from apps.push.selectors import outbox_is_settled
from apps.text_conversations.models import OutgoingText
from apps.text_conversations.sending import text_send
from tests.push.conftest import faults, request_log
from tests.sync.conftest import _clear_redis, execute, point_at_sandbox
from tests.workers import start_worker, wait_for

from .test_sending import RESOURCES, a_conversation, sms_posts, upstream_conversation

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def live_synced(transactional_db, tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    run = execute(account, resources=RESOURCES)
    assert run.status == "succeeded", run.errors
    yield account
    _clear_redis(account.pk)


def settled(account, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not outbox_is_settled(account):
        assert time.monotonic() < deadline, [str(e) for e in OutboxEntry.objects.for_account(account)]
        time.sleep(0.1)


def upstream_count(account, conversation, content: str) -> int:
    messages = upstream_conversation(account, conversation.callrail_id)["messages"]
    return sum(1 for m in messages if m["direction"] == "outgoing" and m["content"].startswith(content))


def test_a_reply_is_sent_by_the_worker(live_synced, sandbox, celery_worker, tenant):
    conversation = a_conversation(live_synced)
    text = text_send(account=live_synced, conversation=conversation, content="See you at 10.",
                     customer_phone_number=conversation.customer_phone_number, actor=tenant.staff)  # fmt: skip
    settled(live_synced)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.DONE, text.entry.message
    assert text.sent_at is not None
    assert len(sms_posts(sandbox, live_synced)) == 1
    assert upstream_count(live_synced, conversation, "See you at 10.") == 1


def test_no_second_text_when_the_worker_died_between_callrails_answer_and_the_local_write(live_synced, sandbox):
    account = live_synced
    conversation = a_conversation(account)
    content = "Your technician is 10 minutes away."
    # CallRail carries the send out at once but answers only after 20 s: the worker is killed in between.
    faults(sandbox, answer_latency_ms=20000, path_pattern=r"/text-messages\.json$")
    worker = start_worker()
    try:
        text = text_send(account=account, conversation=conversation, content=content,
                         customer_phone_number=conversation.customer_phone_number)  # fmt: skip
        wait_for(lambda: upstream_count(account, conversation, content) == 1, timeout=30, what="CallRail holds it")
        worker.kill()
    finally:
        worker.stop()
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=30)
    text.refresh_from_db()
    assert text.entry.status == EntryStatus.IN_FLIGHT  # sent, never written down
    assert text.sent_at is None
    # The dead worker's drain lock would expire (PUSH_LOCK_TTL); a test does not wait five minutes for it.
    get_redis().delete(redis_key("push", "lock", account.pk))
    worker = start_worker()
    try:
        out = io.StringIO()
        call_command("push_outbox", account.callrail_account_id, "--wait", "--timeout", "60", stdout=out)
    finally:
        worker.stop()
    text = OutgoingText.objects.for_account(account).get(pk=text.pk)
    assert text.entry.status == EntryStatus.DONE, text.entry.message
    assert text.entry.options.get("found_upstream") is True
    assert text.sent_at is not None
    assert text.conversation_id == conversation.pk
    assert upstream_count(account, conversation, content) == 1
    posts = [r for r in request_log(sandbox, account) if r["method"] == "POST" and "text-messages" in r["path"]]
    assert len(posts) == 1
