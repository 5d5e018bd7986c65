"""Call back (issue 21): CallRail's outbound call endpoint under the outbound-call budget class, from a tracking
number or a verified outbound caller ID of the lead's company, ringing the person's own phone first; the new call
is in the call log as outbound at once; a call back whose local write was lost is found, never placed twice."""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from apps.callrail.budget import budget_status_for_account, mark_exhausted
from apps.calls.callbacks import CallBackRefused, call_back_start, caller_ids
from apps.calls.models import Call, CallBack
from apps.companies.models import Company
from apps.push.models import EntryStatus, OutboxEntry
from apps.text_conversations.sending import e164_us
from tests.push.conftest import drain, request_log, upstream
from tests.text_conversations.test_sending import synced  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
MY_PHONE = "+13035550142"


def a_lead(account) -> Call:
    for call in Call.objects.for_account(account).exclude(company=None).filter(direction="inbound").order_by("pk"):
        if e164_us(call.customer_phone_number) and caller_ids(account=account, company=call.company)[0]:
            return call
    raise AssertionError("no inbound call with a caller ID to call back from")


def outbound_posts(sandbox, account) -> list[dict]:
    return [r for r in request_log(sandbox, account) if r["method"] == "POST" and r["path"].endswith("/calls.json")]


def outbound_spent(account) -> int:
    return next(c.hour_spent for c in budget_status_for_account(account).classes if c.limit_class == "outbound_call")


def test_call_back_from_a_call_page_places_an_outbound_call_in_the_log(synced, sandbox, tenant, login):  # noqa: F811
    call = a_lead(synced)
    choices, problem = caller_ids(account=synced, company=call.company)
    assert problem == ""
    client = login(tenant.staff)
    url = reverse("portal:call_call_back", args=[synced.pk, call.pk])
    detail = client.get(reverse("portal:resource_detail", args=[synced.pk, "calls", call.pk])).content.decode()
    assert f'href="{url}"' in detail
    html = unescape(client.get(url).content.decode())
    assert all(c.number in html for c in choices)
    response = client.post(url, {"business_phone_number": "(303) 555-0142", "caller_id": choices[0].number},
                           follow=True)  # fmt: skip
    assert "CallRail rings your phone first" in unescape(response.content.decode())
    assert 'data-state="pending"' in response.content.decode()
    back = CallBack.objects.for_account(synced).get()
    assert (back.business_phone_number, back.caller_id, back.source_call) == (MY_PHONE, choices[0].number, call)
    drain(synced)
    back.refresh_from_db()
    assert back.entry.status == EntryStatus.DONE, back.entry.message
    outbound = back.call
    assert outbound is not None
    assert outbound.direction == "outbound"
    assert outbound.customer_phone_number == call.customer_phone_number
    assert outbound.company_id == call.company_id
    assert upstream(sandbox, synced, "calls", outbound.callrail_id)["direction"] == "outbound"
    assert len(outbound_posts(sandbox, synced)) == 1
    assert outbound_spent(synced) == 1
    html = unescape(client.get(url).content.decode())
    assert 'data-state="placed"' in html
    assert ">outbound call</a>" in html
    assert client.get(url).wsgi_request.session["call_back_phone"] == "(303) 555-0142"


def test_bad_input_is_refused_before_queuing(synced, sandbox):  # noqa: F811
    call = a_lead(synced)
    number = caller_ids(account=synced, company=call.company)[0][0].number
    with pytest.raises(CallBackRefused, match="Enter your own phone number") as refused:
        call_back_start(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                        business_phone_number="12", caller_id=number)  # fmt: skip
    assert refused.value.field == "business_phone_number"
    with pytest.raises(CallBackRefused, match="is not an active tracking number or a verified outbound caller ID"):
        call_back_start(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                        business_phone_number=MY_PHONE, caller_id="+13035550199")  # fmt: skip
    mark_exhausted(synced.pk, "outbound_call", retry_after=900)
    with pytest.raises(CallBackRefused, match="outbound-call allowance for now: the next call can be placed at"):
        call_back_start(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                        business_phone_number=MY_PHONE, caller_id=number)  # fmt: skip
    assert not CallBack.objects.for_account(synced).exists()
    assert not OutboxEntry.objects.for_account(synced).exists()
    assert outbound_posts(sandbox, synced) == []


