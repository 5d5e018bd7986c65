"""The budget against real Redis, in one process: ceilings, lanes, pacing, exact sliding windows, 429s."""

from __future__ import annotations

import math
import time

import pytest

from apps.callrail.budget import DEFAULT_LIMITS, Budget, Limits
from apps.core.redis import get_redis

from .conftest import redis_now

SMALL = {"general": {"hour": 20, "day": 100000}}  # 18 an hour after the 90% safety share


def spend(budget: Budget, account, n: int, lane: str = "interactive", limit_class: str = "general", overrides=None):
    grants = [budget.try_acquire(account, limit_class, lane, overrides=overrides) for _ in range(n)]
    return sum(g.granted for g in grants), grants


def test_ceilings_are_callrail_limits_times_safety_with_overrides(make_budget):
    budget = make_budget(time_scale=1)
    assert DEFAULT_LIMITS["general"] == Limits(1000, 10000)
    assert DEFAULT_LIMITS["sms_send"] == Limits(150, 1000)
    assert DEFAULT_LIMITS["outbound_call"] == Limits(100, 2000)
    assert budget.limits("general") == Limits(900, 9000)
    assert budget.limits("sms_send") == Limits(135, 900)
    assert budget.limits("outbound_call") == Limits(90, 1800)
    raised = {"general": {"hour": 2000, "day": 20000}}
    assert budget.limits("general", raised) == Limits(1800, 18000)
    assert budget.limits("sms_send", raised) == Limits(135, 900)  # other classes keep the defaults
    assert make_budget(safety=0.5).limits("general") == Limits(500, 5000)


def test_lanes_and_background_pacing(make_budget):
    budget = make_budget(time_scale=1)
    assert budget.caps("general", "interactive") == Limits(900, 9000)
    assert budget.caps("general", "followup") == Limits(810, 8100)
    # Background: 70% of the day (6,300) paced over 24 hours -> 262 an hour, not 630 (which would spend
    # the day's allowance in ten hours).
    assert budget.caps("general", "background") == Limits(262, 6300)
    assert make_budget(pace_background=False).caps("general", "background") == Limits(630, 6300)
    with pytest.raises(ValueError, match="lane"):
        budget.caps("general", "urgent")
    with pytest.raises(ValueError, match="limit class"):
        budget.try_acquire(1, "fax")


def test_grants_up_to_the_ceiling_then_says_when_a_token_returns(make_budget):
    budget = make_budget(time_scale=3600, window_guard_seconds=0)  # an "hour" lasts one second
    granted, grants = spend(budget, 1, 25, overrides=SMALL)
    assert granted == 18
    assert all(g.granted for g in grants[:18])
    refused = grants[18]
    assert not refused
    assert refused.retry_after > 0
    first_grant_at = grants[0].decided_at
    # The token returns exactly when the first grant leaves the one-second window.
    assert refused.retry_after == pytest.approx(first_grant_at + 1.0 - refused.decided_at, abs=0.002)
    time.sleep(refused.retry_after + 0.01)
    assert budget.try_acquire(1, "general", "interactive", overrides=SMALL).granted


def test_the_window_guard_holds_each_grant_a_little_longer_than_callrail_does(make_budget):
    """A grant is counted when granted; CallRail counts the request when it arrives, a little later."""
    budget = make_budget(time_scale=3600, window_guard_seconds=0.25)
    granted, grants = spend(budget, 1, 19, overrides=SMALL)
    assert granted == 18
    refused = grants[18]
    assert refused.retry_after == pytest.approx(grants[0].decided_at + 1.25 - refused.decided_at, abs=0.002)


def test_lanes_share_one_counter(make_budget):
    budget = make_budget(time_scale=1)
    overrides = {"general": {"hour": 100, "day": 100000}}  # 90 an hour: background 63, followup 81
    assert spend(budget, 7, 100, "background", overrides=overrides)[0] == 63
    assert spend(budget, 7, 100, "followup", overrides=overrides)[0] == 81 - 63
    assert spend(budget, 7, 100, "interactive", overrides=overrides)[0] == 90 - 81
    # Interactive work spent the reserve: background stays refused.
    assert not budget.try_acquire(7, "general", "background", overrides=overrides)


def test_sliding_hour_holds_across_a_bucket_edge(make_budget):
    """A fixed-bucket counter would admit a second full hour's worth right after the clock edge."""
    budget = make_budget(time_scale=3600)  # hour = 1 s
    hour = budget.hour_seconds
    # Start 0.8 "hours" into a clock bucket.
    now = redis_now()
    target = (math.floor(now / hour) + 0.8) * hour
    if target < now:
        target += hour
    time.sleep(target - now)
    granted, grants = spend(budget, 3, 18, overrides=SMALL)
    assert granted == 18
    bucket = math.floor(grants[-1].decided_at / hour)
    time.sleep((bucket + 1) * hour - redis_now() + 0.05)  # just past the edge
    after = budget.try_acquire(3, "general", "interactive", overrides=SMALL)
    assert math.floor(after.decided_at / hour) == bucket + 1, "the clock edge was crossed"
    assert not after.granted
    assert after.retry_after == pytest.approx(grants[0].decided_at + hour - after.decided_at, abs=0.002)
    assert after.retry_after > 0.5 * hour
    # And no window of one hour ever held more than 18 grants (server timestamps).
    times = sorted(g.decided_at for g in grants)
    assert all(sum(1 for t in times if s - hour < t <= s) <= 18 for s in times)


