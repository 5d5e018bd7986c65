"""Budgets per key as well as per account: a request takes a token from its account's windows and from its
credential's, all or nothing, in one Lua script; lanes and the 429 rule apply to both scopes."""

from __future__ import annotations

import multiprocessing

import pytest
import redis as redis_lib

from apps.callrail.budget import Budget, Scope, key_scope_key

KEY = Scope(key_scope_key(900), {"general": {"hour": 10, "day": 1000}}, "the key “Agency key”")
ROOMY = {"general": {"hour": 1000, "day": 10000}}


def test_three_accounts_share_the_key_and_each_keeps_its_own(make_budget):
    budget = make_budget(time_scale=1)
    # the key allows 9 an hour (10 x 90%): three accounts with room of their own stop together at 9
    grants = [budget.try_acquire(acc, "general", "interactive", overrides=ROOMY, also=[KEY]) for acc in (1, 2, 3) * 4]
    assert sum(g.granted for g in grants) == 9
    refused = grants[-1]
    assert not refused.granted
    assert refused.limited_by == KEY.key
    assert refused.retry_after > 3000  # the oldest of the key's requests must leave the hour
    status = budget.status(KEY.key, overrides=KEY.overrides)
    assert (status.general.hour_spent, status.general.hour_limit) == (9, 9)
    assert [budget.status(acc).general.hour_spent for acc in (1, 2, 3)] == [3, 3, 3]
    # without the key scope the same accounts still have room: the refusal came from the key alone
    assert budget.try_acquire(1, "general", "interactive", overrides=ROOMY).granted


def test_all_or_nothing_when_the_account_is_the_one_that_is_full(make_budget):
    budget = make_budget(time_scale=1)
    small = {"general": {"hour": 2, "day": 100}}  # 1 an hour after the safety share
    assert budget.try_acquire(5, "general", "interactive", overrides=small, also=[KEY]).granted
    refused = budget.try_acquire(5, "general", "interactive", overrides=small, also=[KEY])
    assert (refused.granted, refused.limited_by) == (False, "5")
    # the refused request took nothing from the key either
    assert budget.status(KEY.key, overrides=KEY.overrides).general.hour_spent == 1


def test_lanes_apply_to_the_key_scope(make_budget):
    budget = make_budget(time_scale=1, pace_background=False)
    key = Scope(key_scope_key(901), {"general": {"hour": 100, "day": 10000}})
    background = [budget.try_acquire(acc, "general", "background", overrides=ROOMY, also=[key]) for acc in range(1, 81)]
    assert sum(g.granted for g in background) == 63  # 90 x 70%: background stops at its share of the key
    assert {g.limited_by for g in background if not g.granted} == {key.key}
    assert budget.try_acquire(99, "general", "interactive", overrides=ROOMY, also=[key]).granted  # people still pass


def test_a_429_blocks_the_account_and_every_account_of_its_key(make_budget):
    budget = make_budget(time_scale=1)
    key = Scope(key_scope_key(902))
    blocked = budget.mark_exhausted(11, retry_after=30, also=[key])
    assert 29 < blocked <= 31
    other = make_budget(time_scale=1)  # another worker process sees the same block
    sibling = other.try_acquire(12, "general", "interactive", also=[key])
    assert (sibling.granted, sibling.limited_by) == (False, key.key)
    assert not other.try_acquire(11, "general", "interactive").granted
    assert other.try_acquire(12, "general", "interactive").granted  # the account alone is not blocked
    assert budget.status(key.key).blocked_until is not None


def _race(namespace: str, n: int, queue) -> None:
    budget = Budget(namespace=namespace, time_scale=1)
    key = Scope(key_scope_key(903), {"general": {"hour": 30, "day": 1000}})
    granted = sum(budget.try_acquire(f"acct-{i % 3}", "general", "interactive", overrides=ROOMY, also=[key]).granted
                  for i in range(n))  # fmt: skip
    queue.put(granted)


def test_processes_racing_over_three_accounts_never_exceed_the_key(make_budget, budget_namespace):
    make_budget()  # registers the namespace for cleanup
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_race, args=(budget_namespace, 20, queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(queue.get(timeout=10) for _ in workers) == 27  # 30 x 90%, of 120 attempts


def test_redis_unreachable_the_local_fallback_holds_both_scopes(make_budget):
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    budget = make_budget(redis_client=dead, time_scale=1, fallback_processes=1)
    key = Scope(key_scope_key(904), {"general": {"hour": 10, "day": 1000}})
    grants = [budget.try_acquire(acc, "general", "interactive", overrides=ROOMY, also=[key]) for acc in (1, 2) * 6]
    assert sum(g.granted for g in grants) == 9
    assert all(g.degraded for g in grants)
    assert {g.limited_by for g in grants if not g.granted} == {key.key}


def test_a_request_needs_a_scope(make_budget):
    with pytest.raises(ValueError, match="at least one scope"):
        make_budget().acquire([])
