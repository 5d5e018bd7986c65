"""Call reports over the mirror, with CallRail's summary and time series semantics.

The figures mirror ``GET /v3/a/{account}/calls/summary.json`` and ``calls/timeseries.json``:

- a period is a range of whole days (both ends inclusive) in a time zone: the company's when a report is
  for one company and CallRail knows its zone, else the client account's;
- calls CallRail deleted and calls marked spam are not counted (CallRail's call log hides spam);
- ``total_calls`` every call of the period, any direction; ``answered_calls`` calls answered;
  ``missed_calls`` every call not answered (voicemails included, as CallRail counts them);
  ``voicemails`` calls that ended in a voicemail; ``first_time_callers`` calls with ``first_call``;
  ``average_duration`` the mean duration in whole seconds, truncated (a call without a duration counts 0);
  ``leads`` calls whose lead status is ``good_lead``; ``value`` the sum of the values staff assigned;
- groups are sorted by calls, most first, then by key; the time series has one point per local day,
  days without calls included.

Everything here takes the ``ClientAccount`` it reports on and scopes with ``for_account``: the caller has
already decided the person may see that account (``PortalView.get_account()``), or is a task acting for it.

Typical use::

    period = period_preset("last_7_days", tz=report_time_zone(account))
    report = call_report(account=account, period=period)
    report.totals.total_calls, report.change("total_calls"), report.series, report.by_source
"""

from __future__ import annotations

import calendar
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlparse

from django.db.models import Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from .models import Call

GroupBy = Literal["source", "keywords", "campaign", "referrer", "landing_page", "company", "company_id", "tracker"]
GROUP_BY: tuple[str, ...] = (
    "source", "keywords", "campaign", "referrer", "landing_page", "company", "company_id", "tracker",
)  # fmt: skip
PRESETS: tuple[str, ...] = (
    "today", "yesterday", "last_7_days", "last_30_days", "recent", "this_month", "last_month", "this_year",
    "last_year",
)  # fmt: skip
MAX_SERIES_DAYS = 400


# --- periods -----------------------------------------------------------------------------------------------


def zone(name: str | None) -> tzinfo:
    """A time zone by IANA name; an empty or unknown name is UTC."""
    try:
        return zoneinfo.ZoneInfo(name) if name else zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def report_time_zone(account: Any, company: Any = None) -> str:
    """The zone a report is in: the company's (when CallRail gave one), else the account's."""
    if company is not None and getattr(company, "time_zone", ""):
        try:
            zoneinfo.ZoneInfo(company.time_zone)
            return company.time_zone
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return account.time_zone or "UTC"


@dataclass(frozen=True)
class Period:
    """Whole local days ``start``..``end`` (both inclusive) in the zone ``tz_name``."""

    start: date
    end: date
    tz_name: str = "UTC"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"A period cannot end ({self.end}) before it starts ({self.start}).")

    @property
    def tz(self) -> tzinfo:
        return zone(self.tz_name)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (aware)."""
        return datetime.combine(self.start, time(0), self.tz)

    @property
    def end_before(self) -> datetime:
        """The first instant after the period (aware, exclusive)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), self.tz)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> Period:
        """The period just before, of the same shape: the previous whole month(s) for a calendar-month
        period, otherwise the same number of days ending the day before."""
        if self.start.day == 1 and self.end == _month_end(self.end) and self.start <= self.end:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            prev_end = self.start - timedelta(days=1)
            prev_start = _add_months(prev_end.replace(day=1), -(months - 1))
            return Period(prev_start, prev_end, self.tz_name)
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.tz_name)

    def label(self) -> str:
        """The period in the portal's date format: ``Fri, Dec 4, 2026``, ``Nov 5 – Dec 5, 2026``."""
        if self.start == self.end:
            return self.start.strftime("%a, %b %-d, %Y")
        if self.start.day == 1 and self.end == _month_end(self.start):
            return self.start.strftime("%B %Y")
        if self.start.year == self.end.year:
            return f"{self.start.strftime('%b %-d')} – {self.end.strftime('%b %-d, %Y')}"
        return f"{self.start.strftime('%b %-d, %Y')} – {self.end.strftime('%b %-d, %Y')}"

    def as_params(self) -> dict[str, str]:
        """The same period as CallRail summary/timeseries request parameters."""
        return {"start_date": self.start.isoformat(), "end_date": self.end.isoformat(), "time_zone": self.tz_name}


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def parse_period(start: str | date, end: str | date, *, tz_name: str, max_days: int = MAX_SERIES_DAYS) -> Period:
    """A Period from user input (ISO dates, e.g. a date-range form); ValueError with a message to show."""
    try:
        first = start if isinstance(start, date) else date.fromisoformat(str(start).strip())
        last = end if isinstance(end, date) else date.fromisoformat(str(end).strip())
    except ValueError:
        raise ValueError("Enter dates as YYYY-MM-DD, e.g. 2026-11-01.") from None
    if last < first:
        raise ValueError("The end date is before the start date.")
    if (last - first).days + 1 > max_days:
        raise ValueError(f"Choose at most {max_days} days.")
    return Period(first, last, tz_name)


