"""Applying a verified webhook delivery to the mirror (the ``webhooks.apply_event`` task).

Three rules, in this order:

1. **The right record, never a phantom.** Call and form webhooks name their record by a legacy numeric id
   (the docs' call payload: ``"id":766970532``, ``"company_id":155920786``), not by the API's ``CAL…`` /
   ``FOR…`` id. It is mapped from the payload when it carries an API id, else from what the receiver learned
   before (``WebhookRecord``), else from the mirror (calls: the numeric id inside the recording URLs, or the
   start time with both phone numbers; forms: the submission time and form URL), else with **one** budgeted
   look-up in the follow-up lane (``GET calls/{numeric id}.json``, which the API accepts; forms: the listing
   of that second), whose answer is CallRail's current record. A record that cannot be identified is never
   guessed: a re-read of the hour around its time is queued instead (a targeted pull).
2. **Only the signer's records.** A delivery touches only records of the company whose key signed it (a
   record of another company, or of none, is left alone and the event says why).
3. **Never backwards.** A delivery older than one already applied to the record (by its data time, then
   by the call's stage: routing < routed < finished) changes nothing. Where the data cannot tell which of
   two is newer — two finished deliveries whose differences are not exactly what the new one says it
   changed (``changes``), or a pull that wrote the row around the time the delivery was sent — the record's
   current state is fetched from CallRail instead (one request, follow-up lane, budgeted).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.callrail.client import client_for_account
from apps.callrail.errors import NotFound
from apps.tenancy.models import ClientAccount

from .events import BY_SLUG, EventType
from .models import EventStatus, WebhookEvent, WebhookRecord

logger = logging.getLogger(__name__)

#: Keys CallRail adds to a payload for the delivery, not part of the record itself.
ENVELOPE_KEYS = frozenset(("timestamp", "changes"))
#: Keys of a call payload that name other records by legacy ids: the mirror keeps its own.
IDENTITY_KEYS = frozenset(("id", "company_id", "tracker_id", "resource_id"))
#: ``changes`` entries (the docs' names) -> the record fields they concern.
CHANGE_FIELDS = {
    "tag": {"tags"}, "tags": {"tags"}, "transcription_text": {"transcription"},
    "recording": {"recording", "recording_player", "recording_duration"}, "spam": {"spam"},
}  # fmt: skip
#: A fetched record is newer than any delivery in flight: every later finished delivery must be checked.
ALL_CHANGED = "*"

APPLY, SAME, STALE, FETCH = "apply", "same", "stale", "fetch"


class Fetched(NamedTuple):
    """CallRail's current record, and when it was asked for: what it holds is at least as new as that moment
    (not as the moment it is written, which a busy worker may reach much later)."""

    record: dict
    requested_at: datetime


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class Outcome:
    """What became of the event: its status, why, and the counts of the mirror write."""

    def __init__(self, status: str, reason: str = "", result: dict | None = None) -> None:
        self.status, self.reason, self.result = status, reason, result or {}


def account_for_apply(account_id: int) -> ClientAccount | None:
    """The account with what applying reads of it (its agency, and the credential a look-up needs), in one
    query: read once per batch of its deliveries."""
    return (
        ClientAccount.objects.for_account(account_id)
        .select_related("agency", "credential", "gateway_connection")
        .first()
    )


def event_apply(event: WebhookEvent, account: ClientAccount | None = None) -> WebhookEvent:
    """Apply one event; ``account`` (from ``account_for_apply``) when the caller has read it already."""
    kind = BY_SLUG[event.event_type]
    if account is None or account.pk != event.client_account_id:
        account = account_for_apply(event.client_account_id)
        if account is None:
            raise ClientAccount.DoesNotExist(f"client account {event.client_account_id} no longer exists")
    event.attempts += 1
    if kind.resource is None:
        outcome = Outcome(EventStatus.IGNORED, "nothing of this event is mirrored")
    else:
        payload = json.loads(event.raw_body)
        with transaction.atomic():
            # the legacy id first (every documented call and form delivery carries it), the record's own id
            # once known (``_apply_interaction``): two deliveries of one record always meet on one of the locks
            _lock_record(account.pk, kind.resource, event.legacy_id or event.record_id)
            outcome = _apply(account, event, kind, payload)
    event.status, event.reason, event.result = outcome.status, outcome.reason[:300], outcome.result
    event.applied_at = timezone.now()
    event.save(update_fields=["status", "reason", "result", "applied_at", "attempts", "record_id"])
    return event


def _apply(account: ClientAccount, event: WebhookEvent, kind: EventType, payload: dict) -> Outcome:
    moment = _data_time(kind, payload)
    if moment is not None and moment < _retention_floor(account):
        return Outcome(EventStatus.IGNORED, "older than the agency keeps communication records")
    if kind.resource == "text_conversations":
        return _apply_text(account, event, kind, payload)
    return _apply_interaction(account, event, kind, payload, moment)


# ------------------------------------------------------------------------------------ calls and forms
def _apply_interaction(
    account: ClientAccount, event: WebhookEvent, kind: EventType, payload: dict, moment: datetime | None
) -> Outcome:
    from apps.sync.resources import get_resource

    resource = get_resource(kind.resource)
    model = resource.model
    callrail_id = event.record_id or _learned(account, kind.resource, event.legacy_id)
    if not callrail_id and event.legacy_id:
        callrail_id = _mirror_match(account, event, kind, payload)
    fetched: Fetched | None = None
    if not callrail_id:
        if event.legacy_id:
            fetched = _look_up(account, event, kind, payload)
        if fetched is None:
            return _targeted_pull(account, kind, moment)
        callrail_id = str(fetched.record.get("id"))
    event.record_id = callrail_id[:64]
    if callrail_id != (event.legacy_id or event.record_id):  # (held already when the delivery named it so)
        _lock_record(account.pk, kind.resource, callrail_id)  # also held by a delivery that named it by this id
    row = model.objects.for_account(account).filter(callrail_id=callrail_id).first()
    signer = event.company
    if signer is None:  # the signing company was removed from the mirror since
        return _not_signers(event, callrail_id)
    if row is not None and row.company_id != signer.pk:
        return _not_signers(event, callrail_id)
    if fetched is not None and fetched.record.get("company_id") != signer.callrail_id:
        return _not_signers(event, callrail_id)
    state = WebhookRecord.objects.for_account(account).filter(resource=kind.resource, callrail_id=callrail_id).first()
    if fetched is None and row is None:
        if kind.resource == "calls":  # named by its CAL… id but not mirrored yet: take CallRail's whole record
            fetched = _fetch(account, resource, callrail_id)
            if fetched is None:
                return _targeted_pull(account, kind, moment)
            if fetched.record.get("company_id") != signer.callrail_id:
                return _not_signers(event, callrail_id)
        else:
            record = _form_record(payload, None, signer)
            return _write(account, event, kind, callrail_id, record, state, how="created")
    if fetched is not None:
        return _write(account, event, kind, callrail_id, fetched.record, state, fetched_at=fetched.requested_at,
                      how="CallRail's current record (looked up by its legacy id)")  # fmt: skip
    existing = dict(row.payload or {})
    if kind.resource == "form_submissions":  # what a form webhook carries never changes after submission
        record = _form_record(payload, existing, signer)
        decision = APPLY if any(not _same(existing.get(k), v) for k, v in record.items()) else SAME
    else:
        existing.setdefault("company_id", signer.callrail_id)  # (checked above: the row is the signer's)
        record, diff, untranslatable = _call_record(payload, existing, event.changes)
        decision = _decide(event, kind, state, row, diff, untranslatable)
    if decision == STALE:
        _remember(account, kind.resource, callrail_id, event, None, state)
        if ALL_CHANGED in state.changes:
            return Outcome(EventStatus.IGNORED, "CallRail's current record was fetched after this delivery arrived")
        return Outcome(EventStatus.IGNORED, f"older than delivery #{state.event_id or '?'} already applied")
    if decision == SAME:
        _remember(account, kind.resource, callrail_id, event, None, state)
        return Outcome(EventStatus.IGNORED, "the mirror already holds this")
    if decision == FETCH:
        current = _fetch(account, resource, callrail_id)
        if current is None:
            return _targeted_pull(account, kind, moment)
        return _write(account, event, kind, callrail_id, current.record, state, fetched_at=current.requested_at,
                      how="CallRail's current record (the order of the deliveries could not be told)")  # fmt: skip
    return _write(account, event, kind, callrail_id, record, state, how="applied")


def _not_signers(event: WebhookEvent, callrail_id: str) -> Outcome:
    logger.warning("webhook event %s of account %s names %s, which is not a record of the signing company",
                   event.pk, event.client_account_id, callrail_id)  # fmt: skip
    return Outcome(EventStatus.IGNORED, f"{callrail_id} is not a record of the company whose key signed this")


def _decide(
    event: WebhookEvent, kind: EventType, state: WebhookRecord | None, row: Any, diff: set[str], untranslatable: bool
) -> str:
    """APPLY the delivery, leave it (SAME, STALE), or FETCH CallRail's current record: see the module doc."""
    moment = event.payload_timestamp
    known = state is not None and state.order_at is not None and moment is not None
    if known and (moment < state.order_at or (moment == state.order_at and kind.rank < state.stage)):
        return STALE
    if not diff:
        return SAME
    skew = timedelta(seconds=float(setting("WEBHOOK_ORDER_SKEW_SECONDS", 120)))
    pulled = state is None or state.row_changed_at != row.changed_at  # the row holds what a pull (or push) wrote
    if not pulled and ALL_CHANGED in state.changes and state.applied_at is not None:
        # the row holds CallRail's record as fetched then: a delivery that arrived before is not newer
        if event.received_at <= state.applied_at:
            return STALE
        if event.received_at - skew <= state.applied_at:
            return FETCH
    if pulled:
        # The pull's data is from before it was written; the delivery's from before it was received.
        decision = FETCH if row.changed_at >= event.received_at - skew else APPLY
    elif (state.order_at is not None and moment is not None and moment > state.order_at) or kind.rank > state.stage:
        decision = APPLY
    else:  # two finished deliveries of the same time: only what this one says it changed may differ
        declared = _declared(event.changes)
        earlier = _declared(state.changes)
        decision = APPLY if diff <= declared and not (diff & earlier) and ALL_CHANGED not in state.changes else FETCH
    return FETCH if decision == APPLY and untranslatable else decision


