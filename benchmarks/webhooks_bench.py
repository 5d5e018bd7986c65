"""Webhook benchmark: deliveries accepted per second by the portal under gunicorn, and delivery-to-mirror time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webhooks_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=whbench .venv/bin/python benchmarks/webhooks_bench.py --deliveries 3000 --concurrency 16

Starts the sandbox (its own process), mirrors one account from it, registers the portal's post-call URL in
the account's Webhooks integrations and enters the signing keys CallRail (the sandbox) returned. Then starts
gunicorn (``--gunicorn-workers``) and one Celery worker on the ``webhooks`` queue, and:

* accept: posts ``--deliveries`` distinct post-call webhooks, signed as CallRail signs them (the sandbox's own
  payload with a fresh call id and timestamp), from ``--concurrency`` threads; prints deliveries per second
  and latency percentiles of the accept step (goal: >= 500/s, p99 < 50 ms), then waits until the worker has
  applied every one and checks none was lost (every call in the mirror once);
* freshness: posts ``--paced`` deliveries at ``--rate`` per second and prints the time from each delivery
  to its call being committed to the mirror (goal: p95 < 2 s).

The load generator runs on the same machine as gunicorn, PostgreSQL, Redis and the worker: the figures are
for all of them sharing its cores.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")
os.environ.setdefault("DJANGO_DEBUG", "false")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()

    portal_port = free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    os.environ["PORTAL_BASE_URL"] = portal_url
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import requests

    from apps.calls.models import Call
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
            [sys.executable, "-m", "apps.sandbox", "--port", str(sandbox_port), "--profile", "small", "--accounts",
             "1", "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        config = {"url": url, "account_id": demo.account_id, "events": ["post_call_webhook"]}
        answer = requests.post(f"{sandbox_url}/_sandbox/webhooks", json=config, timeout=10)
        keys = {i["company_id"]: i["signing_key"] for i in answer.json()["integrations"]}
        for company in Company.objects.for_account(account):
            webhook_signing_key_set(company=company, signing_key=keys[company.callrail_id])

        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "agency_portal.settings.test", "DJANGO_DEBUG": "false"}
        gunicorn = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "agency_portal.wsgi", "-b", f"127.0.0.1:{portal_port}",
             "-w", str(args.gunicorn_workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        children.append(gunicorn)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "agency_portal", "worker", "-Q", "webhooks", "-c", "2",
             "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        children.append(worker)
        wait_http(f"{portal_url}/healthz", gunicorn)

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

        def deliver(item: tuple[str, bytes, str]) -> tuple[int, float, float]:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            _, body, signature = item
            sent, started = time.time(), time.monotonic()
            response = session.post(url, data=body, timeout=30,
                                    headers={"Content-Type": "application/json", "Signature": signature})  # fmt: skip
            return response.status_code, (time.monotonic() - started) * 1000, sent

        def wait_applied(ids: list[str], timeout: float = 600) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                pending = WebhookEvent.objects.for_account(account).filter(record_id__in=ids).exclude(
                    status=EventStatus.VERIFIED).count()  # fmt: skip
                if pending >= len(ids):
                    return
                time.sleep(0.5)
            raise RuntimeError("the worker did not apply every delivery in time")

        # warm-up (connections, imports of each gunicorn worker)
        for item in [signed() for _ in range(40)]:
            deliver(item)

        items = [signed() for _ in range(args.deliveries)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(deliver, items))
        wall = time.monotonic() - started
        statuses = [r[0] for r in results]
        latencies = [r[1] for r in results]
        accepted = statuses.count(202)
        print(f"accept: {args.deliveries} deliveries from {args.concurrency} threads to {args.gunicorn_workers} "
              f"gunicorn workers in {wall:.2f} s = {args.deliveries / wall:.0f}/s (goal >= 500/s); "
              f"202: {accepted}, other: {len(statuses) - accepted}")  # fmt: skip
        print(f"accept latency ms: p50 {percentile(latencies, 0.5):.1f}, p95 {percentile(latencies, 0.95):.1f}, "
              f"p99 {percentile(latencies, 0.99):.1f} (goal p99 < 50), max {max(latencies):.1f}")  # fmt: skip
        ids = [i[0] for i in items]
        drain = time.monotonic()
        wait_applied(ids)
        mirrored = Call.objects.for_account(account).filter(callrail_id__in=ids).count()
        applied = (
            WebhookEvent.objects.for_account(account).filter(record_id__in=ids, status=EventStatus.APPLIED).count()
        )
        verdict = "none lost" if mirrored == len(ids) == applied else "LOST SOME"
        print(f"worker drained the rest in {time.monotonic() - drain:.1f} s; applied {applied}, calls in the mirror "
              f"{mirrored} of {len(ids)} ({verdict})")  # fmt: skip

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
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