def local_today(tz_name: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zone(tz_name)).date()


def period_preset(name: str, *, tz_name: str, now: datetime | None = None) -> Period:
    """CallRail's standard ``date_range`` values as a Period (``today``, ``last_7_days``, ``last_month``…)."""
    today = local_today(tz_name, now)
    if name == "today":
        return Period(today, today, tz_name)
    if name == "yesterday":
        return Period(today - timedelta(days=1), today - timedelta(days=1), tz_name)
    if name == "last_7_days":
        return Period(today - timedelta(days=7), today - timedelta(days=1), tz_name)
    if name == "last_30_days":
        return Period(today - timedelta(days=30), today - timedelta(days=1), tz_name)
    if name == "recent":
        return Period(today - timedelta(days=30), today, tz_name)
    if name == "this_month":
        return Period(today.replace(day=1), today, tz_name)
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last, tz_name)
    if name == "this_year":
        return Period(date(today.year, 1, 1), today, tz_name)
    if name == "last_year":
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), tz_name)
    raise ValueError(f"Unknown period {name!r}: choose one of {', '.join(PRESETS)}")


# --- figures -----------------------------------------------------------------------------------------------


def format_duration(seconds: int | float | None) -> str:
    """CallRail's ``formatted_average_duration``: ``179`` -> ``2m 59s``, ``45`` -> ``45s``."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class Totals:
    """CallRail's "Summary Data Response Fields", plus voicemails and value."""

    total_calls: int = 0
    answered_calls: int = 0
    missed_calls: int = 0
    voicemails: int = 0
    first_time_callers: int = 0
    average_duration: int = 0
    leads: int = 0
    value: Decimal = Decimal("0")

    @property
    def formatted_average_duration(self) -> str:
        return format_duration(self.average_duration)

    @property
    def answered_rate(self) -> float | None:
        """Share of calls answered (0..1), or None without calls."""
        return self.answered_calls / self.total_calls if self.total_calls else None

    @property
    def answered_percent(self) -> int | None:
        rate = self.answered_rate
        return None if rate is None else round(rate * 100)

    def as_callrail(self) -> dict[str, Any]:
        """The fields exactly as CallRail's summary endpoint names them."""
        return {
            "total_calls": self.total_calls,
            "missed_calls": self.missed_calls,
            "answered_calls": self.answered_calls,
            "first_time_callers": self.first_time_callers,
            "average_duration": self.average_duration,
            "formatted_average_duration": self.formatted_average_duration,
            "leads": self.leads,
        }


@dataclass(frozen=True)
class GroupRow:
    """One group of a grouped summary; ``key`` as CallRail shows it, ``ref`` the mirror id where there is one."""

    key: str | None
    totals: Totals
    ref: str | None = None

    @property
    def label(self) -> str:
        return self.key if self.key not in (None, "") else "(none)"


@dataclass(frozen=True)
class SeriesPoint:
    day: date
    totals: Totals


