"""Calls: listing with every documented query feature, a single call, updates, summary, time series,
recordings and outbound calls."""

import math
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import requests

from apps.sandbox.resources import CALL_EXTRA_FIELDS

DEFAULT_KEYS = {
    "answered", "business_phone_number", "customer_city", "customer_country", "customer_name",
    "customer_phone_number", "customer_state", "direction", "duration", "id", "recording", "recording_duration",
    "recording_player", "start_time", "tracking_phone_number", "voicemail",
}  # fmt: skip
START_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
DENVER = ZoneInfo("America/Denver")


def all_ids(api, **params):
    """Every call id through offset pagination."""
    ids, page = [], 1
    while True:
        body = api.get("calls", params={**params, "page": page}).json()
        ids += [c["id"] for c in body["calls"]]
        if page >= body["total_pages"]:
            return ids
        page += 1


def test_list_calls_default_fields_and_shape(api, sandbox):
    body = api.get("calls").json()
    assert set(body) == {"page", "per_page", "total_pages", "total_records", "calls"}
    assert body["per_page"] == 100
    assert body["calls"]
    for call in body["calls"]:
        assert set(call) == DEFAULT_KEYS
        assert call["id"].startswith("CAL")
        assert len(call["id"]) == 35
        assert START_TIME.match(call["start_time"])
        assert call["direction"] in ("inbound", "outbound")
        if call["recording"]:  # as the docs show it: numeric account and call ids
            store = sandbox.state.accounts[api.account_id].calls
            numeric = store.legacy_id(store.by_id[call["id"]])
            account_numeric = sandbox.state.accounts[api.account_id].numeric_id
            assert call["recording"].endswith(f"/a/{account_numeric}/calls/{numeric}/recording.json")
            assert api.get(f"calls/{numeric}").json()["id"] == call["id"]  # the API takes the numeric id too
            assert f"/calls/{numeric}/recording?access_key=" in call["recording_player"]
            assert isinstance(call["recording_duration"], str)
    times = [datetime.fromisoformat(c["start_time"]) for c in body["calls"]]
    assert times == sorted(times, reverse=True)  # newest first by default


def test_default_date_range_is_recent(api, sandbox):
    body = api.get("calls", params={"per_page": 250}).json()
    now = datetime.now(DENVER)
    oldest_allowed = datetime.combine((now - timedelta(days=30)).date(), datetime.min.time(), DENVER)
    assert all(datetime.fromisoformat(c["start_time"]) >= oldest_allowed for c in body["calls"])
    in_state = [c for c in sandbox.state.accounts[api.account_id].calls if c.start >= oldest_allowed]
    assert body["total_records"] == len(in_state)
    # the small profile holds 60 days of calls: the default window leaves the older half out
    assert 0 < body["total_records"] < len(sandbox.state.accounts[api.account_id].calls)


def test_offset_pagination_arithmetic_from_the_docs(api):
    company = api.first("companies")["id"]
    existing = api.get("tags").json()["total_records"]
    for index in range(111 - existing):
        api.post("tags", json={"name": f"Tag {index:03d}", "company_id": company})
    body = api.get("tags", params={"page": 3, "per_page": 25}).json()
    assert {k: body[k] for k in ("page", "per_page", "total_pages", "total_records")} == {
        "page": 3, "per_page": 25, "total_pages": 5, "total_records": 111}  # fmt: skip
    assert len(body["tags"]) == 25
    assert len(api.get("tags", params={"page": 5, "per_page": 25}).json()["tags"]) == 11
    past_the_end = api.get("tags", params={"page": 6, "per_page": 25}).json()
    assert past_the_end["tags"] == []
    assert past_the_end["total_pages"] == 5


