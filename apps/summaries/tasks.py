"""Celery tasks of portal summaries (``email.*``: routed to the ``email`` queue). Thin: services do the work."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="email.summaries_dispatch")
def summaries_dispatch_task() -> int:
    """Beat: queue every summary whose send time has come (safe to run twice: deliveries are unique)."""
    from .services import summary_dispatch

    return len(summary_dispatch())


@shared_task(name="email.summary_send", bind=True, max_retries=None, acks_late=True)
def summary_send_task(self, *, client_account_id: int, delivery_id: int) -> str:
    """Send one delivery at most once; an SMTP failure worth retrying comes back with a countdown."""
    from .services import delivery_send

    outcome = delivery_send(account_id=client_account_id, delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status
