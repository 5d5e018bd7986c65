"""Beat jobs of the data lifecycle: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="operations.enforce_retention", ignore_result=True)
def enforce_retention_task() -> int:
    """Nightly: delete mirrored records past each agency's retention. Returns the rows deleted."""
    result = services.retention_enforce()
    return sum(sum(counts.values()) for counts in result.values())


@shared_task(name="operations.delete_due_accounts", ignore_result=True)
def delete_due_accounts_task() -> list[int]:
    """Hourly: remove client accounts whose deletion grace period is over."""
    return services.client_account_delete_due()
