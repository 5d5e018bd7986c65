"""manage.py push_outbox ACC… [--agency SLUG] [--wait]

Drains the accounts' outboxes now through the same Celery path as an edit (a worker must be running). With
--wait it first checks that a worker takes the ``push`` queue (else it says so and exits non-zero), then
blocks until nothing is left to send (only done, failed or conflicting entries remain) and prints what
happened; it exits non-zero when an entry failed or is in conflict.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from apps.core.operator import accounts_named, add_account_arguments, require_worker
from apps.push.models import OPEN_STATUSES, EntryStatus, OutboxEntry
from apps.push.selectors import outbox_counts, outbox_is_settled
from apps.push.services import push_drain_now

#: While --wait waits, how often it checks that a worker still takes the queue (seconds).
WORKER_CHECK_INTERVAL = 30.0


class Command(BaseCommand):
    help = "Push the outbox of one or more client accounts (by CallRail account id, ACC…) to CallRail now."

    def add_arguments(self, parser):
        add_account_arguments(parser)
        parser.add_argument("--wait", action="store_true", help="Block until the outbox is settled; print a summary.")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds --wait waits at most.")

    def handle(self, *args, **options):
        accounts = accounts_named(options["accounts"], options["agency"])
        if options["wait"]:
            require_worker("push")
        waiting: dict[int, set[int]] = {}  # the entries this drain is to send, per account
        for account in accounts:
            waiting[account.pk] = set(
                OutboxEntry.objects.for_account(account).filter(status__in=OPEN_STATUSES).values_list("pk", flat=True)
            )
            counts = outbox_counts(account)
            push_drain_now(account=account)
            self.stdout.write(
                f"{account.agency.slug}/{account.name} ({account.callrail_account_id}): drain queued, "
                f"{counts['pending']} waiting"
            )
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        next_worker_check = time.monotonic() + WORKER_CHECK_INTERVAL
        left = list(accounts)
        while left:
            left = [a for a in left if not outbox_is_settled(a)]
            if left and time.monotonic() > deadline:
                raise CommandError(f"Timed out with entries still waiting for {', '.join(a.name for a in left)}")
            if left and time.monotonic() > next_worker_check:
                require_worker("push")  # the worker went away meanwhile: say so rather than wait out the timeout
                next_worker_check = time.monotonic() + WORKER_CHECK_INTERVAL
            if left:
                time.sleep(0.5)
        bad = False
        for account in accounts:
            counts = outbox_counts(account)
            drained = OutboxEntry.objects.for_account(account).filter(pk__in=waiting[account.pk])
            done = drained.filter(status=EntryStatus.DONE).count()
            self.stdout.write(
                f"{account.name}: {done} sent, {counts['failed']} failed, {counts['conflict']} in conflict"
            )
            for entry in OutboxEntry.objects.for_account(account).filter(
                status__in=(EntryStatus.FAILED, EntryStatus.CONFLICT)
            ):
                self.stdout.write(f"  #{entry.pk} {entry}: {entry.message}")
                bad = True
        if bad:
            raise CommandError("Some edits did not reach CallRail (failed or in conflict).")
