"""Beat dispatcher benchmark: one tick (``sync.dispatch``) at 1,000 accounts against the same tick at 10.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dispatch_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=dispatchbench .venv/bin/python benchmarks/dispatch_bench.py --accounts 1000 --agencies 50

DATABASE_URL names a database the benchmark creates and drops again; REDIS_KEY_PREFIX must be the
benchmark's own: the tasks a tick sends go to Celery's broker under it, and every key under it is removed
after each tick and at the end (nothing stays queued).

Both populations are seeded with ``bulk_create`` in one database, in the steady state of a schedule every 10
minutes: incrementals spread over the last 10 minutes (about a tenth due a tick), the nightly full done, 1 %
never synced (a full due), and 5 % paused, 3 % with a refused key, 3 % backing off (waiting for a later
time), 1 % whose wait is over (sent again each tick), 5 % queued and 5 % running. Coverage of the windowed
resources was re-read within the last 40 minutes, so no re-read slice is due (the slices are the work of
another task, ``sync.reread_dispatch``, not measured here).
The other population's accounts are paused while one is measured; each tick's runs are deleted and the
schedules restored before the next one, so every tick does the same work. Ticks of the two sizes alternate
(``--rounds``); the figures are medians. Queries are counted on one more tick of each size.

Prints ms per tick and queries per tick at both sizes, ending with
``RATIO dispatcher_ms_per_tick=<ms at --accounts> goal=1000`` and
``RATIO dispatcher_queries_per_tick=<n at --accounts> goal=<n at --baseline-accounts>``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

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

#: Share of accounts in each state (the rest: steady, incremental due when its 10 minutes are over).
MIX = {"never_synced": 0.01, "paused": 0.05, "refused": 0.03, "backing_off": 0.03, "wait_over": 0.01,
       "queued": 0.05, "running": 0.05}  # fmt: skip


def setup_django() -> None:
    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)


def _state(rng: random.Random) -> str:
    draw = rng.random()
    for state, share in MIX.items():
        if draw < share:
            return state
        draw -= share
    return "steady"


class Population:
    """``accounts`` accounts over ``agencies`` agencies, seeded with bulk_create; toggled on and off."""

    def __init__(self, name: str, accounts: int, agencies: int, now: datetime, seed: int) -> None:
        from apps.credentials.models import Credential
        from apps.sync.models import SyncKind, SyncRun, SyncSchedule, SyncState, SyncStatus
        from apps.sync.reread import _floor, windowed_resources
        from apps.tenancy.models import Agency, ClientAccount

        rng = random.Random(seed)
        self.name, self.now = name, now
        owners = Agency.objects.bulk_create(
            [Agency(name=f"{name} agency {i}", slug=f"{name}-agency-{i}") for i in range(agencies)]
        )
        keys = Credential.objects.bulk_create(
            [Credential(agency=a, name=f"{a.name} key", api_key=f"{name}-key-{i:020d}") for i, a in enumerate(owners)]
        )
        # every state at least once (so the baseline's tick takes every branch), then drawn by MIX
        self.states = [*MIX, "steady_due"][:accounts]
        self.states += [_state(rng) for _ in range(accounts - len(self.states))]
        made = ClientAccount.objects.bulk_create([
            ClientAccount(agency=owners[i % agencies], credential=keys[i % agencies], name=f"{name} client {i}",
                          callrail_account_id=f"ACC{seed:08x}{i:024x}", time_zone="America/New_York",
                          connection_error="CallRail refused the key" if state == "refused" else "")
            for i, state in enumerate(self.states)
        ])  # fmt: skip
        self.ids = [a.pk for a in made]
        schedules, states, runs = [], [], []
        for account, state in zip(made, self.states, strict=True):
            last_incremental = now - timedelta(seconds=660 if state == "steady_due" else rng.uniform(0, 660))
            never = state == "never_synced"
            schedules.append(SyncSchedule(
                client_account=account, last_incremental_at=None if never else last_incremental,
                last_full_at=None if never else now - timedelta(hours=rng.uniform(1, 20)), last_reread_at=now,
            ))  # fmt: skip
            if not never:
                floor, top = _floor(account, now), now - timedelta(minutes=5)
                read_at = now - timedelta(minutes=rng.uniform(0, 40))
                states += [
                    SyncState(client_account=account, resource=r.name, cursor=top, last_success_at=top,
                              coverage=[[floor.isoformat(), top.isoformat(), read_at.isoformat()]])
                    for r in windowed_resources()
                ]  # fmt: skip
            run = {"client_account": account, "kind": SyncKind.INCREMENTAL, "resources": ["calls"]}
            if state == "backing_off":
                runs.append(SyncRun(**run, status=SyncStatus.WAITING, not_before=now + timedelta(minutes=3)))
            elif state == "wait_over":
                runs.append(SyncRun(**run, status=SyncStatus.WAITING, not_before=now - timedelta(seconds=5)))
            elif state == "queued":
                runs.append(SyncRun(**run, queued_at=now - timedelta(seconds=30)))
            elif state == "running":
                runs.append(SyncRun(**run, status=SyncStatus.RUNNING, queued_at=now - timedelta(seconds=40),
                                    started_at=now - timedelta(seconds=30), heartbeat_at=now - timedelta(seconds=5)))
        reason = "demo-data"
        SyncSchedule.objects.unscoped(reason=reason).bulk_create(schedules)
        SyncState.objects.unscoped(reason=reason).bulk_create(states)
        self.seed_runs = {r.pk for r in SyncRun.objects.unscoped(reason=reason).bulk_create(runs)}
        self.schedules = list(SyncSchedule.objects.unscoped(reason=reason).filter(client_account_id__in=self.ids))

    def switch(self, on: bool) -> None:
        from apps.tenancy.models import ClientAccount

        accounts = ClientAccount.objects.unscoped(reason="demo-data").filter(pk__in=self.ids)
        accounts.update(sync_enabled=False)
        if on:
            paused = [pk for pk, state in zip(self.ids, self.states, strict=True) if state == "paused"]
            accounts.exclude(pk__in=paused).update(sync_enabled=True)

    def reset(self) -> None:
        """Undo a tick: its runs deleted, the schedules as seeded, nothing left in the broker."""
        from apps.sync.models import SyncRun, SyncSchedule

        SyncRun.objects.unscoped(reason="demo-data").filter(client_account_id__in=self.ids).exclude(
            pk__in=self.seed_runs
        ).delete()  # fmt: skip
        SyncSchedule.objects.unscoped(reason="demo-data").bulk_update(
            self.schedules, ["last_incremental_at", "last_full_at", "last_reread_at"], batch_size=500
        )
        remove_redis_keys()


def tick(population: Population) -> tuple[float, int]:
    """One dispatcher tick at the population's instant: milliseconds and the runs it queued."""
    from apps.sync.services import sync_dispatch

    started = time.perf_counter()
    queued = sync_dispatch(now=population.now)
    elapsed = (time.perf_counter() - started) * 1000
    population.reset()
    return elapsed, len(queued)


