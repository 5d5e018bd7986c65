"""manage.py sync_account ACC… [--agency SLUG] [--full | --reread] [--resource NAME] [--wait]

Queues a sync through the same Celery path as the schedule (a worker must be running). ``--reread`` runs one
round of the continuous re-read at once (for an account within a round's budget: every call, form
submission and text conversation of the retention window). With --wait it first checks that a worker takes
the ``sync`` queue (else it says so and exits non-zero), then blocks until every queued run ends, prints each
run's summary, and exits non-zero if one failed.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.core.operator import accounts_named, add_account_arguments, require_worker
from apps.sync.models import FINISHED_STATUSES, SyncKind, SyncRun, SyncStatus, SyncTrigger
from apps.sync.reread import describe_plan, reread_plan, reread_round
from apps.sync.resources import resource_names
from apps.sync.services import sync_request

#: While --wait waits, how often it checks that a worker still takes the queue (seconds).
WORKER_CHECK_INTERVAL = 30.0


class Command(BaseCommand):
    help = "Queue a CallRail sync of one or more client accounts (by CallRail account id, ACC…)."

    def add_arguments(self, parser):
        add_account_arguments(parser)
        parser.add_argument("--full", action="store_true", help="Full sync (default: incremental).")
        parser.add_argument(
            "--reread", action="store_true",
            help="One round of the continuous re-read now (within a round's budget: every record of the window).",
        )  # fmt: skip
        parser.add_argument(
            "--resource", action="append", choices=resource_names(), metavar="NAME",
            help=f"Only this resource (repeatable): {', '.join(resource_names())}.",
        )  # fmt: skip
        parser.add_argument("--wait", action="store_true", help="Block until the run(s) end; print the summary.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits at most.")

    def handle(self, *args, **options):
        accounts = accounts_named(options["accounts"], options["agency"])
        if options["wait"]:
            require_worker("sync")
        kind = SyncKind.FULL if options["full"] else SyncKind.REREAD if options["reread"] else SyncKind.INCREMENTAL
        runs = []
        for account in accounts:
            windows = None
            if kind == SyncKind.REREAD:
                plan = reread_plan(account, now=timezone.now())
                windows = reread_round(account, now=timezone.now(), plan=plan)
                if options["resource"]:
                    windows = {name: w for name, w in windows.items() if name in options["resource"]}
                if not windows:
                    raise CommandError(f"{account.name}: nothing to re-read (no windowed resource synced yet)")
                self.stdout.write(f"{account.name}: {describe_plan(plan)}")
            run, created = sync_request(
                account=account, kind=kind, resources=options["resource"] or (list(windows) if windows else None),
                trigger=SyncTrigger.COMMAND, windows=windows,
            )  # fmt: skip
            verb = "queued" if created else "already active:"
            label = f"{account.agency.slug}/{account.name} ({account.callrail_account_id})"
            self.stdout.write(f"{label}: {verb} sync #{run.pk} {run.kind}")
            runs.append(run)
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        next_worker_check = time.monotonic() + WORKER_CHECK_INTERVAL
        pending = {run.pk: run for run in runs}
        failed = False
        while pending:
            if time.monotonic() > deadline:
                raise CommandError(f"Timed out at {timezone.now():%H:%M:%S} waiting for run(s) {sorted(pending)}")
            for pk, run in list(pending.items()):
                run = SyncRun.objects.for_account(run.client_account_id).get(pk=pk)
                if run.status in FINISHED_STATUSES:
                    del pending[pk]
                    self.stdout.write(run.summary())
                    failed |= run.status in (SyncStatus.FAILED, SyncStatus.INTERRUPTED)
            if pending and time.monotonic() > next_worker_check:
                require_worker("sync")  # the worker went away meanwhile: say so rather than wait out the timeout
                next_worker_check = time.monotonic() + WORKER_CHECK_INTERVAL
            if pending:
                time.sleep(0.5)
        if failed:
            raise CommandError("A sync run failed.")
