"""Several "hosts" share one account's CallRail budget without exceeding it (issue 11, "Scaling out").

    sudo DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/multihost_budget.py \
        --hosts 3 --procs 2 --hour-limit 50 --hour-seconds 10 --hours 3

Needs root (``ip netns``). Each host is a network namespace of its own, linked to this machine by a veth pair
(10.231.<i>.1 here, 10.231.<i>.2 there), with nothing else: it reaches Redis, PostgreSQL and the sandbox only
over its link. This process starts

* a private ``redis-server`` bound to the veth addresses (never the shared Redis),
* the CallRail sandbox on 0.0.0.0, with the account's limit (``--hour-limit``/hour, an hour lasting
  ``--hour-seconds``), and
* a TCP forwarder (socat, else a small Python one) per link to PostgreSQL, which listens on 127.0.0.1 only.

In every namespace ``--procs`` processes load the portal's settings with ``DATABASE_URL``/``REDIS_URL`` pointing
over the link, check the database, and then hammer one account through ``apps/callrail/client.py``
(``client_for_account``: a Redis budget token first, ``budget_overrides`` = the sandbox's limit). A refused token
is waited out for the ``retry_after`` it names, as a Celery task's countdown would be.

Prints per host: its address, requests granted and sent, budget refusals, 429s; the total; and the sandbox's own
count: the most requests it saw in any sliding hour and day against CallRail's limit, and its 429s. Network
namespaces, links, forwarders, Redis and the sandbox are removed at exit.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import HostStack, free_port, max_in_window, netloc_via  # noqa: E402

NS_PREFIX = "hfmh"
SUBNET = "10.231"


# ------------------------------------------------------------------------------------------------ child
def child(args: argparse.Namespace) -> int:
    """One worker process inside a namespace: prints one JSON line of counts."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "agency_portal.settings.test"
    import django

    django.setup()
    from django.db import connection

    from apps.callrail.budget import Budget
    from apps.callrail.client import client_for_account
    from apps.callrail.errors import BudgetExhausted, CallRailError, RateLimited
    from apps.sandbox.seed import DEMO_ACCOUNTS

    with connection.cursor() as cursor:  # PostgreSQL over the link
        cursor.execute("SELECT current_database()")
        (db_name,) = cursor.fetchone()
    db_via = f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
    try:  # this machine's loopback services are out of reach from the namespace: only the link is
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
        isolated = False
    except OSError:
        isolated = True
    with socket.create_connection((urlsplit(args.sandbox_url).hostname, urlsplit(args.sandbox_url).port)) as s:
        own_address = s.getsockname()[0]

    demo = DEMO_ACCOUNTS[0]

    class Account:  # duck-typed ClientAccount (client_for_account's contract)
        pk = args.account_pk
        callrail_account_id = demo.account_id
        api_key = demo.api_key
        auth_mode = "direct"
        connection_id = ""
        base_url = args.sandbox_url
        budget_overrides = {"general": {"hour": args.hour_limit, "day": args.day_limit}}

    budget = Budget(namespace=args.namespace, time_scale=3600.0 / args.hour_seconds)
    client = client_for_account(Account(), lane="interactive", budget=budget, max_retries=0)
    counts = {"granted": 0, "refused": 0, "429": 0, "errors": 0, "degraded": 0}
    while time.time() < args.start_at:
        time.sleep(0.005)
    deadline = args.start_at + args.hours * args.hour_seconds
    while (remaining := deadline - time.time()) > 0:
        try:
            client.get("companies.json")
            counts["granted"] += 1
        except BudgetExhausted as exc:
            counts["refused"] += 1
            time.sleep(min(max(exc.retry_after, 0.01), remaining))
        except RateLimited as exc:
            counts["429"] += 1
            time.sleep(min(exc.retry_after or 1.0, remaining))
        except CallRailError:
            counts["errors"] += 1
            time.sleep(0.05)
    counts["degraded"] = int(budget.degraded)
    print(json.dumps({"ns": args.ns, "address": own_address, "db_via": db_via, "db": db_name, "isolated": isolated,
                      **counts}))  # fmt: skip
    return 0


