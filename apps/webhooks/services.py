"""Webhook services: receive (verify, log, enqueue), apply to the mirror, signing keys, endpoint URLs.

Receiving answers fast: it only verifies the ``Signature`` header (base64 HMAC-SHA1 of the raw body with
the company's signing key, compared in constant time), checks the payload's company and timestamp, stores
the raw event and enqueues ``webhooks.apply_event``. The task applies it to the mirror through
``apps.sync.services.mirror_apply_records`` — no CallRail request, no budget spent.

The endpoint never reveals whether an account exists: an unknown token, a missing or wrong signature and an
account without signing keys all get the same 401 (the signature is checked before the body is parsed, so
only CallRail, holding a key, can ever see a 400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.services import audit_record
from apps.companies.models import Company
from apps.tenancy.models import ClientAccount

from .events import BY_SLUG, EVENT_TYPES, EventType
from .models import EventStatus, WebhookEndpoint, WebhookEvent, WebhookSigningKey

logger = logging.getLogger(__name__)

#: Keys CallRail adds to a call payload for the delivery, not part of the call itself.
ENVELOPE_KEYS = ("timestamp", "changes")


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# ------------------------------------------------------------------------------------------ signature
def webhook_signature(*, signing_key: str, body: bytes) -> str:
    """``base64(HMAC-SHA1(signing key, raw body))``, as CallRail computes the ``Signature`` header."""
    digest = hmac.new(signing_key.encode("utf-8"), body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(*, signing_key: str, body: bytes, signature: str) -> bool:
    expected = webhook_signature(signing_key=signing_key, body=body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace"))


# ------------------------------------------------------------------------------------------ endpoint
def webhook_endpoint_ensure(*, account: ClientAccount) -> WebhookEndpoint:
    """The account's endpoint (its unguessable token), created on first use."""
    endpoint = WebhookEndpoint.objects.for_account(account).first()
    if endpoint is not None:
        return endpoint
    try:
        with transaction.atomic():
            return WebhookEndpoint.objects.create(client_account=account)
    except IntegrityError:  # created concurrently
        return WebhookEndpoint.objects.for_account(account).get()


def webhook_url(*, endpoint: WebhookEndpoint, event: EventType) -> str:
    path = reverse("webhooks:receive", kwargs={"token": endpoint.token, "event_type": event.slug})
    return f"{setting('PORTAL_BASE_URL', 'http://127.0.0.1:8000').rstrip('/')}{path}"


def webhook_urls(account: ClientAccount) -> dict[str, str]:
    """The portal's URL for each event of the Webhooks integration config (``post_call_webhook`` → URL).

    Built on ``PORTAL_BASE_URL``; what "Connect webhooks" registers in CallRail. Creates the account's
    endpoint token on first use. Convert Assist is not in the documented config: see ``webhook_event_urls``.
    """
    endpoint = webhook_endpoint_ensure(account=account)
    return {e.config_key: webhook_url(endpoint=endpoint, event=e) for e in EVENT_TYPES if e.config_key}


def webhook_event_urls(account: ClientAccount) -> list[tuple[EventType, str]]:
    """Every event with its URL (for the staff page: set up by hand in CallRail's Webhooks settings)."""
    endpoint = webhook_endpoint_ensure(account=account)
    return [(e, webhook_url(endpoint=endpoint, event=e)) for e in EVENT_TYPES]


# ---------------------------------------------------------------------------------------- signing keys
def webhook_signing_key_set(
    *, company: Company, signing_key: str, actor: Any = None, via: str | None = None
) -> WebhookSigningKey:
    """Store (or replace) a company's signing key, encrypted; audited without the key itself."""
    signing_key = signing_key.strip()
    if not signing_key:
        raise ValueError("signing key is empty")
    account = ClientAccount.objects.for_account(company.client_account_id).select_related("agency").get()
    with transaction.atomic():
        key = WebhookSigningKey.objects.for_account(account).filter(company=company).first()
        created = key is None
        if created:
            key = WebhookSigningKey(client_account=account, company=company)
        key.company_callrail_id = company.callrail_id
        key.signing_key = signing_key
        key.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        key.save()
        webhook_endpoint_ensure(account=account)
        extra = {"via": via} if via else {}
        audit_record(
            agency=account.agency, action="webhooks.signing_key_set", actor=actor, obj=key, client_account=account,
            after={"company": company.callrail_id, "created": created, "key": key.masked}, **extra,
        )  # fmt: skip
    return key


