"""Webhook benchmark: deliveries accepted per second by the portal under gunicorn, against a bare view in the same
run, and delivery-to-mirror time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webhooks_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=whbench .venv/bin/python benchmarks/webhooks_bench.py --deliveries 3000 --compare-bare

Starts the sandbox (its own process), mirrors one account from it, registers the portal's post-call URL in
the account's Webhooks integrations and enters the signing keys CallRail (the sandbox) returned. Then starts
gunicorn (``--gunicorn-workers``) and one Celery worker on the ``webhooks`` queue (at ``--workers-nice`` 10: a
worker sharing a host's cores with the web yields them to it, as README's production section says), and:

* accept: posts ``--deliveries`` distinct post-call webhooks, signed as CallRail signs them (the sandbox's own
  payload with a fresh call id and timestamp), from ``--concurrency`` threads; prints deliveries per second
  and latency percentiles of the accept step (goal: >= 500/s, p99 < 50 ms), then waits until the worker has
  applied every one and checks none was lost (every call in the mirror once);
* ``--compare-bare``: the accept step runs ``--rounds`` times (at least 3), each round posting ``--deliveries``
  to the receiver and as many to the **baseline**, a bare Django view of the same gunicorn that reads the body
  and answers 202 (``benchmarks/webhooks_urls.py``: same middleware, workers and load generator), the two
  alternating every ``--chunk`` deliveries, the baseline first in odd rounds and second in even ones. Ends with
  ``RATIO webhook_accept_vs_bare_view=<median of the rounds' ratios> goal=0.70``;
* freshness: posts ``--paced`` deliveries at ``--rate`` per second and prints the time from each delivery
  to its call being committed to the mirror (goal: p95 < 2 s).

The load generator runs on the same machine as gunicorn, PostgreSQL, Redis and the worker: the figures are
for all of them sharing its cores. The sandbox stands in for CallRail, whose servers are not the portal's: it
runs at ``--sandbox-nice`` 19, so the look-ups the worker makes while applying (one per delivery naming a call
the mirror lacks) take the cores only when nothing of the portal wants them (0: at the web's priority).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.webhooks_settings"  # the test settings + the baseline's URL
os.environ.setdefault("DJANGO_DEBUG", "false")

from benchmarks.common import (  # noqa: E402
    bench_database,
    load_average,
    median,
    niced,
    ratio_line,
    remove_redis_keys,
    require_own_redis_prefix,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.3)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def accept_round(deliver: Callable, items: list, concurrency: int) -> tuple[float, list[int], list[float]]:
    """Post ``items`` from ``concurrency`` threads: (deliveries per second, statuses, latencies in ms)."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(deliver, items))
    wall = time.monotonic() - started
    return len(items) / wall, [r[0] for r in results], [r[1] for r in results]


def describe(name: str, rate: float, statuses: list[int], latencies: list[float], expected: int) -> str:
    good = sum(1 for s in statuses if s == expected)
    return (f"{name}: {rate:.0f}/s, p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
            f"max {max(latencies):.1f} ms; {expected}: {good}, other: {len(statuses) - good}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=3000, help="deliveries per round (and per side)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread: the Dockerfile's)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--compare-bare", action="store_true", help="measure the bare view alongside, in rounds")
    parser.add_argument("--chunk", type=int, default=100, help="deliveries a side posts before the other's turn")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare-bare (at least 3)")
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--worker-after", action="store_true",
                        help="start the worker only after the accept rounds (accepting alone; the default has the "
                        "worker applying meanwhile, on the same cores)")  # fmt: skip
    parser.add_argument("--workers-nice", type=int, default=10,
                        help="the worker's CPU niceness: it shares gunicorn's cores (README's production section)")
    parser.add_argument("--sandbox-nice", type=int, default=19,
                        help="the sandbox's CPU niceness: it stands in for CallRail, whose CPU is not the portal's")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    require_own_redis_prefix()
    rounds = max(3, args.rounds) if args.compare_bare else 1

    portal_port = free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    os.environ["PORTAL_BASE_URL"] = portal_url
    began = time.monotonic()
    with bench_database(keep=args.keep_database):
        import django

        django.setup()
        try:
            run(args, rounds, portal_port, portal_url)
        finally:
            remove_redis_keys()
    print(f"whole run {time.monotonic() - began:.0f} s")


