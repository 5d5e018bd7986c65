"""Agency scale (issue 22): the pages agency staff and operators open, at 1,000 client accounts over 50 agencies.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale_pages REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=scalepages .venv/bin/python benchmarks/scale_pages.py [--accounts 1000] [--agencies 50] \
        [--largest 200] [--calls-per-account 30] [--history-days 0] [--requests 40] [--rounds 4] [--keep-database]

Seeds its own database (``benchmarks/scale_seed.py``; created, and dropped at the end unless
``--keep-database``), once at the baseline size (10 accounts over 2 agencies) and once at the measured size, in
agencies of their own in the same database, and measures the same pages for both in alternating rounds:

* dashboard: ``/`` as the owner of the largest agency (its figures, and its first page of accounts);
* account list: the same owner's account list a few pages in (``/?page=3``: the dashboard's table of client
  accounts, which a person pages through and searches; the dashboard is its first page under the figures);
* system page: ``/agency/system/`` as that owner (queues, workers and each account's sync and budget, paged);
* metrics: ``/metrics`` as an operator (superuser): every account of the installation, as Prometheus scrapes it.

Requests go through Django's test client in this process (the server's own time: middleware, scoping, queries,
templates; Redis and PostgreSQL are real; the start's objects frozen out of the garbage collector's sight first,
as ``agency_portal/wsgi.py`` does in a web process), each page's p50/p95 over ``--requests`` requests pooled over the
rounds and its queries per request (the baseline's ``/metrics`` before the measured size is seeded, since a
scrape covers every account of the database) (the same for every request of a page, or the line says so). Ends with
``/proc/loadavg`` and one ``RATIO`` line per page: the p95 at the measured size (``/metrics``: its p95 too).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")
os.environ.setdefault("DJANGO_DEBUG", "false")

from benchmarks.common import (  # noqa: E402
    bench_database,
    load_average,
    ratio_line,
    remove_redis_keys,
    require_own_redis_prefix,
)

PAGES = ("dashboard", "account_list", "system_page", "metrics")
GOALS = {"dashboard": 100, "account_list": 100, "system_page": 100, "metrics": 1000}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def page_requests(seed: Any) -> dict[str, Any]:
    """page -> a function making one request (asserting it answered 200), for the seed's largest agency."""
    from django.test import Client

    from apps.tenancy.models import User

    counts: dict[int, int] = {}
    for agency_id in seed.account_agency.values():
        counts[agency_id] = counts.get(agency_id, 0) + 1
    largest = max(seed.agency_ids, key=lambda pk: (counts.get(pk, 0), -pk))
    owner = User.objects.get(email=seed.admins[seed.agency_ids.index(largest)].username)
    staff = Client()
    staff.force_login(owner)
    staff.session  # noqa: B018 - the session exists before the first timed request
    operator = Client()
    operator.force_login(User.objects.get(email=seed.superuser.username))
    from apps.portal.views import DashboardView

    deep = min(3, max(1, -(-counts[largest] // DashboardView.paginate_by)))  # a few pages in

    def get(client: Client, url: str):
        def request():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            return response

        return request

    return {
        "dashboard": get(staff, "/"),
        "account_list": get(staff, f"/?page={deep}"),
        "system_page": get(staff, "/agency/system/"),
        "metrics": get(operator, "/metrics"),
    }


def measure_pages(
    seed: Any, *, requests_per_page: int = 40, warm: int = 2, samples: dict | None = None, only: tuple = PAGES
) -> dict:
    """For each page: ``{"p50_ms", "p95_ms", "queries", "queries_vary", "requests"}`` over ``requests_per_page``
    requests (after ``warm`` unmeasured ones), signed in as the seed's largest agency's owner (the operator for
    ``/metrics``). ``queries`` is the most one request made; ``sql_share`` the part of the time spent in SQL,
    ``slowest_sql`` the statement (its start) that took the most time over all requests, with its total ms. Each
    request's milliseconds are also appended to ``samples[page]`` when given (to pool rounds)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.core.runtime import freeze_startup_objects

    requests = {name: request for name, request in page_requests(seed).items() if name in only}
    if not gc.get_freeze_count():  # once, as agency_portal/wsgi.py does in a web process before its first request
        freeze_startup_objects()
    timings: dict[str, list[float]] = {name: [] for name in requests}
    queries: dict[str, set[int]] = {name: set() for name in requests}
    sql_ms: dict[str, dict[str, float]] = {name: {} for name in requests}  # page -> statement (cut) -> total ms
    for request in requests.values():
        for _ in range(warm):
            request()
    for name, request in requests.items():
        for _ in range(requests_per_page):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                request()
                timings[name].append((time.perf_counter() - started) * 1000)
            queries[name].add(len(captured.captured_queries))
            for query in captured.captured_queries:
                statement = " ".join(query["sql"].split())[:90]
                sql_ms[name][statement] = sql_ms[name].get(statement, 0.0) + float(query["time"]) * 1000
        if samples is not None:
            samples.setdefault(name, {"ms": [], "queries": set()})
            samples[name]["ms"].extend(timings[name])
            samples[name]["queries"] |= queries[name]
    return {
        name: {
            "p50_ms": statistics.median(values),
            "p95_ms": percentile(values, 0.95),
            "queries": max(queries[name]),
            "queries_vary": len(queries[name]) > 1,
            "requests": len(values),
            "sql_share": sum(sql_ms[name].values()) / max(1e-9, sum(values)),
            "slowest_sql": max(sql_ms[name].items(), key=lambda item: item[1], default=("", 0.0)),
        }
        for name, values in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--largest", type=int, default=200,
                        help="accounts of the largest agency, whose owner is measured (0: an even spread)")  # fmt: skip
    parser.add_argument("--calls-per-account", type=int, default=30)
    parser.add_argument("--history-days", type=float, default=0,
                        help="days of sync run history per account before the seed's last three hours")  # fmt: skip
    parser.add_argument("--requests", type=int, default=40, help="requests per page and size, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    require_own_redis_prefix()
    with bench_database(keep=args.keep_database):
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from benchmarks.scale_seed import seed_scale

        call_command("migrate", verbosity=0)
        remove_redis_keys()
        started = time.perf_counter()
        base = seed_scale(accounts=10, agencies=2, calls_per_account=args.calls_per_account, seed=1)
        pooled: dict[str, dict] = {"baseline": {}, "scale": {}}
        # /metrics covers every account of the database: its baseline is measured before the big seed exists
        measure_pages(base, requests_per_page=args.requests, warm=1, samples=pooled["baseline"], only=("metrics",))
        big = seed_scale(accounts=args.accounts, agencies=args.agencies, calls_per_account=args.calls_per_account,
                         largest_agency_accounts=args.largest, history_days=args.history_days, seed=22)  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"seeded {args.accounts} accounts over {args.agencies} agencies (the largest: {args.largest or 'even'}; "
              f"{big.calls:,} calls, {big.sync_runs:,} sync runs) and the baseline's 10 over 2 "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        print(load_average())
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):  # the two sizes alternate: the machine's load changes by the minute
            measure_pages(base, requests_per_page=per_round, warm=1, samples=pooled["baseline"], only=PAGES[:3])
            measure_pages(big, requests_per_page=per_round, warm=1, samples=pooled["scale"])
        print(load_average())
        sizes = {"baseline": "10 accounts / 2", "scale": f"{args.accounts} / {args.agencies}"}
        print(f"{'page':<14}{'accounts / agencies':<22}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}")
        final: dict[str, float] = {}
        for page in PAGES:
            for label in ("baseline", "scale"):
                ms, queries = pooled[label][page]["ms"], pooled[label][page]["queries"]
                p95 = percentile(ms, 0.95)
                vary = f" (varies: {sorted(queries)})" if len(queries) > 1 else ""
                print(f"{page:<14}{sizes[label]:<22}{statistics.median(ms):>9.1f}{p95:>9.1f}{max(queries):>9}{vary}")
                if label == "scale":
                    final[page] = p95
        remove_redis_keys()
        with open("/proc/loadavg") as loadavg:
            print("/proc/loadavg:", loadavg.read().strip())
        for page in PAGES:
            name = "metrics_ms" if page == "metrics" else f"{page}_p95_ms"
            print(ratio_line(name, final[page], str(GOALS[page])))


if __name__ == "__main__":
    main()