# ------------------------------------------------------------------------------------------- receive
@dataclass
class Receipt:
    """What the receiving view answers."""

    status: int
    body: dict[str, Any]
    event: WebhookEvent | None = None
    extra: dict[str, Any] = field(default_factory=dict)


UNAUTHORIZED = {"error": "invalid signature"}


def _unauthorized() -> Receipt:
    return Receipt(401, dict(UNAUTHORIZED))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _payload_company(event: EventType, payload: dict) -> Any:
    if event.resource == "text_conversations":
        return payload.get("company_resource_id")
    return payload.get("company_id")


def _payload_record_id(event: EventType, payload: dict) -> str:
    key = "conversation_id" if event.resource == "text_conversations" else "id"
    if event.resource is None:
        key = "last_interaction_resource_id"
    value = payload.get(key)
    return str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) else ""


def webhook_receive(
    *, token: str, event_type: str, body: bytes, signature: str | None, source_address: str | None
) -> Receipt:
    """Verify one delivery, log it, and enqueue it when good. Never raises for bad input."""
    event = BY_SLUG[event_type]
    # One query in the common case: the signing keys of the account whose endpoint has this token.
    keys = list(
        WebhookSigningKey.objects.unscoped(reason="webhook-token")
        .filter(client_account__webhooks_webhookendpoint_set__token=token)
        .only("pk", "client_account_id", "company_id", "company_callrail_id", "signing_key")
    )
    if keys:
        account_id = keys[0].client_account_id
    else:  # no keys entered yet, or no such endpoint
        account_id = (
            WebhookEndpoint.objects.unscoped(reason="webhook-token")
            .filter(token=token)
            .values_list("client_account_id", flat=True)
            .first()
        )
    if account_id is None:
        webhook_signature(signing_key="-", body=body)  # about the same work as for a known account
        logger.warning("webhook %s for an unknown endpoint from %s", event_type, source_address)
        return _unauthorized()
    record = WebhookEvent(
        client_account_id=account_id, event_type=event_type, source_address=source_address or None,
        signature=(signature or "")[:200], raw_body=body.decode("utf-8", "replace"), body_bytes=len(body),
    )  # fmt: skip

    def reject(status: int, reason: str, answer: dict | None = None) -> Receipt:
        record.status, record.reason, record.http_status = EventStatus.REJECTED, reason[:300], status
        record.save()
        logger.warning("webhook %s of account %s from %s rejected (%s): %s", event_type, account_id,
                       source_address, status, reason)  # fmt: skip
        return Receipt(status, answer or {"error": reason}, record)

    if not signature:
        return reject(401, "missing Signature header", dict(UNAUTHORIZED))
    matched = [k for k in keys if signature_matches(signing_key=k.signing_key, body=body, signature=signature)]
    if not matched:
        reason = "signature does not match any company's signing key" if keys else "no signing key entered"
        return reject(401, reason, dict(UNAUTHORIZED))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return reject(400, "body is not JSON")
    if not isinstance(payload, dict):
        return reject(400, "body is not a JSON object")

    # The company: the payload names it (v3 ids "COM…"); it must be the account's and the signer's.
    named = _payload_company(event, payload)
    key = matched[0]
    if isinstance(named, str) and named.startswith("COM"):
        key = next((k for k in matched if k.company_callrail_id == named), None)
        if key is None:
            if not Company.objects.for_account(account_id).filter(callrail_id=named).exists():
                return reject(400, f"company {named[:64]} is not in this account")
            return reject(400, f"company {named[:64]} does not match the signing key")
    record.company_id = key.company_id
    record.record_id = _payload_record_id(event, payload)
    changes = payload.get("changes")
    record.changes = [str(c) for c in changes][:50] if isinstance(changes, list) else []

    # Replay window on the payload's timestamp (forms: when submitted, if CallRail sent no timestamp).
    stamp = _parse_time(payload.get("timestamp"))
    if stamp is None and event.resource == "form_submissions":
        stamp = _parse_time(payload.get("submitted_at"))
    if stamp is None:
        return reject(400, "payload has no valid timestamp")
    record.payload_timestamp = stamp
    window = timedelta(minutes=float(setting("WEBHOOK_REPLAY_WINDOW_MINUTES", 15)))
    now = timezone.now()
    if abs(now - stamp) > window:
        return reject(400, f"timestamp {stamp.isoformat()} outside the replay window of {window}")

    record.dedupe_key = hashlib.sha256(event_type.encode() + b"\n" + body).hexdigest()
    record.status, record.http_status = EventStatus.VERIFIED, 202
    try:
        with transaction.atomic():
            record.save()
            _enqueue_on_commit(record)
    except IntegrityError:
        original = (
            WebhookEvent.objects.for_account(account_id)
            .filter(dedupe_key=record.dedupe_key)
            .only("pk", "status")
            .first()
        )
        record.pk = None
        record.dedupe_key = None
        record.duplicate_of = original
        record.status, record.http_status = EventStatus.DUPLICATE, 200
        record.reason = f"same delivery as event #{original.pk}" if original else "same delivery as an earlier event"
        record.save()
        return Receipt(200, {"ok": True, "duplicate": True}, record)
    return Receipt(202, {"ok": True}, record)