@dataclass(frozen=True)
class Change:
    """A figure against the previous period."""

    current: float | int | Decimal | None
    previous: float | int | Decimal | None

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return float(self.current) - float(self.previous)

    @property
    def percent(self) -> int | None:
        """Relative change in whole percent; None when the previous figure was 0 or missing."""
        if self.delta is None or not self.previous:
            return None
        return round(self.delta / float(self.previous) * 100)

    @property
    def direction(self) -> Literal["up", "down", "same"]:
        delta = self.delta
        if not delta:
            return "same"
        return "up" if delta > 0 else "down"


COMPARED = (
    "total_calls", "answered_calls", "answered_rate", "missed_calls", "voicemails", "first_time_callers",
    "average_duration", "leads", "value",
)  # fmt: skip


@dataclass(frozen=True)
class CallReport:
    """Everything a summary shows for one period: totals, previous period, groups, calls per day."""

    account_id: int
    company_id: int | None
    period: Period
    previous_period: Period
    totals: Totals
    previous: Totals
    series: list[SeriesPoint]
    by_source: list[GroupRow] = field(default_factory=list)
    by_keywords: list[GroupRow] = field(default_factory=list)

    def change(self, name: str) -> Change:
        return Change(getattr(self.totals, name), getattr(self.previous, name))

    @property
    def changes(self) -> dict[str, Change]:
        return {name: self.change(name) for name in COMPARED}

    @property
    def busiest_day(self) -> int:
        return max((p.totals.total_calls for p in self.series), default=0)

    @property
    def is_empty(self) -> bool:
        return self.totals.total_calls == 0


# --- queries -----------------------------------------------------------------------------------------------


def report_calls(
    *,
    account: Any,
    period: Period,
    company: Any = None,
    direction: str | None = None,
    answer_status: str | None = None,
    lead_status: str | None = None,
    tracker_ids: Iterable[int] | None = None,
    calls: QuerySet | None = None,
) -> QuerySet:
    """The mirrored calls a report counts: live, not spam, started within the period (and filters).

    ``calls``: the calls a person may see (``visible_to``), so a client limited to some companies gets
    figures over those only; default every call of the account (emails, tasks)."""
    base = calls.filter(client_account=account) if calls is not None else Call.objects.for_account(account)
    qs = base.live().filter(spam=False, start_time__gte=period.start_at, start_time__lt=period.end_before)
    if company is not None:
        qs = qs.filter(company_id=getattr(company, "pk", company))
    if direction in ("inbound", "outbound"):
        qs = qs.filter(direction=direction)
    if answer_status == "answered":
        qs = qs.filter(answered=True)
    elif answer_status == "voicemail":
        qs = qs.filter(voicemail=True)
    elif answer_status == "missed":
        qs = qs.exclude(answered=True).exclude(voicemail=True)
    if lead_status == "not_scored":
        qs = qs.filter(lead_status__isnull=True)
    elif lead_status:
        qs = qs.filter(lead_status=lead_status)
    if tracker_ids is not None:
        qs = qs.filter(tracker_id__in=list(tracker_ids))
    return qs


AGGREGATES = {
    "n": Count("pk"),
    "answered": Count("pk", filter=Q(answered=True)),
    "voicemails": Count("pk", filter=Q(voicemail=True)),
    "first": Count("pk", filter=Q(first_call=True)),
    "leads": Count("pk", filter=Q(lead_status="good_lead")),
    "seconds": Coalesce(Sum("duration"), Value(0)),
    "value": Sum("value"),
}