def _declared(changes: list[str]) -> set[str]:
    out: set[str] = set()
    for change in changes or []:
        out |= CHANGE_FIELDS.get(change, {change})
    return out


def _write(
    account: ClientAccount, event: WebhookEvent, kind: EventType, callrail_id: str, record: dict,
    state: WebhookRecord | None, *, how: str, fetched_at: datetime | None = None,
) -> Outcome:  # fmt: skip
    """Write ``record`` (the delivery's, or CallRail's current one asked for at ``fetched_at``) to the mirror."""
    from apps.sync.services import mirror_apply_records

    result = mirror_apply_records(account=account, resource=kind.resource, records=[record])
    fetched = fetched_at is not None
    _remember(account, kind.resource, callrail_id, event, ALL_CHANGED if fetched else "delivery", state, at=fetched_at)
    return Outcome(EventStatus.APPLIED, "" if how == "applied" else how, {**result, "fetched": fetched})


def _remember(
    account: ClientAccount, resource: str, callrail_id: str, event: WebhookEvent, applied: str | None,
    state: WebhookRecord | None, at: datetime | None = None,
) -> None:  # fmt: skip
    """Keep the legacy id and, for an applied delivery, its order (see ``WebhookRecord``). ``state``: the
    record's, as read under its lock (None: it has none yet). ``at``: when the record written was asked for
    from CallRail (a fetch), else now."""
    from apps.sync.resources import get_resource

    if state is None:  # (no other delivery can create it meanwhile: each holds the record's lock first)
        state = WebhookRecord(client_account=account, resource=resource, callrail_id=callrail_id)
    elif applied is None and state.legacy_id == (event.legacy_id or state.legacy_id):
        return  # nothing to keep that it does not hold
    state.legacy_id = event.legacy_id or state.legacy_id
    if applied is not None:
        moment, rank = event.payload_timestamp, BY_SLUG[event.event_type].rank
        if moment is not None and (state.order_at is None or moment > state.order_at):
            state.order_at, state.stage = moment, rank
        elif moment is not None and moment == state.order_at:
            state.stage = max(state.stage, rank)
        state.changes = [ALL_CHANGED] if applied == ALL_CHANGED else list(event.changes)
        state.applied_at = at or timezone.now()
        state.event = event
        state.row_changed_at = (
            get_resource(resource).model.objects.for_account(account).filter(callrail_id=callrail_id)
            .values_list("changed_at", flat=True).first()
        )  # fmt: skip
    state.save()


