"""Pull-sync benchmark: one sandbox account with 100,000 calls and the other resources at demo sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sync_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/sync_bench.py --calls 100000 --small-calls 20000

The sandbox runs in its own process (``python -m apps.sandbox``); each sync runs in a fresh child process
(the "worker"), whose peak RSS is read from ``getrusage(RUSAGE_CHILDREN)``-style accounting. The database
is the one DATABASE_URL names (created and migrated if missing). Sandbox rate limits are switched off and
the account gets a large budget override, so that the figures measure the sync, not the waiting.

Prints:
* requests used by a full sync against the minimum the API allows (records / 250 per list, rounded up per
  list; integrations are one list per company; the account record is one request) — goal <= 1.05 x;
* requests used by an incremental sync with nothing new — goal: one page per resource;
* calls upserted per second into the database, excluding sandbox time: the pages are fetched first, then
  written with the engine's ``apply_page`` (first insert, and a replay that finds every call unchanged);
* peak memory of the worker process for a full sync at two sizes — goal: flat in the number of calls.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")


def ensure_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------------------------- sandbox
class Sandbox:
    def __init__(self, calls: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "apps.sandbox", "--port", str(self.port), "--profile", "demo", "--accounts", "1",
             "--calls-per-account", str(calls), "--history-days", "700", "--quiet"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import requests

        deadline = time.monotonic() + 600
        while True:
            try:
                if requests.get(f"{self.url}/_sandbox/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.5)
        self.control("POST", "rate-limits", {"enabled": False})

    def control(self, method: str, route: str, body: dict | None = None) -> dict:
        import requests

        response = requests.request(method, f"{self.url}/_sandbox/{route}", json=body, timeout=600)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


# ------------------------------------------------------------------------------------------------ worker
def make_account(sandbox_url: str) -> int:
    from apps.credentials.models import Credential
    from apps.sandbox.seed import DEMO_ACCOUNTS
    from apps.tenancy.models import Agency, ClientAccount

    demo = DEMO_ACCOUNTS[0]
    tag = uuid.uuid4().hex[:8]
    agency = Agency.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}")
    credential = Credential.objects.create(agency=agency, name=f"Bench {tag}", api_key=demo.api_key,
                                           base_url=sandbox_url, key_limit_enabled=False)  # fmt: skip
    account = ClientAccount.objects.create(
        agency=agency, name=f"Bench {tag}", callrail_account_id=demo.account_id, credential=credential,
        time_zone=demo.time_zone,
        budget_overrides={"general": {"hour": 1_000_000, "day": 10_000_000}},
    )  # fmt: skip
    return account.pk


def worker_main(account_id: int, kind: str) -> None:
    """Child process: one sync run, like a Celery worker executing the task; prints the run as JSON."""
    setup_django()
    from apps.sync.models import SyncRun
    from apps.sync.resources import resource_names
    from apps.sync.services import sync_run_execute

    run = SyncRun.objects.create(client_account_id=account_id, kind=kind, resources=resource_names())
    started = time.perf_counter()
    run = sync_run_execute(run=run)
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "status": run.status, "requests": run.requests, "created": run.records_created,
        "updated": run.records_updated, "unchanged": run.records_unchanged, "deleted": run.records_deleted,
        "errors": run.errors, "seconds": elapsed, "peak_rss_mb": peak_kb / 1024,
    }))  # fmt: skip


def run_worker(account_id: int, kind: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", str(account_id), kind],
        cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ.copy(),
    )  # fmt: skip
    return json.loads(output.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- figures
def minimum_requests(account_id: int, counts: dict) -> int:
    from apps.companies.models import Company

    def pages(n: int) -> int:
        return max(1, math.ceil(n / 250))

    total = 1  # the account record
    for name in ("companies", "users", "trackers", "tags", "notifications", "summary_emails", "calls",
                 "form_submissions", "text_conversations"):  # fmt: skip
        total += pages(counts[name])
    companies = Company.objects.for_account(account_id).live()
    total += sum(pages(c.integrations.count()) for c in companies)
    return total


def upsert_rate(account_id: int) -> tuple[float, float, int]:
    """Calls per second through the engine's page writer, pages fetched beforehand (no sandbox time)."""
    from django.utils import timezone

    from apps.callrail.client import client_for_account
    from apps.sync.engine import SyncContext, _dated_params, apply_page, retention_start
    from apps.sync.resources import CALLS, COMPANIES, TRACKERS
    from apps.tenancy.models import ClientAccount

    account = ClientAccount.objects.for_account(account_id).get()
    ctx = SyncContext(account=account, client=client_for_account(account))
    for resource_ in (COMPANIES, TRACKERS):
        for page in ctx.client.paginate(resource_.path, list_key=resource_.list_key):
            apply_page(ctx, resource_, page.records)
    now = timezone.now()
    params = {**_dated_params(ctx, retention_start(now, ctx.tz), now), "sort": "start_time", "order": "asc"}
    pages = [p.records for p in ctx.client.paginate_relative("calls.json", list_key="calls", params=params,
                                                             fields=CALLS.fields)]  # fmt: skip
    count = sum(len(p) for p in pages)
    started = time.perf_counter()
    for records in pages:
        apply_page(ctx, CALLS, records)
    insert = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for records in pages:
        apply_page(ctx, CALLS, records)
    replay = count / (time.perf_counter() - started)
    return insert, replay, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--small-calls", type=int, default=20_000, help="second size, for memory flatness")
    parser.add_argument("--worker", nargs=2, metavar=("ACCOUNT_PK", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(int(args.worker[0]), args.worker[1])
        return

    ensure_database()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")

    peaks = {}
    for size in (args.small_calls, args.calls):
        started = time.perf_counter()
        sandbox = Sandbox(size)
        print(f"\nsandbox with {size:,} calls seeded in {time.perf_counter() - started:.1f} s at {sandbox.url}")
        try:
            from apps.sandbox.seed import DEMO_ACCOUNTS

            counts = sandbox.control("GET", f"accounts/{DEMO_ACCOUNTS[0].account_id}")["counts"]
            print("upstream records:", json.dumps({k: v for k, v in counts.items() if v}))
            account_id = make_account(sandbox.url)
            full = run_worker(account_id, "full")
            assert full["status"] == "succeeded", full
            peaks[size] = full["peak_rss_mb"]
            minimum = minimum_requests(account_id, counts)
            print(f"full sync: {full['created']:,} records in {full['seconds']:.1f} s; "
                  f"worker peak RSS {full['peak_rss_mb']:.0f} MB")  # fmt: skip
            print(f"  requests {full['requests']} vs minimum {minimum} = {full['requests'] / minimum:.3f} x "
                  f"(goal <= 1.05)")  # fmt: skip
            if size != args.calls:
                continue
            since = time.time()
            incremental = run_worker(account_id, "incremental")
            log = sandbox.control("GET", f"requests?since={since}")["requests"]
            per_path: dict[str, int] = {}
            for entry in log:
                name = entry["path"].rsplit("/", 1)[-1]
                per_path[name] = per_path.get(name, 0) + 1
            from apps.companies.models import Company

            companies = Company.objects.for_account(account_id).live().count()
            lists = 10 + companies  # account + 9 lists + one integrations list per company
            print(f"incremental, nothing new: {incremental['requests']} requests for {lists} lists "
                  f"(10 resources + integrations per company x {companies}); written: created "
                  f"{incremental['created']}, updated {incremental['updated']}, "
                  f"deleted {incremental['deleted']}")  # fmt: skip
            print(f"  per list: {json.dumps(per_path)}")
            rate_account = make_account(sandbox.url)
            insert, replay, count = upsert_rate(rate_account)
            print(f"upsert into {connection.vendor}, {count:,} calls, excluding sandbox time: "
                  f"{insert:,.0f} calls/s inserted, {replay:,.0f} calls/s replayed unchanged "
                  "(goal >= 10,000/s)")  # fmt: skip
        finally:
            sandbox.stop()
    sizes = sorted(peaks)
    print("\nworker peak RSS: " + ", ".join(f"{s:,} calls: {peaks[s]:.0f} MB" for s in sizes)
          + f" (ratio {peaks[sizes[-1]] / peaks[sizes[0]]:.2f} for {sizes[-1] / sizes[0]:.0f}x the calls)")  # fmt: skip


if __name__ == "__main__":
    main()
