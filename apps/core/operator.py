"""What the operator commands share (``sync_account``, ``push_outbox``, ``export_account``): one rule for naming
client accounts, and the check that a Celery worker takes the queue a command is about to wait on.

Naming accounts: a CallRail account id (``ACC…``) or the portal's account id. A CallRail account may be
connected in several agencies (each has its own client account for it); then the command acts on none of them
until ``--agency SLUG`` says which, with the same message in every command.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from apps.tenancy.models import Agency, ClientAccount

AGENCY_HELP = "agency slug: required when a CallRail account is connected in several agencies"
ACCOUNTS_HELP = "CallRail account ids (ACC…) or the portal's account ids"


def add_account_arguments(parser: CommandParser) -> None:
    parser.add_argument("accounts", nargs="+", metavar="ACC", help=ACCOUNTS_HELP)
    parser.add_argument("--agency", metavar="SLUG", help=AGENCY_HELP)


def accounts_named(refs: Iterable[str], agency: str | None = None) -> list[ClientAccount]:
    """The client accounts the operator named, in the order named; CommandError names what is unknown or
    ambiguous (nothing is acted on unless every name resolves to exactly one account)."""
    everything = ClientAccount.objects.unscoped(reason="operator-command").select_related("agency")
    if agency:
        if not Agency.objects.filter(slug=agency).exists():
            raise CommandError(f"No agency {agency!r}.")
        everything = everything.filter(agency__slug=agency)
    found: list[ClientAccount] = []
    missing: list[str] = []
    for ref in dict.fromkeys(refs):
        matches = list(everything.filter(**({"pk": int(ref)} if ref.isdigit() else {"callrail_account_id": ref})))
        if not matches:
            missing.append(ref)
        elif len(matches) > 1:
            slugs = ", ".join(sorted(a.agency.slug for a in matches))
            raise CommandError(f"{ref} is connected in several agencies ({slugs}): name one with --agency.")
        else:
            found.extend(matches)
    if missing:
        where = f" in agency {agency!r}" if agency else ""
        raise CommandError(f"No client account{where} for: {', '.join(missing)}")
    return found


def workers_taking(queue: str, timeout: float | None = None) -> list[str]:
    """Names of the Celery workers that answer and consume ``queue`` (asked with a broadcast, ``timeout`` s)."""
    from agency_portal.celery import app

    timeout = max(float(getattr(settings, "WORKER_PING_TIMEOUT", 1.0)), 3.0) if timeout is None else timeout
    replies: dict[str, Any] = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(name for name, queues in replies.items() if any(q.get("name") == queue for q in queues or ()))


def require_worker(queue: str) -> None:
    """CommandError unless a worker takes ``queue``: a command never waits in silence for work nobody does."""
    if not workers_taking(queue):
        raise CommandError(
            f"No Celery worker answers on the {queue!r} queue, so nothing would run: the work stays queued until "
            f"one starts (e.g. `celery -A agency_portal worker -Q {','.join(settings.CELERY_TASK_QUEUES_NAMES)}`)."
        )
