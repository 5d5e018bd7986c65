"""When a portal summary is due, and which period it covers — pure functions of the summary and a clock.

A summary is sent at its local ``hour`` in its time zone (the company's, else the account's):
daily every day, covering the day before; weekly on its ``weekday``, covering the 7 days before;
monthly on the 1st, covering the previous calendar month (CallRail's own summaries work the same way).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from apps.calls.reports import Period, report_time_zone, zone

from .models import Frequency, PortalSummary


def summary_time_zone(summary: PortalSummary) -> str:
    return report_time_zone(summary.client_account, summary.company if summary.company_id else None)


def latest_send_date(*, frequency: str, weekday: int, hour: int, local_now: datetime) -> date:
    """The local date of the most recent scheduled send at or before ``local_now``."""
    today = local_now.date()
    reached = local_now.hour >= hour
    if frequency == Frequency.DAILY:
        return today if reached else today - timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        back = (today.weekday() - weekday) % 7
        if back == 0 and not reached:
            back = 7
        return today - timedelta(days=back)
    first = today.replace(day=1)
    if today.day == 1 and not reached:
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def period_for_send_date(*, frequency: str, send_date: date, tz_name: str) -> Period:
    """The period a summary sent on ``send_date`` reports on."""
    if frequency == Frequency.DAILY:
        day = send_date - timedelta(days=1)
        return Period(day, day, tz_name)
    if frequency == Frequency.WEEKLY:
        return Period(send_date - timedelta(days=7), send_date - timedelta(days=1), tz_name)
    last = send_date.replace(day=1) - timedelta(days=1)
    return Period(last.replace(day=1), last, tz_name)


def latest_occurrence(summary: PortalSummary, now: datetime) -> tuple[datetime, Period]:
    """The most recent scheduled send instant at or before ``now`` (aware), and the period it reports on."""
    tz_name = summary_time_zone(summary)
    tz = zone(tz_name)
    send_date = latest_send_date(
        frequency=summary.frequency, weekday=summary.weekday, hour=summary.hour, local_now=now.astimezone(tz)
    )
    instant = datetime.combine(send_date, time(summary.hour), tz)
    return instant, period_for_send_date(frequency=summary.frequency, send_date=send_date, tz_name=tz_name)


def next_occurrence(summary: PortalSummary, now: datetime) -> datetime:
    """The next scheduled send instant after ``now`` (for display)."""
    tz = zone(summary_time_zone(summary))
    probe = now
    for _ in range(40):
        probe = probe + timedelta(days=1)
        instant, _period = latest_occurrence(summary, probe)
        if instant > now:
            # walk back to the earliest occurrence after now
            earlier, _ = latest_occurrence(summary, instant - timedelta(seconds=1))
            while earlier > now:
                instant = earlier
                earlier, _ = latest_occurrence(summary, instant - timedelta(seconds=1))
            return instant.astimezone(tz)
    return probe.astimezone(tz)
