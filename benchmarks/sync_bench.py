"""Pull-sync benchmark: one sandbox account with N calls and the other resources at demo sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sync_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=syncbench .venv/bin/python benchmarks/sync_bench.py --calls 100000 --compare-copy

DATABASE_URL names a database the benchmark creates and drops again (``--keep-database`` keeps it); it
refuses an existing database it did not create. REDIS_KEY_PREFIX must be the benchmark's own: its keys are
removed at the end. The sandbox runs in its own process (``python -m apps.sandbox``) with its rate limits
off, and the account gets a large budget override, so that the figures measure the sync, not the waiting.

Prints:
* requests used by a full sync against the minimum the API allows (records / 250 per list, rounded up per
  list; integrations, outbound caller IDs and integration triggers are one list per company each; the
  account record is one request) — goal: exactly 1.00 x;
* requests used by an incremental sync with nothing new — goal: one page per resource;
* peak memory of the worker process (a fresh child process per sync) for a full sync at two sizes — goal:
  flat in the number of calls;
* with ``--compare-copy``: the calls pass of a sync (``sync_windowed``: the engine's pages with their
  checkpoint, the run's counters and the account lock renewed per page, as in a run, plus the end of the pass)
  fed with pages fetched from the sandbox beforehand, so excluding HTTP and sandbox time:
  - insert: a first full pass into an empty table, against the baseline: psycopg COPY (``write_row``) of
    the very rows that pass wrote (read back), as another account's, into the same table and indexes, 250
    rows a transaction, ``synchronous_commit`` off like the engine's pages. Engine and COPY alternate page by
    page (``--rounds`` rounds, each on an emptied table) — goal: >= 0.80 x COPY;
  - replay: a second full pass finding every call unchanged (look-ups, seen set, deletion sweep), on the
    fresh table, then once other accounts' calls have grown the table past twice ``shared_buffers`` and those
    buffers were filled with something else (``pg_prewarm`` of a ballast table) — goal: >= 20,000 calls/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")

from benchmarks.common import (  # noqa: E402
    bench_database,
    load_average,
    median,
    ratio_line,
    remove_redis_keys,
    require_own_redis_prefix,
)

PER_PAGE = 250


def setup_django() -> None:
    import django

    django.setup()
    logging.disable(logging.INFO)  # the client logs every request


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
                self.stop()
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
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ------------------------------------------------------------------------------------------------ worker
def make_account(sandbox_url: str, name: str = "Bench") -> int:
    from apps.credentials.models import Credential
    from apps.sandbox.seed import DEMO_ACCOUNTS
    from apps.tenancy.models import Agency, ClientAccount

    demo = DEMO_ACCOUNTS[0]
    tag = uuid.uuid4().hex[:8]
    agency = Agency.objects.create(name=f"{name} {tag}", slug=f"bench-{tag}")
    credential = Credential.objects.create(agency=agency, name=f"{name} {tag}", api_key=demo.api_key,
                                           base_url=sandbox_url, key_limit_enabled=False)  # fmt: skip
    account = ClientAccount.objects.create(
        agency=agency, name=f"{name} {tag}", callrail_account_id=demo.account_id, credential=credential,
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
        return max(1, math.ceil(n / PER_PAGE))

    total = 1  # the account record
    for name in ("companies", "users", "trackers", "tags", "notifications", "summary_emails", "calls",
                 "form_submissions", "text_conversations"):  # fmt: skip
        total += pages(counts[name])
    companies = Company.objects.for_account(account_id).live()
    # integrations, outbound caller IDs and integration triggers: listed per company (company_id is required)
    total += sum(pages(c.integrations.count()) + pages(c.caller_ids.count()) + pages(c.integration_triggers.count())
                 for c in companies)  # fmt: skip
    return total


def sync_figures(sandbox: Sandbox, size: int, *, incremental: bool) -> tuple[float, float]:
    """A full sync by a worker process (requests against the minimum, peak RSS), and optionally an incremental
    sync with nothing new. Returns (requests / minimum, peak RSS in MB)."""
    from apps.companies.models import Company
    from apps.sandbox.seed import DEMO_ACCOUNTS

    counts = sandbox.control("GET", f"accounts/{DEMO_ACCOUNTS[0].account_id}")["counts"]
    print("upstream records:", json.dumps({k: v for k, v in counts.items() if v}))
    account_id = make_account(sandbox.url)
    full = run_worker(account_id, "full")
    assert full["status"] == "succeeded", full
    minimum = minimum_requests(account_id, counts)
    print(f"full sync: {full['created']:,} records in {full['seconds']:.1f} s (HTTP and sandbox included); "
          f"worker peak RSS {full['peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"  requests {full['requests']} vs minimum {minimum} = {full['requests'] / minimum:.3f} x")
    if incremental:
        since = time.time()
        again = run_worker(account_id, "incremental")
        log = sandbox.control("GET", f"requests?since={since}")["requests"]
        per_path: dict[str, int] = {}
        for entry in log:
            name = entry["path"].rsplit("/", 1)[-1]
            per_path[name] = per_path.get(name, 0) + 1
        companies = Company.objects.for_account(account_id).live().count()
        lists = 10 + 3 * companies  # account + 9 lists + integrations, caller IDs, triggers per company
        print(f"incremental, nothing new: {again['requests']} requests for {lists} lists "
              f"(10 resources + 3 lists per company x {companies}); written: created {again['created']}, "
              f"updated {again['updated']}, deleted {again['deleted']}")  # fmt: skip
        print(f"  per list: {json.dumps(per_path)}")
    return full["requests"] / minimum, full["peak_rss_mb"]


# ---------------------------------------------------------------------------------- engine against COPY
class ReplayClient:
    """Serves the calls pages fetched beforehand, so the engine's figures exclude HTTP and the sandbox.

    ``beside`` (the baseline's work for one page) runs next to each page: before the engine writes it, or
    after (``beside_after``); ``engine_pass`` subtracts its time from the pass's.
    """

    def __init__(self, pages: list[list[dict]], beside=None, *, beside_after: bool = False) -> None:
        self.pages, self.beside, self.beside_after = pages, beside, beside_after

    def paginate_relative(self, path: str, **kwargs) -> object:
        for records in self.pages:
            if self.beside is not None and not self.beside_after:
                self.beside()
            yield SimpleNamespace(records=records)
            if self.beside is not None and self.beside_after:
                self.beside()


def fetch_pages(sandbox_url: str) -> tuple[int, list[list[dict]]]:
    """A bench account with the sandbox's companies and trackers mirrored, and its calls pages (fetched once)."""
    from django.utils import timezone

    from apps.callrail.client import client_for_account
    from apps.sync.engine import SyncContext, _dated_params, apply_page, retention_start
    from apps.sync.resources import CALLS, COMPANIES, TRACKERS
    from apps.tenancy.models import ClientAccount

    account_id = make_account(sandbox_url, "Compare")
    account = ClientAccount.objects.for_account(account_id).get()
    ctx = SyncContext(account=account, client=client_for_account(account))
    for resource_ in (COMPANIES, TRACKERS):
        for page in ctx.client.paginate(resource_.path, list_key=resource_.list_key):
            apply_page(ctx, resource_, page.records)
    now = timezone.now()
    params = {**_dated_params(ctx, retention_start(now, ctx.tz), now), "sort": "start_time", "order": "asc"}
    pages = [p.records for p in ctx.client.paginate_relative(
        "calls.json", list_key="calls", params=params, fields=CALLS.fields, per_page=PER_PAGE)]  # fmt: skip
    return account_id, pages


def engine_pass(account_id: int, pages: list[list[dict]], baseline: CopyBaseline | None = None,
                *, baseline_after: bool = False) -> tuple[float, dict]:
    """One full calls pass the way a run executes it; returns (seconds, counters). With a ``baseline``, its
    COPY of the same page runs beside each page (see ReplayClient) and its time is not the engine's."""
    from django.utils import timezone

    from apps.sync.engine import SyncContext, sync_resource
    from apps.sync.locks import AccountSyncLock
    from apps.sync.models import SyncKind, SyncRun, SyncStatus
    from apps.sync.resources import CALLS
    from apps.tenancy.models import ClientAccount

    account = ClientAccount.objects.for_account(account_id).get()
    run = SyncRun.objects.create(client_account=account, kind=SyncKind.FULL, resources=["calls"],
                                 status=SyncStatus.RUNNING)  # fmt: skip
    lock = AccountSyncLock(account.pk, owner="sync-bench")
    assert lock.acquire(120)

    def on_page(ctx: SyncContext) -> None:  # what sync_run_execute's save_progress does per page
        lock.renew(120)
        run.records_created, run.records_unchanged = ctx.counters.created, ctx.counters.unchanged
        run.progress = {**run.progress, "current": ctx.current, "pages": run.progress.get("pages", 0) + 1}
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["records_created", "records_unchanged", "problems", "problem_count", "progress",
                                "heartbeat_at"])  # fmt: skip

    client = ReplayClient(pages, baseline.copy_next_page if baseline else None, beside_after=baseline_after)
    ctx = SyncContext(account=account, client=client, run=run, on_page=on_page)
    ctx.current = "calls"
    try:
        started = time.perf_counter()
        sync_resource(ctx, CALLS, SyncKind.FULL)
        elapsed = time.perf_counter() - started - (baseline.seconds if baseline else 0.0)
    finally:
        lock.release()
    assert ctx.problem_count == 0, ctx.problems[:5]
    c = ctx.counters
    return elapsed, {"created": c.created, "updated": c.updated, "unchanged": c.unchanged, "deleted": c.deleted}


