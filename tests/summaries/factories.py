"""Test helpers for portal summaries (also used by the tenancy isolation matrix)."""

from __future__ import annotations

from typing import Any

from apps.summaries.models import PortalSummary
from apps.summaries.services import summary_save


def make_summary(
    account: Any, *, emails: tuple[str, ...] = ("reader@client.test",), users=(), **fields
) -> PortalSummary:
    fields.setdefault("frequency", "weekly")
    return summary_save(account=account, actor=None, emails=list(emails), users=list(users), **fields)


def foreign_summary(tenant: Any) -> PortalSummary:
    """A summary of the tenant's main account (the isolation matrix aims `summary_pk` at it)."""
    existing = PortalSummary.objects.for_account(tenant.account).first()
    return existing or make_summary(tenant.account, emails=(f"boss@{tenant.agency.slug}.test",))
