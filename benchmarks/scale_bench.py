"""Agency scale (issue 22): N client accounts over M agencies, Celery workers on H "hosts", a simulated day.

    sudo DATABASE_URL=postgres://postgres@127.0.0.1:5432/h22c_scale REDIS_KEY_PREFIX=h22c \\
        .venv/bin/python benchmarks/scale_bench.py --accounts 100 --agencies 10 --hosts 2 --simulated-hours 2

Needs root (``ip netns``). DATABASE_URL names a database the benchmark creates and drops (``bench_database``);
Redis is a private ``redis-server`` it starts (port 6950-6999), never the shared one. What it builds:

* **Hosts**: ``--hosts`` network namespaces, each linked to this machine by a veth pair and nothing else
  (``HostStack`` in ``benchmarks/common.py``, shared with ``multihost_budget.py``); PostgreSQL is reached
  through a TCP forwarder on each link, Redis and the sandbox over the link.
* **Sandbox**: ``python -m apps.sandbox`` in its own process with ``--accounts N`` (the four demo accounts and
  generated ones, ``apps.sandbox.seed.scale_account``), ``--calls-per-account`` calls each and
  ``--big-account-calls`` in the first account (500,000 by default: "one big account"), every account with
  CallRail's own limits (1,000 requests an hour, 10,000 a day, per account) on a clock running
  ``--time-scale`` times faster than the real one.
* **Portal**: ``benchmarks/scale_seed.py`` (``seed_scale``) writes the agencies, owners, accounts with their
  encrypted keys (pointed at the sandbox), schedules (incremental every 10 minutes, nightly full), sync states
  and history; the accounts are then pointed at their sandbox account ids. The big account's sync state is
  removed so its first full sync (the 500,000-call import) runs during the day, beside everyone's incrementals.
* **Workers**: in every namespace ``nice -n 10 celery -A agency_portal worker -Q <settings.CELERY_TASK_QUEUES_NAMES>``
  as README's Production section says for workers sharing a host's cores with the web (the namespaces share
  this machine's 2 cores with the pages measured; ``--workers-nice 0`` starts them without) (plus
  ``-n scale<i>@%h``: the namespaces share one hostname), with
  ``DJANGO_SETTINGS_MODULE=agency_portal.settings.production`` and ``DATABASE_URL``/``REDIS_URL`` over the
  link, ``CALLRAIL_BUDGET_TIME_SCALE`` = the sandbox's time scale, and ``CELERY_VISIBILITY_TIMEOUT``
  lowered to ``--visibility-timeout`` real seconds (default 20; production keeps an hour) so that the tasks a
  killed host held are redelivered within the run.

What is scaled, and how time is read:

* **Virtual time** = bench start + (real time - bench start) x ``--time-scale``. The sandbox's rate-limit
  windows and the portal's budget run on that scale (an hour of allowance lasts 3600/scale real seconds).
* **The beat**: this process plays beat (at the workers' priority, as the tasks it stands for run on workers;
  the web's again for the pages): once per virtual minute it calls the real dispatcher
  (``apps.sync.services.sync_dispatch(now=<virtual now>)``, timed, with its SQL queries counted), then the
  re-read's step (``sync_reread_dispatch``, a task of its own in production; timed apart) and sends
  ``push.sweep`` as beat would. Runs are queued with the virtual ``queued_at``; workers stamp ``finished_at``
  with their real clock, which the benchmark converts to virtual time (the formula above). Runs are created
  with ``SYNC_LOCK_TTL`` = ``--lock-ttl`` real seconds (default production's 120 s on the virtual clock, at
  least 5: an abandoned run is retired as soon, in virtual minutes, as it would be in production). A waiting
  run's ``not_before`` is stamped by a worker's real clock, long past on the virtual one: the dispatcher's grace
  for waiting runs (``SYNC_WAITING_GRACE_SECONDS``) is lifted, so a run between two slices is not retired.
* **The default time scale** is 3000 / N (at most 60): the schedules then ask for 5 incrementals a real second
  whatever N (N accounts / 10 minutes x scale), what the four worker processes of two hosts sustain on this
  2-core machine beside the sandbox, PostgreSQL and the benchmark itself (8.5 a second at most, measured). At
  1,000 accounts that is 3: the day runs three times faster than a real one, so the lag figures hold in real
  time with that margin; a 24-hour day then takes 8 real hours.
* **Lag**: an account's data is as fresh as the ``queued_at`` of its last incremental or full run that finished
  (a re-read slice lists old windows again: it is not counted); its staleness at a run's (virtual) finish is
  that finish minus the ``queued_at`` of the previous finished run (at the start: the seeded
  ``last_incremental_at``; at the end of the day: the end minus the last one). ``accounts_within_lag=K/N``:
  accounts whose largest staleness over the day is at most their incremental interval + 5 virtual minutes, over
  the N accounts whose sync is enabled and whose key works (the seed pauses ~3% and gives ~1% a refused key;
  they are counted apart). The big account's staleness while its initial import runs is printed apart (it is not
  an incremental's lag) and not counted.
* **Host kill**: at ``--kill-at`` of the day every worker process of host 1 gets SIGKILL. Runs that were
  queued/running/waiting then, and edits queued for CallRail, are followed to the end: ``lost_after_host_kill``
  counts those runs whose account had no successful run queued after the kill by the end, plus edits still
  unsent. After the day, ticks go on (``--drain-seconds`` at most) until every such run and edit is done. The
  host stays down unless ``--restart-after M``: its workers start again M virtual minutes after the kill, as a
  process manager's restart policy would (compose's ``restart: unless-stopped``).
* **Pushes**: at a quarter of the day one tag of ``--pushes`` accounts gets a new colour (``mirror_row_update``,
  the outbox); the sandbox's request log shows how many successful PUTs each tag received:
  ``duplicate_pushes`` = the PUTs beyond one per edited tag.
* **Budget overruns**: from the sandbox's request log (its own clock), the most requests per account in any
  sliding hour and day against that account's limits; ``budget_overruns`` = accounts over either (429s are
  printed too).
* **Pages**: ``benchmarks/scale_pages.py`` (``measure_pages``) times the dashboard, account list, System page
  and /metrics with all accounts in place, while the workers run (in this process, at the default priority:
  the web's).

Ends with ``RATIO`` lines. Everything it starts (namespaces, links, forwarders, Redis, sandbox, workers, the
database) is removed at exit, on Ctrl-C and on failure.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import (  # noqa: E402
    HostStack,
    bench_database,
    free_port,
    load_average,
    max_in_window,
    netloc_via,
    niced,
    ratio_line,
    require_own_redis_prefix,
)

NS_PREFIX = "h22s"
SUBNET = "10.232"
REDIS_PORTS = range(6950, 7000)
LAG_SLACK = timedelta(minutes=5)
REASON = "operator-command"


_BEGAN = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _BEGAN:5.0f} s] {text}", flush=True)


def pick_redis_port() -> int:
    for port in REDIS_PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {REDIS_PORTS.start}-{REDIS_PORTS.stop - 1} for the private Redis")


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 600) -> dict:
    import requests

    response = requests.request(method, url, json=body, timeout=timeout)
    response.raise_for_status()
    return response.json()


class Clock:
    """Virtual time: start + (real - start) x scale."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.start = time.time()

    def virtual(self, real: float | None = None) -> float:
        return self.start + ((time.time() if real is None else real) - self.start) * self.scale

    def real_at(self, virtual: float) -> float:
        return self.start + (virtual - self.start) / self.scale

    def dt(self, value: datetime) -> datetime:
        """A worker's real timestamp as virtual time."""
        return datetime.fromtimestamp(self.virtual(value.timestamp()), UTC)


