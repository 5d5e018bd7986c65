"""Celery tasks of the pull sync: thin wrappers that load ids and call ``services``.

Routed to the ``sync`` queue by name. Retries follow CONVENTIONS C6: transient CallRail errors and a busy
account lock retry with the countdown they name (never a sleep); waits longer than
``SYNC_MAX_COUNTDOWN`` leave the run ``waiting`` with ``not_before`` for the beat dispatcher to re-send.
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.callrail.errors import Transient

logger = logging.getLogger(__name__)


@shared_task(name="sync.run_account", bind=True, max_retries=None)
def sync_run_task(self, *, client_account_id: int, sync_run_id: int) -> str:
    from .engine import setting
    from .models import SyncRun
    from .services import LockBusy, sync_run_execute, sync_run_give_up

    run = SyncRun.objects.for_account(client_account_id).filter(pk=sync_run_id).first()
    if run is None:
        logger.warning("sync run %s of account %s no longer exists", sync_run_id, client_account_id)
        return "missing"
    max_countdown = float(setting("SYNC_MAX_COUNTDOWN", 300))
    try:
        run = sync_run_execute(run=run)
    except LockBusy as exc:
        raise self.retry(countdown=min(exc.retry_after, max_countdown), max_retries=None) from None
    except Transient as exc:
        countdown = float(exc.retry_after or min(2 ** min(self.request.retries, 8), max_countdown))
        if self.request.retries >= int(setting("SYNC_MAX_RETRIES", 25)):
            sync_run_give_up(run=run, message=f"gave up after {self.request.retries} retries: {exc}")
            return "failed"
        if countdown > max_countdown:
            return "waiting"  # not_before is on the run; the dispatcher re-sends it
        raise self.retry(countdown=countdown, max_retries=None) from None
    return run.status


@shared_task(name="sync.dispatch", bind=True)
def sync_dispatch_task(self) -> int:
    from .services import sync_dispatch

    return len(sync_dispatch())
