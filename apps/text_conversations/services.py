"""Reading a conversation's messages from CallRail into the mirror.

The list endpoint carries each conversation's two most recent messages (``recent_messages``, kept in the
conversation's payload by the pull, without ids); the conversation endpoint lists every message, newest
first, with ids, offset-paginated. :func:`conversation_thread_refresh` reads the latter (on the interactive
lane: someone is reading the thread) and upserts each message by its CallRail id; nothing is deleted, so a
message CallRail stops listing stays in the thread.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.callrail.client import client_for_account

from .models import TextConversation, TextMessage

UPDATED = ["conversation", "payload", "payload_hash", "last_seen_at", "direction", "content", "sent_at", "status",
           "sender_name", "sender_id"]  # fmt: skip
MAX_PAGES = 20  # 20 pages of 250: a thread of 5,000 messages; older ones stay unread


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = parse_datetime(value)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[:limit] if limit else text


def conversation_thread_refresh(*, conversation: TextConversation, account: Any, lane: str = "interactive") -> int:
    """Read the conversation's messages from CallRail and store them; returns how many CallRail listed.

    Raises the CallRail client's errors (``BudgetExhausted``, ``NotFound``…) for the caller to explain.
    """
    client = client_for_account(account, lane=lane)
    path = f"text-messages/{conversation.callrail_id}.json"
    listed: list[dict[str, Any]] = []
    for number, page in enumerate(client.paginate(path, list_key="messages", lane=lane), start=1):
        listed += [m for m in page.records if isinstance(m, dict) and m.get("id") not in (None, "")]
        if number >= MAX_PAGES:
            break
    now = timezone.now()
    rows = []
    for message in listed:
        blob = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
        user = message.get("user") if isinstance(message.get("user"), dict) else {}
        rows.append(
            TextMessage(
                client_account_id=account.pk, conversation=conversation, callrail_id=str(message["id"])[:64],
                payload=message, payload_hash=hashlib.sha1(blob, usedforsecurity=False).hexdigest(),
                first_seen_at=now, last_seen_at=now, changed_at=now,
                direction=_text(message.get("direction"), 10) or "", content=_text(message.get("content")) or "",
                sent_at=_when(message.get("created_at")), status=_text(message.get("status"), 20),
                sender_name=_text(user.get("name"), 255), sender_id=_text(user.get("id"), 64),
            )
        )  # fmt: skip
    with transaction.atomic():
        if rows:
            TextMessage.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["client_account", "callrail_id"],
                update_fields=UPDATED,
            )
        TextConversation.objects.for_account(account).filter(pk=conversation.pk).update(thread_synced_at=now)
    conversation.thread_synced_at = now
    return len(listed)