# -------------------------------------------------------------------------------------------------- setup
def start_sandbox(stack: HostStack, args: argparse.Namespace, host_ip: str) -> tuple[str, str]:
    """The sandbox in its own process on every address; returns (URL here, URL the workers use)."""
    port = free_port()
    log = open(Path(stack.tmp) / "sandbox.log", "w")  # noqa: SIM115 - closed with the process
    everywhere = "0.0.0.0"  # noqa: S104  (reached from every namespace over its link)
    stack.spawn([sys.executable, "-m", "apps.sandbox", "--host", everywhere, "--port", str(port), "--profile",
                 "small", "--accounts", str(args.accounts), "--calls-per-account", str(args.calls_per_account),
                 "--first-account-calls", str(args.big_account_calls), "--history-days", "60",
                 "--time-scale", str(args.time_scale), "--request-log-size", str(args.request_log_size), "--quiet"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    local = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while True:
        try:
            http_json("GET", f"{local}/_sandbox/health", timeout=2)
            break
        except Exception:
            if time.monotonic() > deadline or stack.processes[-1].poll() is not None:
                tail = (Path(stack.tmp) / "sandbox.log").read_text()[-2000:]
                raise RuntimeError(f"sandbox did not start: {tail}") from None
            time.sleep(0.5)
    return local, f"http://{host_ip}:{port}"


def seed_portal(args: argparse.Namespace, sandbox_url: str):
    """seed_scale, then every account pointed at its sandbox account; the big one without sync history."""
    from apps.sandbox.seed import scale_account
    from apps.sync.models import SyncSchedule, SyncState
    from apps.tenancy.models import ClientAccount
    from benchmarks.scale_seed import seed_scale

    seed = seed_scale(accounts=args.accounts, agencies=args.agencies, api_base_url=f"{sandbox_url}/v3/",
                      api_key_for=lambda i: scale_account(i).api_key, calls_per_account=args.seeded_calls,
                      seed=args.seed)  # fmt: skip
    rows = {a.pk: a for a in ClientAccount.objects.unscoped(reason=REASON).filter(pk__in=seed.account_ids)}
    for i, pk in enumerate(seed.account_ids):
        rows[pk].callrail_account_id = scale_account(i).account_id
    big = seed.account_ids[0]
    rows[big].sync_enabled, rows[big].connection_error = True, ""  # the big one always syncs
    scoped = ClientAccount.objects.unscoped(reason=REASON)
    scoped.bulk_update(list(rows.values()), ["callrail_account_id", "sync_enabled", "connection_error"],
                       batch_size=500)  # fmt: skip
    SyncState.objects.for_account(big).delete()
    SyncSchedule.objects.for_account(big).update(last_full_at=None, last_incremental_at=None)
    return seed


def worker_env(base: dict, *, db_url, host_ip: str, pg_port: int, redis_port: int) -> dict:
    return {**base, "DATABASE_URL": urlunsplit(db_url._replace(netloc=netloc_via(db_url, host_ip, pg_port))),
            "REDIS_URL": f"redis://{host_ip}:{redis_port}/0"}  # fmt: skip


def start_workers(stack: HostStack, hosts: list, env: dict, args: argparse.Namespace, **links) -> list:
    """One worker command per host (``spawn_worker``), once every one answers a ping."""
    from django.conf import settings

    procs = [spawn_worker(stack, i, host, env, args, **links) for i, host in enumerate(hosts, start=1)]
    say(f"workers: {' '.join(niced(args.workers_nice))} celery -A agency_portal worker -Q "
        f"{','.join(settings.CELERY_TASK_QUEUES_NAMES)} (per host, default concurrency)")  # fmt: skip
    from agency_portal.celery import app

    deadline = time.monotonic() + 120
    while len(app.control.ping(timeout=1.0)) < len(hosts):
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not answer: " + (Path(stack.tmp) / "worker1.log").read_text()[-3000:])
    return procs


def spawn_worker(stack: HostStack, i: int, host: tuple, env: dict, args: argparse.Namespace,
                 **links) -> subprocess.Popen:
    """Host ``i``'s worker, started as README's production section says (its log appended to ``worker<i>.log``)."""
    from django.conf import settings

    ns, host_ip, _ = host
    queues = ",".join(settings.CELERY_TASK_QUEUES_NAMES)
    celery = str(Path(sys.executable).with_name("celery"))
    log = open(Path(stack.tmp) / f"worker{i}.log", "a")  # noqa: SIM115 - closed with the process
    cmd = ["ip", "netns", "exec", ns, *niced(args.workers_nice), celery, "-A", "agency_portal", "worker",
           "-Q", queues, "-n", f"scale{i}@%h", "--loglevel", "WARNING"]  # fmt: skip
    return stack.spawn(cmd, cwd=ROOT, env=worker_env(env, host_ip=host_ip, **links), stdout=log,
                       stderr=subprocess.STDOUT)  # fmt: skip


# ----------------------------------------------------------------------------------------------- the day
def queue_pushes(count: int, account_ids: list[int], since: datetime) -> list[int]:
    """One tag colour change in each of ``count`` accounts that synced already; returns the outbox ids."""
    from apps.push.models import OutboxEntry
    from apps.push.services import mirror_row_update
    from apps.sync.models import SyncRun, SyncStatus
    from apps.tags.models import Tag

    synced = set(
        SyncRun.objects.unscoped(reason=REASON)
        .filter(client_account_id__in=account_ids[1:], status=SyncStatus.SUCCEEDED, queued_at__gte=since)
        .values_list("client_account_id", flat=True)
    )
    entries = []
    for pk in sorted(synced)[:count]:
        tag = Tag.objects.for_account(pk).exclude(callrail_id__startswith="pending").order_by("pk").first()
        if tag is None:
            continue
        colour = "blue1" if tag.color != "blue1" else "green2"
        mirror_row_update(row=tag, resource="tags", values={"color": colour})
        entry = OutboxEntry.objects.for_account(pk).filter(object_pk=tag.pk).order_by("-pk").first()
        if entry is not None:
            entries.append(entry.pk)
    return entries


def timed(task, now: datetime) -> tuple[float, int]:
    """ms and SQL queries of one call of ``task(now=now)``."""
    from django.db import connection

    count = 0

    def counted(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        task(now=now)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, count


def tick(now: datetime) -> tuple[float, int, float, int]:
    """The beat's minute: the dispatcher's tick and the re-read's step (each timed, queries counted; in
    production two tasks on workers, here called in turn on the virtual clock) and push.sweep."""
    from agency_portal.celery import app
    from apps.sync.services import sync_dispatch, sync_reread_dispatch

    figures = timed(sync_dispatch, now) + timed(sync_reread_dispatch, now)
    app.send_task("push.sweep", expires=55)
    return figures


def runs_in_broker() -> set[int]:
    """Sync runs whose task message Redis holds: queued, or delivered and not yet acknowledged (a dead worker's
    come back after the visibility timeout)."""
    import redis as redis_client
    from django.conf import settings

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    client = redis_client.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = client.type(key)
        if kind == b"list":
            messages += [json.loads(raw) for raw in client.lrange(key, 0, -1)]
        elif kind == b"hash" and key.endswith(b"unacked"):
            messages += [json.loads(raw)[0] for raw in client.hvals(key)]
    ids = set()
    for message in messages:
        with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
            body = json.loads(base64.b64decode(message["body"]))
            if "sync_run_id" in body[1]:
                ids.add(int(body[1]["sync_run_id"]))
    return ids


def after_kill(run_ids: list[int], entry_ids: list[int], kill_at: datetime) -> tuple[list[int], list[int], list[int]]:
    """Of the runs active at the kill whose account has had no success queued after it: those still on their way
    (message in Redis, account locked by a worker, or waiting for the dispatcher to re-send) and those lost
    (none of these); and the edits not yet sent."""
    from apps.push.models import OPEN_STATUSES, OutboxEntry
    from apps.sync.locks import is_locked
    from apps.sync.models import SyncRun, SyncStatus

    runs = SyncRun.objects.unscoped(reason=REASON)
    ok = (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL)
    done_accounts = set(runs.filter(status__in=ok, pk__in=run_ids).values_list("client_account_id", flat=True))
    done_accounts |= set(runs.filter(status__in=ok, queued_at__gte=kill_at).values_list("client_account_id",
                                                                                         flat=True))  # fmt: skip
    open_runs = [r for r in runs.filter(pk__in=run_ids) if r.client_account_id not in done_accounts]
    queued = runs_in_broker() if open_runs else set()
    pending, lost = [], []
    for run in open_runs:
        later = runs.filter(client_account_id=run.client_account_id, queued_at__gt=run.queued_at,
                            status__in=(SyncStatus.QUEUED, SyncStatus.RUNNING, SyncStatus.WAITING))  # fmt: skip
        on_its_way = (run.pk in queued or is_locked(run.client_account_id) or run.status == SyncStatus.WAITING
                      or any(r.pk in queued or r.status == SyncStatus.WAITING for r in later))  # fmt: skip
        (pending if on_its_way else lost).append(run.pk)
    open_entries = list(
        OutboxEntry.objects.unscoped(reason=REASON).filter(pk__in=entry_ids, status__in=OPEN_STATUSES)
        .values_list("pk", flat=True)
    )  # fmt: skip
    return pending, lost, open_entries


# --------------------------------------------------------------------------------------------- the figures
def lag_figures(clock: Clock, account_ids: list[int], start: datetime, end: datetime, initial: dict) -> dict:
    """Per account: the largest staleness over the day, its interval, runs counted, and when (virtual time) the
    run that ended the largest staleness finished."""
    from apps.sync.models import SyncKind, SyncRun, SyncStatus

    finished: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for pk, queued_at, finished_at in (
        SyncRun.objects.unscoped(reason=REASON)
        .filter(client_account_id__in=account_ids, queued_at__gte=start, finished_at__isnull=False,
                status__in=(SyncStatus.SUCCEEDED, SyncStatus.PARTIAL), kind__in=(SyncKind.INCREMENTAL, SyncKind.FULL))
        .values_list("client_account_id", "queued_at", "finished_at")
    ):  # fmt: skip
        done = clock.dt(finished_at)
        if done <= end:
            finished[pk].append((done, queued_at))
    out = {}
    for pk in account_ids:
        fresh_since, interval = initial[pk]
        worst, worst_at = timedelta(0), start
        for done, queued_at in sorted(finished[pk]):
            if fresh_since is not None and done - fresh_since > worst:
                worst, worst_at = done - fresh_since, done
            fresh_since = max(fresh_since or queued_at, queued_at)
        if fresh_since is None:
            worst, worst_at = end - start, end
        elif end - fresh_since > worst:
            worst, worst_at = end - fresh_since, end
        out[pk] = (worst, interval, len(finished[pk]), worst_at)
    return out


def sandbox_figures(local: str, scale: float) -> dict:
    """From the sandbox's request log: per account the most requests in a sliding hour/day (its clock), 429s,
    and the successful PUTs per tag."""
    log = http_json("GET", f"{local}/_sandbox/requests")["requests"]
    limits = http_json("GET", f"{local}/_sandbox/rate-limits")
    times: dict[str, list[float]] = defaultdict(list)
    rejected: Counter = Counter()
    puts: Counter = Counter()
    for r in log:
        if r["account_id"] and r["counted"] and r["rate_class"] == "general":
            times[r["account_id"]].append(r["clock"])
        if r["status"] == 429:
            rejected[r["account_id"]] += 1
        if r["method"] == "PUT" and "/tags/" in r["path"] and 200 <= r["status"] < 300:
            puts[r["path"]] += 1
    return {"log": len(log), "times": times, "rejected": rejected, "puts": puts, "limits": limits}


def default_limits(described: dict) -> dict:
    """The sandbox's limits for every account (no per-account overrides are set)."""
    general = described["limits"]["general"]
    return {"hour": int(general["hour"]), "day": int(general["day"])}


# ------------------------------------------------------------------------------------------------- parent
def parent(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("needs root (ip netns)", file=sys.stderr)
        return 2
    require_own_redis_prefix()
    from cryptography.fernet import Fernet

    db_url = urlsplit(os.environ["DATABASE_URL"])
    stack = HostStack(NS_PREFIX, SUBNET)
    atexit.register(stack.close)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(1))
    wall = time.monotonic()
    load_before = load_average()

    hosts = [stack.add_host(i) for i in range(1, args.hosts + 1)]
    host_ips = [h[1] for h in hosts]
    for ns, host_ip, _ in hosts:  # every address of this machine (the sandbox's, the other links') via the link
        subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", host_ip], check=True)
    redis_port = pick_redis_port()
    redis_url = stack.start_redis(host_ips, redis_port)
    sandbox_local, sandbox_url = start_sandbox(stack, args, host_ips[0])
    say(f"sandbox: {args.accounts} accounts, {args.calls_per_account} calls each, {args.big_account_calls:,} in "
          f"the first; time scale {args.time_scale:g} (an hour = {3600 / args.time_scale:.1f} s), lock TTL "
          f"{args.lock_ttl} s")  # fmt: skip

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agency_portal.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REDIS_URL": redis_url,
        "CALLRAIL_BUDGET_TIME_SCALE": str(args.time_scale),
        "CALLRAIL_ALLOWED_BASE_URLS": f"https://api.callrail.com,{urlsplit(sandbox_url)._replace(path='').geturl()}",
        "CELERY_VISIBILITY_TIMEOUT": str(args.visibility_timeout),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "METRICS_TOKEN": base64.urlsafe_b64encode(os.urandom(18)).decode(),
    }
    os.environ.update(env)
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # the client logs every request, axes every login
    from django.conf import settings
    from django.core.management import call_command

    settings.SYNC_LOCK_TTL = args.lock_ttl  # stored on each run the dispatcher queues (workers read it there)
    # Workers stamp a waiting run's not_before with their real clock, which the dispatcher's virtual clock finds
    # long past: without this, a huge account's run between two slices was taken for abandoned and retired.
    settings.SYNC_WAITING_GRACE_SECONDS = 30 * 86400
    # Pages are rendered here without collectstatic: static URLs unhashed (production wants the manifest).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # fmt: skip

    with bench_database(keep=args.keep_database):
        call_command("migrate", verbosity=0)
        started = time.monotonic()
        seed = seed_portal(args, sandbox_url)
        say(f"portal seeded in {time.monotonic() - started:.1f} s: {len(seed.agency_ids)} agencies, "
              f"{len(seed.account_ids)} accounts")  # fmt: skip
        pg_port = stack.forward_postgres(host_ips, (db_url.hostname or "127.0.0.1", db_url.port or 5432))
        links = {"db_url": db_url, "pg_port": pg_port, "redis_port": redis_port}
        procs = start_workers(stack, hosts, env, args, **links)
        say(f"workers answer on {len(procs)} hosts")

        def restart_host1() -> subprocess.Popen:  # as a process manager's restart policy does
            return spawn_worker(stack, 1, hosts[0], env, args, **links)

        return run_day(args, stack, seed, procs, restart_host1, sandbox_local, load_before, wall)


def run_day(args, stack, seed, procs, restart_host1, sandbox_local, load_before, wall) -> int:
    from apps.push.models import OutboxEntry
    from apps.sync.models import ACTIVE_STATUSES, SyncRun, SyncSchedule
    from apps.tenancy.models import ClientAccount

    accounts = ClientAccount.objects.unscoped(reason=REASON).filter(pk__in=seed.account_ids)
    synced = sorted(accounts.filter(sync_enabled=True, connection_error="").values_list("pk", flat=True))
    excluded = len(seed.account_ids) - len(synced)
    big = seed.account_ids[0]
    schedules = {s.client_account_id: s for s in SyncSchedule.objects.unscoped(reason=REASON).filter(
        client_account_id__in=synced)}  # fmt: skip
    initial = {pk: (schedules[pk].last_incremental_at, timedelta(minutes=schedules[pk].incremental_every_minutes))
               for pk in synced}  # fmt: skip

    clock = Clock(args.time_scale)
    day_wall = time.monotonic()
    start = datetime.fromtimestamp(clock.start, UTC)
    minutes = int(args.simulated_hours * 60)
    end = start + timedelta(minutes=minutes)
    push_minute, kill_minute = minutes // 4, int(minutes * args.kill_at)
    ticks: list[tuple[float, int, float, int]] = []
    late = 0
    pushed: list[int] = []
    kill_runs: list[int] = []
    kill_time = None
    push_done = False
    minute = 0
    drain_deadline = None
    restart_minute = None if args.restart_after is None else kill_minute + args.restart_after
    back = "never started again" if restart_minute is None else f"started again at minute {restart_minute}"
    say(f"day: {minutes} virtual minutes = {minutes * 60 / args.time_scale:.0f} s; pushes at minute {push_minute}, "
        f"host 1 killed at minute {kill_minute}, {back}")  # fmt: skip
    # Playing beat, the dispatcher and the re-read's step are a worker's work in production: at its priority.
    web_priority = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, web_priority + args.workers_nice)
    while True:
        # The beat's next minute on the virtual clock; minutes the dispatcher overran are skipped (counted).
        target = clock.real_at(clock.start + minute * 60)
        if (wait := target - time.time()) > 0:
            time.sleep(wait)
        behind = int((clock.virtual() - clock.start) // 60) - minute
        if behind > 0:
            late += behind
            minute += behind
        now = start + timedelta(minutes=minute)
        figures = tick(now)
        if minute < minutes:
            ticks.append(figures)
        if minute >= push_minute and not push_done:
            push_done = True
            pushed = queue_pushes(args.pushes, seed.account_ids, start)
            say(f"minute {minute}: {len(pushed)} tag edits queued")
        if minute >= kill_minute and kill_time is None and args.hosts > 1:
            kill_runs = list(SyncRun.objects.unscoped(reason=REASON).filter(status__in=ACTIVE_STATUSES)
                             .values_list("pk", flat=True))  # fmt: skip
            kill_time = now
            os.killpg(procs[0].pid, signal.SIGKILL)
            procs[0].wait()
            say(f"minute {minute}: host 1's workers killed (SIGKILL), {len(kill_runs)} runs queued/running/waiting")
        restart_due = restart_minute is not None and minute >= restart_minute
        if restart_due and kill_time is not None and procs[0].poll() is not None:
            procs[0] = restart_host1()
            say(f"minute {minute}: host 1's workers started again")
        minute += 1
        if minute >= minutes:
            if drain_deadline is None:
                drain_deadline = time.monotonic() + args.drain_seconds
                say("day over; draining")
            pending_runs, lost_runs, open_entries = after_kill(kill_runs, pushed, kill_time or start)
            if (not pending_runs and not lost_runs and not open_entries) or time.monotonic() > drain_deadline:
                break
    drained_minutes = minute - minutes
    pending_runs, lost_runs, open_entries = after_kill(kill_runs, pushed, kill_time or start)
    if lost_runs:  # a message between Redis' queue and its unacknowledged set is in neither for a moment
        time.sleep(3)
        again = after_kill(kill_runs, pushed, kill_time or start)
        pending_runs, lost_runs = again[0], [pk for pk in again[1] if pk in lost_runs]
    load_after = load_average()

    # pages with everything in place, workers still running; at the web's priority again (root may lower it)
    os.setpriority(os.PRIO_PROCESS, 0, web_priority)
    pages: dict = {}
    try:
        from benchmarks.scale_pages import measure_pages

        say("pages")
        pages = measure_pages(seed, requests_per_page=args.page_requests)
    except ImportError as exc:
        say(f"pages not measured: {exc}")
    except Exception as exc:  # the figures below still count
        say(f"pages failed: {type(exc).__name__}: {exc}")

    say("figures")
    lags = lag_figures(clock, synced, start, end, initial)
    counted = [pk for pk in synced if pk != big]
    within = [pk for pk in counted if lags[pk][0] <= lags[pk][1] + LAG_SLACK]
    sandbox = sandbox_figures(sandbox_local, args.time_scale)
    limits = default_limits(sandbox["limits"])
    hour, day = 3600.0, 86400.0
    overruns = []
    for account_id, times in sandbox["times"].items():
        times.sort()
        h, d = max_in_window(times, hour), max_in_window(times, day)
        if h > limits["hour"] or d > limits["day"]:
            overruns.append((account_id, h, d))
    busiest = max((max_in_window(t, hour) for t in sandbox["times"].values()), default=0)
    edited = len(pushed)
    duplicates = sum(n - 1 for n in sandbox["puts"].values() if n > 1)
    pushes_seen = len(sandbox["puts"])
    runs = SyncRun.objects.unscoped(reason=REASON).filter(queued_at__gte=start)
    by_kind = Counter(runs.values_list("kind", "status"))

    waits, spans = [], []
    for queued_at, started_at, finished_at in runs.filter(started_at__isnull=False, finished_at__isnull=False,
                                                          kind="incremental").values_list(
            "queued_at", "started_at", "finished_at"):  # fmt: skip
        waits.append((clock.dt(started_at) - queued_at).total_seconds() / 60)
        spans.append((finished_at - started_at).total_seconds())
    ms = sorted(t[0] for t in ticks)
    queries = [t[1] for t in ticks]
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    reread_ms = sorted(t[2] for t in ticks)
    reread_queries = [t[3] for t in ticks]
    print()
    print(f"accounts: {len(seed.account_ids)} over {len(seed.agency_ids)} agencies; {len(synced)} synced, "
          f"{excluded} paused or with a refused key (not counted)")  # fmt: skip
    print(f"runs queued during the day: {sum(by_kind.values())}; by kind/status: "
          + ", ".join(f"{k}/{s} {n}" for (k, s), n in sorted(by_kind.items())))  # fmt: skip
    worst = sorted(((lags[pk][0], pk) for pk in counted), reverse=True)[:5]
    print("largest staleness (virtual minutes, account: interval): "
          + ", ".join(f"{w.total_seconds() / 60:.1f} ({pk}: {lags[pk][1].total_seconds() / 60:.0f})"
                      for w, pk in worst))  # fmt: skip
    killed = set(SyncRun.objects.unscoped(reason=REASON).filter(pk__in=kill_runs)
                 .values_list("client_account_id", flat=True))  # fmt: skip
    over = [pk for pk in counted if pk not in within]
    print(f"accounts over their interval + {LAG_SLACK.total_seconds() / 60:.0f} min: {len(over)}, of which "
          f"{len([pk for pk in over if pk in killed])} had a run queued or running when host 1 was killed "
          f"({len(killed)} accounts had one); their largest staleness ended in virtual hour (of the day): "
          f"{dict(sorted(Counter(int((lags[pk][3] - start).total_seconds() // 3600) for pk in over).items()))}")
    stale = sorted(lags[pk][0].total_seconds() / 60 for pk in counted)
    print(f"staleness over accounts: median {statistics.median(stale):.1f}, max {stale[-1]:.1f} virtual minutes")
    print(f"big account ({args.big_account_calls:,} calls): {lags[big][2]} runs finished, largest staleness "
          f"{lags[big][0].total_seconds() / 60:.1f} virtual minutes; "
          f"calls mirrored: {_calls(big):,}")  # fmt: skip
    if waits:
        waits.sort()
        print(f"incremental runs finished: {len(spans)}; queued -> started median {statistics.median(waits):.1f}, "
              f"p95 {waits[int(len(waits) * 0.95)]:.1f} virtual minutes; started -> finished median "
              f"{statistics.median(spans):.2f} real s")  # fmt: skip
    needed = sum(args.time_scale / (initial[pk][1].total_seconds()) for pk in counted)
    print(f"throughput: incrementals the schedules ask for {needed:.2f}/real s (accounts / interval x time scale); "
          f"finished {len(spans) / max(1.0, time.monotonic() - day_wall):.2f}/real s")  # fmt: skip
    print(f"dispatcher: {len(ticks)} ticks, ms p50 {statistics.median(ms):.0f}, p95 {p95:.0f}, max {ms[-1]:.0f}; "
          f"queries per tick max {max(queries)}, median {statistics.median(queries):.0f}; virtual minutes skipped "
          f"because a tick overran {late}")  # fmt: skip
    print(f"re-read step (its own task): ms p50 {statistics.median(reread_ms):.0f}, "
          f"p95 {reread_ms[min(len(reread_ms) - 1, int(len(reread_ms) * 0.95))]:.0f}, max {reread_ms[-1]:.0f}; "
          f"queries max {max(reread_queries)}, median {statistics.median(reread_queries):.0f}")  # fmt: skip
    print(f"host kill: {len(kill_runs)} runs active then; at the end {len(pending_runs)} of them still on their way "
          f"(queued in Redis, running, or waiting: backlog), lost {len(lost_runs)} {lost_runs[:10]}; edits unsent "
          f"{len(open_entries)}; drain after the day: {drained_minutes} virtual minutes")  # fmt: skip
    print(f"pushes: {edited} tags edited, {pushes_seen} received at the sandbox, duplicates {duplicates}; outbox "
          f"statuses {dict(Counter(OutboxEntry.objects.unscoped(reason=REASON).filter(pk__in=pushed).values_list('status', flat=True)))}")  # fmt: skip # noqa: E501
    print(f"sandbox: {sandbox['log']:,} requests logged; busiest account {busiest} in a sliding hour "
          f"(limit {limits['hour']}); 429s {sum(sandbox['rejected'].values())}; over a limit: {overruns[:5]}")
    for name, figures in pages.items():
        print(f"page {name}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
              f"{figures['queries']} queries, {figures['requests']} requests; {figures['sql_share']:.0%} in SQL, "
              f"the most in {figures['slowest_sql'][1] / figures['requests']:.0f} ms a request: "
              f"{figures['slowest_sql'][0]}")  # fmt: skip
    print(f"{load_before} -> {load_after}; wall {time.monotonic() - wall:.0f} s")
    print()
    print(f"RATIO accounts_within_lag={len(within)}/{len(counted)} goal={len(counted)}/{len(counted)}")
    print(f"RATIO budget_overruns={len(overruns)} goal=0")
    print(ratio_line("dispatcher_ms_per_tick", f"{ms[-1]:.0f}", "1000"))
    print(ratio_line("dispatcher_queries_per_tick", str(max(queries)), "bounded"))
    print(ratio_line("reread_step_ms_per_minute", f"{reread_ms[-1]:.0f}", "1000"))
    for name, figures in pages.items():  # the scrape's goal is a second (issue 22), a person's page 100 ms
        label, goal = ("metrics_ms", "1000") if name == "metrics" else (f"{name}_p95_ms", "100")
        print(ratio_line(label, f"{figures['p95_ms']:.0f}", goal))
    print(f"RATIO lost_after_host_kill={len(lost_runs) + len(open_entries)} goal=0")
    print(f"RATIO duplicate_pushes={duplicates} goal=0")
    return 0


def _calls(account_id: int) -> int:
    from apps.calls.models import Call

    return Call.objects.for_account(account_id).count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--simulated-hours", type=float, default=24.0)
    parser.add_argument("--time-scale", type=float, default=None,
                        help="virtual seconds per real second (default 3000 / accounts, at most 60)")
    parser.add_argument("--calls-per-account", type=int, default=40, help="sandbox calls of each account")
    parser.add_argument("--big-account-calls", type=int, default=None,
                        help="sandbox calls of the first account (default 500,000 at 1,000 accounts, else 20,000)")
    parser.add_argument("--seeded-calls", type=int, default=20, help="calls seed_scale writes per account")
    parser.add_argument("--pushes", type=int, default=None, help="accounts with one tag edit (default N/10, <= 50)")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of the day when host 1 is killed")
    parser.add_argument("--restart-after", type=int, default=None,
                        help="virtual minutes after the kill when host 1's workers start again (default: never)")
    parser.add_argument("--visibility-timeout", type=int, default=20, help="real seconds")
    parser.add_argument("--lock-ttl", type=int, default=None,
                        help="real seconds an account lock lives unrenewed (default production's 120 s scaled, >= 5)")
    parser.add_argument("--drain-seconds", type=float, default=90.0)
    parser.add_argument("--workers-nice", type=int, default=10,
                        help="workers' CPU niceness (README; 0: none)")  # fmt: skip
    parser.add_argument("--page-requests", type=int, default=20, help="requests per page (measure_pages)")
    parser.add_argument("--request-log-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    if args.time_scale is None:  # 5 incrementals a real second at 10-minute schedules, whatever the N
        args.time_scale = min(60.0, 3000 / args.accounts)
    if args.lock_ttl is None:  # production's lock TTL in virtual time (an unscaled one would be 30 x longer)
        args.lock_ttl = max(5, round(120 / args.time_scale))
    if args.big_account_calls is None:
        args.big_account_calls = 500_000 if args.accounts >= 1000 else 20_000
    if args.pushes is None:
        args.pushes = max(1, min(50, args.accounts // 10))
    if args.request_log_size is None:  # every request of the day, with room
        per_hour = args.accounts * 6 * 16 + args.big_account_calls // 250
        args.request_log_size = max(200_000, int(per_hour * (args.simulated_hours + 1) * 2))
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a new database name (the benchmark creates and drops it)")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