def test_offset_pages_cover_every_call_once_with_link_headers(api):
    params = {"date_range": "this_year", "per_page": 25}
    first = api.get("calls", params=params)
    body = first.json()
    assert body["total_pages"] == math.ceil(body["total_records"] / 25)
    next_link = first.links["next"]["url"]
    assert parse_qs(urlparse(next_link).query)["page"] == ["2"]
    assert requests.get(next_link, headers=api.headers, timeout=10).json()["page"] == 2
    ids = all_ids(api, **params)
    assert len(ids) == len(set(ids)) == body["total_records"]
    last = api.get("calls", params={**params, "page": body["total_pages"]})
    assert "next" not in last.links
    assert len(last.json()["calls"]) == body["total_records"] - 25 * (body["total_pages"] - 1)


def test_per_page_limits(api):
    assert api.get("calls", params={"per_page": 1000, "date_range": "this_year"}).json()["per_page"] == 250
    assert api.get("calls", params={"per_page": 0}).status_code == 400
    assert api.get("calls", params={"per_page": "ten"}).status_code == 400
    assert api.get("calls", params={"page": 0}).status_code == 400
    assert api.get("calls", params={"page": "two"}).status_code == 400


def test_relative_pagination_walks_the_same_calls(api, sandbox):
    params = {"date_range": "this_year", "per_page": 7, "relative_pagination": "true"}
    response = api.get("calls", params=params)
    body = response.json()
    assert set(body) == {"next_page", "has_next_page", "calls"}
    assert body["has_next_page"] is True
    assert body["next_page"].startswith(f"{sandbox.url}/v3/a/{api.account_id}/calls.json?")
    assert response.links["next"]["url"] == body["next_page"]
    ids = [c["id"] for c in body["calls"]]
    pages = 1
    while body["has_next_page"]:
        body = requests.get(body["next_page"], headers=api.headers, timeout=10).json()
        ids += [c["id"] for c in body["calls"]]
        pages += 1
    assert body["next_page"] is None
    offset_ids = all_ids(api, date_range="this_year", per_page=7)
    assert ids == offset_ids
    assert pages == math.ceil(len(ids) / 7)
    # offset=2 is the third page
    third = api.get("calls", params={**params, "offset": 2}).json()
    assert [c["id"] for c in third["calls"]] == offset_ids[14:21]
    assert api.get("calls", params={**params, "offset": -1}).status_code == 400


def test_field_selection(api):
    call = api.first("calls", fields="company_id,company_name,tags,lead_status,source,milestones,call_type")
    assert set(call) == DEFAULT_KEYS | {"company_id", "company_name", "tags", "lead_status", "source", "milestones",
                                        "call_type"}
    assert call["company_id"].startswith("COM")
    assert set(call["milestones"]) == {"first_touch", "lead_created", "qualified", "last_touch"}
    every = api.first("calls", fields=",".join(CALL_EXTRA_FIELDS))
    assert set(every) == DEFAULT_KEYS | set(CALL_EXTRA_FIELDS)
    single = api.get(f"calls/{call['id']}", params={"fields": "company_id,company_name"}).json()
    assert set(single) == DEFAULT_KEYS | {"company_id", "company_name"}
    assert api.first("calls", fields="no_such_field").keys() == DEFAULT_KEYS


@pytest.mark.parametrize(
    ("sort", "order", "key", "reverse"),
    [
        ("duration", None, "duration", False),
        ("duration", "desc", "duration", True),
        ("customer_phone_number", "asc", "customer_phone_number", False),
        ("start_time", "asc", "start_time", False),
    ],
)
def test_sorting(api, sort, order, key, reverse):
    params = {"date_range": "this_year", "per_page": 250, "sort": sort, **({"order": order} if order else {})}
    values = [c[key] for c in api.get("calls", params=params).json()["calls"]]
    if key == "start_time":
        values = [datetime.fromisoformat(v) for v in values]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=reverse)
    assert len(present) > 10


def test_sort_errors(api):
    assert api.get("calls", params={"sort": "favourite_colour"}).status_code == 400
    assert api.get("calls", params={"sort": "duration", "order": "sideways"}).status_code == 400


