"""Every write service, pushed through the outbox to the sandbox over HTTP: CallRail ends up equal to the portal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.calls import services as calls
from apps.calls.models import Call
from apps.companies import services as companies
from apps.companies.models import Company
from apps.integrations import services as integrations
from apps.integrations.models import Integration
from apps.notifications import services as notifications
from apps.notifications.models import Notification
from apps.push.models import PENDING_PREFIX, EntryStatus, OutboxEntry
from apps.push.selectors import outbox_counts, push_status_for
from apps.push.services import PushRefused
from apps.summary_emails import services as summary_emails
from apps.tags import services as tags
from apps.tags.models import Tag
from apps.trackers import services as trackers
from apps.users import services as users
from apps.users.models import CallRailUser

from .conftest import drain, entries, upstream


def company_of(account) -> Company:
    return Company.objects.for_account(account).live().filter(status="active").order_by("pk").first()


def test_tag_create_rename_recolour_delete(mirrored, sandbox, tenant):
    company = company_of(mirrored)
    tag = tags.tag_create(account=mirrored, name="Warm lead", company=company, color="green2", actor=tenant.staff)
    assert tag.callrail_id.startswith(PENDING_PREFIX)
    assert push_status_for(tag).state == "pending"
    drain(mirrored)
    tag.refresh_from_db()
    assert not tag.callrail_id.startswith(PENDING_PREFIX)
    assert push_status_for(tag).state == "synced"
    up = upstream(sandbox, mirrored, "tags", tag.callrail_id)
    assert (up["name"], up["color"], up["company_id"]) == ("Warm lead", "green2", company.callrail_id)

    tags.tag_update(tag=tag, name="Hot lead", color="red2", actor=tenant.staff)
    drain(mirrored)
    up = upstream(sandbox, mirrored, "tags", tag.callrail_id)
    assert (up["name"], up["color"]) == ("Hot lead", "red2")
    tag.refresh_from_db()
    assert (tag.name, tag.color) == ("Hot lead", "red2")

    tags.tag_delete(tag=tag, actor=tenant.staff)
    assert not Tag.objects.for_account(mirrored).live().filter(pk=tag.pk).exists()
    drain(mirrored)
    assert upstream(sandbox, mirrored, "tags", tag.callrail_id) is None
    assert [e.status for e in entries(mirrored)] == [EntryStatus.DONE] * 3


def test_bad_values_are_refused_before_anything_is_queued(mirrored):
    company = company_of(mirrored)
    call = Call.objects.for_account(mirrored).exclude(company=None).first()
    with pytest.raises(PushRefused, match="not a valid color"):
        tags.tag_create(account=mirrored, name="X", company=company, color="chartreuse")
    with pytest.raises(PushRefused, match="company tag needs a company"):
        tags.tag_create(account=mirrored, name="X", tag_level="company", company=None)
    with pytest.raises(PushRefused, match="not a valid lead status"):
        calls.call_lead_status_update(call=call, lead_status="maybe_lead")
    with pytest.raises(PushRefused, match="Unknown tag"):
        calls.call_tags_replace(call=call, tags=["No such tag anywhere"])
    with pytest.raises(PushRefused, match="not a valid role"):
        users.callrail_user_create(account=mirrored, first_name="A", last_name="B", email="a@b.example", role="boss")
    with pytest.raises(PushRefused, match="time zone"):
        companies.company_create(account=mirrored, name="New Co", time_zone="Mars/Olympus")
    assert not OutboxEntry.objects.for_account(mirrored).exists()


def test_company_create_update_disable(mirrored, sandbox):
    company = companies.company_create(account=mirrored, name="Northside Clinic", time_zone="America/Chicago")
    drain(mirrored)
    company.refresh_from_db()
    assert upstream(sandbox, mirrored, "companies", company.callrail_id)["name"] == "Northside Clinic"
    companies.company_update(company=company, name="Northside Dental Clinic", time_zone="America/Denver")
    drain(mirrored)
    up = upstream(sandbox, mirrored, "companies", company.callrail_id)
    assert (up["name"], up["time_zone"]) == ("Northside Dental Clinic", "America/Denver")
    companies.company_disable(company=company)
    drain(mirrored)
    assert upstream(sandbox, mirrored, "companies", company.callrail_id)["status"] == "disabled"
    company.refresh_from_db()
    assert company.status == "disabled"
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored))


def test_trackers_source_and_session_update_disable(mirrored, sandbox):
    company = company_of(mirrored)
    source = trackers.tracker_create(
        account=mirrored, company=company, name="Billboard I-25", type="source", source={"type": "offline"},
        destination_number="+13035550100", area_code="303",
    )  # fmt: skip
    session = trackers.tracker_create(
        account=mirrored, company=company, name="Website pool", type="session", source="all",
        destination_number="+13035550100", area_code="720", pool_size=4,
    )  # fmt: skip
    drain(mirrored)
    source.refresh_from_db()
    session.refresh_from_db()
    up = upstream(sandbox, mirrored, "trackers", source.callrail_id)
    assert (up["name"], up["type"], up["call_flow"]["destination_number"]) == (
        "Billboard I-25",
        "source",
        "+13035550100",
    )
    assert len(source.tracking_numbers) == 1
    assert source.tracking_numbers == up["tracking_numbers"]
    assert len(upstream(sandbox, mirrored, "trackers", session.callrail_id)["tracking_numbers"]) == 4

    # The recording flag and the destination are edited separately: each push sends the whole call flow.
    trackers.tracker_update(tracker=source, call_flow={"recording_enabled": True})
    trackers.tracker_update(tracker=source, destination_number="+13035550199", name="Billboard I-70")
    trackers.tracker_update(tracker=source, source={"type": "search", "search_engine": "google", "search_type": "paid"})
    drain(mirrored)
    up = upstream(sandbox, mirrored, "trackers", source.callrail_id)
    assert up["call_flow"]["recording_enabled"] is True
    assert up["call_flow"]["destination_number"] == "+13035550199"
    assert up["name"] == "Billboard I-70"
    assert up["source"] == {"type": "search", "search_engine": "google", "search_type": "paid"}
    source.refresh_from_db()
    assert source.call_flow == up["call_flow"]
    sent = [e.request_body for e in entries(mirrored) if e.resource == "trackers" and e.status == "done"
            and "call_flow" in e.request_body]  # fmt: skip
    assert sent
    assert all(set(b["call_flow"]) >= {"type", "destination_number", "recording_enabled"} for b in sent)

    trackers.tracker_disable(tracker=session)
    drain(mirrored)
    assert upstream(sandbox, mirrored, "trackers", session.callrail_id)["status"] == "disabled"
    statuses = [e.status for e in entries(mirrored)]
    assert set(statuses) == {EntryStatus.DONE, EntryStatus.SUPERSEDED}  # the flag edit rode with the next one
    assert statuses.count(EntryStatus.SUPERSEDED) == 1


def test_callrail_users_create_update_delete(mirrored, sandbox):
    company_ids = [c.callrail_id for c in Company.objects.for_account(mirrored).live().filter(status="active")]
    user = users.callrail_user_create(
        account=mirrored, first_name="Bob", last_name="Belcher", email="bob.push@example.com", role="reporting",
        companies=[company_ids[0]],
    )  # fmt: skip
    drain(mirrored)
    user.refresh_from_db()
    up = upstream(sandbox, mirrored, "users", user.callrail_id)
    assert (up["email"], up["role"], [c["id"] for c in up["companies"]]) == (
        "bob.push@example.com", "reporting", [company_ids[0]])  # fmt: skip
    with pytest.raises(PushRefused, match="accepted"):
        users.callrail_user_update(user=user, companies=company_ids)
    with pytest.raises(PushRefused, match="role"):
        users.callrail_user_update(user=user, role="manager")

    accepted = CallRailUser.objects.for_account(mirrored).live().filter(accepted=True).exclude(role="admin").first()
    if accepted is not None:
        users.callrail_user_update(user=accepted, companies=company_ids)
        drain(mirrored)
        up = upstream(sandbox, mirrored, "users", accepted.callrail_id)
        assert sorted(c["id"] for c in up["companies"]) == sorted(company_ids)
    users.callrail_user_delete(user=user)
    drain(mirrored)
    assert upstream(sandbox, mirrored, "users", user.callrail_id) is None
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored))


def test_notifications_and_summary_emails_crud(mirrored, sandbox):
    company = company_of(mirrored)
    user = CallRailUser.objects.for_account(mirrored).live().filter(role="admin").first()
    note = notifications.notification_create(
        account=mirrored, user=user, company=company, alert_type="missed_and_vm", call_enabled=True, send_email=True
    )
    summary = summary_emails.summary_email_create(
        account=mirrored, user=user, company=company, frequency=["weekly"], config={"summary_statistics": True}
    )
    drain(mirrored)
    note.refresh_from_db()
    summary.refresh_from_db()
    up = upstream(sandbox, mirrored, "notifications", note.callrail_id)
    assert (up["alert_type"], up["call_enabled"], up["send_email"], up["company_id"]) == (
        "missed_and_vm", True, True, company.callrail_id)  # fmt: skip
    assert upstream(sandbox, mirrored, "summary_emails", summary.callrail_id)["frequency"] == ["weekly"]

    notifications.notification_update(notification=note, alert_type="all", send_push=True)
    summary_emails.summary_email_update(summary_email=summary, frequency=["daily", "monthly"])
    drain(mirrored)
    up = upstream(sandbox, mirrored, "notifications", note.callrail_id)
    assert (up["alert_type"], up["send_push"]) == ("all", True)
    assert upstream(sandbox, mirrored, "summary_emails", summary.callrail_id)["frequency"] == ["daily", "monthly"]

    notifications.notification_delete(notification=note)
    summary_emails.summary_email_delete(summary_email=summary)
    drain(mirrored)
    assert upstream(sandbox, mirrored, "notifications", note.callrail_id) is None
    assert upstream(sandbox, mirrored, "summary_emails", summary.callrail_id) is None
    assert not Notification.objects.for_account(mirrored).live().filter(pk=note.pk).exists()
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored))


def test_webhook_integration_create_update_disable(mirrored, sandbox):
    company = company_of(mirrored)
    Integration.objects.for_account(mirrored).filter(company=company, type="Webhooks").delete()
    existing = upstream_integrations(mirrored, company)
    if any(i["type"] == "Webhooks" for i in existing):
        pytest.skip("the seed already has a Webhooks integration for this company")
    hook = integrations.webhook_integration_create(
        account=mirrored, company=company, config={"post_call_webhook": ["https://portal.example/hooks/a"]}
    )
    drain(mirrored)
    hook.refresh_from_db()
    up = upstream(sandbox, mirrored, "integrations", hook.callrail_id)
    assert up["config"]["post_call_webhook"] == ["https://portal.example/hooks/a"]
    integrations.integration_update(integration=hook, config={"updated_call_webhook": "https://portal.example/hooks/b"})
    drain(mirrored)
    up = upstream(sandbox, mirrored, "integrations", hook.callrail_id)
    assert up["config"]["updated_call_webhook"] == ["https://portal.example/hooks/b"]
    integrations.integration_disable(integration=hook)
    drain(mirrored)
    assert upstream(sandbox, mirrored, "integrations", hook.callrail_id)["state"] == "disabled"


def upstream_integrations(account, company) -> list[dict]:
    from apps.callrail.client import client_for_account

    client = client_for_account(account, lane="interactive")
    return list(client.iter_records("integrations.json", list_key="integrations",
                                    params={"company_id": company.callrail_id}))  # fmt: skip


def test_call_edits(mirrored, sandbox):
    call = Call.objects.for_account(mirrored).exclude(company=None).filter(spam=False).order_by("pk").first()
    company_tags = [t.name for t in Tag.objects.for_account(mirrored).live().filter(company=call.company,
                                                                                    status="enabled")]  # fmt: skip
    assert len(company_tags) >= 2
    calls.call_update(call=call, note="Asked for a quote", lead_status="good_lead", value="$125.50",
                      customer_name="Pat Doe")  # fmt: skip
    calls.call_tags_replace(call=call, tags=[company_tags[0]])
    calls.call_tags_append(call=call, tags=[company_tags[1]])
    drain(mirrored)
    up = upstream(sandbox, mirrored, "calls", call.callrail_id)
    call.refresh_from_db()
    assert (up["note"], up["lead_status"], up["customer_name"]) == ("Asked for a quote", "good_lead", "Pat Doe")
    assert Decimal(str(up["value"]).replace("$", "")) == Decimal("125.50") == call.value
    assert [t["name"] if isinstance(t, dict) else t for t in up["tags"]] == [company_tags[0], company_tags[1]]
    assert call.tags == [company_tags[0], company_tags[1]]
    assert push_status_for(call).state == "synced"

    calls.call_spam_mark(call=call)
    drain(mirrored)
    with sandbox.state.lock:  # the API's call record has no spam field: ask the emulator itself
        assert sandbox.state.accounts[mirrored.callrail_account_id].calls.by_id[call.callrail_id].spam
    # CallRail hides spam from its lists; the mirror keeps the call and shows it as spam after a pull.
    from tests.sync.conftest import execute

    execute(mirrored, "full", ["calls"])
    call.refresh_from_db()
    assert call.spam is True
    assert call.deleted_upstream_at is None
    assert all(e.status == EntryStatus.DONE for e in entries(mirrored))
    assert outbox_counts(mirrored)["pending"] == 0


def test_records_created_together_reference_each_other_once_callrail_has_them(mirrored, sandbox):
    company = companies.company_create(account=mirrored, name="Eastside Branch", time_zone="America/Denver")
    tracker = trackers.tracker_create(
        account=mirrored, company=company, name="Eastside main line", type="source", source={"type": "direct"},
        destination_number="+13035550123", area_code="720",
    )  # fmt: skip
    tag = tags.tag_create(account=mirrored, name="Eastside", company=company)
    admin = CallRailUser.objects.for_account(mirrored).live().filter(role="admin").first()
    note = notifications.notification_create(
        account=mirrored, user=admin, tracker=tracker, alert_type="all", call_enabled=True, send_email=True
    )
    drain(mirrored)  # in id order: the company first, then what points at it
    for row in (company, tracker, tag, note):
        row.refresh_from_db()
        assert not row.callrail_id.startswith(PENDING_PREFIX)
    assert upstream(sandbox, mirrored, "trackers", tracker.callrail_id)["company"]["id"] == company.callrail_id
    assert upstream(sandbox, mirrored, "tags", tag.callrail_id)["company_id"] == company.callrail_id
    up = upstream(sandbox, mirrored, "notifications", note.callrail_id)
    assert (up["tracker_id"], up["company_id"]) == (tracker.callrail_id, company.callrail_id)
    assert [e.status for e in entries(mirrored)] == [EntryStatus.DONE] * 4


def test_email_only_summary_email(mirrored, sandbox):
    company = company_of(mirrored)
    summary = summary_emails.summary_email_create(
        account=mirrored, email="owner@client.example", company=company, frequency="monthly",
        config={"call_log": True, "top_sources": True},
    )  # fmt: skip
    drain(mirrored)
    summary.refresh_from_db()
    up = upstream(sandbox, mirrored, "summary_emails", summary.callrail_id)
    assert up["email"] == "owner@client.example"
    assert up["frequency"] == ["monthly"]
    assert up["config"] == summary.config
