from __future__ import annotations

from typing import Any

from django.db import models

from .context import AuditContext, current_audit_context
from .models import AuditEvent


def audit_record(
    *,
    agency: Any,
    action: str,
    actor: Any = None,
    obj: models.Model | None = None,
    client_account: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    via: str | None = None,
    impersonator: Any = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event. Called by services inside their transaction, so the log matches the data.

    What the caller leaves out (the person, how they acted, their address) comes from the audit context:
    the current request, or in a Celery task the request that queued it.
    """
    context = current_audit_context() or AuditContext(via=AuditEvent.Via.COMMAND)
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        agency=agency,
        client_account_id=getattr(client_account, "pk", client_account),
        actor_id=actor_id if actor is not None else context.actor_id,
        impersonator_id=getattr(impersonator, "pk", None) or context.impersonator_id,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before or {},
        after=after or {},
        via=via or context.via,
        ip_address=ip_address or context.ip_address,
    )
