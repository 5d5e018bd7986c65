"""Writes of the portal's own account administration (not of mirrored CallRail data)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.audit.services import audit_record
from apps.tenancy.models import ClientAccount


def client_account_sync_set(*, account: ClientAccount, enabled: bool, actor: Any = None) -> ClientAccount:
    """Pause (``enabled=False``) or resume the scheduled sync of an account. Audited; a no-op if unchanged."""
    if account.sync_enabled == enabled:
        return account
    with transaction.atomic():
        before = {"sync_enabled": account.sync_enabled}
        account.sync_enabled = enabled
        account.save(update_fields=["sync_enabled"])
        audit_record(
            agency=account.agency, client_account=account, action="client_account.sync_resume" if enabled
            else "client_account.sync_pause", actor=actor, obj=account, before=before, after={"sync_enabled": enabled},
        )  # fmt: skip
    return account