def _learned(account: ClientAccount, resource: str, legacy_id: str) -> str:
    if not legacy_id:
        return ""
    return (
        WebhookRecord.objects.for_account(account).filter(resource=resource, legacy_id=legacy_id)
        .values_list("callrail_id", flat=True).first() or ""
    )  # fmt: skip


def _mirror_match(account: ClientAccount, event: WebhookEvent, kind: EventType, payload: dict) -> str:
    """The record the mirror already holds for this legacy id, found without a request; "" if not exactly one."""
    from apps.sync.resources import get_resource

    model = get_resource(kind.resource).model
    rows = model.objects.for_account(account).filter(company_id=event.company_id)
    if kind.resource == "calls":
        start = _parse(payload.get("start_time"))
        if start is None:
            return ""
        near = rows.filter(start_time__gte=start - timedelta(seconds=1), start_time__lte=start + timedelta(seconds=1))
        candidates = list(near.values_list("callrail_id", "recording_url", "recording_player", "customer_phone_number",
                                           "tracking_phone_number")[:50])  # fmt: skip
        marker = f"/calls/{event.legacy_id}/"
        by_url = [c[0] for c in candidates if marker in (c[1] or "") or marker in (c[2] or "")]
        if len(by_url) == 1:
            return by_url[0]
        by_numbers = [c[0] for c in candidates if c[3] == payload.get("customer_phone_number")
                      and c[4] == payload.get("tracking_phone_number")]  # fmt: skip
        return by_numbers[0] if len(by_numbers) == 1 else ""
    submitted = _parse(payload.get("submitted_at"))
    if submitted is None:
        return ""
    second = timedelta(seconds=1)
    near = rows.filter(submitted_at__gte=submitted - second, submitted_at__lte=submitted + second,
                       form_url=payload.get("form_url"))  # fmt: skip
    ids = list(near.values_list("callrail_id", flat=True)[:2])
    return ids[0] if len(ids) == 1 else ""


