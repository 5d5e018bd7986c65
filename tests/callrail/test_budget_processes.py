"""The budget across OS processes (real Redis): racing for the last tokens, lanes under saturation,
and the fallback when Redis is unreachable."""

from __future__ import annotations

import logging
import multiprocessing
import random
import time

import pytest
import redis

from apps.callrail.budget import Budget
from apps.core.redis import get_redis

PROCESSES = 16
ROUNDS = 40
CTX = multiprocessing.get_context("fork")
RACE_LIMITS = {"general": {"hour": 100, "day": 100000}, "sms_send": {"hour": 50, "day": 1000}}


def _racer(namespace: str, barrier, results, rounds: int, attempts: int) -> None:
    budget = Budget(namespace=namespace, time_scale=1)
    for r in range(rounds):
        limit_class = "general" if r % 2 == 0 else "sms_send"
        barrier.wait()
        won = sum(
            budget.try_acquire(f"race-{r}", limit_class, "interactive", overrides=RACE_LIMITS).granted
            for _ in range(attempts)
        )
        results.put((r, won))


def test_sixteen_processes_racing_for_the_last_tokens_never_over_admit(make_budget, budget_namespace):
    """Each round leaves 1-12 tokens and lets 16 processes (3 attempts each) race for them; the round
    must admit exactly that many. General and SMS rounds alternate (an SMS takes two counters)."""
    budget = make_budget(time_scale=1)
    barrier = CTX.Barrier(PROCESSES + 1)
    results = CTX.Queue()
    procs = [
        CTX.Process(target=_racer, args=(budget_namespace, barrier, results, ROUNDS, 3), daemon=True)
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    over = under = 0
    try:
        for r in range(ROUNDS):
            limit_class = "general" if r % 2 == 0 else "sms_send"
            cap = budget.caps(limit_class, "interactive", RACE_LIMITS).hour  # 90 or 45
            left = random.randint(1, 12)
            for _ in range(cap - left):
                assert budget.try_acquire(f"race-{r}", limit_class, "interactive", overrides=RACE_LIMITS)
            barrier.wait(timeout=30)
            won = sum(results.get(timeout=30)[1] for _ in range(PROCESSES))
            over += max(0, won - left)
            under += max(0, left - won)
            log = budget._key(f"race-{r}", limit_class, "log")
            assert get_redis().zcard(log) == cap, f"round {r}: {get_redis().zcard(log)} stored for a ceiling of {cap}"
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert over == 0, f"{over} over-admissions in {ROUNDS} rounds"
    assert under == 0, f"{under} tokens left unclaimed although 48 requests raced for them"


def _background_worker(namespace: str, account: str, overrides: dict, seconds: float, results) -> None:
    budget = Budget(namespace=namespace, time_scale=1)
    granted = refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        grant = budget.try_acquire(account, "general", "background", overrides=overrides)
        if grant.granted:
            granted += 1
        else:
            refused += 1
            time.sleep(min(grant.retry_after, 0.02))
    results.put((granted, refused))


def test_interactive_is_admitted_while_background_saturates_its_share(make_budget, budget_namespace):
    overrides = {"general": {"hour": 100, "day": 100000}}  # ceiling 90: background 63, interactive the rest
    budget = make_budget(time_scale=1)
    results = CTX.Queue()
    workers = [
        CTX.Process(target=_background_worker, args=(budget_namespace, "lanes", overrides, 1.5, results))
        for _ in range(8)
    ]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 5
        while budget.peek("lanes", "general", "background", overrides=overrides).granted:
            assert time.monotonic() < deadline, "background never saturated"
            time.sleep(0.01)
        # Background is now refused, and still hammering; a person's requests go through.
        interactive = [budget.try_acquire("lanes", "general", "interactive", overrides=overrides) for _ in range(27)]
        assert all(g.granted for g in interactive)
        assert not budget.try_acquire("lanes", "general", "interactive", overrides=overrides)
        totals = [results.get(timeout=10) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=10)
    assert sum(g for g, _ in totals) == 63
    assert sum(r for _, r in totals) > 0
    assert budget.status("lanes", overrides=overrides).general.hour_spent == 90


def _blocked_worker(namespace: str, account: str, start, results) -> None:
    budget = Budget(namespace=namespace, time_scale=60)  # the minimum block is then one second
    start.wait()
    grants = [budget.try_acquire(account, "general", "background") for _ in range(5)]
    results.put((sum(g.granted for g in grants), min(g.retry_after for g in grants)))


def test_mark_exhausted_in_one_process_stops_the_others(make_budget, budget_namespace):
    budget = make_budget(time_scale=60)
    start = CTX.Event()
    results = CTX.Queue()
    workers = [CTX.Process(target=_blocked_worker, args=(budget_namespace, "blk", start, results)) for _ in range(4)]
    for w in workers:
        w.start()
    blocked = budget.mark_exhausted("blk")
    start.set()
    out = [results.get(timeout=10) for _ in workers]
    for w in workers:
        w.join(timeout=10)
    assert all(granted == 0 for granted, _ in out)
    assert all(0 < wait <= blocked for _, wait in out)


# --------------------------------------------------------------------------------------- Redis fallback
def test_unreachable_redis_falls_back_to_a_divided_local_budget(make_budget, caplog):
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    budget = make_budget(redis_client=dead, time_scale=1, fallback_processes=8)
    with caplog.at_level(logging.WARNING, logger="apps.callrail.budget"):
        grants = [budget.try_acquire(21, "general", "interactive") for _ in range(200)]
    assert sum(g.granted for g in grants) == 900 // 8  # never unlimited
    refused = grants[-1]
    assert refused.degraded
    assert not refused.granted
    assert refused.retry_after > 0
    assert "DEGRADED" in caplog.text
    assert "Redis unreachable" in caplog.text
    assert sum("DEGRADED" in r.getMessage() for r in caplog.records) == 1, "logged once, not per request"
    status = budget.status(21)
    assert status.degraded
    assert status.backend == "local"
    assert status.degraded_since is not None
    assert status.general.hour_spent == 112
    # Background keeps its lane ceiling inside the local slice.
    assert sum(budget.try_acquire(22, "general", "background").granted for _ in range(100)) == 262 // 8


def test_redis_outage_and_recovery(make_budget, temp_redis, caplog):
    overrides = {"general": {"hour": 100, "day": 100000}}  # ceiling 90
    budget = make_budget(redis_client=temp_redis.client(), time_scale=1, fallback_processes=4, redis_retry_seconds=0.2)
    assert sum(budget.try_acquire(31, "general", "interactive", overrides=overrides).granted for _ in range(10)) == 10
    temp_redis.stop()
    with caplog.at_level(logging.WARNING, logger="apps.callrail.budget"):
        local = [budget.try_acquire(31, "general", "interactive", overrides=overrides) for _ in range(40)]
        # What Redis last showed spent (10) is kept off the local slice: (90 - 10) // 4 = 20.
        assert sum(g.granted for g in local) == 20
        assert all(g.degraded for g in local)
        assert budget.degraded
        temp_redis.start()  # a fresh, empty Redis on the same port
        time.sleep(0.25)
        back = budget.try_acquire(31, "general", "interactive", overrides=overrides)
    assert back.granted
    assert not back.degraded
    assert not budget.degraded
    assert "recovered" in caplog.text
    # The 20 requests granted while degraded were written into the shared window.
    assert back.hour_used == 21
    assert not budget.status(31, overrides=overrides).degraded


@pytest.mark.parametrize("processes", [1, 3])
def test_fallback_divides_by_the_configured_process_count(make_budget, processes):
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    budget = make_budget(redis_client=dead, time_scale=1, fallback_processes=processes)
    granted = sum(budget.try_acquire(41, "sms_send", "interactive").granted for _ in range(200))
    assert granted == 135 // processes
