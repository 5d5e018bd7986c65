"""Celery tasks of the pull sync: thin wrappers that load ids and call ``services``.

Routed to the ``sync`` queue by name. Retries follow CONVENTIONS C6: transient CallRail errors and a busy
account lock retry with the countdown they name (never a sleep); waits longer than
``SYNC_MAX_COUNTDOWN`` leave the run ``waiting`` with ``not_before`` for the beat dispatcher to re-send.
Only failures count towards ``SYNC_MAX_RETRIES``: a wait for the budget is the budget doing its work (three
accounts sharing one key's hour may each wait dozens of times), never a reason to give a run up.
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.callrail.errors import Transient

logger = logging.getLogger(__name__)


@shared_task(name="sync.run_account", bind=True, max_retries=None)
def sync_run_task(self, *, client_account_id: int, sync_run_id: int, failures: int = 0) -> str:
    from apps.callrail.errors import BudgetExhausted

    from .engine import SliceOver, setting
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
    except SliceOver:  # to the tail of the queue and priority it came from (no countdown: an eta skips the queue)
        sent = self.request.delivery_info or {}
        options = {"queue": sent.get("routing_key"), "priority": sent.get("priority")}
        kwargs = {"client_account_id": client_account_id, "sync_run_id": sync_run_id, "failures": failures}
        sync_run_task.apply_async(kwargs=kwargs, **{k: v for k, v in options.items() if v is not None})
        return "sliced"
    except Transient as exc:
        if not isinstance(exc, BudgetExhausted):
            failures += 1
        countdown = float(exc.retry_after or min(2 ** min(failures, 8), max_countdown))
        if failures > int(setting("SYNC_MAX_RETRIES", 25)):
            sync_run_give_up(run=run, message=f"gave up after {failures - 1} retries: {exc}")
            return "failed"
        if countdown > max_countdown:
            return "waiting"  # not_before is on the run; the dispatcher re-sends it
        kwargs = {"client_account_id": client_account_id, "sync_run_id": sync_run_id, "failures": failures}
        raise self.retry(countdown=countdown, max_retries=None, kwargs=kwargs) from None
    return run.status


@shared_task(name="sync.dispatch", bind=True)
def sync_dispatch_task(self) -> int:
    from .services import sync_dispatch

    return len(sync_dispatch())


@shared_task(name="sync.reread_dispatch", bind=True)
def sync_reread_dispatch_task(self) -> int:
    from .services import sync_reread_dispatch

    return len(sync_reread_dispatch())
