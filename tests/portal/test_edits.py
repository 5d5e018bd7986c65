"""Edit, create and delete pages of the mirrored resources: forms through the write services and the outbox,
refusals shown with the typed input kept, permissions (clients, other agencies), badges, dashboard, admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.calls.models import Call
from apps.portal.forms import RESOURCE_FORMS
from apps.push.models import EntryStatus, OutboxEntry
from apps.tags.models import Tag
from tests.portal.mirror import call, every_resource

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def records(tenant):
    return every_resource(tenant.account)


def edit_url(account, name, pk):
    return reverse("portal:resource_edit", args=[account.pk, name, pk])


def detail_url(account, name, pk):
    return reverse("portal:resource_detail", args=[account.pk, name, pk])


def entries(account) -> list[OutboxEntry]:
    return list(OutboxEntry.objects.for_account(account).order_by("pk"))


def call_post(the_call, **changes) -> dict:
    data = {
        "note": the_call.note or "", "lead_status": the_call.lead_status or "", "value": str(the_call.value or ""),
        "tags": ", ".join(the_call.tags or []), "tags_mode": "replace", "customer_name": the_call.customer_name or "",
    }  # fmt: skip
    data.update(changes)
    return data


# --- calls ------------------------------------------------------------------------------------------------


def test_staff_edits_a_call_and_the_edit_is_queued_with_a_pending_badge(login, tenant, records):
    the_call = records["calls"]
    client = login(tenant.staff)
    url = edit_url(tenant.account, "calls", the_call.pk)
    response = client.post(url, call_post(the_call, note="Call back Tuesday", lead_status="not_a_lead", value="9.50"))
    assert response.status_code == 302
    assert response["Location"] == detail_url(tenant.account, "calls", the_call.pk)
    the_call.refresh_from_db()
    assert (the_call.note, the_call.lead_status, the_call.value) == ("Call back Tuesday", "not_a_lead", Decimal("9.50"))
    [entry] = entries(tenant.account)
    assert entry.resource == "calls"
    assert entry.status == EntryStatus.PENDING
    assert set(entry.changes) == {"note", "lead_status", "value"}
    assert entry.actor == tenant.staff
    body = client.get(response["Location"]).content.decode()
    assert 'class="badge push-pending"' in body
    # the pending badge polls itself
    assert reverse("portal:resource_badge", args=[tenant.account.pk, "calls", the_call.pk]) in body
    assert "Edit sent to CallRail" in body  # the history
    assert "Call back Tuesday" in body


def test_unknown_tag_is_refused_with_the_reason_and_the_typed_input_is_kept(login, tenant, records):
    the_call = records["calls"]
    client = login(tenant.staff)
    response = client.post(
        edit_url(tenant.account, "calls", the_call.pk),
        call_post(the_call, note="My long careful note", tags="Acme-vip, No-such-tag"),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unknown tag(s): No-such-tag. Create the tag first." in body
    assert "My long careful note" in body
    assert "No-such-tag" in body
    assert entries(tenant.account) == []
    the_call.refresh_from_db()
    assert the_call.note == "Acme wants a quote"  # nothing saved: the service refused before anything changed


def test_invalid_value_is_a_field_error_and_nothing_is_lost(login, tenant, records):
    the_call = records["calls"]
    response = login(tenant.staff).post(
        edit_url(tenant.account, "calls", the_call.pk), call_post(the_call, note="Kept note", value="lots")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "value" in form.errors
    assert "Enter a number." in response.content.decode()
    assert "Kept note" in response.content.decode()
    assert entries(tenant.account) == []


def test_tags_append_and_spam(login, tenant, records):
    the_call = records["calls"]
    Tag.objects.create(
        client_account=tenant.account, company=the_call.company, name="Quote", tag_level="company", status="enabled",
        callrail_id="TAGQ", payload={}, payload_hash="x", first_seen_at=the_call.first_seen_at,
        last_seen_at=the_call.first_seen_at, changed_at=the_call.first_seen_at,
    )  # fmt: skip
    client = login(tenant.staff)
    response = client.post(
        edit_url(tenant.account, "calls", the_call.pk), call_post(the_call, tags="quote", tags_mode="append", spam="on")
    )
    assert response.status_code == 302
    the_call.refresh_from_db()
    assert the_call.tags == ["Acme-vip", "Quote"]
    assert the_call.spam is True
    appended = [e for e in entries(tenant.account) if e.options.get("append_tags")]
    assert appended
    assert appended[0].options["tags"] == ["Quote"]


def test_inline_htmx_edit_returns_the_card_and_a_refusal_shows_in_it(login, tenant, records):
    the_call = records["calls"]
    client = login(tenant.staff)
    url = edit_url(tenant.account, "calls", the_call.pk)
    ok = client.post(url, call_post(the_call, note="Inline note"), HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    body = ok.content.decode()
    assert body.lstrip().startswith('<section class="card call-edit" id="call-edit">')
    assert "Saved. The change is on its way to CallRail." in body
    assert "push-pending" in body
    bad = client.post(url, call_post(the_call, note="Still here", lead_status="great"), HTTP_HX_REQUEST="true")
    assert bad.status_code == 200  # htmx swaps only 2xx answers
    assert bad.content.decode().lstrip().startswith('<section class="card call-edit"')
    assert "Select a valid choice" in bad.content.decode()
    assert "Still here" in bad.content.decode()


def test_the_call_page_shows_the_inline_form_to_staff(login, tenant, records):
    body = login(tenant.staff).get(detail_url(tenant.account, "calls", records["calls"].pk)).content.decode()
    assert 'id="call-edit"' in body
    assert 'hx-post="' in body
    assert 'name="customer_name"' in body
    assert 'name="spam"' in body


# --- clients ----------------------------------------------------------------------------------------------


def test_client_without_the_switch_sees_no_controls_and_is_refused(login, tenant, records):
    assert tenant.agency.client_can_annotate_calls is False
    the_call = records["calls"]
    client = login(tenant.client_user)
    body = client.get(detail_url(tenant.account, "calls", the_call.pk)).content.decode()
    assert 'id="call-edit"' not in body
    assert client.get(edit_url(tenant.account, "calls", the_call.pk)).status_code == 403
    assert client.post(edit_url(tenant.account, "calls", the_call.pk), call_post(the_call, note="x")).status_code == 403
    the_call.refresh_from_db()
    assert the_call.note == "Acme wants a quote"


def test_client_with_the_switch_annotates_calls_only(login, tenant, records):
    tenant.agency.client_can_annotate_calls = True
    tenant.agency.save()
    the_call = records["calls"]
    client = login(tenant.client_user)
    body = client.get(detail_url(tenant.account, "calls", the_call.pk)).content.decode()
    assert 'id="call-edit"' in body
    assert 'name="note"' in body
    assert 'name="customer_name"' not in body
    assert 'name="spam"' not in body
    response = client.post(
        edit_url(tenant.account, "calls", the_call.pk),
        call_post(the_call, note="Client note", customer_name="Hacked", spam="on"),
    )
    assert response.status_code == 302
    the_call.refresh_from_db()
    assert the_call.note == "Client note"
    assert the_call.customer_name == "Acme Caller"
    assert the_call.spam is False
    # other resources stay read-only for clients
    tag = records["tags"]
    assert client.get(edit_url(tenant.account, "tags", tag.pk)).status_code == 403
    assert client.post(edit_url(tenant.account, "tags", tag.pk), {"name": "x", "color": "red1"}).status_code == 403
    delete = reverse("portal:resource_delete", args=[tenant.account.pk, "tags", tag.pk])
    assert client.post(delete).status_code == 403
    create = reverse("portal:resource_create", args=[tenant.account.pk, "tags"])
    assert client.get(create).status_code == 403
    assert (
        "New tag" not in client.get(reverse("portal:resource_list", args=[tenant.account.pk, "tags"])).content.decode()
    )


def test_another_agency_gets_404_everywhere(login, tenant, other_tenant, records):
    the_call, tag = records["calls"], records["tags"]
    client = login(other_tenant.owner)
    assert client.get(edit_url(tenant.account, "calls", the_call.pk)).status_code == 404
    assert client.post(edit_url(tenant.account, "calls", the_call.pk), call_post(the_call, note="x")).status_code == 404
    assert client.post(reverse("portal:resource_delete", args=[tenant.account.pk, "tags", tag.pk])).status_code == 404
    assert client.get(reverse("portal:resource_badge", args=[tenant.account.pk, "tags", tag.pk])).status_code == 404
    assert (
        client.post(reverse("portal:account_sync_pause", args=[tenant.account.pk]), {"enabled": "0"}).status_code == 404
    )
    assert entries(tenant.account) == []


# --- every resource's form ------------------------------------------------------------------------------

EDITABLE = sorted(RESOURCE_FORMS)


@pytest.mark.parametrize("name", EDITABLE)
def test_every_edit_page_renders_with_the_record_values(login, tenant, records, name):
    response = login(tenant.staff).get(edit_url(tenant.account, name, records[name].pk))
    assert response.status_code == 200
    assert response.context["form"].initial


@pytest.mark.parametrize("name", [n for n in EDITABLE if n != "calls"])
def test_every_create_form_refuses_empty_input_with_messages(login, tenant, records, name):
    client = login(tenant.staff)
    url = reverse("portal:resource_create", args=[tenant.account.pk, name])
    assert client.get(url).status_code == 200
    response = client.post(url, {})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors, name
    assert 'class="error"' in response.content.decode() or 'class="alert danger"' in response.content.decode()
    assert entries(tenant.account) == []


CREATES = {
    "tags": {"name": "Callback", "color": "blue1", "tag_level": "account"},
    "companies": {"name": "Acme Uptown", "time_zone": "America/Chicago"},
    "users": {"first_name": "Ann", "last_name": "Lee", "email": "ann@acme.test", "role": "admin"},
    "summary_emails": {"frequency": ["daily"], "config": ["summary_statistics", "call_log"]},
}


@pytest.mark.parametrize("name", sorted(CREATES))
def test_creates_go_through_the_services_into_the_outbox(login, tenant, records, name):
    data = dict(CREATES[name])
    if name == "summary_emails":
        data["user"] = records["users"].pk
    response = login(tenant.staff).post(reverse("portal:resource_create", args=[tenant.account.pk, name]), data)
    assert response.status_code == 302, response.context["form"].errors
    [entry] = entries(tenant.account)
    assert entry.operation == "create"
    assert f"/{name}/{entry.object_pk}/" in response["Location"]


def test_create_refusal_from_the_service_keeps_the_input(login, tenant, records):
    """A company tag without a company: the service's reason, on the company field."""
    response = login(tenant.staff).post(
        reverse("portal:resource_create", args=[tenant.account.pk, "tags"]),
        {"name": "Needs company", "color": "green1", "tag_level": "company"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["company"] == ["A company tag needs a company."]
    assert 'value="Needs company"' in response.content.decode()


def test_tracker_edit_with_bad_call_flow_json_and_a_bad_number(login, tenant, records):
    tracker = records["trackers"]
    client = login(tenant.staff)
    url = edit_url(tenant.account, "trackers", tracker.pk)
    data = {"name": "Renamed", "source_type": "google_ad_extension", "destination_number": "+14045550100",
            "call_flow": "{not json"}  # fmt: skip
    response = client.post(url, data)
    assert "Not valid JSON" in response.content.decode()
    assert 'value="Renamed"' in response.content.decode()
    data["call_flow"] = ""
    data["destination_number"] = "12"
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors
    response = client.post(url, {**data, "destination_number": "+14045550123"})
    assert response.status_code == 302
    tracker.refresh_from_db()
    assert tracker.name == "Renamed"
    assert tracker.destination_number == "+14045550123"


def test_delete_asks_for_confirmation_then_queues_the_delete(login, tenant, records):
    tag = records["tags"]
    client = login(tenant.staff)
    url = reverse("portal:resource_delete", args=[tenant.account.pk, "tags", tag.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Yes, delete" in page.content.decode()
    assert entries(tenant.account) == []  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 302
    [entry] = entries(tenant.account)
    assert entry.operation == "delete"
    tracker_page = client.get(
        reverse("portal:resource_delete", args=[tenant.account.pk, "trackers", records["trackers"].pk])
    )
    assert "Yes, disable" in tracker_page.content.decode()
    # calls are never deleted
    assert (
        client.get(
            reverse("portal:resource_delete", args=[tenant.account.pk, "calls", records["calls"].pk])
        ).status_code
        == 404
    )


def test_read_only_resources_have_no_edit_page(login, tenant, records):
    client = login(tenant.staff)
    for name in ("form_submissions", "text_conversations"):
        assert client.get(edit_url(tenant.account, name, records[name].pk)).status_code == 404


# --- lists, badges, dashboard, administration ------------------------------------------------------------


def test_list_rows_show_badges_in_a_bounded_number_of_queries(login, tenant, records, django_assert_max_num_queries):
    from apps.calls.services import call_note_update

    for i in range(30):
        c = call(tenant.account, company=records["calls"].company)
        call_note_update(call=c, note=f"note {i}", actor=tenant.staff)
    client = login(tenant.staff)
    url = reverse("portal:resource_list", args=[tenant.account.pk, "calls"]) + "?per_page=100"
    client.get(url)  # warm caches of filter choices
    with django_assert_max_num_queries(22):
        body = client.get(url).content.decode()
    assert body.count('class="badge push-pending"') == 30


def test_badge_fragment_stops_polling_once_synced(login, tenant, records):
    from apps.calls.services import call_note_update

    the_call = call_note_update(call=records["calls"], note="x", actor=tenant.staff)
    client = login(tenant.staff)
    url = reverse("portal:resource_badge", args=[tenant.account.pk, "calls", the_call.pk])
    pending = client.get(url).content.decode()
    assert "Pending" in pending
    assert 'hx-trigger="every 2s"' in pending
    OutboxEntry.objects.for_account(tenant.account).update(status=EntryStatus.DONE)
    synced = client.get(url).content.decode()
    assert "Synced" in synced
    assert "hx-trigger" not in synced
    OutboxEntry.objects.for_account(tenant.account).update(status=EntryStatus.FAILED, message="Invalid note")
    failed = client.get(url).content.decode()
    assert "Failed" in failed
    assert "Invalid note" in failed
    assert reverse("push:outbox", args=[tenant.account.pk]) in failed


def test_dashboard_shows_outbox_counts_and_webhooks(login, tenant, records):
    from apps.calls.services import call_note_update

    call_note_update(call=records["calls"], note="x", actor=tenant.staff)
    body = login(tenant.staff).get(reverse("portal:dashboard")).content.decode()
    assert "1 pending" in body
    assert reverse("push:outbox", args=[tenant.account.pk]) in body
    assert "Webhooks (24 h)" in body


def test_staff_tabs_and_nav_links_are_hidden_from_clients(login, tenant, records):
    url = reverse("portal:account_detail", args=[tenant.account.pk])
    staff = login(tenant.staff).get(url).content.decode()
    for name in ("push:outbox", "webhooks:log", "summaries:list", "audit:account_log"):
        assert reverse(name, args=[tenant.account.pk]) in staff
    assert reverse("audit:agency_log") in staff
    client_body = login(tenant.client_user).get(url).content.decode()
    for name in ("push:outbox", "webhooks:log", "summaries:list", "audit:account_log"):
        assert reverse(name, args=[tenant.account.pk]) not in client_body
    assert reverse("audit:agency_log") not in client_body


def test_owner_pauses_and_resumes_sync_audited_and_staff_cannot(login, tenant):
    url = reverse("portal:account_sync_pause", args=[tenant.account.pk])
    assert login(tenant.staff).post(url, {"enabled": "0"}).status_code == 403
    client = login(tenant.owner)
    assert client.post(url, {"enabled": "0"}).status_code == 302
    tenant.account.refresh_from_db()
    assert tenant.account.sync_enabled is False
    assert "Resume sync" in client.get(reverse("portal:account_detail", args=[tenant.account.pk])).content.decode()
    client.post(url, {"enabled": "1"})
    tenant.account.refresh_from_db()
    assert tenant.account.sync_enabled is True
    actions = list(AuditEvent.objects.filter(agency=tenant.agency).values_list("action", flat=True).order_by("pk"))
    assert actions[-2:] == ["client_account.sync_pause", "client_account.sync_resume"]


def test_admin_actions_pause_resume_and_retry(client, superuser, tenant, records):
    from apps.calls.services import call_note_update

    client.force_login(superuser)
    url = reverse("admin:tenancy_clientaccount_changelist")
    response = client.post(
        url, {"action": "pause_sync", "_selected_action": [tenant.account.pk, tenant.other_account.pk]}
    )
    assert response.status_code == 302
    tenant.account.refresh_from_db()
    tenant.other_account.refresh_from_db()
    assert not tenant.account.sync_enabled
    assert not tenant.other_account.sync_enabled
    client.post(url, {"action": "resume_sync", "_selected_action": [tenant.account.pk]})
    tenant.account.refresh_from_db()
    assert tenant.account.sync_enabled

    call_note_update(call=records["calls"], note="x", actor=tenant.staff)
    entry = OutboxEntry.objects.for_account(tenant.account).get()
    OutboxEntry.objects.for_account(tenant.account).update(status=EntryStatus.FAILED, message="boom")
    response = client.post(
        reverse("admin:push_outboxentry_changelist"), {"action": "retry_failed", "_selected_action": [entry.pk]}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PENDING


def test_the_call_history_lists_pulls_webhooks_and_edits(login, tenant, records):
    from apps.calls.services import call_note_update
    from apps.webhooks.models import WebhookEvent

    the_call = records["calls"]
    WebhookEvent.objects.create(
        client_account=tenant.account, event_type=WebhookEvent._meta.get_field("event_type").choices[0][0],
        status="applied", record_id=the_call.callrail_id, changes=["note"],
    )  # fmt: skip
    call_note_update(call=the_call, note="Edited", actor=tenant.staff)
    response = login(tenant.staff).get(detail_url(tenant.account, "calls", the_call.pk))
    kinds = [item.kind for item in response.context["history"]]
    assert {"pull", "webhook", "edit"} <= set(kinds)
    assert Call.objects.for_account(tenant.account).get(pk=the_call.pk).note == "Edited"


def test_history_names_the_sync_run_of_an_upstream_change_but_not_our_own_edit(login, tenant, records):
    from datetime import timedelta

    from apps.calls.services import call_note_update
    from apps.sync.models import SyncRun

    the_call = records["calls"]
    later = the_call.first_seen_at + timedelta(hours=1)
    run = SyncRun.objects.create(
        client_account=tenant.account, kind="incremental", resources=["calls"], status="succeeded",
        started_at=later - timedelta(minutes=1), finished_at=later + timedelta(minutes=1),
    )  # fmt: skip
    Call.objects.for_account(tenant.account).filter(pk=the_call.pk).update(changed_at=later)
    client = login(tenant.staff)
    texts = [i.text for i in client.get(detail_url(tenant.account, "calls", the_call.pk)).context["history"]]
    assert f"Changed in CallRail, brought in by incremental sync #{run.pk}" in texts
    call_note_update(call=Call.objects.for_account(tenant.account).get(pk=the_call.pk), note="ours", actor=tenant.staff)
    Call.objects.for_account(tenant.account).filter(pk=the_call.pk).update(changed_at=timezone_now())
    texts = [i.text for i in client.get(detail_url(tenant.account, "calls", the_call.pk)).context["history"]]
    assert not any(t.startswith("Changed in CallRail") for t in texts)  # the stamp of our own edit
    assert "Edit sent to CallRail: note" in texts


def timezone_now():
    from django.utils import timezone

    return timezone.now()


UPDATES = {
    "companies": ({"name": "Acme Midtown", "time_zone": "America/Chicago"}, {"name": "Acme Midtown"}),
    "notifications": (
        {"alert_type": "first_call", "call_enabled": "on", "send_email": "on"},
        {"alert_type": "first_call", "call_enabled": True, "sms_enabled": False},
    ),
    "summary_emails": (
        {"frequency": ["daily", "monthly"], "config": ["top_sources"]},
        {"frequency": ["daily", "monthly"]},
    ),
    "integrations": (
        {"post_call_webhook": "https://acme.test/a\nhttps://acme.test/b"},
        {"config": {"post_call_webhook": ["https://acme.test/a", "https://acme.test/b"]}},
    ),
}


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_every_update_form_saves_through_the_service(login, tenant, records, name):
    data, expected = UPDATES[name]
    if name == "notifications":
        data = {**data, "company": records["companies"].pk}
    response = login(tenant.staff).post(edit_url(tenant.account, name, records[name].pk), data)
    assert response.status_code == 302, response.context["form"].errors
    obj = type(records[name]).objects.for_account(tenant.account).get(pk=records[name].pk)
    for field, value in expected.items():
        assert getattr(obj, field) == value, field
    [entry] = entries(tenant.account)
    assert (entry.resource, entry.operation) == (name, "update")


def test_integration_update_refuses_a_bad_url_and_keeps_the_text(login, tenant, records):
    response = login(tenant.staff).post(
        edit_url(tenant.account, "integrations", records["integrations"].pk), {"post_call_webhook": "ftp://nope"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "ftp://nope" in body
    assert 'class="alert danger"' in body or 'class="error"' in body
    assert entries(tenant.account) == []


def test_session_tracker_create_and_notification_create(login, tenant, records):
    client = login(tenant.staff)
    response = client.post(
        reverse("portal:resource_create", args=[tenant.account.pk, "trackers"]),
        {"name": "Website pool", "company": records["companies"].pk, "type": "session", "source_type": "all",
         "destination_number": "+14045550100", "area_code": "404", "pool_size": "3"},
    )  # fmt: skip
    assert response.context["form"].errors  # pool size 4-50
    assert 'value="Website pool"' in response.content.decode()
    response = client.post(
        reverse("portal:resource_create", args=[tenant.account.pk, "trackers"]),
        {"name": "Website pool", "company": records["companies"].pk, "type": "session", "source_type": "all",
         "destination_number": "+14045550100", "area_code": "404", "pool_size": "4"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    response = client.post(
        reverse("portal:resource_create", args=[tenant.account.pk, "notifications"]),
        {"email": "alerts@acme.test", "send_push": "on", "company": records["companies"].pk},
    )
    assert response.context["form"].errors["send_push"] == ["Email-only recipients can only get email alerts."]
    response = client.post(
        reverse("portal:resource_create", args=[tenant.account.pk, "notifications"]),
        {"email": "alerts@acme.test", "send_email": "on", "company": records["companies"].pk},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert [(e.resource, e.operation) for e in entries(tenant.account)] == [
        ("trackers", "create"), ("notifications", "create")]  # fmt: skip


def test_callrail_user_companies_change_and_a_refusal(login, tenant, records):
    from apps.companies.models import Company
    from tests.portal.mirror import mirror

    user, first = records["users"], records["companies"]
    second = mirror(Company, tenant.account, name="Acme Second", status="active")
    client = login(tenant.staff)
    url = edit_url(tenant.account, "users", user.pk)
    assert 'name="role"' not in client.get(url).content.decode()  # CallRail's API cannot change a role
    response = client.post(url, {"companies": []})
    assert "A manager or reporting user needs at least one company." in response.content.decode()
    response = client.post(url, {"companies": [first.pk, second.pk]})
    assert response.status_code == 302, response.context["form"].errors
    user.refresh_from_db()
    assert sorted(user.company_ids) == sorted([first.callrail_id, second.callrail_id])
    [entry] = entries(tenant.account)
    assert (entry.resource, entry.operation) == ("users", "update")


def test_dashboard_counts_failed_sync_runs_and_stays_bounded(login, tenant, records, django_assert_max_num_queries):
    from django.utils import timezone

    from apps.sync.models import SyncRun

    now = timezone.now()
    SyncRun.objects.create(client_account=tenant.account, kind="incremental", resources=["calls"], status="failed",
                           started_at=now, finished_at=now)  # fmt: skip
    client = login(tenant.staff)
    client.get(reverse("portal:dashboard"))
    with django_assert_max_num_queries(30):
        body = client.get(reverse("portal:dashboard")).content.decode()
    assert "1 failed</a>" in body


def test_admin_resync_now_queues_one_run_per_account(client, superuser, tenant):
    from apps.sync.models import SyncRun

    client.force_login(superuser)
    url = reverse("admin:tenancy_clientaccount_changelist")
    selected = [tenant.account.pk, tenant.other_account.pk]
    assert client.post(url, {"action": "resync_now", "_selected_action": selected}).status_code == 302
    client.post(url, {"action": "resync_now", "_selected_action": selected})  # already queued: no second run
    runs = SyncRun.objects.unscoped(reason="admin").filter(client_account__in=selected)
    assert sorted(runs.values_list("client_account_id", flat=True)) == sorted(selected)


def test_a_record_deleted_in_callrail_cannot_be_edited(login, tenant, records):
    from django.utils import timezone

    tag = records["tags"]
    Tag.objects.for_account(tenant.account).filter(pk=tag.pk).update(deleted_upstream_at=timezone.now())
    client = login(tenant.staff)
    assert client.get(edit_url(tenant.account, "tags", tag.pk)).status_code == 404
    assert client.post(edit_url(tenant.account, "tags", tag.pk), {"name": "x", "color": "red1"}).status_code == 404
    assert "record-actions" not in client.get(detail_url(tenant.account, "tags", tag.pk)).content.decode()
    assert entries(tenant.account) == []
