"""Read side of the call mirror: lists, CallRail's date ranges, and the summaries the overview pages show.

The summaries follow CallRail's ``calls/summary.json`` and ``calls/timeseries.json`` semantics:
``answered_calls`` counts answered calls, ``missed_calls`` every call not answered (voicemails included),
``first_time_callers`` calls with ``first_call``, ``leads`` calls whose lead status is ``good_lead``, and
``average_duration`` the integer mean of the durations. Days are the account's time-zone days.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.sync.selectors import mirror_list

from .models import Call

#: CallRail's standard date ranges ("Filtering by Standard Date Range"), with the labels its UI uses.
DATE_RANGES: tuple[tuple[str, str], ...] = (
    ("recent", "Recent (last 30 days and today)"),
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("last_7_days", "Last 7 days"),
    ("last_30_days", "Last 30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_year", "This year"),
    ("last_year", "Last year"),
    ("all_time", "All time"),
)
#: What the dashboard, the overview and the calls list show when no range is chosen (CallRail's "Recent").
DEFAULT_RANGE = "recent"
_END_OF_DAY = time(23, 59, 59, 999999)

#: CallRail's answer_status filter values.
ANSWER_STATUSES = (("answered", "Answered"), ("missed", "Missed"), ("voicemail", "Voicemail"))
LEAD_STATUSES = (
    ("good_lead", "Good lead"),
    ("not_a_lead", "Not a lead"),
    ("previously_marked_good_lead", "Previously marked good lead"),
    ("not_scored", "Not scored"),
)
DIRECTIONS = (("inbound", "Inbound"), ("outbound", "Outbound"))


def zone_of(account: Any) -> tzinfo:
    """The account's time zone (an account, or a zone name); UTC when unknown."""
    name = account if isinstance(account, str) else getattr(account, "time_zone", "")
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def date_window(preset: str, tz: tzinfo, now: datetime | None = None) -> tuple[datetime | None, datetime]:
    """The [start, end] of one of CallRail's date-range presets, in ``tz`` (start None: no lower bound)."""
    today = (now or timezone.now()).astimezone(tz).date()

    def start(d: date) -> datetime:
        return datetime.combine(d, time(0), tz)

    def end(d: date) -> datetime:
        return datetime.combine(d, _END_OF_DAY, tz)

    yesterday = today - timedelta(days=1)
    first_this = today.replace(day=1)
    last_prev = first_this - timedelta(days=1)
    windows = {
        "recent": (start(today - timedelta(days=30)), end(today)),
        "today": (start(today), end(today)),
        "yesterday": (start(yesterday), end(yesterday)),
        "last_7_days": (start(today - timedelta(days=7)), end(yesterday)),
        "last_30_days": (start(today - timedelta(days=30)), end(yesterday)),
        "this_month": (start(first_this), end(today)),
        "last_month": (start(last_prev.replace(day=1)), end(last_prev)),
        "this_year": (start(date(today.year, 1, 1)), end(today)),
        "last_year": (start(date(today.year - 1, 1, 1)), end(date(today.year - 1, 12, 31))),
        "all_time": (None, end(today)),
    }
    if preset not in windows:
        raise ValueError(f"Unknown date range {preset!r}")
    return windows[preset]


def call_list(*, user: Any, agency: Any = None, include_deleted: bool = False) -> QuerySet:
    """Calls the user may see, newest first; calls CallRail deleted are hidden unless ``include_deleted``."""
    return (
        mirror_list(Call, user=user, agency=agency, include_deleted=include_deleted)
        .select_related("company", "tracker")
        .order_by("-start_time", "-pk")
    )


def call_answer_status_q(value: str) -> Q:
    """CallRail's ``answer_status``: answered; voicemail; missed = neither answered nor voicemail."""
    if value == "answered":
        return Q(answered=True)
    if value == "voicemail":
        return Q(voicemail=True)
    if value == "missed":
        return ~Q(answered=True) & ~Q(voicemail=True)
    raise ValueError(value)


def lead_status_q(value: str) -> Q:
    """``not_scored`` is CallRail's name for no lead status at all."""
    return Q(lead_status__isnull=True) | Q(lead_status="") if value == "not_scored" else Q(lead_status=value)


# ---------------------------------------------------------------------------------------------- summaries
SUMMARY_FIELDS = ("total_calls", "answered_calls", "missed_calls", "first_time_callers", "leads", "average_duration")


def calls_between(calls: QuerySet, start: datetime | None, end: datetime | None) -> QuerySet:
    if start is not None:
        calls = calls.filter(start_time__gte=start)
    if end is not None:
        calls = calls.filter(start_time__lte=end)
    return calls


