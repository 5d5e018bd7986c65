"""A conversation's thread as people read it: oldest first, newest last, grouped by day in the account's zone.

The stored messages (read from the conversation endpoint) are joined by the conversation's
``recent_messages`` from the list payload that are not stored yet (they carry no id; a message is the same
when its direction, time to the second and text agree), so the newest messages show even before the whole
thread has been read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from apps.portal.formatting import local

from .models import TextConversation, TextMessage
from .services import _when

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ThreadMessage:
    direction: str  # "incoming" (the customer wrote) or "outgoing" (the business wrote)
    content: str
    at: datetime | None
    status: str | None = None  # outgoing: "sent" / "error"
    sender: str = ""  # the CallRail user who sent an outgoing message

    @property
    def incoming(self) -> bool:
        return self.direction == "incoming"

    @property
    def failed(self) -> bool:
        return (self.status or "") in ("error", "failed")

    def key(self) -> tuple:
        return (self.direction, self.at.replace(microsecond=0) if self.at else None, self.content.strip())


@dataclass(frozen=True)
class Thread:
    days: list[tuple[date | None, list[ThreadMessage]]]
    count: int
    complete: bool  # the whole thread has been read from CallRail since its last message


def conversation_thread(*, conversation: TextConversation, account: Any) -> Thread:
    stored = [
        ThreadMessage(m.direction, m.content, m.sent_at, m.status, m.sender_name or "")
        for m in TextMessage.objects.for_account(account).filter(conversation=conversation).order_by("sent_at", "pk")
    ]
    known = {m.key() for m in stored}
    recent = [
        ThreadMessage(str(m.get("direction") or ""), str(m.get("content") or ""), _when(m.get("created_at")))
        for m in (conversation.payload or {}).get("recent_messages") or []
        if isinstance(m, dict)
    ]
    messages = stored + [m for m in recent if m.key() not in known]
    messages.sort(key=lambda m: (m.at is None, m.at or EPOCH))
    days = [
        (day, list(group))
        for day, group in groupby(messages, key=lambda m: local(m.at, account).date() if m.at else None)
    ]
    return Thread(days=days, count=len(messages), complete=not conversation.thread_is_stale)