def copied_columns() -> list[str]:
    from apps.calls.models import Call

    return [f.column for f in Call._meta.concrete_fields if f.column != "id"]


def read_back_rows(account_id: int) -> list[tuple]:
    """The rows the engine wrote, as Python values (JSON columns as their text), in insertion order."""
    import psycopg

    from apps.calls.models import Call

    json_columns = {f.column for f in Call._meta.concrete_fields if f.get_internal_type() == "JSONField"}
    select = ", ".join(f"{c}::text" if c in json_columns else c for c in copied_columns())
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        return conn.execute(
            f"SELECT {select} FROM calls_call WHERE client_account_id = %s ORDER BY id", [account_id]  # noqa: S608
        ).fetchall()


class CopyBaseline:
    """The baseline: psycopg COPY (``write_row``) of the rows the engine wrote, as another account's, into the
    same table and indexes, one page (250 rows) a transaction, asynchronous commit like the engine's pages,
    on a connection of its own. ``copy_next_page`` runs beside the engine's pages (ReplayClient)."""

    def __init__(self, rows: list[tuple], account_id: int) -> None:
        import psycopg

        columns = copied_columns()
        at = columns.index("client_account_id")
        self.rows = [(*row[:at], account_id, *row[at + 1 :]) for row in rows]
        self.statement = f"COPY calls_call ({', '.join(columns)}) FROM STDIN"
        self.conn = psycopg.connect(os.environ["DATABASE_URL"])
        self.conn.execute("SET synchronous_commit TO OFF")
        self.conn.commit()
        self.next, self.seconds = 0, 0.0

    def copy_next_page(self) -> None:
        started = time.perf_counter()
        with self.conn.transaction(), self.conn.cursor().copy(self.statement) as copy:
            for row in self.rows[self.next : self.next + PER_PAGE]:
                copy.write_row(row)
        self.next += PER_PAGE
        self.seconds += time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def empty_calls_table() -> None:
    from django.db import connection

    from apps.sync.models import SyncState

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_call CASCADE")  # the benchmark's own database
    SyncState.objects.unscoped(reason="operator-command").filter(resource="calls").delete()


