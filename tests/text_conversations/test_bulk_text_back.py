"""Bulk "text back" (issue 21) with a real worker: the dry run shows the SMS sends it will spend against the account's
SMS allowance (not the general one); the job queues one text per lead; with the sandbox's SMS limit reached the rest
wait in the outbox — nothing is sent over the limit (the sandbox never answers 429)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.bulk.models import BulkJob, JobStatus
from apps.calls.models import Call
from apps.push.models import EntryStatus
from apps.text_conversations.models import OutgoingText
from apps.text_conversations.sending import e164_us, sms_senders
from tests.push.conftest import request_log
from tests.sync.conftest import control
from tests.workers import wait_for

from .test_sending import sms_posts
from .test_worker import live_synced  # noqa: F401  (fixture)

pytestmark = [pytest.mark.worker, pytest.mark.slow]
SMS_HOUR = 5  # the account's CallRail SMS limit here; the portal allows itself 90%: 4


def leads(account, count: int) -> list[Call]:
    out, numbers = [], set()
    for call in Call.objects.for_account(account).exclude(company=None).order_by("pk"):
        number = e164_us(call.customer_phone_number)
        if number and number not in numbers and sms_senders(account=account, company=call.company):
            out.append(call)
            numbers.add(number)
        if len(out) == count:
            return out
    raise AssertionError("not enough leads to text in the sandbox seed")


def test_bulk_text_back_spends_the_sms_allowance_and_defers_the_rest(live_synced, sandbox, celery_worker, tenant,  # noqa: F811
                                                                     login):  # fmt: skip
    account = live_synced
    control(sandbox, "POST", "rate-limits", account_id=account.callrail_account_id,
            limits={"sms": {"hour": SMS_HOUR, "day": 50}})  # fmt: skip
    account.budget_overrides = {"sms_send": {"hour": SMS_HOUR, "day": 50}}
    account.save()
    calls = leads(account, 7)
    client = login(tenant.staff)
    start = reverse("bulk:start", args=[account.pk, "calls"])
    response = client.post(start, {"action": "text_back", "scope": "selected", "ids": [str(c.pk) for c in calls],
                                   "template": "Hi {name}, sorry we missed your call. Can we help?"})  # fmt: skip
    assert response.status_code == 200, response.content.decode()[:2000]
    preview = response.context["preview"]
    (estimate,) = preview.estimates
    assert (estimate.limit_class, estimate.requests, estimate.hour_left) == ("sms_send", 7, 4)
    assert estimate.over
    html = response.content.decode()
    assert "SMS sends this action spends" in html
    assert "the rest is sent as the budget frees up" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response = client.post(reverse("bulk:confirm", args=[account.pk, "calls"]), {"token": token})
    assert response.status_code == 302
    job = BulkJob.objects.for_account(account).get()

    def finished() -> bool:
        job.refresh_from_db()
        return job.finished

    wait_for(finished, timeout=90, step=0.3, what="the bulk job")
    assert job.status == JobStatus.DONE, job.message
    assert (job.succeeded, job.failed) == (7, 0), job.failures
    texts = OutgoingText.objects.for_account(account).select_related("entry")
    wait_for(lambda: texts.filter(entry__status=EntryStatus.DONE).count() == 4, timeout=60, what="four texts sent")
    wait_for(lambda: not texts.filter(entry__status=EntryStatus.IN_FLIGHT).exists(), timeout=30, what="settled")
    statuses = sorted(t.entry.status for t in texts.all())
    assert statuses == [EntryStatus.DONE] * 4 + [EntryStatus.PENDING] * 3
    pending = texts.filter(entry__status=EntryStatus.PENDING)

    def deferred() -> list | None:
        """The three unsent texts once the drain has been refused by the budget (an entry is in flight for a
        moment while the drain, or a later one, asks the budget for it)."""
        entries = [t.entry for t in pending.all()]
        return entries if len(entries) == 3 and any(e.not_before for e in entries) else None

    waiting = wait_for(deferred, timeout=30, what="the three unsent texts deferred")
    assert [e.attempts for e in waiting] == [0, 0, 0]  # never sent: deferred until the allowance frees up
    assert len(sms_posts(sandbox, account)) == 4
    assert not [r for r in request_log(sandbox, account) if r["status"] == 429]
    names = {re.match(r"Hi (\w+),", t.content).group(1) for t in texts.all()}
    assert names - {"there"}, "some leads have a name"
    for text in texts.all():
        pattern = r"Hi ([A-Z][a-z]+|there), sorry we missed your call\. Can we help\?"
        assert re.fullmatch(pattern, text.content), text.content
