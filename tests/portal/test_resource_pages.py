"""The generic resource pages: every list and detail, filters, search, sort, pages, columns, CSV, scoping."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.portal.catalog import PORTAL_RESOURCES
from apps.portal.models import ListPreference
from tests.portal.mirror import call, every_resource

# The calls are placed relative to now and filtered by "last 7 days", "today"…: on a pinned clock (a call an
# hour ago is yesterday's just after midnight in New York).
pytestmark = [pytest.mark.django_db, pytest.mark.smoke, pytest.mark.usefixtures("clock")]

NAMES = [r.name for r in PORTAL_RESOURCES]
#: the agency's CallRail set-up (trackers, tags…): pages for its staff, refused (403) to clients
CLIENT_NAMES = [r.name for r in PORTAL_RESOURCES if not r.staff_only]
TZ = ZoneInfo("America/New_York")
# session, user, agency, memberships and scope (7), list preference, filter choices (up to 4), count, page keys,
# page rows, the rows' push badges (1), and the layout's context (4): constant whatever the page size or rows
MAX_QUERIES = 21


def list_url(account, name="calls"):
    return reverse("portal:resource_list", args=[account.pk, name])


def rows_of(response) -> list:
    return response.context["page"].rows


@pytest.fixture
def records(tenant):
    return every_resource(tenant.account)


@pytest.mark.parametrize("name", NAMES)
def test_every_resource_list_and_detail_shows_the_record(login, tenant, records, name):
    client = login(tenant.staff)
    response = client.get(list_url(tenant.account, name))
    assert response.status_code == 200
    assert [r.pk for r in rows_of(response)] == [records[name].pk]
    detail = reverse("portal:resource_detail", args=[tenant.account.pk, name, records[name].pk])
    assert detail in response.content.decode()
    page = client.get(detail)
    assert page.status_code == 200
    body = page.content.decode()
    assert records[name].callrail_id in body
    assert "All fields" in body
    # the account tabs link every resource page
    for other in NAMES:
        assert list_url(tenant.account, other) in body


@pytest.mark.parametrize("name", NAMES)
def test_every_list_has_an_empty_state(login, tenant, name):
    body = login(tenant.staff).get(list_url(tenant.account, name)).content.decode()
    assert "yet</h2>" in body


def test_call_detail_shows_recording_transcript_tags_note_lead_status_and_value(login, tenant, records):
    the_call = records["calls"]
    the_call.recording_url = f"https://api.callrail.test/v3/a/ACC1/calls/{the_call.callrail_id}/recording.json"
    the_call.save()
    body = (
        login(tenant.client_user)
        .get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", the_call.pk]))
        .content.decode()
    )
    # the recording plays through the portal; CallRail's player link and its access key never reach the page
    assert "access_key" not in body
    assert "app.callrail.test" not in body
    assert reverse("portal:call_recording", args=[tenant.account.pk, the_call.pk]) in body
    assert "<audio" in body
    assert "Acme here about a quote" in body  # transcript from the payload
    assert "Acme-vip" in body
    assert "Acme wants a quote" in body
    assert "Good lead" in body
    assert "$125.00" in body


def test_unknown_record_or_resource_is_a_404(login, tenant, records):
    client = login(tenant.owner)
    assert client.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", 10**9])).status_code == 404
    assert client.get(f"/accounts/{tenant.account.pk}/widgets/").status_code == 404
    # a record of the sibling account, reached through this account's URL
    sibling = call(tenant.other_account)
    assert (
        client.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", sibling.pk])).status_code == 404
    )


# ------------------------------------------------------------------------------------------------ filters
@pytest.fixture
def calls(tenant, records):
    """A spread of calls over the last days with known attributes (plus the record of `records`)."""
    now = timezone.now().astimezone(TZ)
    company, tracker, tag = records["companies"], records["trackers"], records["tags"]
    a = tenant.account
    return {
        "yesterday_missed": call(
            a, start=now - timedelta(days=1), answered=False, source="Bing Ads", customer_name="Missed Mike"
        ),
        "voicemail": call(
            a,
            start=now - timedelta(days=3),
            answered=False,
            voicemail=True,
            source="Yelp",
            customer_name="Voicemail Vera",
        ),
        "outbound": call(a, start=now - timedelta(days=10), direction="outbound", customer_name="Outbound Otto"),
        "first": call(
            a,
            start=now - timedelta(days=40),
            first_call=True,
            company=company,
            tracker=tracker,
            customer_name="First Fiona",
            tags=[tag.name],
            lead_status="not_a_lead",
        ),
        "spam": call(
            # today in the account's zone whatever the hour (an hour ago may be yesterday just after midnight)
            a, start=max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0)), spam=True,
            customer_name="Spammy Sam", note="robocall about warranties",
        ),
    }


def names(response) -> set[str]:
    return {r.customer_name for r in rows_of(response)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"answer_status": "missed"}, {"Missed Mike"}),
        ({"answer_status": "voicemail"}, {"Voicemail Vera"}),
        ({"answer_status": "answered"}, {"Acme Caller", "Outbound Otto", "First Fiona", "Spammy Sam"}),
        ({"direction": "outbound"}, {"Outbound Otto"}),
        ({"first_call": "yes"}, {"First Fiona"}),
        ({"spam": "yes"}, {"Spammy Sam"}),
        ({"source": "Yelp"}, {"Voicemail Vera"}),
        ({"lead_status": "good_lead"}, {"Acme Caller"}),
        ({"lead_status": "not_a_lead"}, {"First Fiona"}),
        ({"tag": "Acme-vip"}, {"Acme Caller", "First Fiona"}),
        ({"q": "warrant"}, {"Spammy Sam"}),  # note
        ({"q": "fiona"}, {"First Fiona"}),  # customer name, any case
        ({"date_range": "last_7_days"}, {"Missed Mike", "Voicemail Vera"}),
        ({"date_range": "last_30_days", "direction": "outbound"}, {"Outbound Otto"}),
        (
            {"date_range": "all_time", "first_call": "no", "spam": "no", "answer_status": "answered"},
            {"Acme Caller", "Outbound Otto"},
        ),
    ],
)
def test_call_filters_follow_callrail_semantics(login, tenant, calls, query, expected):
    if not {"date_range", "start_date", "end_date"} & set(query):
        query = {"date_range": "all_time", **query}  # the list starts on "Recent"; First Fiona is 40 days old
    response = login(tenant.staff).get(list_url(tenant.account), query)
    assert response.status_code == 200
    assert not response.context["listing"].problems
    assert names(response) == expected


def test_company_and_tracker_filters_and_custom_dates(login, tenant, calls, records):
    client = login(tenant.staff)
    company = records["companies"]
    every = {"date_range": "all_time"}
    assert names(client.get(list_url(tenant.account), {"company": company.pk, **every})) == {
        "Acme Caller", "First Fiona"}  # fmt: skip
    assert names(client.get(list_url(tenant.account), {"tracker": records["trackers"].pk, **every})) == {
        "Acme Caller", "First Fiona"}  # fmt: skip
    day = (timezone.now().astimezone(TZ) - timedelta(days=3)).date().isoformat()
    assert names(client.get(list_url(tenant.account), {"start_date": day, "end_date": day})) == {"Voicemail Vera"}


def test_today_is_the_accounts_day(login, tenant, records, calls):
    response = login(tenant.staff).get(list_url(tenant.account), {"date_range": "today"})
    today = timezone.now().astimezone(TZ).date()
    assert {r.start_time.astimezone(TZ).date() for r in rows_of(response)} <= {today}
    assert "Acme Caller" in names(response) or records["calls"].start_time.astimezone(TZ).date() != today


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start_date": "31/02/2026"}, "From: Enter a valid date."),
        ({"start_date": "2026-05-02", "end_date": "2026-05-01"}, "The start date must be on or before the end date."),
        ({"company": "999999999"}, "Company: Select a valid choice."),
        ({"company": "abc"}, "Company: Select a valid choice."),
        ({"answer_status": "sometimes"}, "Answer status: Select a valid choice."),
        ({"date_range": "last_decade"}, "Date range: Select a valid choice."),
        ({"sort": "payload"}, "Cannot sort by"),
        ({"page": "x"}, "The page number must be a whole number"),
        ({"per_page": "100000"}, "Rows per page must be one of"),
    ],
)
def test_invalid_input_gives_a_clear_message_and_keeps_what_was_typed(login, tenant, calls, query, message):
    response = login(tenant.staff).get(list_url(tenant.account), query)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    for name, value in query.items():
        if name.endswith("_date"):
            assert f'value="{value}"' in body  # nothing typed is lost
    assert response.context["page"].count >= 1  # the valid part of the input still lists


# --------------------------------------------------------------------------------------- sort and pages
def test_sort_by_column_both_ways(login, tenant, calls):
    client = login(tenant.staff)
    durations = [(60, "a"), (5, "b"), (300, "c")]
    for seconds, who in durations:
        call(tenant.account, duration=seconds, customer_name=f"Dur {who}", source="Sorter")
    asc = client.get(list_url(tenant.account), {"source": "Sorter", "sort": "duration"})
    assert [r.duration for r in rows_of(asc)] == [5, 60, 300]
    desc = client.get(list_url(tenant.account), {"source": "Sorter", "sort": "-duration"})
    assert [r.duration for r in rows_of(desc)] == [300, 60, 5]
    assert 'aria-sort="descending"' in desc.content.decode()
    by_company = client.get(list_url(tenant.account), {"sort": "company"})
    assert by_company.status_code == 200


def test_pagination_pages_through_every_row_once(login, tenant):
    start = timezone.now()
    made = [
        call(tenant.account, start=start - timedelta(minutes=i), customer_name=f"Caller {i:03d}") for i in range(60)
    ]
    client = login(tenant.staff)
    seen = []
    for number in (1, 2, 3):
        response = client.get(list_url(tenant.account), {"per_page": 25, "page": number}, follow=True)
        page = response.context["page"]
        assert (page.number, page.count, page.num_pages) == (number, 60, 3)
        seen += [r.pk for r in page.rows]
    assert seen == [c.pk for c in made]  # newest first, no gaps, no repeats
    beyond = client.get(list_url(tenant.account), {"per_page": 25, "page": 99})
    assert beyond.context["page"].number == 3
    # the same through the filtered path (page keys and total in one query)
    filtered = [
        client.get(list_url(tenant.account), {"per_page": 25, "page": n, "q": "caller"}, follow=True) for n in (1, 2, 3)
    ]
    assert [r.pk for f in filtered for r in f.context["page"].rows] == [c.pk for c in made]
    assert {f.context["page"].count for f in filtered} == {60}
    beyond = client.get(list_url(tenant.account), {"per_page": 25, "page": 99, "q": "caller"})
    assert (beyond.context["page"].number, len(beyond.context["page"].rows)) == (3, 10)
    body = client.get(list_url(tenant.account), {"per_page": 25, "page": 2}).content.decode()
    assert 'rel="next"' in body
    assert 'rel="prev"' in body
    assert "26–50 of <strong>60</strong>" in body


def test_a_filtered_page_past_the_end_reads_the_matching_calls_once(login, tenant):
    """Past the last page of a filtered list, the last page comes from the same query as the total (not
    from a count and a third scan after an empty page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    start = timezone.now()
    for i in range(30):
        call(tenant.account, start=start - timedelta(minutes=i), customer_name=f"Caller {i:03d}")
    client = login(tenant.staff)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(list_url(tenant.account), {"per_page": 25, "page": 500, "q": "caller"})
    page = response.context["page"]
    assert (page.number, page.count, len(page.rows)) == (2, 30, 5)
    sql = [q["sql"] for q in queries if 'FROM "calls_call"' in q["sql"]]
    scans = [s for s in sql if 'AS "pk"' in s or "COUNT(" in s]  # (the page's rows are then read by key)
    assert len(scans) == 1, scans
    nothing = client.get(list_url(tenant.account), {"per_page": 25, "page": 3, "q": "nobody"}).context["page"]
    assert (nothing.number, nothing.count, nothing.rows) == (1, 0, [])


def test_htmx_requests_get_only_the_list_region(login, tenant, calls):
    client = login(tenant.staff)
    response = client.get(
        list_url(tenant.account), {"direction": "outbound"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-region"
    )
    body = response.content.decode()
    assert body.lstrip().startswith("{% load") is False
    assert '<div id="list-region"' in body
    assert "<html" not in body
    assert "Outbound Otto" in body
    assert "Missed Mike" not in body
    full = client.get(list_url(tenant.account), {"direction": "outbound"}).content.decode()
    assert "<html" in full
    assert 'hx-get="' in full


def test_a_list_region_swap_reads_no_filter_choices(login, tenant, calls, records):
    """Paging, sorting and filtering by HTMX re-render the list region only: the filter form's choices
    (companies, trackers, tags, sources) are not read unless a chosen value must be checked."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(tenant.staff)
    region = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "list-region"}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(list_url(tenant.account), {"page": 1, "sort": "duration"}, **region)
    assert response.status_code == 200
    tables = ("companies_company", "trackers_tracker", "tags_tag")
    choices = [q["sql"] for q in queries if any(f'FROM "{t}"' in q["sql"] for t in tables)]
    assert not [sql for sql in choices if "tenancy_membership" not in sql]  # (the user's company limits)
    full = client.get(list_url(tenant.account)).content.decode()
    assert f'<option value="{records["companies"].pk}"' in full  # the page's form still offers them
    chosen = client.get(list_url(tenant.account), {"company": records["companies"].pk}, **region)
    assert not chosen.context["listing"].problems


@pytest.mark.parametrize("name", NAMES)
def test_list_queries_are_bounded_whatever_the_page_size(login, tenant, records, name, django_assert_max_num_queries):
    client = login(tenant.staff)
    for i in range(30):
        call(tenant.account, customer_name=f"Bulk {i}", tags=["Acme-vip"])
    for size in (25, 200):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(list_url(tenant.account, name), {"per_page": size})
        assert response.status_code == 200


def test_calls_list_queries_do_not_grow_with_rows(login, tenant, records, django_assert_max_num_queries):
    client = login(tenant.staff)
    for i in range(120):
        call(tenant.account, customer_name=f"Bulk {i}", company=records["companies"], tracker=records["trackers"])
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(list_url(tenant.account), {"per_page": 100, "date_range": "recent", "spam": "no"})
    assert len(rows_of(response)) == 100


# ------------------------------------------------------------------------------------------------ columns
def test_column_choice_is_remembered_per_user(login, tenant, calls):
    client = login(tenant.staff)
    response = client.post(
        reverse("portal:resource_columns", args=[tenant.account.pk, "calls"]),
        {"columns": ["customer", "note", "bogus"], "per_page": "25", "query": "direction=outbound"},
    )
    assert response.status_code == 302
    assert response.url.endswith("?direction=outbound")
    pref = ListPreference.objects.get(user=tenant.staff, resource="calls")
    assert pref.columns == ["customer", "note"]
    assert pref.page_size == 25
    page = client.get(list_url(tenant.account))
    assert [c.key for c in page.context["columns"]] == ["customer", "note"]
    assert page.context["page"].size == 25
    # someone else still sees the default columns
    other = login(tenant.owner).get(list_url(tenant.account))
    assert "note" not in [c.key for c in other.context["columns"]]
    # choosing nothing is refused; reset returns to the defaults
    login(tenant.staff)
    client.post(reverse("portal:resource_columns", args=[tenant.account.pk, "calls"]), {"columns": []})
    assert ListPreference.objects.get(user=tenant.staff, resource="calls").columns == ["customer", "note"]
    client.post(reverse("portal:resource_columns", args=[tenant.account.pk, "calls"]), {"reset": "1"})
    assert not ListPreference.objects.filter(user=tenant.staff).exists()


# ------------------------------------------------------------------------------------------------ export
def test_csv_export_streams_the_filtered_sorted_list(login, tenant, calls):
    response = login(tenant.staff).get(
        reverse("portal:resource_export", args=[tenant.account.pk, "calls"]),
        {"answer_status": "answered", "sort": "customer", "spam": "no", "date_range": "all_time"},
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Start", "Caller", "Phone"]
    caller = header.index("Caller")
    assert [r[caller] for r in body] == ["Acme Caller", "First Fiona", "Outbound Otto"]
    tags = header.index("Tags")
    assert body[0][tags] == "Acme-vip"
    assert body[0][header.index("Value")] == "125.00"


@pytest.mark.parametrize("name", NAMES)
def test_csv_export_of_every_resource(login, tenant, records, name):
    response = login(tenant.staff).get(reverse("portal:resource_export", args=[tenant.account.pk, name]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    assert records[name].callrail_id in rows[1] or name in ("calls", "form_submissions", "text_conversations")


# --------------------------------------------------------------------------------------------- isolation
@pytest.mark.parametrize("role", ["owner", "staff", "restricted_staff", "client_user"])
def test_another_tenants_pages_are_404(login, tenant, other_tenant, role):
    theirs = every_resource(other_tenant.account, label="Globex")
    client = login(getattr(tenant, role))
    for name in NAMES:
        for url in (
            list_url(other_tenant.account, name),
            reverse("portal:resource_export", args=[other_tenant.account.pk, name]),
            reverse("portal:resource_detail", args=[other_tenant.account.pk, name, theirs[name].pk]),
        ):
            response = client.get(url)
            # a client is refused the set-up pages of every account alike: a 403 tells nothing of this one
            refused = 403 if role == "client_user" and name not in CLIENT_NAMES else 404
            assert response.status_code == refused, (url, role)
        response = client.post(
            reverse("portal:resource_columns", args=[other_tenant.account.pk, name]), {"columns": ["name"]}
        )
        assert response.status_code == refused


def test_client_sees_only_their_account_in_lists_counts_filters_search_and_export(login, tenant, other_tenant):
    mine = every_resource(tenant.account, label="Acme")
    every_resource(tenant.other_account, label="Sibling")
    every_resource(other_tenant.account, label="Globex")
    client = login(tenant.client_user)
    assert client.get(list_url(tenant.other_account)).status_code == 404
    for name in NAMES:
        if name not in CLIENT_NAMES:
            assert client.get(list_url(tenant.account, name)).status_code == 403, name
            continue
        response = client.get(list_url(tenant.account, name), {"q": "e"})
        body = response.content.decode()
        assert "Sibling" not in body, name
        assert "Globex" not in body, name
        export = client.get(reverse("portal:resource_export", args=[tenant.account.pk, name]))
        text = b"".join(export.streaming_content).decode()
        assert "Sibling" not in text, name
        assert "Globex" not in text, name
    calls_page = client.get(list_url(tenant.account))
    assert calls_page.context["page"].count == 1
    assert [r.pk for r in rows_of(calls_page)] == [mine["calls"].pk]
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert "Sibling" not in dashboard
    assert tenant.other_account.name not in dashboard


# -------------------------------------------------------------------------------- overview and dashboard
def test_account_overview_counts_match_callrail_semantics(login, tenant, records, calls):
    response = login(tenant.staff).get(reverse("portal:account_detail", args=[tenant.account.pk]))
    assert response.status_code == 200
    overview = response.context["overview"]
    totals = overview["totals"]  # recent: last 30 days and today; spam and the 40-day-old call not counted
    assert totals.total_calls == 4
    assert totals.answered_calls == 2  # the record and the outbound call
    assert totals.missed_calls == 2  # missed and voicemail
    assert totals.leads == 1
    assert len(overview["series"]) == 31
    sources = {row.key: row.totals.total_calls for row in overview["summary_tables"][0][2]}
    assert sources == {"Google Ads": 2, "Bing Ads": 1, "Yelp": 1}
    body = response.content.decode()
    assert "Calls per day" in body
    assert "Top sources" in body
    assert "By tracker" in body
    assert 'class="tabs"' in body


def test_dashboard_shows_agency_call_totals_for_a_chosen_range(login, tenant, other_tenant, records, calls):
    call(tenant.other_account, start=timezone.now() - timedelta(days=2), answered=False)
    every_resource(other_tenant.account, label="Globex")
    client = login(tenant.owner)
    response = client.get(reverse("portal:dashboard"), {"range": "last_7_days"})
    grand = response.context["grand"]
    assert grand["total_calls"] == 3  # missed + voicemail of account, missed of other_account
    assert grand["answered_calls"] == 0
    accounts = {a.pk: a for a in response.context["accounts"]}
    assert accounts[tenant.account.pk].calls["total_calls"] == 2
    assert accounts[tenant.other_account.pk].calls["total_calls"] == 1
    body = client.get(reverse("portal:dashboard"), {"range": "forever"}).content.decode()
    assert "Unknown date range" in body
    # the budget meters stay
    assert "<meter" in body


def test_upstream_text_is_escaped_everywhere(login, tenant, records):
    call(tenant.account, customer_name="<script>alert(1)</script>", tags=["<b>x</b>"], note="<img src=x>")
    records["tags"].color = 'r" onmouseover="x'
    records["tags"].save()
    client = login(tenant.staff)
    body = client.get(list_url(tenant.account), {"sort": "customer"}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>x</b>" not in body
    tags = client.get(list_url(tenant.account, "tags")).content.decode()
    assert ' onmouseover="x"' not in tags  # shown as text, never an attribute
    assert 'style="border-color: #6b7280"' in tags


def test_a_client_limited_to_one_company_sees_only_that_company_everywhere(login, tenant, records):
    from apps.companies.models import Company
    from apps.tenancy.models import Role
    from tests.factories import MembershipFactory
    from tests.portal.mirror import mirror

    other_company = mirror(Company, tenant.account, name="Hidden Branch", status="active")
    call(tenant.account, company=other_company, customer_name="Hidden Caller", source="Secret Source")
    membership = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[tenant.account])
    membership.companies.set([records["companies"]])
    client = login(membership.user)
    for name in CLIENT_NAMES:
        body = client.get(list_url(tenant.account, name)).content.decode()
        assert "Hidden" not in body, name
        assert "Secret Source" not in body, name
        export = b"".join(client.get(reverse("portal:resource_export", args=[tenant.account.pk, name]))
                          .streaming_content).decode()  # fmt: skip
        assert "Hidden" not in export, name
    overview = client.get(reverse("portal:account_detail", args=[tenant.account.pk])).content.decode()
    assert "Hidden" not in overview
    assert "Secret Source" not in overview
    assert "Acme Main Street" in overview  # their own company's figures are there
    hidden_call = client.get(list_url(tenant.account), {"company": other_company.pk})
    assert "Company: Select a valid choice." in hidden_call.content.decode()


def test_caller_ids_and_integration_triggers_read_in_callrail_s_words_by_staff_only(login, tenant, records):
    """Read-only: verified yes/no; a trigger's integration type, call type, durations and lead status as
    CallRail words them; clients are refused both set-up pages."""
    from apps.calls.models import OutboundCallerId

    from .mirror import mirror

    mirror(OutboundCallerId, tenant.account, company=records["companies"], name="Acme Spare Cell",
           phone_number="+14045550178", verified=False)  # fmt: skip
    staff = login(tenant.staff)
    body = " ".join(staff.get(list_url(tenant.account, "caller_ids")).content.decode().split())
    assert "Acme Front Desk" in body
    assert "(404) 555-0177" in body
    assert "Acme Spare Cell" in body
    assert "(404) 555-0178" in body
    verified_only = staff.get(list_url(tenant.account, "caller_ids"), {"verified": "yes"})
    assert [r.name for r in rows_of(verified_only)] == ["Acme Front Desk"]
    body = " ".join(staff.get(list_url(tenant.account, "integration_triggers")).content.decode().split())
    for words in ("Webhooks", "First-time callers", "Good lead", "10s"):
        assert words in body, words
    assert "first_call" not in body
    assert "good_lead" not in body
    client = login(tenant.client_user)
    for name in ("caller_ids", "integration_triggers"):
        assert client.get(list_url(tenant.account, name)).status_code == 403
        assert list_url(tenant.account, name) not in client.get(list_url(tenant.account)).content.decode()  # no tab
