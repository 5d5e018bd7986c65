"""Celery tasks applying received webhooks to the mirror (routed to the ``webhooks`` queue by name): the
hand-off list drained a batch at a time, one event retried on its own, the sweeper, the log's pruning."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.callrail.errors import Transient

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
#: Longest countdown a look-up waiting for budget is retried with (the event stays verified meanwhile).
MAX_COUNTDOWN = 300.0


@shared_task(name="webhooks.apply_event", bind=True, max_retries=MAX_RETRIES)
def webhook_apply_event_task(self, *, client_account_id: int, event_id: int) -> str:
    from .models import WebhookEvent
    from .services import webhook_event_apply, webhook_event_fail

    event = WebhookEvent.objects.for_account(client_account_id).filter(pk=event_id).first()
    if event is None:
        logger.warning("webhook event %s of account %s no longer exists", event_id, client_account_id)
        return "missing"
    try:
        return webhook_event_apply(event=event).status
    except Transient as exc:  # a look-up found no budget (or CallRail busy): retried when it returns, never lost
        countdown = min(float(exc.retry_after or 2 ** min(self.request.retries, 8)), MAX_COUNTDOWN)
        raise self.retry(countdown=countdown, max_retries=None) from None
    except Exception as exc:  # a database hiccup or a bug: retried, then recorded on the event
        logger.exception("applying webhook event %s of account %s failed", event_id, client_account_id)
        if self.request.retries >= MAX_RETRIES:
            webhook_event_fail(event=event, message=f"{type(exc).__name__}: {exc}")
            return "failed"
        raise self.retry(countdown=2**self.request.retries) from None


@shared_task(name="webhooks.apply_pending", bind=True)
def webhook_apply_pending_task(self) -> int:
    """Apply the accepted deliveries handed off to the worker (``services.webhook_hand_off``)."""
    from .services import webhook_pending_apply

    return webhook_pending_apply()


@shared_task(name="webhooks.sweep", bind=True)
def webhook_events_sweep_task(self) -> int:
    """Every minute: accepted deliveries whose hand-off was lost are handed off again."""
    from .services import webhook_events_sweep

    return webhook_events_sweep()


@shared_task(name="webhooks.prune", bind=True)
def webhook_events_prune_task(self) -> int:
    from .services import webhook_events_prune

    return webhook_events_prune()
