"""Dates and times as CallRail writes and reads them.

Formats follow the examples in the API reference: call times in the company's time zone with milliseconds and
an offset (``2017-01-24T11:27:48.119-05:00``), company and form times in UTC with milliseconds
(``2016-06-06T07:06:01.000Z``), tracker times in UTC without fractions (``2011-07-05T19:06:10Z``), summary bounds
with a colon-less offset (``2016-10-10T00:00:00-0000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import bad_request

RETENTION_MONTHS = 25
RETENTION_ERROR = (
    "The requested date range is outside of the data retention period. Communication records are retained "
    "for 25 months; please revise your date range."
)
DATE_RANGES = (
    "recent",
    "today",
    "yesterday",
    "last_7_days",
    "last_30_days",
    "this_month",
    "last_month",
    "this_year",
    "last_year",
    "all_time",
)
_END_OF_DAY = time(23, 59, 59, 999999)
# "2026-02-01T00:00:00 08:00": a "+" sent unencoded in a query string arrives as a space.
_SPACE_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+) (\d{2}:?\d{2})$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (IANA name, or a zoneinfo alias such as ``EST``); ValueError if unknown."""
    if name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(name) from exc


def is_time_zone(name: object) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        zone(name)
    except ValueError:
        return False
    return True


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_ms(dt: datetime, tz: tzinfo) -> str:
    """``2017-01-24T11:27:48.119-05:00``"""
    return dt.astimezone(tz).isoformat(timespec="milliseconds")


def utc_ms(dt: datetime | None) -> str | None:
    """``2016-06-06T07:06:01.000Z``"""
    if dt is None:
        return None
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def utc_s(dt: datetime | None) -> str | None:
    """``2011-07-05T19:06:10Z``"""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_offset(dt: datetime) -> str:
    """``2016-10-10T00:00:00-0800`` (the summary and time series bounds)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    # clamp the day to the length of the target month
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    return date(year, month, 28)


def retention_start(now: datetime, tz: tzinfo) -> datetime:
    """The oldest instant still inside the 25-month retention window."""
    local_today = now.astimezone(tz).date()
    return datetime.combine(months_back(local_today, RETENTION_MONTHS), time(0), tz)


def parse_point(value: str, tz: tzinfo, *, end: bool) -> datetime:
    """Read ``start_date``/``end_date``: a date (whole day, inclusive) or an ISO 8601 timestamp."""
    text = value.strip()
    match = _SPACE_OFFSET.match(text)
    if match:
        text = f"{match.group(1)}+{match.group(2)}"
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            return datetime.combine(day, _END_OF_DAY if end else time(0), tz)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"Invalid date: {value!r}. Dates must be formatted according to ISO 8601.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    tz: tzinfo
    tz_name: str


def preset_window(name: str, now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    today = now.astimezone(tz).date()

    def day_start(d: date) -> datetime:
        return datetime.combine(d, time(0), tz)

    def day_end(d: date) -> datetime:
        return datetime.combine(d, _END_OF_DAY, tz)

    if name == "recent":
        return day_start(today - timedelta(days=30)), day_end(today)
    if name == "today":
        return day_start(today), day_end(today)
    if name == "yesterday":
        y = today - timedelta(days=1)
        return day_start(y), day_end(y)
    if name == "last_7_days":
        return day_start(today - timedelta(days=7)), day_end(today - timedelta(days=1))
    if name == "last_30_days":
        return day_start(today - timedelta(days=30)), day_end(today - timedelta(days=1))
    if name == "this_month":
        return day_start(today.replace(day=1)), day_end(today)
    if name == "last_month":
        first_this = today.replace(day=1)
        last_prev = first_this - timedelta(days=1)
        return day_start(last_prev.replace(day=1)), day_end(last_prev)
    if name == "this_year":
        return day_start(date(today.year, 1, 1)), day_end(today)
    if name == "last_year":
        return day_start(date(today.year - 1, 1, 1)), day_end(date(today.year - 1, 12, 31))
    # all_time reaches beyond the retention window by definition
    return datetime(1970, 1, 1, tzinfo=UTC), day_end(today)


def resolve_window(params: dict[str, str], now: datetime, default_tz_name: str) -> Window:
    """The date window of a request to a communication-records endpoint.

    ``date_range`` (default ``recent``) or ``start_date``/``end_date``; ``time_zone`` overrides the account's.
    Raises 400 for an unknown preset, an unreadable date, an inverted range, or a range reaching beyond the
    25-month retention period (including ``all_time``).
    """
    tz_name = params.get("time_zone") or "user"
    if tz_name == "user":
        tz_name = default_tz_name
    try:
        tz = zone(tz_name)
    except ValueError:
        raise bad_request(f"Invalid time_zone: {tz_name!r}") from None
    start_raw = params.get("start_date")
    end_raw = params.get("end_date")
    limit = retention_start(now, tz)
    if start_raw or end_raw:
        start = parse_point(start_raw, tz, end=False) if start_raw else limit
        end = parse_point(end_raw, tz, end=True) if end_raw else now.astimezone(tz)
    else:
        preset = params.get("date_range") or "recent"
        if preset not in DATE_RANGES:
            raise bad_request(f"Invalid date_range: {preset!r}. Must be one of: {', '.join(DATE_RANGES)}")
        start, end = preset_window(preset, now, tz)
    if start > end:
        raise bad_request("start_date must be before end_date")
    if start < limit:
        raise bad_request(RETENTION_ERROR)
    return Window(start=start, end=end, tz=tz, tz_name=tz_name)
