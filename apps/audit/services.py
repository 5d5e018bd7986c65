from __future__ import annotations

from typing import Any

from django.db import models

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
    via: str = AuditEvent.Via.WEB,
    impersonator: Any = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event. Called by services inside their transaction, so the log matches the data."""
    return AuditEvent.objects.create(
        agency=agency,
        client_account_id=getattr(client_account, "pk", client_account),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        impersonator=impersonator,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before or {},
        after=after or {},
        via=via,
        ip_address=ip_address,
    )
