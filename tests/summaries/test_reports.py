"""apps/calls/reports.py against an independent computation: the sandbox's own summary and time series.

The sandbox is synced into the mirror through the real pull engine; then, for the same period, time zone
and company, the mirror's figures must equal what ``/v3/a/{account}/calls/summary.json`` and
``calls/timeseries.json`` answer over HTTP.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.callrail.client import client_for_account
from apps.calls import reports
from apps.calls.models import Call
from apps.calls.reports import Period
from apps.companies.models import Company
from tests.conftest import EDGE_INSTANTS, PINNED_NOW

# Periods ("last 30 days"…) and the sandbox's history are both relative to now: every test runs on a pinned clock.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

FIELDS = "total_calls,missed_calls,answered_calls,first_time_callers,average_duration,formatted_average_duration,leads"


def upstream(account, path: str, period: Period, **params) -> dict:
    client = client_for_account(account, lane="interactive")
    query = {**period.as_params(), "fields": FIELDS, **params}
    return client.get(f"/a/{account.callrail_account_id}/calls/{path}", params=query)


def periods(tz_name: str) -> list[Period]:
    today = datetime.now(UTC).date()
    return [
        reports.period_preset("today", tz_name=tz_name),
        reports.period_preset("last_7_days", tz_name=tz_name),
        reports.period_preset("last_30_days", tz_name=tz_name),
        reports.period_preset("this_month", tz_name=tz_name),
        reports.period_preset("last_month", tz_name=tz_name),
        Period(today - timedelta(days=3), today - timedelta(days=3), tz_name),
    ]


@pytest.mark.parametrize("clock", [PINNED_NOW.isoformat(), *EDGE_INSTANTS], indirect=True)
@pytest.mark.parametrize("tz_name", ["account", "Pacific/Auckland", "UTC"])
def test_totals_and_series_equal_the_sandbox(clock, synced, tz_name):
    tz_name = synced.time_zone if tz_name == "account" else tz_name
    calls = 0
    for period in periods(tz_name):
        answer = upstream(synced, "timeseries.json", period)
        assert reports.call_totals(account=synced, period=period).as_callrail() == answer["total_results"], period
        series = reports.call_timeseries(account=synced, period=period)
        assert [(p.day.isoformat(), p.totals.as_callrail()) for p in series] == [
            (row.pop("date"), row) for row in answer["data"]
        ]
        calls += answer["total_results"]["total_calls"]
    assert calls > 0  # the comparison was not between two empty reports


@pytest.mark.parametrize("group_by", ["source", "keywords", "campaign", "company", "referrer", "landing_page"])
def test_grouped_summary_equals_the_sandbox(synced, group_by):
    period = reports.period_preset("last_30_days", tz_name=synced.time_zone)
    answer = upstream(synced, "summary.json", period, group_by=group_by)
    rows = reports.call_breakdown(account=synced, period=period, group_by=group_by)
    assert [(r.key, r.totals.as_callrail()) for r in rows] == [
        (row.pop("key"), row) for row in answer["grouped_results"]
    ]
    assert len(rows) > 1


def test_company_report_uses_the_company_and_equals_the_sandbox(synced):
    company = Company.objects.for_account(synced).order_by("name").first()
    tz_name = reports.report_time_zone(synced, company)
    assert tz_name == company.time_zone
    period = reports.period_preset("last_30_days", tz_name=tz_name)
    answer = upstream(synced, "summary.json", period, company_id=company.callrail_id)
    totals = reports.call_totals(account=synced, period=period, company=company)
    assert totals.as_callrail() == answer["total_results"]
    assert 0 < totals.total_calls < reports.call_totals(account=synced, period=period).total_calls


def test_voicemails_value_and_previous_period(synced):
    period = reports.period_preset("last_30_days", tz_name=synced.time_zone)
    report = reports.call_report(account=synced, period=period)
    calls = list(reports.report_calls(account=synced, period=period))
    assert report.totals.voicemails == sum(1 for c in calls if c.voicemail)
    assert report.totals.value == sum((c.value or Decimal(0) for c in calls), Decimal("0.00"))
    assert report.previous_period == Period(
        period.start - timedelta(days=30), period.start - timedelta(days=1), period.tz_name
    )
    previous = upstream(synced, "summary.json", report.previous_period)
    assert report.previous.as_callrail() == previous["total_results"]
    change = report.change("total_calls")
    assert change.delta == report.totals.total_calls - report.previous.total_calls
    assert sum(p.totals.total_calls for p in report.series) == report.totals.total_calls


def test_spam_and_deleted_calls_are_not_counted(synced):
    period = reports.period_preset("last_30_days", tz_name=synced.time_zone)
    before = reports.call_totals(account=synced, period=period).total_calls
    ids = list(reports.report_calls(account=synced, period=period).values_list("pk", flat=True)[:2])
    Call.objects.for_account(synced).filter(pk=ids[0]).update(spam=True)
    Call.objects.for_account(synced).filter(pk=ids[1]).update(deleted_upstream_at=datetime.now(UTC))
    assert reports.call_totals(account=synced, period=period).total_calls == before - 2


def test_periods():
    assert Period(date(2026, 3, 1), date(2026, 3, 31), "UTC").previous() == Period(
        date(2026, 2, 1), date(2026, 2, 28), "UTC"
    )
    assert Period(date(2026, 3, 9), date(2026, 3, 15), "UTC").previous() == Period(
        date(2026, 3, 2), date(2026, 3, 8), "UTC"
    )
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # still the 22nd in Denver
    assert reports.period_preset("yesterday", tz_name="America/Denver", now=now).start == date(2026, 11, 21)
    assert reports.period_preset("yesterday", tz_name="UTC", now=now).start == date(2026, 11, 22)
    assert reports.format_duration(179) == "2m 59s"
    with pytest.raises(ValueError, match="cannot end"):
        Period(date(2026, 3, 2), date(2026, 3, 1))


def test_parse_period_explains_bad_input():
    assert reports.parse_period("2026-11-01", "2026-11-07", tz_name="UTC").days == 7
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        reports.parse_period("01/11/2026", "2026-11-07", tz_name="UTC")
    with pytest.raises(ValueError, match="before the start"):
        reports.parse_period("2026-11-08", "2026-11-07", tz_name="UTC")
    with pytest.raises(ValueError, match="at most"):
        reports.parse_period("2020-01-01", "2026-11-07", tz_name="UTC")