def grow_past_shared_buffers(account_id: int, sandbox_url: str) -> None:
    """Copy the bench account's calls to filler accounts until the calls table is twice shared_buffers, and
    fill shared_buffers with a ballast table (``fill_shared_buffers``) before each measurement."""
    from django.db import connection

    columns = [c for c in copied_columns() if c != "client_account_id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")
        (buffers,) = cursor.fetchone()
        while True:
            cursor.execute("SELECT pg_total_relation_size('calls_call')")
            (size,) = cursor.fetchone()
            if size >= 2 * buffers:
                break
            filler = make_account(sandbox_url, "Filler")
            cursor.execute(
                f"INSERT INTO calls_call (client_account_id, {', '.join(columns)}) "  # noqa: S608
                f"SELECT %s, {', '.join(columns)} FROM calls_call WHERE client_account_id = %s",
                [filler, account_id],
            )
        cursor.execute("VACUUM ANALYZE calls_call")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_ballast AS SELECT g, repeat('x', 1000) AS pad "
            "FROM generate_series(1, %s) g",
            [int(buffers * 1.2 / 1100)],
        )
    print(f"calls table grown to {size / 2**20:,.0f} MB (table and indexes), shared_buffers "
          f"{buffers / 2**20:,.0f} MB")  # fmt: skip


def fill_shared_buffers() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_prewarm('bench_ballast', 'buffer')")


