"""When summaries are due (in their own time zone), and that each (address, period) is sent at most once."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from apps.summaries.models import DeliveryStatus, PortalSummary, SummaryDelivery
from apps.summaries.schedule import latest_occurrence, latest_send_date, next_occurrence, period_for_send_date
from apps.summaries.services import delivery_send, summary_dispatch
from tests.summaries.factories import make_summary

pytestmark = pytest.mark.django_db


def created_long_ago(summary: PortalSummary) -> PortalSummary:
    PortalSummary.objects.for_account(summary.client_account).filter(pk=summary.pk).update(
        created_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    summary.refresh_from_db()
    return summary


def deliveries(account) -> list[SummaryDelivery]:
    return list(SummaryDelivery.objects.for_account(account).order_by("email"))


def test_send_dates_and_periods():
    monday_6 = datetime(2026, 11, 23, 6, 59)
    monday_7 = datetime(2026, 11, 23, 7, 0)
    assert latest_send_date(frequency="weekly", weekday=0, hour=7, local_now=monday_6) == date(2026, 11, 16)
    assert latest_send_date(frequency="weekly", weekday=0, hour=7, local_now=monday_7) == date(2026, 11, 23)
    assert latest_send_date(frequency="weekly", weekday=3, hour=7, local_now=monday_7) == date(2026, 11, 19)
    assert latest_send_date(frequency="daily", weekday=0, hour=7, local_now=monday_6) == date(2026, 11, 22)
    assert latest_send_date(frequency="monthly", weekday=0, hour=7, local_now=monday_7) == date(2026, 11, 1)
    first_early = datetime(2026, 12, 1, 3, 0)
    assert latest_send_date(frequency="monthly", weekday=0, hour=7, local_now=first_early) == date(2026, 11, 1)
    week = period_for_send_date(frequency="weekly", send_date=date(2026, 11, 23), tz_name="UTC")
    assert (week.start, week.end) == (date(2026, 11, 16), date(2026, 11, 22))
    month = period_for_send_date(frequency="monthly", send_date=date(2026, 3, 1), tz_name="UTC")
    assert (month.start, month.end) == (date(2026, 2, 1), date(2026, 2, 28))
    day = period_for_send_date(frequency="daily", send_date=date(2026, 3, 1), tz_name="UTC")
    assert (day.start, day.end) == (date(2026, 2, 28), date(2026, 2, 28))


def test_time_zone_decides_when_a_summary_is_due(tenant, django_capture_on_commit_callbacks):
    tenant.account.time_zone = "America/Denver"  # UTC-7 in November
    tenant.account.save()
    summary = created_long_ago(make_summary(tenant.account, frequency="weekly", weekday=0, hour=7))
    before = datetime(2026, 11, 23, 13, 59, tzinfo=UTC)  # Monday 06:59 in Denver
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 07:00 in Denver
    with django_capture_on_commit_callbacks(execute=False):
        assert summary_dispatch(now=before) == []
        queued = summary_dispatch(now=at)
    [delivery] = deliveries(tenant.account)
    assert queued == [delivery.pk]
    assert (delivery.period_start, delivery.period_end, delivery.time_zone) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
        "America/Denver",
    )
    instant, _period = latest_occurrence(summary, at)
    assert instant == at
    assert next_occurrence(summary, at) == at + timedelta(days=7)


def test_dispatch_twice_creates_one_delivery_per_address_and_period(tenant, django_capture_on_commit_callbacks):
    created_long_ago(make_summary(tenant.account, frequency="daily", hour=5, emails=("a@x.test", "b@x.test")))
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = summary_dispatch(now=now)
        second = summary_dispatch(now=now + timedelta(minutes=5))
    assert len(first) == 2
    assert sorted(second) == sorted(first)
    assert len(callbacks) == 4
    assert [d.email for d in deliveries(tenant.account)] == ["a@x.test", "b@x.test"]
    # the next day is a new period
    with django_capture_on_commit_callbacks(execute=False):
        summary_dispatch(now=now + timedelta(days=1))
    assert len(deliveries(tenant.account)) == 4


def test_not_sent_for_a_period_before_the_summary_existed_nor_long_after(tenant, django_capture_on_commit_callbacks):
    summary = make_summary(tenant.account, frequency="weekly", weekday=0, hour=7)
    summary.created_at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    PortalSummary.objects.for_account(tenant.account).filter(pk=summary.pk).update(created_at=summary.created_at)
    with django_capture_on_commit_callbacks(execute=False):
        assert summary_dispatch(now=datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == []  # this Monday's send was before
        assert summary_dispatch(now=datetime(2026, 11, 25, 16, 0, tzinfo=UTC)) == []
        assert len(summary_dispatch(now=datetime(2026, 11, 30, 12, 5, tzinfo=UTC))) == 1  # next Monday, 07:05 NY


def test_a_missed_send_is_caught_up_only_within_the_window(tenant, django_capture_on_commit_callbacks, settings):
    settings.SUMMARY_CATCH_UP_HOURS = 20
    created_long_ago(make_summary(tenant.account, frequency="weekly", weekday=0, hour=7))
    monday_7_ny = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False):
        assert summary_dispatch(now=monday_7_ny + timedelta(hours=21)) == []  # beat was down all day: too late
        assert len(summary_dispatch(now=monday_7_ny + timedelta(hours=19))) == 1  # still within the window


def test_unsubscribed_and_paused_are_not_queued(tenant, django_capture_on_commit_callbacks):
    summary = created_long_ago(make_summary(tenant.account, frequency="daily", hour=0, emails=("a@x.test", "b@x.test")))
    summary.recipients.filter(email="a@x.test").update(unsubscribed_at=datetime.now(UTC))
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False):
        summary_dispatch(now=now)
    assert [d.email for d in deliveries(tenant.account)] == ["b@x.test"]
    PortalSummary.objects.for_account(tenant.account).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=False):
        assert summary_dispatch(now=now + timedelta(days=1)) == []


def test_a_claimed_delivery_is_never_sent_twice(tenant, smtp_sink, django_capture_on_commit_callbacks):
    created_long_ago(make_summary(tenant.account, frequency="daily", hour=0, emails=("once@x.test",)))
    with django_capture_on_commit_callbacks(execute=False):
        [delivery_id] = summary_dispatch(now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    first = delivery_send(account_id=tenant.account.pk, delivery_id=delivery_id)
    second = delivery_send(account_id=tenant.account.pk, delivery_id=delivery_id)
    assert (first.status, second.status) == ("sent", "not-claimed")
    assert len(smtp_sink.to("once@x.test")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_delivery_send_one_email(tenant, smtp_sink, django_capture_on_commit_callbacks):
    created_long_ago(make_summary(tenant.account, frequency="daily", hour=0, emails=("race@x.test",)))
    with django_capture_on_commit_callbacks(execute=False):
        [delivery_id] = summary_dispatch(now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def send() -> None:
        try:
            barrier.wait()
            outcomes.append(delivery_send(account_id=tenant.account.pk, delivery_id=delivery_id).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["not-claimed"] * 5 + ["sent"]
    assert len(smtp_sink.to("race@x.test")) == 1


def test_a_worker_dying_mid_send_is_marked_interrupted_not_resent(tenant, django_capture_on_commit_callbacks):
    created_long_ago(make_summary(tenant.account, frequency="daily", hour=0, emails=("dead@x.test",)))
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False):
        [delivery_id] = summary_dispatch(now=now)
    SummaryDelivery.objects.for_account(tenant.account).filter(pk=delivery_id).update(
        status=DeliveryStatus.SENDING, claimed_at=now
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert summary_dispatch(now=now + timedelta(minutes=30)) == []
    [delivery] = deliveries(tenant.account)
    assert delivery.status == DeliveryStatus.INTERRUPTED
    assert "not sent again" in delivery.error


@pytest.mark.parametrize(
    ("tz_name", "start"),
    [
        ("America/New_York", datetime(2026, 3, 7, 0, 0, tzinfo=UTC)),  # across the 23-hour day (spring forward)
        ("America/New_York", datetime(2026, 10, 31, 0, 0, tzinfo=UTC)),  # across the 25-hour day (fall back)
        ("Pacific/Auckland", datetime(2026, 12, 30, 0, 0, tzinfo=UTC)),  # across New Year, a day ahead of UTC
        ("UTC", datetime(2028, 2, 28, 0, 0, tzinfo=UTC)),  # across a leap day
    ],
)
def test_a_daily_summary_goes_out_once_a_day_at_every_hour(tenant, tz_name, start, django_capture_on_commit_callbacks):
    """With beat dispatching (here every 97 minutes, so each send time is met late by a different amount), each daily
    summary (one per send hour 0-23) reports every day once, whatever its hour, the zone's daylight-saving changes,
    the month, the year or a leap day."""
    tenant.account.time_zone = tz_name
    tenant.account.save()
    for hour in range(24):
        created_long_ago(make_summary(tenant.account, frequency="daily", hour=hour, emails=(f"h{hour}@x.test",)))
    with django_capture_on_commit_callbacks(execute=False):
        for step in range(0, 72 * 60, 97):  # three days
            summary_dispatch(now=start + timedelta(minutes=step))
    by_address: dict[str, list[date]] = {}
    for delivery in SummaryDelivery.objects.for_account(tenant.account).order_by("period_start"):
        assert delivery.period_start == delivery.period_end
        by_address.setdefault(delivery.email, []).append(delivery.period_start)
    assert sorted(by_address) == sorted(f"h{hour}@x.test" for hour in range(24))
    for email, days in by_address.items():
        assert len(days) == len(set(days)), (email, days)  # never twice for one day
        assert all((b - a).days == 1 for a, b in itertools.pairwise(days)), (email, days)  # no day skipped
        assert len(days) >= 2, (email, days)