def _look_up(account: ClientAccount, event: WebhookEvent, kind: EventType, payload: dict) -> Fetched | None:
    """One budgeted request (follow-up lane) for the record a legacy id names: CallRail's current record."""
    from apps.sync.resources import get_resource

    resource = get_resource(kind.resource)
    if kind.resource == "calls":
        return _fetch(account, resource, event.legacy_id)
    submitted = _parse(payload.get("submitted_at"))
    if submitted is None:
        return None
    tz = submitted.tzinfo or UTC
    second = timedelta(seconds=1)
    params = {"company_id": event.company.callrail_id, "time_zone": "UTC",
              "start_date": (submitted - second).astimezone(tz).replace(microsecond=0).isoformat(),
              "end_date": (submitted + second).astimezone(tz).replace(microsecond=0).isoformat()}  # fmt: skip
    client = client_for_account(account, lane="followup")
    requested_at = timezone.now()
    body = client.get(resource.path, params=params, fields=list(resource.fields) or None)
    matches = [
        r for r in (body.get(resource.list_key) or [])
        if isinstance(r, dict) and _parse(r.get("submitted_at")) == submitted
        and r.get("form_url") == payload.get("form_url")
        and (r.get("form_data") or {}) == (payload.get("form_data") or {})
    ]  # fmt: skip
    return Fetched(matches[0], requested_at) if len(matches) == 1 else None


def _fetch(account: ClientAccount, resource: Any, ident: str) -> Fetched | None:
    """``GET <resource>/<id>.json`` with the fields the listing asks for (one request, follow-up lane)."""
    client = client_for_account(account, lane="followup")
    requested_at = timezone.now()
    try:
        path = f"{resource.path.removesuffix('.json')}/{ident}.json"
        record = client.get(path, fields=list(resource.fields) or None)
    except NotFound:
        return None
    return Fetched(record, requested_at) if isinstance(record, dict) and record.get("id") else None


