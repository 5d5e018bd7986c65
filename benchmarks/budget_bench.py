"""Budget benchmark: N worker processes share one sandbox account's budget with a scaled hour.

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python benchmarks/budget_bench.py \
        --workers 16 --hour-seconds 6 --hours 4 --lane background

Each worker loops the way a Celery sync task does: it sends ``GET companies.json`` through the real client
(budget token first), and when the budget refuses it waits the ``retry_after`` it was given (the task's
countdown) instead of polling. The sandbox enforces CallRail's limits on the same scaled clock.

Prints, per full scaled hour: requests granted as a share of the lane's allowance (goal >= 95% when work
is waiting) and of CallRail's limit; the largest count in any sliding hour (from the budget's Redis log,
and as the sandbox counted arrivals; must not exceed the limit); the 429s received (must be 0); and the
cost of one budget check in microseconds (granted and refused), measured separately in one process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")

import django

django.setup()

import requests  # noqa: E402

from apps.callrail.budget import Budget, Scope, key_scope_key  # noqa: E402
from apps.callrail.client import client_for_account  # noqa: E402
from apps.callrail.errors import BudgetExhausted, CallRailError, RateLimited  # noqa: E402
from apps.core.redis import get_redis, redis_key  # noqa: E402
from apps.sandbox.seed import DEMO_ACCOUNTS  # noqa: E402

CTX = multiprocessing.get_context("fork")


class BenchAccount:
    def __init__(self, pk: int, demo, base_url: str, overrides: dict) -> None:
        self.pk = pk
        self.callrail_account_id = demo.account_id
        self.api_key = demo.api_key
        self.auth_mode = "direct"
        self.connection_id = ""
        self.base_url = base_url
        self.budget_overrides = overrides


def worker(args, namespace: str, account: BenchAccount, start_at: float, results) -> None:
    budget = Budget(namespace=namespace, time_scale=args.time_scale)
    client = client_for_account(account, lane=args.lane, budget=budget, max_retries=2)
    counts = {"ok": 0, "429": 0, "refused": 0, "errors": 0, "slept": 0.0}
    deadline = start_at + args.hours * args.hour_seconds
    while time.time() < start_at:
        time.sleep(0.001)
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        try:
            client.get("companies.json", limit_class=args.limit_class)
            counts["ok"] += 1
        except BudgetExhausted as exc:
            counts["refused"] += 1
            wait = min(exc.retry_after, remaining)
            counts["slept"] += wait
            time.sleep(wait)
        except RateLimited as exc:
            counts["429"] += 1
            time.sleep(min(exc.retry_after or 1, remaining))
        except CallRailError:
            counts["errors"] += 1
    results.put(counts)


class LogCollector(threading.Thread):
    """Copies the budget's window log (Redis-clock grant times) as it grows: entries leave it after a day."""

    def __init__(self, conn, key: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.conn, self.key, self.interval = conn, key, interval
        self.seen: dict[bytes, int] = {}
        self.done = threading.Event()

    def poll(self) -> None:
        for member, score in self.conn.zrange(self.key, 0, -1, withscores=True):
            self.seen.setdefault(member, int(score))

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.poll()

    def stop(self) -> list[int]:
        self.done.set()
        self.join()
        self.poll()
        return sorted(self.seen.values())


def max_in_sliding_window(times: list[int], window: int) -> int:
    """Largest number of timestamps in any half-open span (t - window, t]."""
    best = left = 0
    for right, t in enumerate(times):
        while times[left] <= t - window:
            left += 1
        best = max(best, right - left + 1)
    return best


def measure_check_cost(namespace: str, n: int, time_scale: float) -> dict[str, dict[str, float]]:
    budget = Budget(namespace=namespace, time_scale=time_scale)
    roomy = {"general": {"hour": 10**9, "day": 10**9}}
    key = Scope(key_scope_key("cost"), roomy)  # a credential's key scope, charged with the account (issue 20)
    out = {}
    cases = (("granted", "cost-granted", roomy, ()), ("granted, account + key scope", "cost-two", roomy, (key,)),
             ("refused", "cost-refused", None, ()))  # fmt: skip
    for label, account, overrides, also in cases:
        if label == "refused":
            budget.mark_exhausted(account, retry_after=3600)
        for _ in range(200):  # warm up: connection, script load
            budget.try_acquire(account, "general", "interactive", overrides=overrides, also=also)
        samples = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            budget.try_acquire(account, "general", "interactive", overrides=overrides, also=also)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        samples.sort()
        out[label] = {
            "mean": statistics.fmean(samples),
            "p50": samples[len(samples) // 2],
            "p99": samples[int(len(samples) * 0.99)],
        }
        budget.reset(account)
    budget.reset(key.key)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--hour-seconds", type=float, default=6.0, help="real seconds in one budget hour")
    parser.add_argument("--hours", type=int, default=4, help="how many scaled hours to run")
    parser.add_argument("--lane", default="background", choices=["background", "followup", "interactive"])
    parser.add_argument("--limit-class", default="general", choices=["general"])
    parser.add_argument("--overrides", default="{}", help='budget_overrides JSON, e.g. {"general": {"hour": 2000}}')
    parser.add_argument("--sandbox-url", default="", help="use a running sandbox instead of starting one")
    parser.add_argument("--check-samples", type=int, default=20000)
    args = parser.parse_args()
    args.time_scale = 3600.0 / args.hour_seconds
    overrides = json.loads(args.overrides)

    live = None
    if args.sandbox_url:
        sandbox_url = args.sandbox_url.rstrip("/")
        requests.post(f"{sandbox_url}/_sandbox/reset", json={"profile": "small"}, timeout=30).raise_for_status()
        requests.post(
            f"{sandbox_url}/_sandbox/rate-limits", json={"time_scale": args.time_scale}, timeout=30
        ).raise_for_status()
    else:
        from apps.sandbox.server import start_sandbox

        live = start_sandbox(seed=1, profile="small", time_scale=args.time_scale)
        sandbox_url = live.url
    demo = DEMO_ACCOUNTS[0]
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    account = BenchAccount(pk=1, demo=demo, base_url=sandbox_url, overrides=overrides)
    budget = Budget(namespace=namespace, time_scale=args.time_scale)
    cap = budget.caps(args.limit_class, args.lane, overrides)
    callrail = budget.callrail_limits(args.limit_class, overrides)
    hour_us = budget.hour_us

    print(f"sandbox {sandbox_url}  account {demo.account_id}  workers={args.workers}  lane={args.lane}")
    print(f"scaled hour = {args.hour_seconds:g} s (time scale {args.time_scale:g}), running {args.hours} hours")
    print(f"CallRail limit {callrail.hour}/h {callrail.day}/day; portal ceiling (safety {budget.safety:g}) "
          f"{budget.limits(args.limit_class, overrides).hour}/h; {args.lane} lane allowance {cap.hour}/h "
          f"{cap.day}/day")  # fmt: skip

    conn = get_redis()
    log_key = redis_key(namespace, "{1}", args.limit_class, "log")
    collector = LogCollector(conn, log_key, interval=min(args.hour_seconds, 5.0))
    collector.start()
    results = CTX.Queue()
    start_at = time.time() + 0.5
    procs = [
        CTX.Process(target=worker, args=(args, namespace, account, start_at, results)) for _ in range(args.workers)
    ]
    for p in procs:
        p.start()
    totals = {"ok": 0, "429": 0, "refused": 0, "errors": 0, "slept": 0.0}
    for _ in procs:
        for key, value in results.get(timeout=args.hours * args.hour_seconds + 120).items():
            totals[key] += value
    for p in procs:
        p.join(timeout=30)

    grants = collector.stop()
    secs, micros = conn.time()
    t_end = secs * 1_000_000 + micros
    memory = conn.memory_usage(log_key) or 0
    held = conn.zcard(log_key)
    usage = requests.get(f"{sandbox_url}/_sandbox/usage", params={"account_id": demo.account_id}, timeout=30).json()[
        demo.account_id
    ]["general"]

    print()
    print("window  granted  of lane allowance  of CallRail limit")
    t0 = grants[0] if grants else 0
    shares = []
    for k in range(args.hours):
        lo, hi = t0 + k * hour_us, t0 + (k + 1) * hour_us
        n = sum(1 for t in grants if lo <= t < hi)
        complete = hi <= t_end
        share = n / cap.hour if cap.hour else 0
        if complete:
            shares.append(share)
        print(f"hour {k + 1:<3} {n:7d}  {share:17.1%}  {n / callrail.hour:17.1%}{'' if complete else '  (partial)'}")
    worst_sliding = max_in_sliding_window(grants, hour_us)
    worst_day = max_in_sliding_window(grants, budget.day_us)
    print()
    print(f"requests sent OK: {totals['ok']}, budget refusals (task countdowns): {totals['refused']}, "
          f"other errors: {totals['errors']}")  # fmt: skip
    print(f"mean share of the {args.lane} allowance per full hour: {statistics.fmean(shares):.1%} "
          f"(min {min(shares):.1%})" if shares else "no full hour measured")  # fmt: skip
    print(f"largest count in any sliding hour (budget log, Redis clock): {worst_sliding} "
          f"(lane allowance {cap.hour}, CallRail limit {callrail.hour})")  # fmt: skip
    print(f"largest count in any sliding day (budget log): {worst_day} (lane allowance {cap.day}, "
          f"CallRail limit {callrail.day})")  # fmt: skip
    print(f"largest count in any sliding hour (sandbox arrivals, sandbox clock): {usage['max_per_hour']} "
          f"(sandbox limit {usage['limit_hour']})")  # fmt: skip
    print(f"429s received by workers: {totals['429']}; 429s answered by the sandbox: {usage['rejected']}")
    print(f"Redis memory of the account's window log: {memory / 1024:.1f} KiB for the {held} entries of the last day")

    cost = measure_check_cost(namespace + "-cost", args.check_samples, args.time_scale)
    for label, figures in cost.items():
        print(f"budget check cost ({label}, {args.check_samples} calls, one process): mean {figures['mean']:.0f} us, "
              f"p50 {figures['p50']:.0f} us, p99 {figures['p99']:.0f} us")  # fmt: skip

    two = cost["granted, account + key scope"]["mean"] / cost["granted"]["mean"]
    print(f"RATIO budget_check_account_and_key_vs_account_only={two:.2f} goal=<=2.0")

    keys = list(conn.scan_iter(match=redis_key(namespace, "*"), count=1000))
    keys += list(conn.scan_iter(match=redis_key(namespace + "-cost", "*"), count=1000))
    if keys:
        conn.delete(*keys)
    if live is not None:
        live.stop()
    ok = totals["429"] == 0 and worst_sliding <= callrail.hour and (not shares or min(shares) >= 0.95)
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