def test_daily_window_binds_beyond_the_hour(make_budget):
    budget = make_budget(time_scale=36000)  # hour 0.1 s, day 2.4 s
    overrides = {"general": {"hour": 100000, "day": 20}}
    assert spend(budget, 4, 30, overrides=overrides)[0] == 18
    time.sleep(budget.hour_seconds * 1.5)  # the hour has passed, the day has not
    refused = budget.try_acquire(4, "general", "interactive", overrides=overrides)
    assert not refused
    assert budget.hour_seconds < refused.retry_after <= budget.day_seconds


def test_sms_send_also_takes_a_general_token(make_budget):
    budget = make_budget(time_scale=1)
    overrides = {"sms_send": {"hour": 10, "day": 1000}, "general": {"hour": 1000, "day": 10000}}
    assert spend(budget, 5, 20, limit_class="sms_send", overrides=overrides)[0] == 9
    status = budget.status(5, overrides=overrides)
    by_class = {c.limit_class: c for c in status.classes}
    assert by_class["sms_send"].hour_spent == 9
    assert by_class["general"].hour_spent == 9
    # A general request is still admitted: the SMS ceiling does not block general work.
    assert budget.try_acquire(5, "general", "interactive", overrides=overrides)


def test_a_429_blocks_every_budget_instance_until_the_next_hour_boundary(make_budget):
    # hour = 1 s; the minimum block (600 scaled seconds) = 0.167 s, so it outlives the checks below.
    options = {"time_scale": 3600, "min_block_seconds": 600}
    marker, other = make_budget(**options), make_budget(**options)  # two "processes"
    hour = marker.hour_seconds
    blocked = marker.mark_exhausted(11)  # no Retry-After
    assert blocked >= 600 / 3600  # never less than the minimum
    now = redis_now()
    until_edge = (math.floor(now / hour) + 1) * hour - now
    assert blocked <= max(until_edge, 600 / 3600) + 15 / 3600 + 0.01  # the next hour edge, plus jitter
    refused = other.try_acquire(11, "general", "interactive")
    assert not refused
    assert refused.retry_after > 0
    assert not other.try_acquire(11, "sms_send", "interactive"), "a general 429 stops the whole account"
    status = other.status(11)
    assert status.rate_limited_day == 1
    assert status.blocked
    assert status.last_rate_limited_at is not None
    time.sleep(refused.retry_after + 0.01)
    assert other.try_acquire(11, "general", "interactive")


def test_retry_after_from_callrail_is_honoured(make_budget):
    budget = make_budget(time_scale=1)
    blocked = budget.mark_exhausted(12, retry_after=2.5)
    assert blocked == pytest.approx(2.5, abs=0.01)
    refused = budget.try_acquire(12, "general", "interactive")
    assert 2.3 < refused.retry_after <= 2.5


def test_a_repeated_429_right_after_a_block_assumes_the_daily_limit(make_budget):
    # hour 1 s, day 24 s: "right after" the block stays true under load; no assumption about where in the
    # (scaled) day the real clock is, nor about how long the calls below take
    budget = make_budget(time_scale=3600, min_block_seconds=0, block_jitter_seconds=0)
    first = budget.mark_exhausted(13)
    time.sleep(first + 0.01)
    before = redis_now()
    second = budget.mark_exhausted(13)
    after = redis_now()
    day = budget.day_seconds
    # the block ends at Redis's time of the call (between before and after) + second: the next day boundary
    assert 0 < second <= day + 1e-5
    boundary = math.floor((after + second + 1e-5) / day) * day
    assert before + second - 1e-5 <= boundary <= after + second + 1e-5, (before, after, second, day)
    assert budget.status(13).rate_limited_day == 2


def test_sms_429_blocks_only_sms(make_budget):
    budget = make_budget(time_scale=1)
    budget.mark_exhausted(14, "sms_send")
    assert not budget.try_acquire(14, "sms_send", "interactive")
    assert budget.try_acquire(14, "general", "interactive")


def test_status_reports_spending_reserve_and_resets(make_budget):
    budget = make_budget(time_scale=1)
    spend(budget, 15, 30, "background")
    budget.try_acquire(15, "general", "interactive")
    status = budget.status(15)
    general = status.general
    assert (general.hour_spent, general.day_spent) == (31, 31)
    assert (general.hour_limit, general.day_limit) == (900, 9000)
    assert general.held_back_hour == 900 - 262
    assert general.hour_frees_at is not None
    assert general.hour_clear_at >= general.hour_frees_at
    assert general.background_resumes_at is None
    assert not status.degraded
    assert status.backend == "redis"
    assert not status.blocked
    data = status.as_dict()
    assert data["classes"][0]["hour_spent"] == 31
    assert isinstance(data["checked_at"], str)


def test_windows_live_in_one_sorted_set_per_account_and_class(make_budget, budget_namespace):
    budget = make_budget(time_scale=1)
    spend(budget, 16, 5)
    log = budget._key("16", "general", "log")
    assert log.startswith(f"ap:{budget_namespace}:{{16}}:") or budget_namespace in log
    assert get_redis().zcard(log) == 5
    budget.reset(16)
    assert get_redis().zcard(log) == 0
