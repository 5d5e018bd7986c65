"""The outbox's behaviour against the sandbox over HTTP, drained in this process: CallRail's refusals reach
the person, transient failures are retried, conflicts are detected, creates are never duplicated, the budget
is respected, and a pull never overwrites a pending edit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.callrail.client import client_for_account
from apps.calls import services as calls
from apps.calls.models import Call
from apps.push.engine import drain_account
from apps.push.models import PENDING_PREFIX, EntryStatus, OutboxEntry
from apps.push.selectors import outbox_counts, push_status_for
from apps.push.services import outbox_entry_discard, outbox_entry_retry
from apps.sync.models import SyncKind
from apps.tags import services as tags
from apps.tags.models import Tag
from apps.trackers import services as trackers
from apps.trackers.models import Tracker
from tests.sync.conftest import execute

from .conftest import drain, entries, faults, request_log, upstream
from .test_writes import company_of


def a_call(account) -> Call:
    return Call.objects.for_account(account).exclude(company=None).filter(spam=False).order_by("pk").first()


def test_a_refusal_reaches_the_person_with_callrails_message_and_the_edit_is_kept(mirrored, sandbox):
    company = company_of(mirrored)
    # Someone creates the tag in CallRail itself after our last pull: the mirror does not know it.
    client_for_account(mirrored, lane="interactive").post(
        "tags.json", json={"name": "Referral", "company_id": company.callrail_id}
    )
    tag = tags.tag_create(account=mirrored, name="Referral", company=company, color="blue1")
    drain(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.FAILED
    assert entry.last_status_code == 422
    assert entry.message == "Name has already been taken"
    badge = push_status_for(tag)
    assert (badge.state, badge.message) == ("failed", "Name has already been taken")
    tag.refresh_from_db()  # the edit is kept so it can be fixed
    assert tag.name == "Referral"
    assert tag.callrail_id.startswith(PENDING_PREFIX)
    assert outbox_counts(mirrored)["failed"] == 1
    # Fixed by renaming it locally, then retried: the create is looked up first (it is not there) and sent.
    Tag.objects.for_account(mirrored).filter(pk=tag.pk).update(name="Referral (web)")
    outbox_entry_retry(entry=entry)
    drain(mirrored)
    entry.refresh_from_db()
    tag.refresh_from_db()
    assert entry.status == EntryStatus.DONE
    assert upstream(sandbox, mirrored, "tags", tag.callrail_id)["name"] == "Referral (web)"


def test_server_errors_are_retried_with_backoff_without_sleeping(mirrored, sandbox, settings):
    settings.CALLRAIL_MAX_RETRIES = 0
    call = a_call(mirrored)
    faults(sandbox, script=["500", "503"])
    calls.call_note_update(call=call, note="Call back Tuesday")
    first = drain_account(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.PENDING
    assert entry.attempts == 1
    assert entry.not_before is not None
    assert "500" in entry.message
    assert first.retry_in is not None
    assert first.retry_in >= 4
    assert drain_account(mirrored).sent == 0  # not before its time
    OutboxEntry.objects.for_account(mirrored).update(not_before=None)
    drain_account(mirrored)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PENDING
    assert entry.attempts == 2
    OutboxEntry.objects.for_account(mirrored).update(not_before=None)
    drain_account(mirrored)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.DONE
    assert entry.attempts == 3
    assert upstream(sandbox, mirrored, "calls", call.callrail_id)["note"] == "Call back Tuesday"


def test_gives_up_after_the_maximum_attempts(mirrored, sandbox, settings):
    settings.CALLRAIL_MAX_RETRIES = 0
    settings.PUSH_MAX_ATTEMPTS = 2
    faults(sandbox, script=["500", "500"])
    calls.call_note_update(call=a_call(mirrored), note="x")
    drain_account(mirrored)
    OutboxEntry.objects.for_account(mirrored).update(not_before=None)
    drain_account(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.FAILED
    assert "after 2 attempts" in entry.message


def test_a_pull_never_overwrites_a_pending_edit_and_a_changed_upstream_is_a_conflict(mirrored, sandbox):
    call = a_call(mirrored)
    original = call.note
    calls.call_note_update(call=call, note="Portal note")
    # Meanwhile someone edits the same call in CallRail, and a pull sees it before the push is sent.
    client_for_account(mirrored, lane="interactive").put(f"calls/{call.callrail_id}.json", json={"note": "CR note"})
    execute(mirrored, SyncKind.FULL, ["calls"])
    call.refresh_from_db()
    assert call.note == "Portal note"  # not overwritten by the pull
    entry = entries(mirrored)[0]
    assert entry.upstream == {"note": "CR note"}
    assert entry.base == {"note": original}
    drain(mirrored)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CONFLICT
    assert "CR note" in entry.message
    assert entry.last_answer["conflicts"]["note"]["local"] == "Portal note"
    assert push_status_for(call).state == "conflict"
    assert upstream(sandbox, mirrored, "calls", call.callrail_id)["note"] == "CR note"  # nothing was sent
    # Staff choose "keep mine": pushed, based on what CallRail has now.
    outbox_entry_retry(entry=entry)
    drain(mirrored)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.DONE
    assert upstream(sandbox, mirrored, "calls", call.callrail_id)["note"] == "Portal note"


def test_discarding_a_conflict_takes_callrails_value(mirrored, sandbox):
    call = a_call(mirrored)
    calls.call_note_update(call=call, note="Portal note")
    client_for_account(mirrored, lane="interactive").put(f"calls/{call.callrail_id}.json", json={"note": "CR note"})
    execute(mirrored, SyncKind.FULL, ["calls"])
    drain(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.CONFLICT
    outbox_entry_discard(entry=entry)
    call.refresh_from_db()
    assert call.note == "CR note"
    execute(mirrored, SyncKind.FULL, ["calls"])  # no longer held: the pull applies CallRail's record again
    call.refresh_from_db()
    assert call.note == "CR note"
    assert push_status_for(call).state is None


def test_a_create_retried_after_a_crash_finds_the_object_instead_of_creating_a_second(mirrored, sandbox):
    company = company_of(mirrored)
    tracker = trackers.tracker_create(
        account=mirrored, company=company, name="Radio spot", type="source", source={"type": "offline"},
        destination_number="+13035550100", area_code="303",
    )  # fmt: skip
    drain(mirrored)
    tracker.refresh_from_db()
    created_id = tracker.callrail_id
    assert not created_id.startswith(PENDING_PREFIX)
    # The worker died after CallRail answered, before the local write: the entry is in flight, no id.
    Tracker.objects.for_account(mirrored).filter(pk=tracker.pk).update(callrail_id=f"{PENDING_PREFIX}crash")
    OutboxEntry.objects.for_account(mirrored).update(status=EntryStatus.IN_FLIGHT, done_at=None)
    # A pull ran in between and mirrored the new tracker as a row of its own.
    execute(mirrored, SyncKind.FULL, ["trackers"])
    drain(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.DONE
    assert entry.options.get("found_upstream") is True
    listed = [t for t in client_for_account(mirrored, lane="interactive").iter_records(
        "trackers.json", list_key="trackers") if t["name"] == "Radio spot"]  # fmt: skip
    assert len(listed) == 1  # one tracker upstream
    rows = Tracker.objects.for_account(mirrored).filter(name="Radio spot")
    assert [r.callrail_id for r in rows] == [created_id]  # and one row locally, with its id
    posts = [r for r in request_log(sandbox, mirrored) if r["method"] == "POST" and r["path"].endswith("trackers.json")]
    assert len(posts) == 1


def test_per_object_order_and_supersede(mirrored, sandbox):
    company = company_of(mirrored)
    tag = tags.tag_create(account=mirrored, name="A", company=company)
    for name in ("B", "C", "D"):
        tags.tag_update(tag=tag, name=name)  # the create is not sent yet: it will carry the newest values
    assert len(entries(mirrored)) == 1
    drain(mirrored)
    tag.refresh_from_db()
    for name, color in (("E", None), ("F", None), (None, "red1"), ("G", None)):
        tags.tag_update(tag=tag, name=name, color=color)
    statuses = [(e.changes, e.status) for e in entries(mirrored)[1:]]
    assert statuses == [
        ({"name": "E"}, EntryStatus.SUPERSEDED), ({"name": "F"}, EntryStatus.SUPERSEDED),
        ({"color": "red1"}, EntryStatus.PENDING), ({"name": "G"}, EntryStatus.PENDING),
    ]  # fmt: skip
    drain(mirrored)
    up = upstream(sandbox, mirrored, "tags", tag.callrail_id)
    assert (up["name"], up["color"]) == ("G", "red1")
    assert [e.status for e in entries(mirrored)][-2:] == [EntryStatus.DONE, EntryStatus.DONE]


def test_a_failed_edit_holds_back_later_edits_of_the_same_object_only(mirrored, sandbox):
    call, other = Call.objects.for_account(mirrored).exclude(company=None).filter(spam=False).order_by("pk")[:2]
    calls.call_lead_status_update(call=call, lead_status="good_lead")
    # Make CallRail refuse the first edit: a lead previously marked good cannot be marked good again.
    with sandbox.state.lock:
        sandbox.state.accounts[mirrored.callrail_account_id].calls.by_id[
            call.callrail_id
        ].lead_status = "previously_marked_good_lead"
    calls.call_note_update(call=call, note="after the refused one")
    calls.call_note_update(call=other, note="another call")
    drain(mirrored)
    first, second, third = entries(mirrored)
    assert first.status == EntryStatus.FAILED
    assert "previously marked" in first.message
    assert second.status == EntryStatus.PENDING  # waits behind the failed edit of the same call
    assert third.status == EntryStatus.DONE
    outbox_entry_discard(entry=first)
    drain(mirrored)
    second.refresh_from_db()
    assert second.status == EntryStatus.DONE


def test_no_request_without_a_budget_token(mirrored, sandbox):
    from tests.sync.conftest import _clear_redis

    _clear_redis(mirrored.pk)  # forget the mirroring pull's requests: a fresh hour with a tiny allowance
    mirrored.budget_overrides = {"general": {"hour": 4, "day": 100}}
    mirrored.save()
    before = len(request_log(sandbox, mirrored))
    call = a_call(mirrored)
    company = company_of(mirrored)
    for i in range(4):
        tags.tag_create(account=mirrored, name=f"Budget {i}", company=company)
    calls.call_note_update(call=call, note="budget")
    result = drain_account(mirrored)
    sent = len(request_log(sandbox, mirrored)) - before
    assert result.retry_in is not None
    assert result.retry_in > 0
    done = [e for e in entries(mirrored) if e.status == EntryStatus.DONE]
    waiting = [e for e in entries(mirrored) if e.status == EntryStatus.PENDING]
    assert 1 <= sent == len(done) < 5  # one request per token granted, none beyond
    assert waiting
    assert all(e.attempts == 0 for e in waiting)
    assert waiting[0].not_before is not None
    assert "budget" in waiting[0].message
    assert drain_account(mirrored).sent == 0
    assert len(request_log(sandbox, mirrored)) - before == sent


def test_outbox_page_lists_and_retries(mirrored, sandbox, tenant, login):
    company = company_of(mirrored)
    client_for_account(mirrored, lane="interactive").post(
        "tags.json", json={"name": "Dup", "company_id": company.callrail_id}
    )
    tags.tag_create(account=mirrored, name="Dup", company=company, actor=tenant.staff)
    drain(mirrored)
    entry = entries(mirrored)[0]
    web = login(tenant.staff)
    page = web.get(reverse("push:outbox", kwargs={"account_pk": mirrored.pk}))
    assert page.status_code == 200
    assert b"Name has already been taken" in page.content
    assert b"Retry" in page.content
    response = web.post(reverse("push:retry", kwargs={"account_pk": mirrored.pk, "entry_pk": entry.pk}))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PENDING
    response = web.post(reverse("push:discard", kwargs={"account_pk": mirrored.pk, "entry_pk": entry.pk}))
    entry.refresh_from_db()
    assert entry.status == EntryStatus.DISCARDED
    assert not Tag.objects.for_account(mirrored).filter(name="Dup", callrail_id__startswith=PENDING_PREFIX).exists()
    assert login(tenant.client_user).get(reverse("push:outbox", kwargs={"account_pk": mirrored.pk})).status_code == 403


@pytest.mark.parametrize("who", ["staff", "owner"])
def test_outbox_of_another_agency_is_404(mirrored, tenant, other_tenant, login, who):
    web = login(getattr(tenant, who))
    assert web.get(reverse("push:outbox", kwargs={"account_pk": other_tenant.account.pk})).status_code == 404


def _create(kind: str, account):
    from apps.integrations import services as integrations
    from apps.integrations.models import Integration
    from apps.notifications import services as notifications
    from apps.summary_emails import services as summary_emails
    from apps.users import services as users
    from apps.users.models import CallRailUser

    company = company_of(account)
    admin = CallRailUser.objects.for_account(account).live().filter(role="admin").first()
    if kind == "tags":
        return tags.tag_create(account=account, name="Crash tag", company=company)
    if kind == "companies":
        from apps.companies import services as companies

        return companies.company_create(account=account, name="Crash Co")
    if kind == "users":
        return users.callrail_user_create(account=account, first_name="C", last_name="Rash", role="admin",
                                          email="crash@example.com")  # fmt: skip
    if kind == "notifications":
        return notifications.notification_create(account=account, user=admin, company=company, alert_type="vm_only",
                                                 call_enabled=True, send_email=True)  # fmt: skip
    if kind == "summary_emails":
        return summary_emails.summary_email_create(account=account, user=admin, company=company,
                                                   frequency=["daily"], config={"call_log": True})  # fmt: skip
    Integration.objects.for_account(account).filter(company=company).delete()
    return integrations.webhook_integration_create(account=account, company=company,
                                                   config={"sms_sent_webhook": ["https://p.example/h"]})  # fmt: skip


@pytest.mark.parametrize("kind", ["tags", "companies", "users", "notifications", "summary_emails", "integrations"])
def test_every_create_is_looked_up_before_it_is_sent_again(mirrored, sandbox, kind):
    from apps.push.writes import get_write

    row = _create(kind, mirrored)
    drain(mirrored)
    row.refresh_from_db()
    created = row.callrail_id
    if kind == "integrations" and entries(mirrored)[0].status == EntryStatus.FAILED:
        pytest.skip(f"the seed already has a Webhooks integration: {entries(mirrored)[0].message}")
    assert entries(mirrored)[0].status == EntryStatus.DONE
    type(row).objects.for_account(mirrored).filter(pk=row.pk).update(callrail_id=f"{PENDING_PREFIX}crash")
    OutboxEntry.objects.for_account(mirrored).update(status=EntryStatus.IN_FLIGHT, done_at=None)
    drain(mirrored)
    entry = entries(mirrored)[0]
    assert entry.status == EntryStatus.DONE
    assert entry.options.get("found_upstream") is True
    row.refresh_from_db()
    assert row.callrail_id == created
    write = get_write(kind)
    client = client_for_account(mirrored, lane="interactive")
    found = [
        r for r in client.iter_records(write.collection, list_key=write.list_key, params=write.lookup.params(row))
        if write.lookup.match(row, r)
    ]  # fmt: skip
    assert [str(r["id"]) for r in found] == [created]
