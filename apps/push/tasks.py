"""Celery tasks of the push: thin wrappers (routed to the ``push`` queue by their ``push.*`` names)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="push.drain_account", bind=True, acks_late=True)
def push_drain_account_task(self, *, client_account_id: int) -> dict:
    """Drain one account's outbox; re-enqueue itself with a countdown when something must wait (never sleeps)."""
    from apps.tenancy.models import ClientAccount

    from .engine import drain_account, setting

    account = ClientAccount.objects.for_account(client_account_id).first()
    if account is None:
        logger.warning("push: client account %s no longer exists", client_account_id)
        return {"missing": True}
    result = drain_account(account)
    if result.retry_in is not None:
        countdown = min(result.retry_in, float(setting("PUSH_MAX_COUNTDOWN", 300)))
        queue = (self.request.delivery_info or {}).get("routing_key")  # back on the queue it came from
        push_drain_account_task.apply_async(
            kwargs={"client_account_id": client_account_id}, countdown=countdown, **({"queue": queue} if queue else {})
        )
    return {"sent": result.sent, "done": result.done, "failed": result.failed, "conflicts": result.conflicts,
            "busy": result.busy, "retry_in": result.retry_in}  # fmt: skip


@shared_task(name="push.sweep", bind=True)
def push_sweep_task(self) -> int:
    """Beat: re-send drains for accounts with open entries (a lost message, a wait longer than a countdown)."""
    from .selectors import accounts_with_open_entries

    ids = accounts_with_open_entries()
    for account_id in ids:
        push_drain_account_task.apply_async(kwargs={"client_account_id": account_id})
    return len(ids)