# ----------------------------------------------------------------------------------------------- parent
def parent(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("needs root (ip netns)", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")
    db_url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    stack = HostStack(NS_PREFIX, SUBNET)
    atexit.register(stack.close)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(1))

    hosts = [stack.add_host(i) for i in range(1, args.hosts + 1)]
    host_ips = [h[1] for h in hosts]

    # Redis: a private server on the link addresses (and loopback, for this process's report).
    redis_port = free_port()
    os.environ["REDIS_URL"] = stack.start_redis(host_ips, redis_port)  # this process's settings: never the shared one
    import django

    django.setup()

    # PostgreSQL listens on 127.0.0.1 only: one forwarder per link address.
    pg_port = stack.forward_postgres(host_ips, (db_url.hostname or "127.0.0.1", db_url.port or 5432))

    # The sandbox, with CallRail's limit for the account on a scaled clock.
    from apps.sandbox.server import start_sandbox

    time_scale = 3600.0 / args.hour_seconds
    limits = {"general": {"hour": args.hour_limit, "day": args.day_limit}}
    sandbox_port = free_port()
    everywhere = "0.0.0.0"  # noqa: S104  (reached from every namespace over its link)
    live = start_sandbox(host=everywhere, port=sandbox_port, seed=1, profile="small", accounts=1,
                         time_scale=time_scale, limits=limits)  # fmt: skip
    stack.closers.append(live.stop)
    import requests

    local_sandbox = f"http://127.0.0.1:{sandbox_port}"
    requests.post(f"{local_sandbox}/_sandbox/usage/reset", timeout=10).raise_for_status()

    namespace = f"callrail:budget:mh-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 4.0  # every process has loaded Django by then
    children = []
    for ns, host_ip, _ns_ip in hosts:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "agency_portal.settings.test",
            "DATABASE_URL": urlunsplit(db_url._replace(netloc=netloc_via(db_url, host_ip, pg_port))),
            "REDIS_URL": f"redis://{host_ip}:{redis_port}/0",
            "REDIS_KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX", "hfault"),
            "CALLRAIL_BUDGET_TIME_SCALE": str(time_scale),
            # the outbound allow-list (apps/callrail/destinations.py): the sandbox as this host reaches it
            "CALLRAIL_ALLOWED_BASE_URLS": f"http://{host_ip}:{sandbox_port}",
        }
        for _ in range(args.procs):
            cmd = ["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), "--child",
                   "--ns", ns, "--sandbox-url", f"http://{host_ip}:{sandbox_port}", "--namespace", namespace,
                   "--start-at", repr(start_at), "--account-pk", "1", *_shared(args)]  # fmt: skip
            children.append(stack.spawn(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))  # fmt: skip
    print(f"{args.hosts} hosts x {args.procs} processes; CallRail limit {args.hour_limit}/hour, {args.day_limit}/day; "
          f"one hour = {args.hour_seconds:g} s; running {args.hours} hours")  # fmt: skip
    results = []
    for proc in children:
        out, err = proc.communicate(timeout=args.hours * args.hour_seconds + 120)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            print(f"child failed ({proc.returncode}):\n{err[-2000:]}", file=sys.stderr)
            return 1
        results.append(json.loads(lines[-1]))

    usage = requests.get(f"{local_sandbox}/_sandbox/usage", timeout=10).json()
    general = next(iter(usage.values()))["general"]
    from apps.callrail.budget import Budget

    budget = Budget(time_scale=time_scale, namespace=namespace)
    ceiling = budget.caps("general", "interactive", limits)
    granted_at = sorted(int(t) for _, t in budget.redis.zrange(budget._key("1", "general", "log"), 0, -1,
                                                                  withscores=True))  # fmt: skip
    portal_max = max_in_window(granted_at, budget.hour_us)

    print()
    print(f"{'host':8} {'address':12} {'PostgreSQL via':18} {'isolated':8} {'granted':>8} {'refused':>8} {'429s':>5} "
          f"{'errors':>6}")  # fmt: skip
    per_host: dict[str, dict] = {}
    for r in results:
        h = per_host.setdefault(r["ns"], {"address": r["address"], "db_via": r["db_via"], "isolated": r["isolated"],
                                          "granted": 0, "refused": 0, "429": 0, "errors": 0})  # fmt: skip
        for key in ("granted", "refused", "429", "errors"):
            h[key] += r[key]
    for ns, h in per_host.items():
        isolated = "yes" if h["isolated"] else "NO"
        print(f"{ns:8} {h['address']:12} {h['db_via']:18} {isolated:8} {h['granted']:>8} {h['refused']:>8} "
              f"{h['429']:>5} {h['errors']:>6}")  # fmt: skip
    total = sum(h["granted"] for h in per_host.values())
    total_429 = sum(h["429"] for h in per_host.values())
    print(f"{'total':8} {'':12} {'':18} {'':8} {total:>8} {sum(h['refused'] for h in per_host.values()):>8} "
          f"{total_429:>5} {sum(h['errors'] for h in per_host.values()):>6}")  # fmt: skip
    print()
    print(f"portal ceiling (90% of CallRail's): {ceiling.hour}/hour, {ceiling.day}/day; "
          f"at most {ceiling.hour * args.hours} in {args.hours} hours")  # fmt: skip
    print(f"portal (the budget's Redis log, Redis clock): granted {len(granted_at)}, "
          f"max in any sliding hour {portal_max}")  # fmt: skip
    print(f"sandbox: accepted {general['accepted']}, rejected (429) {general['rejected']}, "
          f"max in any sliding hour {general['max_per_hour']} (limit {general['limit_hour']}), "
          f"max in any sliding day {general['max_per_day']} (limit {general['limit_day']})")  # fmt: skip
    print(
        "(the budget counts a token when it is granted, on Redis' clock; CallRail counts a request when it arrives:"
        "\n the scheduling delay between the two is what the 10% safety share absorbs)"
    )
    over = general["max_per_hour"] > general["limit_hour"] or general["max_per_day"] > general["limit_day"]
    errors = sum(h["errors"] for h in per_host.values())
    if errors:
        print(f"{errors} requests failed (not a budget figure): see the children's errors")
    verdict = "EXCEEDED" if over or total_429 else "never exceeded"
    print(f"budget {verdict}: {len(per_host)} hosts, {len(results)} processes, one account")
    return 1 if over or total_429 else 0


def _shared(args: argparse.Namespace) -> list[str]:
    return ["--hour-limit", str(args.hour_limit), "--day-limit", str(args.day_limit), "--hour-seconds",
            str(args.hour_seconds), "--hours", str(args.hours)]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--procs", type=int, default=2, help="budget-consuming processes per host")
    parser.add_argument("--hour-limit", type=int, default=50, help="CallRail's hourly limit for the account")
    parser.add_argument("--day-limit", type=int, default=1000)
    parser.add_argument("--hour-seconds", type=float, default=10.0, help="real seconds in one (scaled) hour")
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ns", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", default="", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--account-pk", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
