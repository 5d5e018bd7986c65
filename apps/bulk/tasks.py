"""Celery task of bulk actions (routed to the ``push`` queue by its ``bulk.*`` name): a thin wrapper."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="bulk.run_job", acks_late=True)
def bulk_run_job_task(*, client_account_id: int, job_id: int) -> dict:
    """Run one bulk job. The person who started it is the audit actor (carried in the task's headers)."""
    from .models import BulkJob
    from .services import bulk_job_run

    job = (
        BulkJob.objects.for_account(client_account_id)
        .select_related("client_account", "agency")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        logger.warning("bulk: job %s of account %s no longer exists", job_id, client_account_id)
        return {"missing": True}
    job = bulk_job_run(job=job)
    return {"status": job.status, "done": job.done, "succeeded": job.succeeded, "failed": job.failed}