def totals_from_row(row: dict[str, Any]) -> Totals:
    n = row.get("n") or 0
    answered = row.get("answered") or 0
    return Totals(
        total_calls=n,
        answered_calls=answered,
        missed_calls=n - answered,
        voicemails=row.get("voicemails") or 0,
        first_time_callers=row.get("first") or 0,
        average_duration=int((row.get("seconds") or 0) // n) if n else 0,
        leads=row.get("leads") or 0,
        value=Decimal(row.get("value") or 0).quantize(Decimal("0.01")),
    )


def call_totals(*, account: Any, period: Period, company: Any = None, **filters: Any) -> Totals:
    """The period's totals (CallRail's ``total_results``)."""
    return totals_from_row(
        report_calls(account=account, period=period, company=company, **filters).aggregate(**AGGREGATES)
    )


_GROUP_COLUMNS = {
    "source": ("source", None),
    "keywords": ("keywords", None),
    "campaign": ("campaign", None),
    "landing_page": ("landing_page_url", None),
    "company": ("company__name", "company__callrail_id"),
    "company_id": ("company__callrail_id", "company__callrail_id"),
    "tracker": ("tracker__name", "tracker__callrail_id"),
}


def call_breakdown(
    *, account: Any, period: Period, group_by: str, company: Any = None, limit: int | None = None, **filters: Any
) -> list[GroupRow]:
    """The period's calls grouped (CallRail's ``grouped_results``), most calls first, then by key."""
    if group_by not in GROUP_BY:
        raise ValueError(f"Cannot group by {group_by!r}: choose one of {', '.join(GROUP_BY)}")
    qs = report_calls(account=account, period=period, company=company, **filters)
    rows: list[GroupRow]
    if group_by == "referrer":
        buckets: dict[str | None, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        for row in qs.values("referring_url").annotate(**AGGREGATES).order_by():
            bucket = buckets[_domain(row["referring_url"]) or "direct"]
            for name in AGGREGATES:
                bucket[name] = (bucket[name] or 0) + (row[name] or 0)
        rows = [GroupRow(key=key, totals=totals_from_row(bucket)) for key, bucket in buckets.items()]
    else:
        column, ref = _GROUP_COLUMNS[group_by]
        names = [column] + ([ref] if ref and ref != column else [])
        rows = [
            GroupRow(key=row[column], totals=totals_from_row(row), ref=row[ref] if ref else None)
            for row in qs.values(*names).annotate(**AGGREGATES).order_by()
        ]
    rows.sort(key=lambda r: (-r.totals.total_calls, str(r.key)))
    return rows[:limit] if limit is not None else rows


def call_timeseries(*, account: Any, period: Period, company: Any = None, **filters: Any) -> list[SeriesPoint]:
    """Calls per local day of the period (CallRail's timeseries with ``interval=day``), empty days included."""
    if period.days > MAX_SERIES_DAYS:
        raise ValueError(f"A daily series is limited to {MAX_SERIES_DAYS} days.")
    qs = report_calls(account=account, period=period, company=company, **filters)
    per_day = {
        row["day"]: totals_from_row(row)
        for row in qs.annotate(day=TruncDate("start_time", tzinfo=period.tz))
        .values("day")
        .annotate(**AGGREGATES)
        .order_by()
    }
    return [SeriesPoint(day=day, totals=per_day.get(day, Totals())) for day in period.dates()]


def call_report(
    *, account: Any, period: Period, company: Any = None, top: int = 5, previous: Period | None = None
) -> CallReport:
    """Totals, the previous period's totals, top sources and keywords, and calls per day."""
    previous = previous or period.previous()
    return CallReport(
        account_id=account.pk,
        company_id=getattr(company, "pk", company),
        period=period,
        previous_period=previous,
        totals=call_totals(account=account, period=period, company=company),
        previous=call_totals(account=account, period=previous, company=company),
        series=call_timeseries(account=account, period=period, company=company),
        by_source=call_breakdown(account=account, period=period, company=company, group_by="source", limit=top),
        by_keywords=[
            row
            for row in call_breakdown(account=account, period=period, company=company, group_by="keywords")
            if row.key
        ][:top],
    )


def notable_calls(*, account: Any, period: Period, company: Any = None, limit: int = 10) -> list[Call]:
    """Calls worth a look in a summary: good leads, first-time callers, voicemails and missed calls, newest first."""
    qs = report_calls(account=account, period=period, company=company).filter(
        Q(lead_status="good_lead") | Q(first_call=True) | Q(voicemail=True) | ~Q(answered=True)
    )
    return list(qs.select_related("company", "tracker").order_by("-start_time", "-pk")[:limit])


def _domain(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url if "//" in url else f"//{url}")
    return parsed.netloc or None