def account_call_overview(*, user: Any, agency: Any, account: Any) -> dict[str, Any]:
    """The account overview over CallRail's ``recent`` range (the last 30 days and today, in the account's
    time zone): calls today and this week, totals, calls per day and summaries by source, company and
    tracker — computed by ``reports.py`` (the figures of the summary emails) over the calls *the user* may
    see (``visible_to``), so a client limited to some companies sees only those companies' figures."""
    from . import reports

    tz_name = account.time_zone or "UTC"
    today = reports.local_today(tz_name)
    period = reports.period_preset("recent", tz_name=tz_name)
    scope = {"account": account, "period": period, "calls": call_list(user=user, agency=agency)}
    series = reports.call_timeseries(**scope)
    week_start = today - timedelta(days=today.weekday())
    return {
        "today": sum(p.totals.total_calls for p in series if p.day == today),
        "this_week": sum(p.totals.total_calls for p in series if p.day >= week_start),
        "period": period,
        "totals": reports.call_totals(**scope),
        "series": series,
        "peak": max((p.totals.total_calls for p in series), default=0),
        "summary_tables": [
            (title, heading, _qualified(reports.call_breakdown(group_by=group, limit=8, **scope), group, account))
            for title, heading, group in OVERVIEW_TABLES
        ],
    }


@dataclass(frozen=True)
class NamedRow:
    """A summary row with the name people read: a tracker named like another carries its company's name."""

    label: str
    totals: Any
    sub: str = ""  # the company, where another tracker has the same name


def _qualified(rows: list, group: str, account: Any) -> list:
    if group != "tracker":
        return rows
    from collections import Counter

    from apps.trackers.models import Tracker

    refs = [r.ref for r in rows if r.ref]
    companies = dict(
        Tracker.objects.for_account(account).filter(callrail_id__in=refs).values_list("callrail_id", "company__name")
    )
    seen = Counter(r.label for r in rows)
    return [NamedRow(r.label, r.totals, companies.get(r.ref, "") if seen[r.label] > 1 else "") for r in rows]


OVERVIEW_TABLES = (("Top sources", "Source", "source"), ("By company", "Company", "company"),
                   ("By tracker", "Tracker", "tracker"))  # fmt: skip


def _hour_after(moment: datetime) -> datetime:
    """The first whole UTC hour starting at or after ``moment``."""
    floor = _hour_before(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def _hour_before(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _calls_between(account_ids: list[int], start: datetime | None, end: datetime) -> Q:
    window = Q(client_account__in=account_ids, start_time__lte=end)
    return window & Q(start_time__gte=start) if start is not None else window


def agency_call_totals(*, user: Any, agency: Any, preset: str) -> dict[int, dict[str, Any]]:
    """Per visible account, CallRail's call summary over a date-range preset in that account's time zone
    (spam not counted, as in ``reports.py``).

    Bounded whatever the number of accounts, time zones and calls: the whole UTC hours of each zone's window are
    read from ``CallHour`` (one grouped query; PostgreSQL keeps it by triggers), and only what is left at the
    window's edges (a zone half an hour off UTC) from the calls (one more query, when there is any). On SQLite,
    which has no ``CallHour`` triggers, every call of the window is added up.
    """
    from django.db import connection
    from django.db.models import Sum

    from apps.tenancy.selectors import client_account_list

    from . import reports
    from .models import CallHour

    by_zone: dict[str, list[int]] = {}
    for pk, zone_name in client_account_list(user=user, agency=agency).values_list("pk", "time_zone"):
        by_zone.setdefault(zone_name or "UTC", []).append(pk)
    if not by_zone:
        return {}
    hourly = connection.vendor == "postgresql"
    hours: list[Q] = []  # whole UTC hours, by zone
    edges: list[Q] = []  # the calls of what is left
    for zone_name, ids in sorted(by_zone.items()):
        start, end = date_window(preset, zone_of(zone_name))
        first, stop = _hour_after(start) if start else None, _hour_before(end + timedelta(microseconds=1))
        if not hourly or (first is not None and first >= stop):
            edges.append(_calls_between(ids, start, end))
            continue
        hours.append(Q(client_account__in=ids, hour__lt=stop) & (Q(hour__gte=first) if first else Q()))
        if start is not None and start < first:
            edges.append(_calls_between(ids, start, first - timedelta(microseconds=1)))
        if stop <= end:
            edges.append(_calls_between(ids, stop, end))
    rows: list[dict[str, Any]] = []
    if hours:
        sums = {"n": "calls", "answered": "answered", "voicemails": "voicemails", "first": "first_time",
                "leads": "leads", "seconds": "seconds", "value": "value"}  # fmt: skip
        visible_hours = CallHour.objects.visible_to(user, agency).filter(reduce(operator.or_, hours))
        rows += visible_hours.order_by().values("client_account_id").annotate(
            **{key: Sum(column) for key, column in sums.items()}
        )
    if edges:
        visible = mirror_list(Call, user=user, agency=agency).filter(reduce(operator.or_, edges), spam=False)
        rows += visible.order_by().values("client_account_id").annotate(**reports.AGGREGATES)
    added: dict[int, dict[str, Any]] = {}
    for row in rows:
        into = added.setdefault(row["client_account_id"], {})
        for key, value in row.items():
            if key != "client_account_id":
                into[key] = (into.get(key) or 0) + (value or 0)
    out: dict[int, dict[str, Any]] = {}
    for account_id, row in added.items():
        if not row.get("n"):
            continue
        totals = reports.totals_from_row(row)
        out[account_id] = {
            **totals.as_callrail(),
            "voicemails": totals.voicemails,
            "answered_rate": totals.answered_percent,
        }
    return out