def test_filters(api, sandbox):
    base = {"date_range": "this_year", "per_page": 250, "fields": "lead_status,tags,company_id,tracker_id,call_type"}

    def calls(**params):
        response = api.get("calls", params={**base, **params})
        assert response.status_code == 200, response.text
        return response.json()["calls"]

    every = calls()
    answered = calls(answer_status="answered")
    assert answered
    assert all(c["answered"] for c in answered)
    assert all(c["voicemail"] for c in calls(answer_status="voicemail"))
    missed = calls(answer_status="missed")
    assert all(not c["answered"] and not c["voicemail"] for c in missed)
    assert len(answered) + len(missed) + len(calls(answer_status="voicemail")) == len(every)
    assert all(c["direction"] == "outbound" for c in calls(direction="outbound"))
    assert all(c["lead_status"] == "good_lead" for c in calls(lead_status="good_lead"))
    assert all(c["lead_status"] is None for c in calls(lead_status="not_scored"))
    company = every[0]["company_id"]
    assert {c["company_id"] for c in calls(company_id=company)} == {company}
    tracker = every[0]["tracker_id"]
    assert {c["tracker_id"] for c in calls(tracker_id=tracker)} == {tracker}
    tagged = [c for c in every if c["tags"]]
    tag_a = tagged[0]["tags"][0]["name"]
    tag_b = next(t["name"] for c in tagged for t in c["tags"] if t["name"] != tag_a)
    with_a = calls(tags=tag_a)
    assert with_a
    assert all(tag_a in [t["name"] for t in c["tags"]] for c in with_a)
    either = api.get("calls", params=[*base.items(), ("tags[]", tag_a), ("tags[]", tag_b)]).json()["calls"]
    assert {c["id"] for c in either} == {c["id"] for c in every
                                         if {tag_a, tag_b} & {t["name"] for t in c["tags"]}}
    assert all(c["call_type"] == "voicemail" for c in calls(call_type="voicemails"))
    assert api.get("calls", params={"answer_status": "maybe"}).status_code == 400
    assert api.get("calls", params={"direction": "sideways"}).status_code == 400
    assert calls(company_id="COMnope") == []


def test_search(api):
    call = next(c for c in api.get("calls", params={"date_range": "this_year", "per_page": 250}).json()["calls"]
                if c["customer_name"] and "," not in c["customer_name"])
    word = call["customer_name"].split()[0].lower()
    params = {"date_range": "this_year", "per_page": 250, "search": word, "fields": "note,source"}
    found = api.get("calls", params=params).json()["calls"]
    assert call["id"] in [c["id"] for c in found]
    assert all(word in " ".join(str(c[k] or "") for k in ("customer_name", "note", "source")).lower() for c in found)
    digits = call["customer_phone_number"][-7:]
    by_number = api.get("calls", params={"date_range": "this_year", "search": digits}).json()["calls"]
    assert call["id"] in [c["id"] for c in by_number]
    assert api.get("calls", params={"date_range": "this_year", "search": "zzzz-nobody"}).json()["calls"] == []


@pytest.mark.parametrize("preset", ["today", "yesterday", "last_7_days", "last_30_days", "this_month", "last_month",
                                    "this_year", "last_year", "recent"])
def test_date_range_presets_bound_the_calls(api, preset):
    now = datetime.now(DENVER)
    today = now.date()
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    bounds = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "last_7_days": (today - timedelta(days=7), today - timedelta(days=1)),
        "last_30_days": (today - timedelta(days=30), today - timedelta(days=1)),
        "this_month": (first_of_month, today),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "this_year": (today.replace(month=1, day=1), today),
        "last_year": (today.replace(year=today.year - 1, month=1, day=1),
                      today.replace(year=today.year - 1, month=12, day=31)),
        "recent": (today - timedelta(days=30), today),
    }[preset]
    response = api.get("calls", params={"date_range": preset, "per_page": 250})
    assert response.status_code == 200
    for call in response.json()["calls"]:
        day = datetime.fromisoformat(call["start_time"]).astimezone(DENVER).date()
        assert bounds[0] <= day <= bounds[1]