def count_queries(population: Population) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.sync.services import sync_dispatch

    with CaptureQueriesContext(connection) as queries:
        sync_dispatch(now=population.now)
    population.reset()
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--baseline-accounts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one tick at --accounts")
    args = parser.parse_args()
    require_own_redis_prefix()
    print(f"dispatcher benchmark: {args.accounts:,} accounts over {args.agencies} agencies against "
          f"{args.baseline_accounts}; {load_average()}")  # fmt: skip
    with bench_database():
        setup_django()
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        try:
            now = timezone.now().replace(second=0, microsecond=0)
            seeded = time.perf_counter()
            big = Population("big", args.accounts, args.agencies, now, seed=1)
            small = Population("small", args.baseline_accounts, max(1, args.baseline_accounts // 20), now, seed=2)
            print(f"seeded in {time.perf_counter() - seeded:.1f} s")
            ms: dict[str, list[float]] = {"big": [], "small": []}
            runs: dict[str, int] = {}
            for population in (big, small):  # warm-up (connections, imports), not measured
                population.switch(True)
                tick(population)
                population.switch(False)
            for _ in range(args.rounds):
                for population in (small, big):
                    population.switch(True)
                    elapsed, runs[population.name] = tick(population)
                    ms[population.name].append(elapsed)
                    population.switch(False)
            if args.profile:
                import cProfile
                import pstats

                big.switch(True)
                with cProfile.Profile() as profile:
                    tick(big)
                big.switch(False)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(r"apps/|celery/app/task", 30)
            queries = {}
            for population in (small, big):
                population.switch(True)
                queries[population.name] = count_queries(population)
                population.switch(False)
        finally:
            from django.db import connections

            connections.close_all()
            remove_redis_keys()
    for name, size in (("small", args.baseline_accounts), ("big", args.accounts)):
        print(f"{size:>6} accounts: {median(ms[name]):8.1f} ms a tick (median of {args.rounds}; "
              f"{', '.join(f'{v:.0f}' for v in ms[name])}), {queries[name]} queries, {runs[name]} runs queued")
    print(load_average())
    print(ratio_line("dispatcher_ms_per_tick", median(ms["big"]), "1000"))
    print(ratio_line("dispatcher_queries_per_tick", str(queries["big"]), str(queries["small"])))


if __name__ == "__main__":
    main()