def _enqueue_on_commit(event: WebhookEvent) -> None:
    from .tasks import webhook_apply_event_task

    kwargs = {"client_account_id": event.client_account_id, "event_id": event.pk}
    transaction.on_commit(lambda: webhook_apply_event_task.apply_async(kwargs=kwargs))


# --------------------------------------------------------------------------------------------- apply
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


def _record_for(event: WebhookEvent, kind: EventType, payload: dict, existing: dict | None) -> dict:
    """The mirrored record this event describes, merged over what the mirror holds: a webhook carries
    fewer fields than a listing, and fields it does not carry keep their mirrored value."""
    from apps.sync.resources import get_resource

    resource = get_resource(kind.resource)
    if kind.resource == "text_conversations":
        incoming = kind.slug == "sms_received"
        customer, tracking = (
            (payload.get("source_number"), payload.get("destination_number"))
            if incoming
            else (payload.get("destination_number"), payload.get("source_number"))
        )
        at = _utc_iso(_parse_time(payload.get("timestamp")))
        message = {"direction": "incoming" if incoming else "outgoing", "content": payload.get("content"),
                   "created_at": at}  # fmt: skip
        update = {
            "id": payload.get("conversation_id"),
            "company_id": payload.get("company_resource_id") or event.company.callrail_id,
            "last_message_at": at,
            "lead_status": payload.get("lead_status"),
        }
        if existing is None:
            tracker_id = _tracker_with_number(event.client_account_id, _e164(tracking))
            update |= {
                "customer_phone_number": _e164(customer),
                "current_tracking_number": _e164(tracking),
                "initial_tracking_number": _e164(tracking),
                "formatted_customer_phone_number": customer,
                "current_tracker_id": tracker_id,
                "initial_tracker_id": tracker_id,
            }
        known = _parse_time((existing or {}).get("last_message_at"))
        moment = _parse_time(at)
        if known is not None and moment is not None and known > moment:  # a late message: the newer one stays
            update["last_message_at"] = existing["last_message_at"]
            update["lead_status"] = existing.get("lead_status", update["lead_status"])
        else:
            update["recent_messages"] = [message, *((existing or {}).get("recent_messages") or [])][:2]
        record = {**(existing or {}), **update}
    else:
        record = {k: v for k, v in payload.items() if k not in ENVELOPE_KEYS}
        if kind.resource == "form_submissions" and not isinstance(record.get("company_id"), str):
            record["company_id"] = event.company.callrail_id
        if kind.resource == "calls" and not str(record.get("company_id", "")).startswith("COM"):
            record["company_id"] = event.company.callrail_id  # legacy numeric id: the signer's company
        # Only what a listing carries (its id, mapped and requested fields), so that the next sync finds the
        # record unchanged; the whole payload stays in the event log.
        listed = {resource.id_field, *resource.fields, *(col.source.split(".")[0] for col in resource.columns.values())}
        record = {k: v for k, v in record.items() if k in listed or (existing is not None and k in existing)}
        if existing is not None:
            record = {**existing, **record}
    if existing is None:  # fields a webhook does not carry are unknown until the next sync lists the record
        for col in resource.columns.values():
            top = col.source.split(".")[0]
            if col.kind != "ref" and top not in record and not col.optional:
                record[top] = None
    return record


