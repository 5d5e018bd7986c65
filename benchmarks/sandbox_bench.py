"""Sandbox at scale: seed one account with N calls and page through them as a sync would.

    python benchmarks/sandbox_bench.py [--calls 100000]

Prints the seeding time and the per-page time of a relative-pagination walk (per_page=250).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.local")

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.sandbox.server import start_sandbox
from tests.sandbox.test_scale import walk_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    started = time.perf_counter()
    live = start_sandbox(profile="small", accounts=1, calls_per_account=args.calls, history_days=720)
    seeded = time.perf_counter() - started
    try:
        live.state.ratelimiter.configure({"general": {"hour": 10_000_000, "day": 10_000_000}})
        walk_started = time.perf_counter()
        timings = sorted(seconds for _, seconds in walk_calls(live, DEMO_ACCOUNTS[0]))
        walked = time.perf_counter() - walk_started
    finally:
        live.stop()
    print(f"calls seeded: {args.calls:,} in {seeded:.2f} s")
    print(f"relative walk: {len(timings)} pages in {walked:.2f} s; per page median "
          f"{statistics.median(timings) * 1000:.1f} ms, p95 {timings[int(len(timings) * 0.95)] * 1000:.1f} ms, "
          f"max {timings[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
