"""Scale: one account with 100,000 calls, paged through with per_page=250 and relative pagination."""

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.sandbox.server import start_sandbox

pytestmark = pytest.mark.slow


def test_100k_calls_seed_fast_and_page_fast():
    started = time.perf_counter()
    live = start_sandbox(profile="small", accounts=1, calls_per_account=100_000, history_days=720)
    seeded = time.perf_counter() - started
    try:
        demo = DEMO_ACCOUNTS[0]
        live.state.ratelimiter.configure({"general": {"hour": 1_000_000, "day": 1_000_000}})
        start = (datetime.now(UTC) - timedelta(days=740)).date().isoformat()
        url = f"{live.url}/v3/a/{demo.account_id}/calls.json?relative_pagination=true&per_page=250&start_date={start}"
        session = requests.Session()
        ids, timings = [], []
        walk_started = time.perf_counter()
        while url:
            t0 = time.perf_counter()
            body = session.get(url, headers=demo.token_headers(), timeout=30).json()
            timings.append(time.perf_counter() - t0)
            ids += [c["id"] for c in body["calls"]]
            url = body["next_page"]
        walked = time.perf_counter() - walk_started
    finally:
        live.stop()
    print(f"\nseed 100k: {seeded:.2f}s; walk {len(timings)} pages: {walked:.2f}s, "
          f"median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
    assert len(ids) == 100_000
    assert len(set(ids)) == 100_000
    assert len(timings) == 400
    assert seeded < 20  # seconds, not minutes (about 3.5 s measured)
    assert statistics.median(timings) < 0.1  # about 17 ms measured
