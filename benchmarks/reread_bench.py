"""The continuous re-read's guarantee and cost, measured against the sandbox at the default CallRail limits.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reread_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=rb .venv/bin/python benchmarks/reread_bench.py --calls 10000 25000

For each size: one sandbox account with that many calls (and its forms and texts), mirrored by a full sync
(with a raised budget, so the set-up does not wait), then at CallRail's default limits:

* the plan (``apps/sync/reread.py``): the background pace, what the incremental schedule is reserved, what is
  left for the re-read, the pages of one rotation, and the guarantee "every call re-checked within N minutes";
* one round executed (``sync_account --reread``'s windows, in this process): the requests it really made,
  per 10,000 calls — against the minimum (one page of 250 per 250 calls, and one per windowed resource).

Baseline (the same run, the schedule before the continuous re-read): an edit of a call older than the
incremental's 30-minute overlap reached the mirror only at the daily 30-day re-read or, older than 30
days, at the nightly full sync: within 24 hours (1,440 minutes).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")

BASELINE_MINUTES = 24 * 60


def measure(calls: int) -> dict:
    from django.utils import timezone
    from sync_bench import Sandbox, make_account

    from apps.sync.models import SyncKind, SyncRun
    from apps.sync.reread import reread_plan, reread_round
    from apps.sync.resources import resource_names
    from apps.sync.services import sync_run_execute
    from apps.tenancy.models import ClientAccount

    sandbox = Sandbox(calls)
    try:
        account = ClientAccount.objects.unscoped(reason="operator-command").get(pk=make_account(sandbox.url))
        full = sync_run_execute(run=SyncRun.objects.create(client_account=account, kind=SyncKind.FULL,
                                                           resources=resource_names()))  # fmt: skip
        assert full.status == "succeeded", full.errors
        account.budget_overrides = {}  # CallRail's default limits from here on
        account.save(update_fields=["budget_overrides"])
        now = timezone.now()
        plan = reread_plan(account, now=now)
        windows = reread_round(account, now=now, plan=plan)
        sandbox.control("POST", "usage/reset")
        run = sync_run_execute(run=SyncRun.objects.create(
            client_account=account, kind=SyncKind.REREAD, resources=list(windows), windows=windows,
            lane="interactive",  # measured at once; the schedule spreads it over the hour in the background lane
        ))  # fmt: skip
        assert run.status == "succeeded", run.errors
        mirrored = plan.resources["calls"].records
        minimum = sum(math.ceil(p.records / 250) or 1 for p in plan.resources.values())
        return {
            "calls": mirrored, "pace": plan.pace_per_hour, "reserved": plan.reserved_per_hour,
            "left": plan.reread_per_hour, "pages": plan.pages, "period": plan.period_minutes,
            "per_hour": plan.requests_per_hour, "round_requests": run.requests, "minimum": minimum,
            "listed": run.records_updated + run.records_unchanged,
        }  # fmt: skip
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[10_000, 25_000])
    args = parser.parse_args()
    from sync_bench import setup_django

    from benchmarks.common import bench_database, remove_redis_keys, require_own_redis_prefix

    require_own_redis_prefix()
    with bench_database():
        setup_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        try:
            results = [measure(calls) for calls in args.calls]
        finally:
            remove_redis_keys()
    print(f"{'calls':>8} {'pace/h':>7} {'reserved/h':>10} {'left/h':>7} {'pages':>6} {'re-check':>9} "
          f"{'req/h':>6} {'round req':>9} {'minimum':>8} {'req/h per 10k':>13}")  # fmt: skip
    for r in results:
        per_10k = r["per_hour"] * 10_000 / max(1, r["calls"])
        print(f"{r['calls']:>8} {r['pace']:>7} {r['reserved']:>10} {r['left']:>7} {r['pages']:>6} "
              f"{str(r['period']) + ' min':>9} {r['per_hour']:>6} {r['round_requests']:>9} {r['minimum']:>8} "
              f"{per_10k:>13.1f}")  # fmt: skip
    print(f"baseline: edits of calls older than the 30-minute overlap seen within {BASELINE_MINUTES} minutes")
    for r in results:
        size = r["calls"]
        uniform = r["pages"] * 60 / r["left"]  # every page read once at the pace left over, newest or not
        goal = 60 if uniform <= 60 else math.ceil(uniform * 4 / 3)
        print(f"RATIO recheck_minutes_{size}={r['period']} goal<={goal} baseline={BASELINE_MINUTES}")
        hour = min(r["minimum"], r["left"])  # a round reads everything, or an hour's worth of the pace
        print(f"RATIO round_requests_over_minimum_{size}={r['round_requests'] / hour:.2f} goal<=1.05")
        print(f"RATIO planned_requests_per_hour_over_pace_left_{size}={r['per_hour'] / r['left']:.2f} goal<=1.00")


if __name__ == "__main__":
    main()