def _targeted_pull(account: ClientAccount, kind: EventType, moment: datetime | None) -> Outcome:
    """The record could not be identified: re-read the hour around its time (or the recent past) instead."""
    from apps.sync.models import SyncKind, SyncTrigger
    from apps.sync.services import sync_request

    if moment is not None:
        hour = timedelta(hours=1)
        windows = {kind.resource: [[(moment - hour).isoformat(), (moment + hour).isoformat()]]}
        run, created = sync_request(account=account, kind=SyncKind.REREAD, resources=[kind.resource],
                                    trigger=SyncTrigger.WEBHOOK, lane="followup", windows=windows)  # fmt: skip
    else:
        run, created = sync_request(account=account, kind=SyncKind.INCREMENTAL, resources=[kind.resource],
                                    trigger=SyncTrigger.WEBHOOK, lane="followup")  # fmt: skip
    what = "queued" if created else "already running"
    return Outcome(EventStatus.IGNORED, f"record not identifiable from the delivery: sync #{run.pk} {what} instead",
                   {"sync_run": run.pk})  # fmt: skip


# ------------------------------------------------------------------------------------------ records
def _listed_keys(resource_name: str) -> set[str]:
    from apps.sync.resources import get_resource

    resource = get_resource(resource_name)
    return {resource.id_field, *resource.fields, *(col.source.split(".")[0] for col in resource.columns.values())}


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _same(a: Any, b: Any) -> bool:
    """Equal as data, whatever the legacy typing: null and "" alike, 13 and "13", 25 and "25.00"."""
    if _blank(a) and _blank(b):
        return True
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int | float | str | Decimal) and isinstance(b, int | float | str | Decimal):
        try:
            return _amount(a) == _amount(b)
        except InvalidOperation:
            return False
    return False


def _amount(value: Any) -> Decimal:
    return Decimal(str(value).replace("$", "").replace(",", ""))


def _typed_like(existing: Any, value: Any) -> Any:
    """The delivery's value in the type the listing uses for it."""
    if value == "":
        return None
    if isinstance(existing, int) and not isinstance(existing, bool) and isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(existing, str) and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _call_record(payload: dict, existing: dict, changes: list[str]) -> tuple[dict, set[str], bool]:
    """The mirrored call updated with what the delivery carries, in the listing's shape; the fields that
    differ; and whether something it carries cannot be put in the listing's shape (then fetched instead)."""
    listed = _listed_keys("calls")
    record = dict(existing)
    diff: set[str] = set()
    untranslatable = False
    for key, value in payload.items():
        if key in ENVELOPE_KEYS or key in IDENTITY_KEYS or key not in listed:
            continue
        old = existing.get(key)
        if _same(old, value):
            continue
        if key == "recording":  # the webhook's recording link is not the API's recording endpoint
            if _blank(old) != _blank(value):
                untranslatable = True
            continue
        record[key] = _typed_like(old, value)
        diff.add(key)
    if "spam" in (changes or []) and not existing.get("spam"):  # CallRail sends Call Modified when marked spam
        record["spam"] = True
        diff.add("spam")
    return record, diff, untranslatable


def _form_record(payload: dict, existing: dict | None, signer: Any) -> dict:
    """A form submission from its webhook (which carries fewer fields than a listing), over the mirrored one."""
    from apps.sync.resources import get_resource

    listed = _listed_keys("form_submissions")
    record = {k: v for k, v in payload.items() if k in listed and k not in ENVELOPE_KEYS and k not in IDENTITY_KEYS}
    if existing is not None:
        return {**existing, **{k: _typed_like(existing.get(k), v) for k, v in record.items()}}
    record["company_id"] = signer.callrail_id
    for col in get_resource("form_submissions").columns.values():
        top = col.source.split(".")[0]
        if col.kind != "ref" and top not in record and not col.optional:
            record[top] = None  # unknown until the next sync lists the record
    return record