def test_start_and_end_dates_as_dates_and_timestamps(api, sandbox):
    calls = sandbox.state.accounts[api.account_id].calls.ordered
    target = calls[len(calls) // 2]
    local = target.start.astimezone(DENVER)
    day = local.date().isoformat()
    by_day = api.get("calls", params={"start_date": day, "end_date": day, "per_page": 250}).json()
    expected = [c.id for c in calls if c.start.astimezone(DENVER).date() == local.date()]
    assert sorted(c["id"] for c in by_day["calls"]) == sorted(expected)
    # a full timestamp with an offset, as in the gateway docs (sent unencoded: '+' arrives as a space)
    start = (target.start - timedelta(seconds=1)).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    end = (target.start + timedelta(seconds=1)).astimezone(DENVER).isoformat(timespec="seconds")
    exact = api.get("calls", params={"start_date": start, "end_date": end}).json()
    assert target.id in [c["id"] for c in exact["calls"]]
    raw = requests.get(f"{api.url('calls')}?start_date={start}&end_date={end}", headers=api.headers, timeout=10)
    assert raw.status_code == 200
    assert target.id in [c["id"] for c in raw.json()["calls"]]
    # a time without an offset is read in the account's time zone
    naive = api.get("calls", params={"start_date": local.strftime("%Y-%m-%dT%H:%M"),
                                     "end_date": (local + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")}).json()
    assert target.id in [c["id"] for c in naive["calls"]]


def test_date_errors_and_retention(api):
    too_old = (datetime.now(DENVER) - timedelta(days=800)).date().isoformat()
    retention = api.get("calls", params={"start_date": too_old})
    assert retention.status_code == 400
    assert "retention" in retention.json()["error"]
    assert api.get("calls", params={"date_range": "all_time"}).status_code == 400
    assert api.get("calls", params={"date_range": "last_decade"}).status_code == 400
    assert api.get("calls", params={"start_date": "yesterday-ish"}).status_code == 400
    assert api.get("calls", params={"start_date": "2026-13-45"}).status_code == 400
    today = datetime.now(DENVER).date()
    inverted = {"start_date": today.isoformat(), "end_date": (today - timedelta(days=3)).isoformat()}
    assert api.get("calls", params=inverted).status_code == 400
    assert api.get("calls", params={"time_zone": "Nowhere/Special"}).status_code == 400


def test_time_zone_parameter_changes_offsets(api):
    denver = api.first("calls")
    utc = api.get(f"calls/{denver['id']}", params={"time_zone": "UTC"}).json()
    assert utc["start_time"].endswith("+00:00")
    assert datetime.fromisoformat(utc["start_time"]) == datetime.fromisoformat(denver["start_time"])


def test_get_single_call_and_404(api):
    call = api.first("calls")
    assert api.get(f"calls/{call['id']}").json() == call
    missing = api.get("calls/CAL00000000000000000000000000000000")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Call not found"}


def test_update_call_as_in_the_docs(api):
    call = api.first("calls", fields="company_id")
    response = api.put(f"calls/{call['id']}", json={
        "note": "Call customer back tomorrow",
        "tags": ["New Client"],
        "lead_status": "good_lead",
        "value": "$1.00",
        "append_tags": True,
        "customer_name": "James Smith",
    })  # fmt: skip
    assert response.status_code == 200, response.text
    assert set(response.json()) == DEFAULT_KEYS
    assert response.json()["customer_name"] == "James Smith"
    detail = api.get(f"calls/{call['id']}", params={"fields": "note,tags,lead_status,value,formatted_value"}).json()
    assert detail["note"] == "Call customer back tomorrow"
    assert "New Client" in [t["name"] for t in detail["tags"]]
    assert detail["lead_status"] == "good_lead"
    assert detail["value"] == 1.0
    assert detail["formatted_value"] == "$1.00"
    # the new tag was created in the call's company
    company_tags = api.get("tags", params={"company_id": call["company_id"]}).json()["tags"]
    assert "New Client" in [t["name"] for t in company_tags]
    # replace instead of append; null clears
    replaced = api.put(f"calls/{call['id']}", json={"tags": ["Other"], "note": None, "value": ""})
    assert replaced.status_code == 200
    after = api.get(f"calls/{call['id']}", params={"fields": "note,tags,value"}).json()
    assert [t["name"] for t in after["tags"]] == ["Other"]
    assert after["note"] is None
    assert after["value"] is None


def test_update_call_errors(api, sandbox):
    call = api.first("calls")
    assert api.put(f"calls/{call['id']}", json={"lead_status": "great_lead"}).status_code == 400
    assert api.put(f"calls/{call['id']}", json={"value": "lots"}).status_code == 400
    assert api.put(f"calls/{call['id']}", json={"spam": "perhaps"}).status_code == 400
    assert api.put("calls/CALnope", json={"note": "x"}).status_code == 404
    acc = sandbox.state.accounts[api.account_id]
    marked = next(c for c in acc.calls.ordered if c.lead_status == "previously_marked_good_lead")
    refused = api.put(f"calls/{marked.id}", json={"lead_status": "good_lead"})
    assert refused.status_code == 400
    assert "error" in refused.json()


def test_spam_removes_the_call_from_the_log(api):
    call = api.first("calls")
    before = api.get("calls").json()["total_records"]
    assert api.put(f"calls/{call['id']}", json={"spam": True}).status_code == 200
    assert api.get("calls").json()["total_records"] == before - 1
    assert call["id"] not in [c["id"] for c in api.get("calls", params={"per_page": 250}).json()["calls"]]
    assert api.get(f"calls/{call['id']}").status_code == 200
    assert api.put(f"calls/{call['id']}", json={"spam": False}).status_code == 422


def test_summary_grouped_by_source(api):
    fields = ("total_calls,missed_calls,answered_calls,first_time_callers,average_duration,"
              "formatted_average_duration,leads")
    body = api.get("calls/summary", params={"group_by": "source", "fields": fields}).json()
    assert set(body) == {"start_date", "end_date", "time_zone", "total_results", "grouped_by", "grouped_results"}
    assert re.match(r"^\d{4}-\d\d-\d\dT00:00:00[+-]\d{4}$", body["start_date"])
    assert re.match(r"^\d{4}-\d\d-\d\dT23:59:59[+-]\d{4}$", body["end_date"])
    totals = body["total_results"]
    assert set(totals) == set(fields.split(","))
    assert totals["total_calls"] == api.get("calls").json()["total_records"]
    assert totals["missed_calls"] + totals["answered_calls"] == totals["total_calls"]
    assert sum(g["total_calls"] for g in body["grouped_results"]) == totals["total_calls"]
    assert body["grouped_by"] == "source"
    assert all(set(g) == {"key", *fields.split(",")} for g in body["grouped_results"])
    assert api.get("calls/summary").json()["total_results"].keys() == {"total_calls"}
    by_company = api.get("calls/summary", params={"group_by": "company"}).json()
    names = {c["name"] for c in api.get("companies").json()["companies"]}
    assert {g["key"] for g in by_company["grouped_results"]} == names
    assert api.get("calls/summary", params={"group_by": "weather"}).status_code == 400
    answered = api.get("calls/summary", params={"answer_status": "answered"}).json()["total_results"]["total_calls"]
    assert answered == totals["answered_calls"]


def test_timeseries(api):
    today = datetime.now(DENVER).date()
    start = today - timedelta(days=9)
    params = {"start_date": start.isoformat(), "end_date": today.isoformat(), "fields": "answered_calls,leads"}
    body = api.get("calls/timeseries", params=params).json()
    assert [d["date"] for d in body["data"]] == [(start + timedelta(days=i)).isoformat() for i in range(10)]
    assert set(body["data"][0]) == {"date", "answered_calls", "leads"}
    listed = api.get("calls", params={"start_date": start.isoformat(), "end_date": today.isoformat()})
    assert sum(d.get("answered_calls", 0) for d in body["data"]) == body["total_results"]["answered_calls"]
    totals = api.get("calls/timeseries", params={k: v for k, v in params.items() if k != "fields"}).json()
    assert sum(d["total_calls"] for d in totals["data"]) == listed.json()["total_records"]
    hourly = api.get("calls/timeseries", params={"start_date": today.isoformat(), "end_date": today.isoformat(),
                                                 "interval": "hour"}).json()
    midnight, next_midnight = (datetime.combine(day, time(), DENVER) for day in (today, today + timedelta(days=1)))
    hours_today = round((next_midnight.astimezone(UTC) - midnight.astimezone(UTC)).total_seconds() / 3600)
    assert len(hourly["data"]) == hours_today  # 23 or 25 on the days the clocks change
    assert re.match(r"^\d{4}-\d\d-\d\dT00:00:00[+-]\d{4}$", hourly["data"][0]["date"])
    monthly = api.get("calls/timeseries", params={"date_range": "this_year", "interval": "month"}).json()
    assert len(monthly["data"]) == today.month
    too_many = api.get("calls/timeseries", params={"date_range": "last_year", "interval": "day"})
    assert too_many.status_code == 400
    assert api.get("calls/timeseries", params={"interval": "fortnight"}).status_code == 400


def test_recording(api, sandbox):
    calls = api.get("calls", params={"per_page": 250}).json()["calls"]
    recorded = next(c for c in calls if c["recording"])
    response = requests.get(recorded["recording"], headers=api.headers, timeout=10)
    assert response.status_code == 200
    assert set(response.json()) == {"url"}
    audio = requests.get(response.json()["url"], timeout=10)
    assert audio.status_code == 200
    assert audio.headers["Content-Type"] == "audio/mpeg"
    assert audio.content[:2] == b"\xff\xfb"
    assert requests.get(recorded["recording_player"], timeout=10).status_code == 200
    silent = next(c for c in calls if not c["recording"])
    assert api.get(f"calls/{silent['id']}/recording").status_code == 404


def test_page_views_of_a_session_call(api):
    calls = api.get("calls", params={"per_page": 250, "fields": "landing_page_url"}).json()["calls"]
    web = next(c for c in calls if c["landing_page_url"])
    body = api.get(f"calls/{web['id']}/page_views").json()
    assert body["total_records"] >= 1
    assert set(body["page_views"][0]) == {"referrer_url", "page_url", "created_at"}


def test_outbound_call_as_in_the_docs(api, sandbox):
    tracker = api.first("trackers", status="active")
    response = api.post("calls", json={
        "caller_id": tracker["tracking_numbers"][0],
        "business_phone_number": "+14045556666",
        "customer_phone_number": "+14044442233",
        "recording_enabled": True,
        "outbound_greeting_recording_url": "http://www.test.com/greeting.mp3",
        "outbound_greeting_text": "These are not the droids you are looking for.",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    call = response.json()
    assert call["direction"] == "outbound"
    assert call["answered"] is None
    assert call["customer_phone_number"] == "+14044442233"
    assert api.get(f"calls/{call['id']}").status_code == 200
    usage = sandbox.state.usage(api.account_id)[api.account_id]
    assert usage["outbound"]["hour"] == 1
    assert api.post("calls", json={"caller_id": "+17705550000", "business_phone_number": "+14045556666",
                                   "customer_phone_number": "+14044442233"}).status_code == 422
    assert api.post("calls", json={"caller_id": tracker["tracking_numbers"][0]}).status_code == 400
    assert api.post("calls", json={"caller_id": "123", "business_phone_number": "+14045556666",
                                   "customer_phone_number": "+14044442233"}).status_code == 400