def _lock_record(account_id: int, resource: str, record_id: str) -> None:
    """Serialise the events of one record (a burst of post-call + call-modified for the same call)."""
    if connection.vendor != "postgresql":
        return  # SQLite: one writer at a time anyway
    key = int.from_bytes(
        hashlib.sha1(f"{account_id}:{resource}:{record_id}".encode(), usedforsecurity=False).digest()[:8],
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _superseded_by(event: WebhookEvent, kind: EventType) -> WebhookEvent | None:
    """An already applied event of the same record that is newer (payload time, then stage of the call)."""
    same = [e.slug for e in EVENT_TYPES if e.resource == kind.resource]
    candidates = WebhookEvent.objects.for_account(event.client_account_id).filter(
        record_id=event.record_id, event_type__in=same, status=EventStatus.APPLIED,
        payload_timestamp__gte=event.payload_timestamp,
    ).exclude(pk=event.pk)  # fmt: skip
    for other in candidates.only("pk", "event_type", "payload_timestamp"):
        if other.payload_timestamp > event.payload_timestamp or BY_SLUG[other.event_type].rank > kind.rank:
            return other
    return None


def webhook_event_apply(*, event: WebhookEvent) -> WebhookEvent:
    """Apply one verified event to the mirror. Idempotent: an event applied (or ignored) before is left alone;
    an event older than one already applied to the same record changes nothing."""
    from apps.sync.resources import get_resource
    from apps.sync.services import mirror_apply_records

    if event.status not in (EventStatus.VERIFIED, EventStatus.FAILED):
        return event
    kind = BY_SLUG[event.event_type]
    account = ClientAccount.objects.for_account(event.client_account_id).get()
    event.attempts += 1
    if kind.resource is None or not event.record_id:
        event.status = EventStatus.IGNORED
        event.reason = "nothing of this event is mirrored" if kind.resource is None else "payload without an id"
        event.applied_at = timezone.now()
        event.save(update_fields=["status", "reason", "applied_at", "attempts"])
        return event
    payload = json.loads(event.raw_body)
    model = get_resource(kind.resource).model
    with transaction.atomic():
        _lock_record(account.pk, kind.resource, event.record_id)
        newer = _superseded_by(event, kind)
        if newer is not None:
            event.status = EventStatus.IGNORED
            event.reason = f"event #{newer.pk} of the same record is newer"
        else:
            existing = (
                model.objects.for_account(account).filter(callrail_id=event.record_id)
                .values_list("payload", flat=True).first()
            )  # fmt: skip
            record = _record_for(event, kind, payload, existing)
            event.result = mirror_apply_records(account=account, resource=kind.resource, records=[record])
            event.status = EventStatus.APPLIED
            event.reason = ""
        event.applied_at = timezone.now()
        event.save(update_fields=["status", "reason", "result", "applied_at", "attempts"])
    return event


def webhook_event_fail(*, event: WebhookEvent, message: str) -> None:
    """Applying crashed for good: recorded on the event (staff see it in the log)."""
    event.status = EventStatus.FAILED
    event.reason = message[:300]
    event.save(update_fields=["status", "reason", "attempts"])


def webhook_events_prune(*, now: datetime | None = None) -> int:
    """Forget events older than ``WEBHOOK_EVENT_RETENTION_DAYS`` (default 30), account by account (daily beat)."""
    days = float(setting("WEBHOOK_EVENT_RETENTION_DAYS", 30))
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    removed = 0
    for account_id in ClientAccount.objects.unscoped(reason="beat-dispatch").values_list("pk", flat=True):
        removed += WebhookEvent.objects.for_account(account_id).filter(received_at__lt=cutoff).delete()[0]
    return removed


# ------------------------------------------------------------------------------------------ connect
def webhooks_connect(*, company: Company, actor: Any = None) -> Any:
    """Point the company's CallRail Webhooks integration at the portal, through the outbox: created if the
    company has none, else its URLs for every event are set (other URLs it lists are kept). When CallRail
    answers a create, the signing key it returns is stored encrypted (see apps.push.writes)."""
    from apps.integrations.models import Integration
    from apps.integrations.services import integration_update, webhook_integration_create

    account = ClientAccount.objects.for_account(company.client_account_id).get()
    ours = webhook_urls(account)
    existing = (
        Integration.objects.for_account(account).live().filter(company=company, type="Webhooks").order_by("pk").first()
    )
    if existing is None:
        return webhook_integration_create(
            account=account, company=company, config={event: [url] for event, url in ours.items()}, actor=actor
        )
    config = {
        event: [*[u for u in (existing.config or {}).get(event, []) if u != url], url] for event, url in ours.items()
    }
    return integration_update(integration=existing, config=config, state="active", actor=actor)