# -------------------------------------------------------------------------------------------- texts
def _e164(number: Any) -> Any:
    """``770-555-5555`` (the text webhooks' format) -> ``+17705555555`` (the API's); others unchanged."""
    if not isinstance(number, str):
        return number
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    return number


def _utc_iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _tracker_with_number(account_id: int, number: Any) -> str | None:
    from apps.trackers.models import Tracker

    if not isinstance(number, str):
        return None
    for callrail_id, numbers in Tracker.objects.for_account(account_id).values_list("callrail_id", "tracking_numbers"):
        if isinstance(numbers, list) and number in numbers:
            return callrail_id
    return None


def _apply_text(account: ClientAccount, event: WebhookEvent, kind: EventType, payload: dict) -> Outcome:
    """A text message: the conversation (named by its API id) gets the message, if it is its latest."""
    from apps.sync.services import mirror_apply_records
    from apps.text_conversations.models import TextConversation

    if not event.record_id:
        return Outcome(EventStatus.IGNORED, "payload without a conversation id")
    row = TextConversation.objects.for_account(account).filter(callrail_id=event.record_id).first()
    if row is not None and row.company_id != event.company_id:
        return _not_signers(event, event.record_id)
    existing = dict(row.payload) if row is not None else None
    incoming = kind.slug == "sms_received"
    customer, tracking = (
        (payload.get("source_number"), payload.get("destination_number"))
        if incoming
        else (payload.get("destination_number"), payload.get("source_number"))
    )
    at = _utc_iso(_parse(payload.get("timestamp")))
    message = {"direction": "incoming" if incoming else "outgoing", "content": payload.get("content"), "created_at": at}
    update = {
        "id": event.record_id,
        "company_id": event.company.callrail_id,
        "last_message_at": at,
        "lead_status": payload.get("lead_status"),
    }
    if existing is None:
        tracker_id = _tracker_with_number(account.pk, _e164(tracking))
        update |= {
            "customer_phone_number": _e164(customer),
            "current_tracking_number": _e164(tracking),
            "initial_tracking_number": _e164(tracking),
            "formatted_customer_phone_number": customer,
            "current_tracker_id": tracker_id,
            "initial_tracker_id": tracker_id,
        }
    known = _parse((existing or {}).get("last_message_at"))
    moment = _parse(at)
    if known is not None and moment is not None and known > moment:  # a late message: the newer one stays
        update["last_message_at"] = existing["last_message_at"]
        update["lead_status"] = existing.get("lead_status", update["lead_status"])
    elif message in ((existing or {}).get("recent_messages") or []):  # replayed after the log forgot it
        return Outcome(EventStatus.IGNORED, "the mirror already holds this message")
    else:
        update["recent_messages"] = [message, *((existing or {}).get("recent_messages") or [])][:2]
    record = {**(existing or {}), **update}
    if existing is None:
        from apps.sync.resources import get_resource

        for col in get_resource("text_conversations").columns.values():
            top = col.source.split(".")[0]
            if col.kind != "ref" and top not in record and not col.optional:
                record[top] = None
    result = mirror_apply_records(account=account, resource="text_conversations", records=[record])
    return Outcome(EventStatus.APPLIED, "", result)


# ------------------------------------------------------------------------------------------ helpers
def _parse(value: Any) -> datetime | None:
    from .services import parse_time

    return parse_time(value)


def _data_time(kind: EventType, payload: dict) -> datetime | None:
    """When the record happened (the call's start, the submission, the message)."""
    if kind.resource == "calls":
        return _parse(payload.get("start_time")) or _parse(payload.get("timestamp"))
    if kind.resource == "form_submissions":
        return _parse(payload.get("submitted_at"))
    return _parse(payload.get("timestamp"))


def _retention_floor(account: ClientAccount) -> datetime:
    from apps.operations.services import retention_cutoff

    return retention_cutoff(agency=account.agency)


def _lock_record(account_id: int, resource: str, ident: str) -> None:
    """Serialise the deliveries of one record (a burst of post-call + call modified of the same call)."""
    if connection.vendor != "postgresql" or not ident:
        return  # SQLite: one writer at a time anyway
    key = int.from_bytes(
        hashlib.sha1(f"{account_id}:{resource}:{ident}".encode(), usedforsecurity=False).digest()[:8],
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
