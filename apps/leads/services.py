"""Assigning a lead of the missed-lead inbox to a member of the agency (audited)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.audit.services import audit_record

from .models import LeadAssignment


def lead_assign(*, account: Any, kind: str, row: Any, assignee: Any, actor: Any) -> LeadAssignment | None:
    """Give the lead to ``assignee`` (None: take it back from whoever had it)."""
    with transaction.atomic():
        current = LeadAssignment.objects.for_account(account).filter(kind=kind, object_pk=row.pk).first()
        before = {"assignee": str(current.assignee) if current else None}
        if assignee is None:
            if current is not None:
                current.delete()
            result = None
        else:
            result, _ = LeadAssignment.objects.for_account(account).update_or_create(
                client_account=account, kind=kind, object_pk=row.pk,
                defaults={"assignee": assignee, "assigned_by": actor if getattr(actor, "is_authenticated", False)
                          else None},
            )  # fmt: skip
        audit_record(agency=account.agency, client_account=account, action="lead.assign", actor=actor, obj=row,
                     before=before, after={"assignee": str(assignee) if assignee else None})  # fmt: skip
    return result
