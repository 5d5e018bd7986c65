"""Reads of mirrored integrations as a given person may see them."""

from __future__ import annotations

import re
from typing import Any

#: ``…/hooks/<token>/<event>/``: the portal's webhook endpoint token inside a Webhooks integration's URLs.
_HOOK_TOKEN = re.compile(r"(/hooks/)[A-Za-z0-9_-]{20,64}(?=/)")
HIDDEN = "…"


def webhook_tokens_hidden(value: Any) -> Any:
    """A copy of an integration's config (or payload) with the portal's webhook endpoint tokens hidden."""
    if isinstance(value, dict):
        return {key: webhook_tokens_hidden(item) for key, item in value.items()}
    if isinstance(value, list):
        return [webhook_tokens_hidden(item) for item in value]
    if isinstance(value, str):
        return _HOOK_TOKEN.sub(rf"\g<1>{HIDDEN}", value)
    return value


def integration_seen_by(value: Any, *, user: Any, agency: Any) -> Any:
    """What of an integration's config or payload ``user`` may see: the endpoint token (the account's part of
    every webhook URL) only for the agency's staff, who manage webhooks; clients see the URLs without it."""
    from apps.tenancy.selectors import user_can_sync

    return value if user_can_sync(user=user, agency=agency) else webhook_tokens_hidden(value)


def configured_events(integration: Any) -> list[str]:
    """The events (or settings) an integration's config sets, without their URLs (lists and CSV)."""
    return [key for key, value in (integration.config or {}).items() if value]
