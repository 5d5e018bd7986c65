"""The budget gauge partial renders a real status (hour and day gauges, reserve, resets, 429s, degraded)."""

from __future__ import annotations

import re

import redis
from django.template.loader import render_to_string

from apps.callrail.budget import BudgetStatus


def render(status: BudgetStatus | None) -> str:
    return render_to_string("callrail/_budget_gauge.html", {"status": status})


def test_gauge_shows_spending_reserve_and_429s(make_budget):
    budget = make_budget(time_scale=1)
    for _ in range(300):
        budget.try_acquire(51, "general", "background")  # 262 granted, the rest deferred
    budget.mark_exhausted(51, retry_after=120)
    html = render(budget.status(51))
    assert re.search(r'<meter[^>]*max="900"[^>]*value="262"', html)
    assert re.search(r'<meter[^>]*max="9000"[^>]*value="262"', html)
    assert "<strong>262</strong> / 900" in html
    assert "CallRail limit 1,000" in html
    assert "638 an hour, 2,700 a day" in html  # held back for people
    assert "background sync resumes" in html
    assert "38 requests deferred this hour" in html
    assert "1 in the last 24 hours" in html
    assert "too many requests" in html
    assert "budget-gauge--blocked" in html
    assert "Degraded" not in html
    assert "SMS sends" in html
    assert "Outbound calls" in html
    assert "90% of each CallRail limit" in html


def test_gauge_warns_when_degraded(make_budget):
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    budget = make_budget(redis_client=dead, time_scale=60)
    budget.try_acquire(52, "general", "interactive")
    html = render(budget.status(52))
    assert "budget-gauge--degraded" in html
    assert "Degraded: the shared budget store (Redis) is unreachable" in html
    assert "faster here" in html  # the time scale is shown


def test_gauge_without_status():
    assert "Budget status unavailable" in render(None)