def compare_copy(sandbox_url: str, rounds: int) -> dict[str, float]:
    """Insert: each round on an emptied table, the engine's first pass of the bench account, with the baseline
    copying the same page for another account beside each page (before it in odd rounds, after it in even
    ones), so both meet the same load and the same table at every step. Replay: a second pass."""
    account_id, pages = fetch_pages(sandbox_url)
    baseline_account = make_account(sandbox_url, "Baseline")
    count = sum(len(p) for p in pages)
    print(f"\nengine against COPY: {count:,} calls in {len(pages)} pages fetched beforehand, the two alternating "
          f"page by page; {load_average()}")  # fmt: skip
    empty_calls_table()
    engine_pass(account_id, pages)  # warm-up, and the rows the baseline copies
    rows = read_back_rows(account_id)
    assert len(rows) == count
    inserts, copies = [], []
    for number in range(1, rounds + 1):
        empty_calls_table()
        baseline = CopyBaseline(rows, baseline_account)
        try:
            seconds, counters = engine_pass(account_id, pages, baseline, baseline_after=number % 2 == 0)
        finally:
            baseline.close()
        assert counters["created"] == count, counters
        assert baseline.next >= count
        inserts.append(count / seconds)
        copies.append(count / baseline.seconds)
        print(f"  round {number}: engine insert {inserts[-1]:,.0f}/s, COPY {copies[-1]:,.0f}/s: ratio "
              f"{inserts[-1] / copies[-1]:.2f}; {load_average()}")  # fmt: skip
    print(f"insert: engine {median(inserts):,.0f}/s, COPY {median(copies):,.0f}/s (medians)")
    empty_calls_table()
    engine_pass(account_id, pages)  # the account alone in the table
    replays = []
    for number in range(1, rounds + 1):
        seconds, counters = engine_pass(account_id, pages)
        assert (counters["unchanged"], counters["deleted"]) == (count, 0), counters
        replays.append(count / seconds)
        print(f"  replay round {number}, fresh table: {replays[-1]:,.0f}/s; {load_average()}")
    # The table now holds the engine's rows: grow it past shared_buffers and replay the account's pages.
    grow_past_shared_buffers(account_id, sandbox_url)
    outgrown = []
    for number in range(1, rounds + 1):
        fill_shared_buffers()
        seconds, counters = engine_pass(account_id, pages)
        assert counters["unchanged"] == count, counters
        outgrown.append(count / seconds)
        print(f"  replay round {number}, table past shared_buffers, buffers filled with ballast: "
              f"{outgrown[-1]:,.0f}/s; {load_average()}")  # fmt: skip
    print(f"replay: {median(replays):,.0f}/s on the fresh table, {median(outgrown):,.0f}/s past shared_buffers")
    return {
        "insert_vs_copy": median([i / c for i, c in zip(inserts, copies, strict=True)]),
        "replay_fresh": median(replays),
        "replay_outgrown": median(outgrown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--small-calls", type=int, default=None, help="second size, for memory flatness "
                        "(default: a fifth of --calls)")  # fmt: skip
    parser.add_argument("--compare-copy", action="store_true", help="the engine's insert and replay against COPY")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("ACCOUNT_PK", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(int(args.worker[0]), args.worker[1])
        return
    require_own_redis_prefix()
    small = args.small_calls or max(1000, args.calls // 5)
    started = time.perf_counter()
    print(f"sync benchmark, {args.calls:,} calls; {load_average()}")
    with bench_database(keep=args.keep_database):
        setup_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        try:
            ratios: list[str] = []
            peaks = {}
            for size in (small, args.calls):
                seeded = time.perf_counter()
                sandbox = Sandbox(size)
                print(f"\nsandbox with {size:,} calls seeded in {time.perf_counter() - seeded:.1f} s")
                try:
                    requests_ratio, peaks[size] = sync_figures(sandbox, size, incremental=size == args.calls)
                    if size == args.calls:
                        ratios.append(ratio_line("full_sync_requests_vs_minimum", requests_ratio, "1.00"))
                        if args.compare_copy:
                            figures = compare_copy(sandbox.url, args.rounds)
                finally:
                    sandbox.stop()
            print(f"\nworker peak RSS: {small:,} calls: {peaks[small]:.0f} MB, {args.calls:,} calls: "
                  f"{peaks[args.calls]:.0f} MB ({args.calls / small:.0f}x the calls)")  # fmt: skip
            print(f"finished in {time.perf_counter() - started:.0f} s; {load_average()}\n")
            ratios.append(ratio_line("worker_peak_rss_large_vs_small", peaks[args.calls] / peaks[small], "<=1.10"))
            if args.compare_copy:
                ratios.append(ratio_line("sync_insert_vs_copy", figures["insert_vs_copy"], "0.80"))
                ratios.append(ratio_line("sync_replay_per_s_fresh", f"{figures['replay_fresh']:.0f}", "20000"))
                ratios.append(ratio_line("sync_replay_per_s_past_shared_buffers", f"{figures['replay_outgrown']:.0f}",
                                         "20000"))  # fmt: skip
            print("\n".join(ratios))
        finally:
            from django.db import connections

            connections.close_all()
            remove_redis_keys()


if __name__ == "__main__":
    main()