def run(args: argparse.Namespace, rounds: int, portal_port: int, portal_url: str) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import requests

    from apps.companies.models import Company
    from apps.credentials.models import Credential
    from apps.sandbox.seed import DEMO_ACCOUNTS
    from apps.sync.models import SyncRun
    from apps.sync.resources import resource_names
    from apps.sync.services import sync_run_execute
    from apps.tenancy.models import Agency, ClientAccount
    from apps.webhooks.models import EventStatus, WebhookEvent
    from apps.webhooks.services import webhook_signature, webhook_signing_key_set, webhook_urls

    children: list[subprocess.Popen] = []
    try:
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        sandbox = subprocess.Popen(
            [*niced(args.sandbox_nice), sys.executable, "-m", "apps.sandbox", "--port", str(sandbox_port),
             "--profile", "small", "--accounts", "1", "--quiet"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        children.append(sandbox)
        wait_http(f"{sandbox_url}/_sandbox/health", sandbox)
        requests.post(f"{sandbox_url}/_sandbox/rate-limits", json={"enabled": False}, timeout=10).raise_for_status()

        demo = DEMO_ACCOUNTS[0]
        tag = uuid.uuid4().hex[:8]
        agency = Agency.objects.create(name=f"Webhook bench {tag}", slug=f"webhook-bench-{tag}")
        credential = Credential.objects.create(agency=agency, name=f"Webhook bench {tag}", api_key=demo.api_key,
                                               base_url=sandbox_url, key_limit_enabled=False)  # fmt: skip
        account = ClientAccount.objects.create(
            agency=agency, name=f"Webhook bench {tag}", callrail_account_id=demo.account_id, credential=credential,
            time_zone=demo.time_zone, sync_enabled=False,
            budget_overrides={"general": {"hour": 1_000_000, "day": 10_000_000}},
        )  # fmt: skip
        run = SyncRun.objects.create(client_account=account, kind="full", resources=resource_names())
        print(f"mirrored from the sandbox: {sync_run_execute(run=run).summary().splitlines()[0]}")
        url = webhook_urls(account)["post_call_webhook"]
        bare_url = url.replace("/hooks/", "/bench-bare/", 1)
        config = {"url": url, "account_id": demo.account_id, "events": ["post_call_webhook"]}
        answer = requests.post(f"{sandbox_url}/_sandbox/webhooks", json=config, timeout=10)
        keys = {i["company_id"]: i["signing_key"] for i in answer.json()["integrations"]}
        for company in Company.objects.for_account(account):
            webhook_signing_key_set(company=company, signing_key=keys[company.callrail_id])

        env = {**os.environ, "DJANGO_DEBUG": "false"}
        server = [str(ROOT / ".venv" / "bin" / "gunicorn"), "agency_portal.wsgi", "-b", f"127.0.0.1:{portal_port}",
                  "-w", str(args.gunicorn_workers), "--worker-class", args.worker_class, "--threads", str(args.threads),
                  "--log-level", "warning"]  # fmt: skip
        gunicorn = subprocess.Popen(server, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(gunicorn)
        def start_worker() -> None:
            worker = subprocess.Popen(
                [*niced(args.workers_nice), sys.executable, "-m", "celery", "-A", "agency_portal", "worker",
                 "-Q", "webhooks", "-c", "2", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            children.append(worker)

        if not args.worker_after:
            start_worker()
        wait_http(f"{portal_url}/healthz", gunicorn)
        served = f"{args.gunicorn_workers} gunicorn {args.worker_class} workers" + (
            f" x {args.threads} threads" if args.threads > 1 else "") + (
            f"; worker at nice {args.workers_nice}" if args.workers_nice else "; worker at the web's priority"
        ) + (f", sandbox at nice {args.sandbox_nice}" if args.sandbox_nice else ", sandbox at the web's priority")

        # a real post-call payload of the sandbox, as the template of every delivery
        requests.post(f"{sandbox_url}/_sandbox/activity", timeout=30,
                      json={"account_id": demo.account_id, "new_calls": 1, "complete_outbound": False})  # fmt: skip
        template = next(d for d in requests.get(f"{sandbox_url}/_sandbox/webhooks/deliveries", timeout=10).json()[
            "deliveries"] if d["event"] == "post_call_webhook")  # fmt: skip
        base = json.loads(template["body"])
        company_key = keys[template["company_id"]]

        def signed() -> tuple[str, bytes, str]:
            payload = {**base, "id": "CAL" + uuid.uuid4().hex, "timestamp": datetime.now(UTC).isoformat()}
            body = json.dumps(payload, separators=(",", ":")).encode()
            return payload["id"], body, webhook_signature(signing_key=company_key, body=body)

        local = threading.local()

        def poster(target: str) -> Callable[[tuple[str, bytes, str]], tuple[int, float, float]]:
            def deliver(item: tuple[str, bytes, str]) -> tuple[int, float, float]:
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                _, body, signature = item
                sent, started = time.time(), time.monotonic()
                headers = {"Content-Type": "application/json", "Signature": signature}
                response = session.post(target, data=body, timeout=30, headers=headers)
                return response.status_code, (time.monotonic() - started) * 1000, sent

            return deliver

        deliver, deliver_bare = poster(url), poster(bare_url)

        def wait_applied(ids: list[str], timeout: float = 600) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                pending = WebhookEvent.objects.for_account(account).filter(record_id__in=ids).exclude(
                    status=EventStatus.VERIFIED).count()  # fmt: skip
                if pending >= len(ids):
                    return
                time.sleep(0.5)
            raise RuntimeError("the worker did not apply every delivery in time")

        # warm-up: imports of each gunicorn worker, the database connection of each of its threads
        warm = [signed() for _ in range(4 * args.concurrency)]
        ids = [i[0] for i in warm]
        accept_round(deliver, warm, args.concurrency)
        if args.compare_bare:
            accept_round(deliver_bare, warm, args.concurrency)

        ratios: list[float] = []
        accept_rates: list[float] = []
        accept_latencies: list[float] = []
        bare_latencies: list[float] = []
        for number in range(1, rounds + 1):
            items = [signed() for _ in range(args.deliveries)]
            ids += [i[0] for i in items]
            print(f"round {number}: {load_average()}")
            # the two alternate chunk by chunk (the bare view first in odd rounds), so both meet the same load
            seconds = {"receiver": 0.0, "bare": 0.0}
            statuses: dict[str, list[int]] = {"receiver": [], "bare": []}
            latencies: dict[str, list[float]] = {"receiver": [], "bare": []}
            for start in range(0, len(items), args.chunk):
                chunk = items[start : start + args.chunk]
                order = ["receiver"] + (["bare"] if args.compare_bare else [])
                if number % 2 == 1:
                    order.reverse()
                for side in order:
                    rate, chunk_statuses, chunk_latencies = accept_round(
                        deliver if side == "receiver" else deliver_bare, chunk, args.concurrency
                    )
                    seconds[side] += len(chunk) / rate
                    statuses[side] += chunk_statuses
                    latencies[side] += chunk_latencies
            rate = len(items) / seconds["receiver"]
            accept_rates.append(rate)
            accept_latencies += latencies["receiver"]
            print("  " + describe(f"receiver ({args.deliveries} deliveries, {args.concurrency} threads, {served})",
                                  rate, statuses["receiver"], latencies["receiver"], 202))  # fmt: skip
            if args.compare_bare:
                bare_rate = len(items) / seconds["bare"]
                bare_latencies += latencies["bare"]
                ratios.append(rate / bare_rate)
                print("  " + describe("bare view", bare_rate, statuses["bare"], latencies["bare"], 202)
                      + f"  -> ratio {ratios[-1]:.2f}")  # fmt: skip
        print(f"after the accept rounds: {load_average()}")
        print(f"accept: median {median(accept_rates):.0f}/s (goal >= 500/s); all rounds' latency p50 "
              f"{percentile(accept_latencies, 0.5):.1f} ms, p95 {percentile(accept_latencies, 0.95):.1f} ms, p99 "
              f"{percentile(accept_latencies, 0.99):.1f} ms (goal p99 < 50)")  # fmt: skip
        if args.compare_bare:
            print(f"bare view: all rounds' latency p50 {percentile(bare_latencies, 0.5):.1f} ms, p99 "
                  f"{percentile(bare_latencies, 0.99):.1f} ms; ratios per round "
                  + ", ".join(f"{r:.2f}" for r in ratios))  # fmt: skip
        drain = time.monotonic()
        if args.worker_after:
            start_worker()
        wait_applied(ids)
        # every delivery is one event, and the worker has dealt with each (a fresh CAL id is not a call CallRail
        # knows, so the worker's look-up ends in a targeted pull rather than a new row: what counts is that none
        # was left behind)
        outcomes = Counter(
            WebhookEvent.objects.for_account(account).filter(record_id__in=ids).values_list("status", flat=True)
        )
        handled = sum(n for status, n in outcomes.items() if status != EventStatus.VERIFIED)
        verdict = "none lost" if handled == len(ids) == sum(outcomes.values()) else "LOST SOME"
        print(f"worker drained the rest in {time.monotonic() - drain:.1f} s; events of the {len(ids)} deliveries: "
              f"{dict(outcomes)} ({verdict})")  # fmt: skip

        paced = [signed() for _ in range(args.paced)]
        sent_at: dict[str, float] = {}
        first = time.monotonic()
        for index, item in enumerate(paced):
            delay = first + index / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            status, _, sent = deliver(item)
            assert status == 202, status
            sent_at[item[0]] = sent
        wait_applied(list(sent_at))
        lags = [
            (applied_at.timestamp() - sent_at[record_id])
            for record_id, applied_at in WebhookEvent.objects.for_account(account)
            .filter(record_id__in=list(sent_at)).values_list("record_id", "applied_at")
        ]  # fmt: skip
        print(f"delivery -> call in the mirror ({args.paced} at {args.rate:g}/s): p50 {statistics.median(lags):.3f} s, "
              f"p95 {percentile(lags, 0.95):.3f} s (goal < 2 s), max {max(lags):.3f} s")  # fmt: skip
        print(f"at the end: {load_average()}")
        print(ratio_line("webhook_accept_per_second", f"{median(accept_rates):.0f}", ">=500"))
        print(ratio_line("webhook_accept_p99_ms", f"{percentile(accept_latencies, 0.99):.1f}", "<50"))
        if args.compare_bare:
            print(ratio_line("webhook_accept_vs_bare_view", median(ratios), "0.70"))
        if verdict != "none lost":
            raise SystemExit("deliveries were lost")
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
