"""Scale: one account with 100,000 calls, paged through with per_page=250 and relative pagination.

Correctness only; the timings are printed by benchmarks/sandbox_bench.py.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.sandbox.server import start_sandbox

pytestmark = pytest.mark.slow


def walk_calls(live, account) -> Iterator[tuple[dict, float]]:
    """Every call of the account through relative pagination, 250 a page: (page body, seconds it took)."""
    start = (datetime.now(UTC) - timedelta(days=740)).date().isoformat()
    url = f"{live.url}/v3/a/{account.account_id}/calls.json?relative_pagination=true&per_page=250&start_date={start}"
    session = requests.Session()
    while url:
        started = time.perf_counter()
        body = session.get(url, headers=account.token_headers(), timeout=30).json()
        yield body, time.perf_counter() - started
        url = body["next_page"]


def test_100k_calls_page_through_without_gaps_or_duplicates():
    live = start_sandbox(profile="small", accounts=1, calls_per_account=100_000, history_days=720)
    try:
        live.state.ratelimiter.configure({"general": {"hour": 1_000_000, "day": 1_000_000}})
        pages = [body for body, _ in walk_calls(live, DEMO_ACCOUNTS[0])]
    finally:
        live.stop()
    ids = [call["id"] for page in pages for call in page["calls"]]
    assert len(pages) == 400
    assert len(ids) == 100_000
    assert len(set(ids)) == 100_000
    assert pages[-1]["has_next_page"] is False
