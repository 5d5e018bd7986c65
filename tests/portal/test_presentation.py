"""How the portal shows things (issue 18, items 4–8, 11): one time rule, phone numbers, CallRail's words,
filters in the URL and saved views, the tag picker, error pages, the favicon, the email preview's frame."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.http import QueryDict
from django.test import override_settings
from django.urls import reverse

from apps.portal.catalog import BY_NAME
from apps.portal.formatting import brand_style, format_phone, format_when, ink_on, luminance, title_case_name
from apps.portal.labels import action_label, change_rows, label
from apps.portal.listing import clean_query
from apps.portal.models import SavedView
from apps.tags.models import Tag
from tests.portal.mirror import call, every_resource, mirror

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------------- the time rule
@pytest.mark.parametrize(
    ("moment", "zone", "shown"),
    [
        (datetime(2026, 12, 6, 3, 20, tzinfo=UTC), "America/Denver", "Dec 5, 2026, 8:20 PM MST"),
        (datetime(2026, 7, 1, 15, 0, tzinfo=UTC), "America/New_York", "Jul 1, 2026, 11:00 AM EDT"),
        (datetime(2026, 3, 8, 9, 30, tzinfo=UTC), "America/Chicago", "Mar 8, 2026, 4:30 AM CDT"),  # DST began 2 AM
        (datetime(2028, 2, 29, 23, 59, tzinfo=UTC), None, "Feb 29, 2028, 11:59 PM UTC"),
    ],
)
def test_one_time_format_in_the_accounts_zone_labelled(moment, zone, shown):
    assert format_when(moment, zone) == shown
    assert format_when(date(2026, 12, 5)) == "Dec 5, 2026"


def test_pages_show_times_in_the_accounts_zone(login, tenant):
    tenant.account.time_zone = "America/Denver"
    tenant.account.save()
    the_call = call(tenant.account, start=datetime(2026, 12, 6, 3, 20, tzinfo=UTC))
    client = login(tenant.staff)
    detail = client.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", the_call.pk]))
    assert "Dec 5, 2026, 8:20 PM MST" in detail.content.decode()
    listing = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "calls"]), {"date_range": "all_time"})
    assert 'title="Time in America/Denver">Dec 5, 2026, 8:20 PM MST</time>' in listing.content.decode()


# ------------------------------------------------------------------------------------------- words and numbers
def test_phone_numbers_are_formatted_for_their_country():
    assert format_phone("+17208287304") == "(720) 828-7304"
    assert format_phone("+14165550100") == "(416) 555-0100"  # Canada shares +1
    assert format_phone("+442079460958") == "+44 20 7946 0958"
    assert format_phone("not a number") == "not a number"
    assert format_phone(None) == ""


def test_callrails_values_in_its_words():
    assert label("alert_type", "vm_only") == "Voicemails only"
    assert label("alert_type", "missed_and_vm") == "Missed calls and voicemails"
    assert label("source_type", "google_my_business") == "Google Business Profile"
    assert label("lead_status", "previously_marked_good_lead") == "Previously marked good lead"
    assert label("anything", "brand_new_value") == "Brand new value"  # never a raw machine value
    assert title_case_name("MARTINEZ ASHLEY") == "Martinez Ashley"
    assert title_case_name("LAFAYETTE, CO") == "Lafayette, CO"
    assert title_case_name("Ann-Marie O'Neil") == "Ann-Marie O'Neil"
    assert action_label("membership.invite") == "Member invited"
    assert action_label("calls.update") == "Call changed"
    rows = change_rows({"tags": [], "lead_status": None}, {"tags": ["Appointment Booked"], "lead_status": "good_lead"})
    assert rows == [("Lead status", "(empty)", "Good lead"), ("Tags", "none", "Appointment Booked")]


def test_list_cells_use_labels_phones_and_company_qualified_names(login, tenant):
    records = every_resource(tenant.account)
    records["notifications"].alert_type = "vm_only"
    records["notifications"].save()
    client = login(tenant.staff)
    notifications = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "notifications"]))
    assert "Voicemails only" in notifications.content.decode()
    assert ">vm_only<" not in notifications.content.decode()  # (a select's value attribute may carry it)
    trackers = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "trackers"])).content.decode()
    assert "(404) 555-0199" in trackers
    assert "+14045550199" not in trackers
    # two trackers of the same name in two companies: the calls filter tells them apart
    from apps.companies.models import Company
    from apps.trackers.models import Tracker

    branch = mirror(Company, tenant.account, name="Uptown Branch", status="active")
    mirror(Tracker, tenant.account, company=branch, name=records["trackers"].name, type="source", status="active")
    calls = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "calls"])).content.decode()
    assert f"{records['trackers'].name} · Uptown Branch" in calls
    assert f"{records['trackers'].name} · {records['companies'].name}" in calls


def test_tracker_call_flow_is_drawn_as_steps(login, tenant):
    records = every_resource(tenant.account)
    tracker = records["trackers"]
    tracker.call_flow = {"type": "basic", "recording_enabled": True, "destination_number": "+13035550111",
                         "greeting_text": "This call may be recorded."}  # fmt: skip
    tracker.whisper_message = "Call from [source]"
    tracker.save()
    page = login(tenant.staff).get(reverse("portal:resource_detail", args=[tenant.account.pk, "trackers", tracker.pk]))
    html = page.content.decode()
    steps = ["The caller dials a tracking number", "The caller hears a greeting", "The call is recorded",
             "Whoever answers hears a whisper first", "The call rings"]  # fmt: skip
    positions = [html.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "(303) 555-0111" in html
    assert "&quot;greeting_text&quot;" not in html.split("All fields")[0]  # no JSON before the raw fields


def test_brand_colours_stay_readable():
    assert ink_on("#fde047") == "#111827"  # yellow bar: dark text
    assert ink_on("#1e3a8a") == "#ffffff"
    style = brand_style("#fde047")
    accent = style.split("--brand: ")[1][:7]
    rgb = tuple(int(accent[i : i + 2], 16) for i in (1, 3, 5))
    assert (1.05) / (luminance(rgb) + 0.05) >= 4.5  # the accent reads on white (WCAG AA)


# ------------------------------------------------------------------------------------- filters in the URL
def test_only_non_empty_known_parameters_stay_in_the_url():
    calls = BY_NAME["calls"]
    query = QueryDict("q=&date_range=&company=3&sort=-start_time&page=1&per_page=25&utm=x&tag=&spam=no")
    assert clean_query(calls, query).urlencode() == "company=3&per_page=25&spam=no"
    assert clean_query(calls, QueryDict("page=2&q=den"), keep_page=True).urlencode() == "page=2&q=den"


def test_a_plain_get_with_empty_parameters_is_redirected_to_the_clean_url(login, tenant):
    url = reverse("portal:resource_list", args=[tenant.account.pk, "calls"])
    response = login(tenant.staff).get(url, {"q": "", "answer_status": "missed", "company": "", "page": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?answer_status=missed"


def test_the_calls_list_and_the_dashboard_start_on_the_same_range(login, tenant):
    from datetime import timedelta

    from django.utils import timezone

    call(tenant.account, customer_name="Last week", start=timezone.now() - timedelta(days=6))
    call(tenant.account, customer_name="Long ago", start=timezone.now() - timedelta(days=45))
    client = login(tenant.staff)
    listing = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "calls"]))
    assert {r.customer_name for r in listing.context["page"].rows} == {"Last week"}
    assert listing.context["listing"].default_window == "Recent (last 30 days and today)"
    dashboard = client.get(reverse("portal:dashboard"))
    assert dashboard.context["range"] == "recent"
    assert dashboard.context["grand"]["total_calls"] == 1
    every = client.get(reverse("portal:resource_list", args=[tenant.account.pk, "calls"]), {"date_range": "all_time"})
    assert every.context["page"].count == 2


def test_saved_views_are_personal_and_per_account(login, tenant, other_tenant):
    every_resource(tenant.account)
    client = login(tenant.staff)
    create = reverse("portal:saved_view_create", args=[tenant.account.pk, "calls"])
    response = client.post(create, {"name": "  Missed   calls ", "query": "answer_status=missed&q=&page=3&bogus=1"})
    url = reverse("portal:resource_list", args=[tenant.account.pk, "calls"])
    assert response["Location"] == f"{url}?answer_status=missed"
    view = SavedView.objects.for_account(tenant.account).get(user=tenant.staff)
    assert (view.name, view.query, view.resource) == ("Missed calls", "answer_status=missed", "calls")
    page = client.get(url, {"answer_status": "missed"})
    assert page.context["current_view"] == view
    assert "Missed calls" in page.content.decode()
    # the same name again replaces it
    client.post(create, {"name": "Missed calls", "query": "answer_status=voicemail"})
    assert SavedView.objects.for_account(tenant.account).get(user=tenant.staff).query == "answer_status=voicemail"
    assert client.post(create, {"name": " ", "query": "spam=no"}).status_code == 302
    assert SavedView.objects.for_account(tenant.account).count() == 1  # no nameless view
    # someone else's views: not shown, not deletable; another agency's account: 404
    other = login(tenant.owner)
    assert ">Missed calls</a>" not in other.get(url).content.decode()
    delete = reverse("portal:saved_view_delete", args=[tenant.account.pk, "calls", view.pk])
    assert other.post(delete).status_code == 404
    outsider = login(other_tenant.owner)
    assert outsider.post(create, {"name": "x", "query": ""}).status_code == 404
    assert login(tenant.staff).post(delete).status_code == 302
    assert not SavedView.objects.for_account(tenant.account).exists()


# ------------------------------------------------------------------------------------------------- tags
def test_the_tag_picker_offers_the_companys_and_accounts_tags_and_explains_disabled_ones(login, tenant):
    records = every_resource(tenant.account)
    company = records["companies"]
    mirror(Tag, tenant.account, name="Everywhere", tag_level="account", status="enabled", color="blue1")
    mirror(Tag, tenant.account, company=company, name="Retired", tag_level="company", status="disabled")
    from apps.companies.models import Company

    elsewhere = mirror(Company, tenant.account, name="Other Branch", status="active")
    mirror(Tag, tenant.account, company=elsewhere, name="Not here", tag_level="company", status="enabled")
    the_call = call(tenant.account, company=company, tags=[])
    client = login(tenant.staff)
    page = client.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", the_call.pk]))
    html = page.content.decode()
    assert 'data-tag-picker' in html
    assert 'value="Everywhere"' in html
    assert f'value="{records["tags"].name}"' in html
    assert 'value="Not here"' not in html  # another company's tag
    assert 'value="Retired" disabled' in html
    assert "disabled in CallRail — enable it on the Tags page to use it" in html
    # ticking the disabled tag anyway (a forged post) is refused with the reason, and the note is kept
    edit = reverse("portal:resource_edit", args=[tenant.account.pk, "calls", the_call.pk])
    refused = client.post(edit, {"note": "Keep me", "tags": ["Everywhere", "Retired"], "tags_mode": "replace"})
    body = refused.content.decode()
    assert "Retired is disabled for this call&#x27;s company in CallRail" in body
    assert "Keep me" in body
    # the API still takes tag names as one comma-separated string
    api = client.patch(f"/api/v1/calls/{the_call.pk}/", {"tags": "Everywhere, " + records["tags"].name},
                       content_type="application/json")  # fmt: skip
    assert api.status_code == 200, api.content
    the_call.refresh_from_db()
    assert the_call.tags == ["Everywhere", records["tags"].name]


# ------------------------------------------------------------------------------------ error pages, favicon
def test_error_pages_say_why_and_offer_the_way_back(login, tenant):
    client = login(tenant.client_user)
    refused = client.get(reverse("audit:agency_log"))
    html = refused.content.decode()
    assert refused.status_code == 403
    assert "The audit log is for the agency&#x27;s staff." in html
    assert 'class="mainnav"' in html
    assert "Back to the calls report" in html
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "There is nothing here" in missing.content.decode()
    assert 'class="mainnav"' in missing.content.decode()


@override_settings(DEBUG=False, DEBUG_PROPAGATE_EXCEPTIONS=False)
def test_the_500_page_needs_nothing_of_the_failed_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html
    assert 'href="/"' in html  # the way back


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_the_email_preview_may_be_framed_by_the_portal_only(login, tenant):
    from apps.summaries.models import PortalSummary

    summary = PortalSummary.objects.create(client_account=tenant.account, frequency="daily", hour=7)
    client = login(tenant.staff)
    frame = client.get(reverse("summaries:preview_email", args=[tenant.account.pk, summary.pk]))
    assert frame.status_code == 200
    assert "frame-ancestors 'self'" in frame["Content-Security-Policy"]
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    page = client.get(reverse("summaries:preview", args=[tenant.account.pk, summary.pk]))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert 'sandbox="allow-popups' in page.content.decode()


def test_an_invitation_carries_the_agencys_branding(login, tenant, mailoutbox, django_capture_on_commit_callbacks):
    tenant.agency.primary_colour = "#0f766e"
    tenant.agency.logo = b"\x89PNG\r\n\x1a\n" + b"0" * 40
    tenant.agency.logo_content_type = "image/png"
    tenant.agency.save()
    from apps.tenancy.models import Role
    from apps.tenancy.services import invitation_create

    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(agency=tenant.agency, email="new.client@example.test", role=Role.CLIENT,
                          client_accounts=[tenant.account], invited_by=tenant.owner)  # fmt: skip
    [message] = [m for m in mailoutbox if "new.client@example.test" in m.to]
    assert message.from_email.startswith(tenant.agency.name)
    assert tenant.agency.name in message.subject
    html = message.alternatives[0][0]
    assert "#0f766e" in html
    assert 'src="cid:agency-logo"' in html
    assert "/invitations/" in html
    assert "/invitations/" in message.body
