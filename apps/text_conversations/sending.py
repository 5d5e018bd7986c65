"""Sending texts from the portal: a reply in a conversation, or "text back" to a call or form lead.

``text_send`` refuses, before anything is saved or queued, what CallRail would refuse or must not receive:
a number that opted out (the customer's last keyword was STOP, UNSUBSCRIBE, …), a text over CallRail's 140
characters, a sender number that cannot send texts (not a tracking number of the lead's company, SMS off,
toll-free, disabled), and a send the account's SMS budget cannot grant now (with when it frees up). What it
accepts is saved with its outbox entry in one transaction (``apps/push``, write ``text_sends``) and sent by the
push drain under the account's **SMS** limit class (``sms_send``, never the general one): pending at once,
then sent, or failed with CallRail's message (the text stays, so the draft is kept).

A text is never sent twice: an entry found in flight by the next drain (the worker died between CallRail's
answer and the local write) is first looked for in the conversation upstream (``find_sent_text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.callrail.client import client_for_account
from apps.push.models import OPEN_STATUSES, EntryStatus, Operation, OutboxEntry
from apps.push.services import PushRefused, outbox_enqueue
from apps.push.writes import Write, cid, register_write

from .models import OutgoingText, TextConversation, TextMessage
from .services import _when

#: CallRail: "This string must be limited to 140 characters."
MAX_TEXT_LENGTH = 140
#: The keywords CallRail names (STOP, CANCEL, UNSUBSCRIBE, QUIT, END) and the carriers' usual others.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                           "OPT OUT", "REVOKE"})  # fmt: skip
#: A later one of these from the customer lifts the opt-out (carriers' opt-in keywords).
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE"})
WRITE_NAME = "text_sends"
_PUNCT = re.compile(r"[^A-Z ]+")


class TextRefused(PushRefused):
    """A text refused before anything was queued; ``field`` names the input at fault (or None)."""


# ------------------------------------------------------------------------------------------- reading
def e164_us(value: Any) -> str | None:
    """A valid 10-digit US or Canadian number in E.164 (CallRail's rule for both numbers of a text), else None."""
    try:
        parsed = phonenumbers.parse(str(value or "").strip(), "US")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 1 or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def keyword(content: str) -> str:
    return " ".join(_PUNCT.sub(" ", (content or "").upper()).split())


@dataclass(frozen=True)
class OptOut:
    word: str
    at: datetime | None

    def reason(self, number: str, where: Any = None) -> str:
        from apps.portal.formatting import format_phone, format_when

        when = f" on {format_when(self.at, where)}" if self.at else ""
        return (f"{format_phone(number)} replied {self.word}{when} and has opted out of texts: nothing more can be "
                f"sent to this number until they text START.")  # fmt: skip


def opt_out_of(*, account: Any, number: str) -> OptOut | None:
    """The customer's opt-out in this account, if their latest keyword message (incoming) was an opt-out word."""
    if not number:
        return None
    conversations = list(
        TextConversation.objects.for_account(account).filter(customer_phone_number=number).only("pk", "payload")
    )
    if not conversations:
        return None
    seen: list[tuple[datetime | None, str]] = []
    for m in TextMessage.objects.for_account(account).filter(conversation__in=conversations, direction="incoming"):
        seen.append((m.sent_at, m.content))
    for conversation in conversations:
        for m in (conversation.payload or {}).get("recent_messages") or []:
            if isinstance(m, dict) and m.get("direction") == "incoming":
                seen.append((_when(m.get("created_at")), str(m.get("content") or "")))
    latest: OptOut | None = None
    latest_at: datetime | None = None
    for at, content in sorted(seen, key=lambda s: (s[0] is not None, s[0] or timezone.now())):
        word = keyword(content)
        if word in OPT_OUT_WORDS:
            latest, latest_at = OptOut(word, at), at
        elif word in OPT_IN_WORDS and (latest_at is None or at is None or at >= latest_at):
            latest = None
    return latest


@dataclass(frozen=True)
class Sender:
    """A tracking number that can send texts, with its tracker."""

    number: str
    tracker: Any

    @property
    def label(self) -> str:
        from apps.portal.formatting import format_phone

        return f"{format_phone(self.number)} · {self.tracker.name}"


def sender_problem(tracker: Any) -> str | None:
    """Why this tracker's numbers cannot send texts (None: they can)."""
    if tracker is None:
        return "it is not a tracking number of this lead's company"
    if tracker.is_deleted_upstream or (tracker.status and tracker.status != "active"):
        return f"its tracker {tracker.name!r} is disabled"
    if (tracker.payload or {}).get("sms_supported") is False:
        return f"its tracker {tracker.name!r} is toll-free or otherwise cannot send texts"
    if not tracker.sms_enabled:
        return f"texting is not enabled on its tracker {tracker.name!r}"
    return None


def sms_senders(*, account: Any, company: Any) -> list[Sender]:
    """The company's tracking numbers that can send texts now (active, SMS enabled, SMS supported)."""
    from apps.trackers.models import Tracker

    out = []
    for tracker in Tracker.objects.for_account(account).filter(company=company).order_by("name", "pk"):
        if sender_problem(tracker) is None:
            out += [Sender(n, tracker) for n in tracker.tracking_numbers or [] if isinstance(n, str)]
    return out


def _tracker_of(*, account: Any, company: Any, number: str) -> Any:
    from apps.trackers.models import Tracker

    for tracker in Tracker.objects.for_account(account).filter(company=company):
        if number in (tracker.tracking_numbers or []):
            return tracker
    return None


def open_sends(account: Any) -> int:
    """Texts of the account queued and not yet answered by CallRail (they will spend SMS budget)."""
    return OutboxEntry.objects.for_account(account).filter(resource=WRITE_NAME, status__in=OPEN_STATUSES).count()


def sms_budget_wait(*, account: Any, cost: int = 1) -> float | None:
    """Seconds until the account's SMS budget can grant ``cost`` more sends (None: it can now)."""
    client = client_for_account(account, lane="interactive")
    grant = client.budget.acquire(client.scopes, "sms_send", "interactive", cost=max(1, cost), take=False)
    return None if grant.granted else max(1.0, grant.retry_after)


def budget_reason(account: Any, wait: float) -> str:
    from apps.portal.formatting import format_when

    frees = timezone.now() + timedelta(seconds=wait)
    minutes = max(1, round(wait / 60))
    return (f"{account.name} has used its CallRail text allowance for now: the next text can be sent at "
            f"{format_when(frees, account)} (in about {minutes} minute{'s' if minutes != 1 else ''}).")  # fmt: skip


# ------------------------------------------------------------------------------------------- sending
def text_send(
    *,
    account: Any,
    content: str,
    customer_phone_number: str,
    tracking_number: str | None = None,
    company: Any = None,
    conversation: TextConversation | None = None,
    source_call: Any = None,
    source_form: Any = None,
    actor: Any = None,
    check_budget: bool = True,
) -> OutgoingText:
    """Queue a text (see the module's docstring); raises ``TextRefused`` with the reason before queuing."""
    content = (content or "").strip()
    if not content:
        raise TextRefused("Write the text to send.", field="content")
    if len(content) > MAX_TEXT_LENGTH:
        raise TextRefused(
            f"A text may have at most {MAX_TEXT_LENGTH} characters (CallRail's limit); this one has {len(content)}.",
            field="content",
        )
    customer = e164_us(customer_phone_number)
    if customer is None:
        raise TextRefused("CallRail texts only valid 10-digit US or Canadian numbers; this lead's number is not one.",
                          field="customer_phone_number")  # fmt: skip
    source = conversation or source_call or source_form
    company = company or getattr(source, "company", None)
    if company is None:
        raise TextRefused("This lead belongs to no company in CallRail, so no tracking number can text it.")
    for row in (conversation, source_call, source_form, company):
        if row is not None and row.client_account_id != account.pk:
            raise TextRefused("These records belong to different accounts.")
    if tracking_number in (None, "") and conversation is not None:
        tracking_number = conversation.current_tracking_number
    number = e164_us(tracking_number)
    if number is None:
        raise TextRefused("Choose the tracking number to send the text from.", field="tracking_number")
    tracker = _tracker_of(account=account, company=company, number=number)
    problem = sender_problem(tracker)
    if problem:
        from apps.portal.formatting import format_phone

        raise TextRefused(f"{format_phone(number)} cannot send texts: {problem}.", field="tracking_number")
    opted = opt_out_of(account=account, number=customer)
    if opted is not None:
        raise TextRefused(opted.reason(customer, account), field=None)
    if check_budget:
        wait = sms_budget_wait(account=account, cost=open_sends(account) + 1)
        if wait is not None:
            raise TextRefused(budget_reason(account, wait))
    if conversation is None:
        conversation = (
            TextConversation.objects.for_account(account)
            .filter(company=company, customer_phone_number=customer)
            .order_by("-last_message_at")
            .first()
        )
    with transaction.atomic():
        text = OutgoingText.objects.create(
            client_account=account, company=company, conversation=conversation, tracker=tracker,
            tracking_number=number, customer_phone_number=customer, content=content, source_call=source_call,
            source_form=source_form, actor=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        entry = outbox_enqueue(row=text, resource=WRITE_NAME, operation=Operation.CREATE, actor=actor,
                               options={"content": content, "to": customer, "from": number})  # fmt: skip
        OutgoingText.objects.for_account(account).filter(pk=text.pk).update(entry=entry)
        text.entry = entry
    return text


def text_state(text: OutgoingText) -> str:
    """pending / sent / failed / discarded, from the text's outbox entry."""
    entry = text.entry
    if entry is None:
        return "sent" if text.sent_at else "pending"
    if entry.status == EntryStatus.DONE:
        return "sent"
    if entry.status in (EntryStatus.FAILED, EntryStatus.CONFLICT):
        return "failed"
    if entry.status in (EntryStatus.DISCARDED, EntryStatus.SUPERSEDED):
        return "discarded"
    return "pending"


def unsent_texts(*, account: Any, conversation: TextConversation) -> list[OutgoingText]:
    """The portal's texts of this conversation CallRail has not taken (pending or failed), oldest first."""
    rows = (
        OutgoingText.objects.for_account(account)
        .filter(Q(conversation=conversation) | Q(company_id=conversation.company_id,
                                                 customer_phone_number=conversation.customer_phone_number))
        .select_related("entry", "actor")
        .order_by("created_at", "pk")
    )  # fmt: skip
    return [t for t in rows if text_state(t) in ("pending", "failed")]


# ------------------------------------------------------------------------------ the write description
def _create_body(row: OutgoingText, entry: Any) -> dict:
    return {
        "company_id": cid(row.company),
        "customer_phone_number": row.customer_phone_number,
        "tracking_number": row.tracking_number,
        "content": row.content,
    }


def _before_send(row: OutgoingText, entry: Any) -> str | None:
    opted = opt_out_of(account=row.client_account, number=row.customer_phone_number)
    return None if opted is None else f"Not sent: {opted.reason(row.customer_phone_number, row.client_account)}"


def _same_text(sent: str, ours: str) -> bool:
    # CallRail adds opt-out instructions to the first text to a lead when the text has none.
    sent, ours = " ".join((sent or "").split()), " ".join((ours or "").split())
    return sent == ours or sent.startswith(ours)


def find_sent_text(client: Any, row: OutgoingText, entry: Any) -> dict | None:
    """The conversation holding this text if an earlier attempt reached CallRail, else None.

    Each conversation of the customer in the company (CallRail searches by customer number) is read newest
    message first; an outgoing message with this text, written since the text was queued, that no other
    sent text of the portal accounts for, is this one."""
    company_id = cid(row.company)
    since = row.created_at - timedelta(minutes=5)
    account = row.client_account
    taken = (
        OutgoingText.objects.for_account(account)
        .filter(customer_phone_number=row.customer_phone_number, content=row.content, created_at__gte=since,
                entry__status=EntryStatus.DONE)
        .exclude(pk=row.pk)
        .count()
    )  # fmt: skip
    params = {"company_id": company_id, "search": row.customer_phone_number}
    for conversation in client.iter_records("text-messages.json", list_key="conversations", params=params):
        if conversation.get("customer_phone_number") != row.customer_phone_number:
            continue
        matches = 0
        for page in client.paginate(f"text-messages/{conversation['id']}.json", list_key="messages"):
            older = False
            for message in page.records:
                at = _when(message.get("created_at"))
                if at is not None and at < since:
                    older = True
                    break
                if message.get("direction") == "outgoing" and _same_text(message.get("content"), row.content):
                    matches += 1
            if older:
                break
        if matches > taken:
            return conversation
        taken -= min(taken, matches)
    return None


def _on_done(account: Any, row: OutgoingText, record: dict, entry: Any, client: Any) -> None:
    """CallRail's answer (the conversation) goes to the mirror; the text is linked to it and marked sent."""
    from apps.sync.services import mirror_apply_records

    now = timezone.now()
    update: dict[str, Any] = {"sent_at": now}
    if record.get("id"):
        record = dict(record)
        # The documented answer may carry no last_message_at: the text was just sent.
        record["last_message_at"] = record.get("last_message_at") or now.isoformat()
        mirror_apply_records(account=account, resource="text_conversations", records=[record])
        conversation = TextConversation.objects.for_account(account).filter(callrail_id=str(record["id"])).first()
        update.update(conversation=conversation, callrail_conversation_id=str(record["id"])[:64])
    OutgoingText.objects.for_account(account).filter(pk=row.pk).update(**update)


TEXT_SENDS = Write(
    name=WRITE_NAME,
    collection="text-messages.json",
    item="text-messages/{id}.json",
    list_key="conversations",
    fields=(),
    model="text_conversations.OutgoingText",
    limit_class="sms_send",
    create_body=_create_body,
    find=find_sent_text,
    before_send=_before_send,
    on_done=_on_done,
)


def register() -> None:
    register_write(TEXT_SENDS)