def test_a_call_back_whose_local_write_was_lost_is_not_placed_again(synced, sandbox):  # noqa: F811
    call = a_lead(synced)
    number = caller_ids(account=synced, company=call.company)[0][0].number
    back = call_back_start(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                           business_phone_number=MY_PHONE, caller_id=number)  # fmt: skip
    drain(synced)
    back.refresh_from_db()
    placed = back.call.callrail_id
    OutboxEntry.objects.for_account(synced).filter(pk=back.entry_id).update(status=EntryStatus.IN_FLIGHT, done_at=None)
    CallBack.objects.for_account(synced).filter(pk=back.pk).update(call=None, placed_at=None)
    drain(synced)
    back.refresh_from_db()
    assert back.entry.status == EntryStatus.DONE, back.entry.message
    assert back.entry.options.get("found_upstream") is True
    assert back.call.callrail_id == placed
    assert len(outbound_posts(sandbox, synced)) == 1


def test_a_verified_outbound_caller_id_read_from_callrail_may_be_shown(synced, sandbox):  # noqa: F811
    for call in Call.objects.for_account(synced).exclude(company=None).filter(direction="inbound").order_by("pk"):
        verified = [c for c in caller_ids(account=synced, company=call.company)[0] if c.kind == "verified"]
        if verified and e164_us(call.customer_phone_number):
            break
    else:
        raise AssertionError("the sandbox seed has a verified outbound caller ID")
    back = call_back_start(account=synced, source_call=call, customer_phone_number=call.customer_phone_number,
                           business_phone_number=MY_PHONE, caller_id=verified[0].number,
                           allowed_caller_ids=[*verified])  # fmt: skip
    drain(synced)
    back.refresh_from_db()
    assert back.entry.status == EntryStatus.DONE, back.entry.message
    assert back.call.tracking_phone_number == verified[0].number


def caller_id_reads(sandbox, account) -> int:
    log = request_log(sandbox, account)
    return sum(1 for r in log if r["method"] == "GET" and r["path"].endswith("/caller_ids.json"))


def test_caller_ids_are_read_from_the_mirror_once_a_sync_listed_them(synced, sandbox):  # noqa: F811
    from apps.calls.models import OutboundCallerId
    from tests.sync.conftest import execute

    run = execute(synced, resources=["caller_ids"])
    assert run.status == "succeeded", run.errors
    seeded = OutboundCallerId.objects.for_account(synced).get(verified=True)
    reads = caller_id_reads(sandbox, synced)
    verified = [c for c in caller_ids(account=synced, company=seeded.company)[0] if c.kind == "verified"]
    assert [c.number for c in verified] == [seeded.phone_number]
    others = Company.objects.for_account(synced).exclude(pk=seeded.company_id)
    assert others.exists()
    for company in others:  # a company with none: the mirror says so, CallRail is not asked
        assert [c for c in caller_ids(account=synced, company=company)[0] if c.kind == "verified"] == []
    assert caller_id_reads(sandbox, synced) == reads
    # verified in CallRail since: offered after the next sync lists it; removed upstream: no longer offered
    acc = sandbox.state.accounts[synced.callrail_account_id]
    new = dict(next(iter(acc.caller_ids.values())), id=9_999_001, phone_number="+14047704070", name="Widget Shop")
    acc.caller_ids[new["id"]] = new
    del acc.caller_ids[int(seeded.callrail_id)]
    assert [c.number for c in caller_ids(account=synced, company=seeded.company)[0] if c.kind == "verified"] == [
        seeded.phone_number]  # fmt: skip
    execute(synced, resources=["caller_ids"])
    assert [c.number for c in caller_ids(account=synced, company=seeded.company)[0] if c.kind == "verified"] == [
        "+14047704070"]  # fmt: skip
    with pytest.raises(CallBackRefused, match="is not an active tracking number or a verified outbound caller ID"):
        call_back_start(account=synced, company=seeded.company, customer_phone_number="+14045550199",
                        business_phone_number=MY_PHONE, caller_id=seeded.phone_number)  # fmt: skip


def test_before_a_sync_listed_caller_ids_the_company_s_are_read_once_into_the_mirror(synced, sandbox):  # noqa: F811
    from apps.calls.models import OutboundCallerId
    from tests.sync.conftest import execute

    assert not OutboundCallerId.objects.for_account(synced).exists()  # the fixture's sync did not list them
    acc = sandbox.state.accounts[synced.callrail_account_id]
    company_id = next(iter(acc.caller_ids.values()))["_company_id"]
    company = Company.objects.for_account(synced).get(callrail_id=company_id)
    choices, problem = caller_ids(account=synced, company=company)
    assert problem == ""
    assert [c.kind for c in choices].count("verified") == 1
    assert caller_id_reads(sandbox, synced) == 1
    assert OutboundCallerId.objects.for_account(synced).get().company == company
    caller_ids(account=synced, company=company)  # mirrored now: CallRail is not asked again
    assert caller_id_reads(sandbox, synced) == 1
    run = execute(synced, resources=["caller_ids"])  # the sync's listing agrees with the row read on demand
    assert (run.records_created, run.records_updated) == (0, 0)
    assert run.records_unchanged == 1
