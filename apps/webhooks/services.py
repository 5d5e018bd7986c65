"""Webhook services: receive (verify, log, enqueue), apply to the mirror, signing keys, endpoint URLs.

Receiving answers fast: it verifies the ``Signature`` header (base64 HMAC-SHA1 of the raw body with the
company's signing key, compared in constant time) and the payload's company, stores the raw event and
enqueues ``webhooks.apply_event``. Every genuine signed delivery is accepted whatever its ``timestamp``: the
docs' own example carries the call's start time, a post-call webhook fires up to 20 minutes after hang-up
and a Call Modified one days later. Replays are harmless instead: the signature proves CallRail sent the
body, the same body is applied once, and a delivery never moves a record backwards (``apply.py``).

The endpoint never reveals whether an account exists: an unknown token, a missing or wrong signature and an
account without signing keys all get the same 401 (the signature is checked before the body is parsed, so
only CallRail, holding a key, can ever see a 400). A refused delivery keeps only its size, the SHA-256 of
its body, the reason and the time, and at most ``WEBHOOK_REFUSALS_PER_MINUTE`` refusals per endpoint are
recorded a minute (beyond: 429, nothing stored).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError

from apps.audit.services import audit_record
from apps.companies.models import Company
from apps.core.redis import get_redis, redis_key
from apps.tenancy.models import ClientAccount

from .events import BY_SLUG, EVENT_TYPES, EventType
from .models import EventStatus, WebhookEndpoint, WebhookEvent, WebhookRecord, WebhookSigningKey

logger = logging.getLogger(__name__)


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


#: ``//cdn.callrail.com/companies/183570817/…/swap.js``: a company's legacy numeric id, in its listed record.
_SWAP_JS = re.compile(r"/companies/(\d+)/")


def company_numeric_id(company: Company) -> str | None:
    """The company's legacy numeric id (the ``company_id`` of its call and form webhooks), from the
    ``script_url`` CallRail lists for it; None when the mirror does not hold one."""
    match = _SWAP_JS.search(str((company.payload or {}).get("script_url") or ""))
    return match.group(1) if match else None


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
        key.company_numeric_id = company_numeric_id(company) or key.company_numeric_id or ""
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
TOO_MANY = {"error": "too many refused deliveries; try again later"}


def _unauthorized() -> Receipt:
    return Receipt(401, dict(UNAUTHORIZED))


def parse_time(value: Any) -> datetime | None:
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


def _numeric(value: Any) -> str | None:
    """A legacy numeric id (``766970532`` or ``"766970532"``) as text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return str(value).strip()[:64]
    return None


#: The API's id prefix of each resource whose webhooks may name records by a legacy numeric id instead.
ID_PREFIX = {"calls": "CAL", "form_submissions": "FOR"}


def _payload_ids(event: EventType, payload: dict) -> tuple[str, str]:
    """(CallRail id, legacy numeric id) the payload names its record by; either may be empty."""
    if event.resource is None:
        value = payload.get("last_interaction_resource_id")
        return (str(value)[:64] if isinstance(value, str) else ""), ""
    if event.resource == "text_conversations":
        value = payload.get("conversation_id")
        return (str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) else ""), ""
    prefix = ID_PREFIX[event.resource]
    for key in ("id", "resource_id"):
        value = payload.get(key)
        if isinstance(value, str) and value.startswith(prefix):
            return value[:64], _numeric(payload.get("id")) or ""
    return "", _numeric(payload.get("id")) or ""


def payload_time(event: EventType, payload: dict) -> datetime | None:
    """The time the data gives: ``timestamp`` (the docs: "based on the data in the request"), else the
    record's own time (form submissions carry only ``submitted_at``)."""
    stamp = parse_time(payload.get("timestamp"))
    if stamp is None and event.resource == "form_submissions":
        stamp = parse_time(payload.get("submitted_at"))
    if stamp is None and event.resource == "calls":
        stamp = parse_time(payload.get("start_time"))
    return stamp


def _refusal_recorded(account_id: int) -> bool:
    """Whether this refusal may be recorded: at most ``WEBHOOK_REFUSALS_PER_MINUTE`` per endpoint and minute
    (a Redis counter shared by every web process). With Redis unreachable nothing is recorded."""
    limit = int(setting("WEBHOOK_REFUSALS_PER_MINUTE", 30))
    if limit <= 0:
        return True
    key = redis_key("webhooks", "refused", account_id, int(timezone.now().timestamp() // 60))
    try:
        conn = get_redis()
        pipe = conn.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except RedisError:
        logger.warning("webhook refusal of account %s not recorded: Redis unreachable", account_id)
        return False
    return count <= limit


def _signer(
    account_id: int, matched: list[WebhookSigningKey], event: EventType, payload: dict
) -> tuple[WebhookSigningKey | None, str]:
    """The company whose key signed the delivery, checked against the company the payload names (its
    ``COM…`` id, or the legacy numeric id of call and form webhooks). Returns (key, reason for refusing)."""
    named = _payload_company(event, payload)
    if isinstance(named, str) and named.startswith("COM"):
        key = next((k for k in matched if k.company_callrail_id == named), None)
        if key is not None:
            return key, ""
        if not Company.objects.for_account(account_id).filter(callrail_id=named).exists():
            return None, f"company {named[:64]} is not in this account"
        return None, f"company {named[:64]} does not match the signing key"
    numeric = _numeric(named)
    if numeric is None:
        if len(matched) > 1:
            return None, "the payload names no company and several companies share this signing key"
        return matched[0], ""
    for key in matched:
        if not key.company_numeric_id:
            company = Company.objects.for_account(account_id).filter(pk=key.company_id).first()
            key.company_numeric_id = (company_numeric_id(company) if company else None) or ""
    exact = [k for k in matched if k.company_numeric_id == numeric]
    if exact:
        return exact[0], ""
    unknown = [k for k in matched if not k.company_numeric_id]
    if len(unknown) == 1:  # the first signed delivery of this company tells its numeric id
        key = unknown[0]
        key.company_numeric_id = numeric
        WebhookSigningKey.objects.for_account(account_id).filter(pk=key.pk).update(company_numeric_id=numeric)
        return key, ""
    return None, f"company {numeric} does not match the signing key"


# ------------------------------------------------------------------------- signing keys, per process
#: token -> (account id, its signing keys), each key carrying ``stored``: its column exactly as stored (the
#: ciphertext, new at every save). Filled on first use per process; what the accepting INSERT checks (below).
_KEYS: dict[str, tuple[int, list[WebhookSigningKey]]] = {}
_KEYS_LOCK = threading.Lock()
KEYS_CACHED = 1000  # tokens kept per process


def webhook_keys_forget(**_: Any) -> None:
    """Drop this process's cached signing keys (a key or endpoint was saved or removed here). Other processes
    learn of a change on their next delivery: see ``webhook_receive``."""
    with _KEYS_LOCK:
        _KEYS.clear()


def _keys_load(token: str) -> tuple[int | None, list[WebhookSigningKey]]:
    """(account id, signing keys) of the endpoint with this token, from the database; (None, []) for none."""
    keys = list(
        WebhookSigningKey.objects.unscoped(reason="webhook-token")
        .filter(client_account__webhooks_webhookendpoint_set__token=token)
        .annotate(stored=Cast("signing_key", output_field=models.TextField()))
        .only("pk", "client_account_id", "company_id", "company_callrail_id", "company_numeric_id", "signing_key")
    )
    if keys:
        account_id = keys[0].client_account_id
        with _KEYS_LOCK:
            if len(_KEYS) >= KEYS_CACHED:
                _KEYS.clear()
            _KEYS[token] = (account_id, keys)
        return account_id, keys
    # no keys entered yet, or no such endpoint (never cached: the next delivery asks again)
    account_id = (
        WebhookEndpoint.objects.unscoped(reason="webhook-token")
        .filter(token=token)
        .values_list("client_account_id", flat=True)
        .first()
    )
    return account_id, []


def webhook_receive(
    *, token: str, event_type: str, body: bytes, signature: str | None, source_address: str | None
) -> Receipt:
    """Verify one delivery, log it, and hand it to the worker when good. Never raises for bad input.

    The endpoint's signing keys come from this process's cache when it holds them. Whatever they decide is
    checked against the database before it counts: a delivery they refuse is decided again on keys read
    afresh (a key entered or rotated in another process is honoured at once), and one they accept is stored by
    an INSERT that only writes the row while the signing key's stored value (a new ciphertext at every save)
    and the endpoint's token are still the same; when it writes nothing, the keys are read afresh and the
    delivery decided on them (a key removed or replaced elsewhere is refused at once). So the common case is
    one autocommitted round trip to the database.
    """
    event = BY_SLUG[event_type]
    cached = _KEYS.get(token)
    if cached is not None:
        receipt = _receive(token, event, event_type, body, signature, source_address, *cached, fresh=False)
        if receipt is not None:
            return receipt
    account_id, keys = _keys_load(token)
    if account_id is None:
        webhook_signature(signing_key="-", body=body)  # about the same work as for a known account
        logger.warning("webhook %s for an unknown endpoint from %s", event_type, source_address)
        return _unauthorized()
    receipt = _receive(token, event, event_type, body, signature, source_address, account_id, keys, fresh=True)
    return receipt or _unauthorized()  # (never None with fresh keys)


def _receive(
    token: str, event: EventType, event_type: str, body: bytes, signature: str | None, source_address: str | None,
    account_id: int, keys: list[WebhookSigningKey], *, fresh: bool,
) -> Receipt | None:  # fmt: skip
    """Decide one delivery on these keys. With keys from the cache (not ``fresh``), None instead of any
    refusal, or when the key that signed it is no longer the one stored: the caller decides again afresh."""

    def refuse(status: int, reason: str, answer: dict | None = None) -> Receipt | None:
        """Record the refusal as its size, hash, reason and time only — within the per-minute allowance."""
        if not fresh:
            return None
        logger.warning("webhook %s of account %s from %s refused (%s): %s", event_type, account_id,
                       source_address, status, reason)  # fmt: skip
        if not _refusal_recorded(account_id):
            return Receipt(429, dict(TOO_MANY))
        record = WebhookEvent.objects.create(
            client_account_id=account_id, event_type=event_type, status=EventStatus.REJECTED, reason=reason[:300],
            http_status=status, body_bytes=len(body), body_sha256=hashlib.sha256(body).hexdigest(),
        )  # fmt: skip
        return Receipt(status, answer or {"error": reason}, record)

    if not signature:
        return refuse(401, "missing Signature header", dict(UNAUTHORIZED))
    matched = [k for k in keys if signature_matches(signing_key=k.signing_key, body=body, signature=signature)]
    if not matched:
        reason = "signature does not match any company's signing key" if keys else "no signing key entered"
        return refuse(401, reason, dict(UNAUTHORIZED))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return refuse(400, "body is not JSON")
    if not isinstance(payload, dict):
        return refuse(400, "body is not a JSON object")
    key, problem = _signer(account_id, matched, event, payload)
    if key is None:
        return refuse(400, problem)

    body_sha256 = hashlib.sha256(body).hexdigest()
    record = WebhookEvent(
        client_account_id=account_id, event_type=event_type, source_address=source_address or None,
        signature=signature[:200], raw_body=body.decode("utf-8", "replace"), body_bytes=len(body),
        body_sha256=body_sha256, company_id=key.company_id,
    )  # fmt: skip
    record.record_id, record.legacy_id = _payload_ids(event, payload)
    changes = payload.get("changes")
    record.changes = [str(c) for c in changes][:50] if isinstance(changes, list) else []
    record.payload_timestamp = payload_time(event, payload)
    record.dedupe_key = hashlib.sha256(event_type.encode() + b"\n" + body).hexdigest()
    record.status, record.http_status = EventStatus.VERIFIED, 202
    if _insert_if_key_current(record, key, token):
        transaction.on_commit(lambda: webhook_hand_off(client_account_id=account_id, event_id=record.pk))
        return Receipt(202, {"ok": True}, record)
    if not _key_current(key, token):  # replaced or removed since this process read it
        return None if not fresh else refuse(401, "the signing key changed while the delivery arrived",
                                              dict(UNAUTHORIZED))  # fmt: skip
    original = (
        WebhookEvent.objects.for_account(account_id).filter(dedupe_key=record.dedupe_key).only("pk", "status").first()
    )
    record.pk = None
    record.dedupe_key = None
    record.duplicate_of = original
    record.status, record.http_status = EventStatus.DUPLICATE, 200
    record.reason = f"same delivery as event #{original.pk}" if original else "same delivery as an earlier event"
    record.save()
    return Receipt(200, {"ok": True, "duplicate": True}, record)


def _key_condition() -> str:
    key, endpoint = WebhookSigningKey._meta.db_table, WebhookEndpoint._meta.db_table  # table names only
    join = f"{key} k JOIN {endpoint} e ON e.client_account_id = k.client_account_id"
    return f"EXISTS (SELECT 1 FROM {join} WHERE k.id = %s AND k.signing_key = %s AND e.token = %s)"  # noqa: S608


def _key_current(key: WebhookSigningKey, token: str) -> bool:
    """Whether the key is still stored exactly as read (and the endpoint still has this token)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_key_condition()}", [key.pk, key.stored, token])
        return bool(cursor.fetchone()[0])


@lru_cache(maxsize=4)
def _insert_sql(vendor: str) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(f for f in WebhookEvent._meta.concrete_fields if not f.primary_key)
    if any(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields):
        raise ImproperlyConfigured("the receiver's INSERT takes attribute values as they are: no auto_now fields")
    if vendor == "postgresql":  # typed: the values arrive as literals of a SELECT, not of VALUES
        values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    else:
        values = ", ".join("%s" for _ in fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {WebhookEvent._meta.db_table} ({columns}) SELECT {values} WHERE {_key_condition()} "
        f"ON CONFLICT (client_account_id, dedupe_key) DO NOTHING RETURNING id"
    )
    return sql, fields


def _bound_cursor() -> Any:
    """On PostgreSQL a cursor binding its parameters on the server (Django's quotes them into the SQL): the
    receiver's INSERT is prepared once per connection (psycopg prepares a statement from its fifth run, with the
    ``prepare_threshold`` the settings give unless ``DATABASE_PREPARED_STATEMENTS`` is off: PostgreSQL's CPU 0.45
    → 0.22 ms a delivery) and its values travel as they are (0.50 instead of 0.65 ms a delivery, commit wait
    aside). Wrapped as Django wraps its own cursors (query log, error translation)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def _insert_if_key_current(record: WebhookEvent, key: WebhookSigningKey, token: str) -> bool:
    """Store a verified delivery in one statement (autocommitted outside a transaction), provided the key that
    signed it is still stored as read and it is not a duplicate. Whether the row was written."""
    sql, fields = _insert_sql(connection.vendor)
    if connection.vendor == "postgresql":  # typed by the SQL's casts: values as they are, JSON adapted
        params = [
            connection.ops.adapt_json_value(value, f.encoder) if isinstance(f, models.JSONField) else value
            for f in fields
            for value in (getattr(record, f.attname),)
        ]
    else:
        params = [f.get_db_prep_save(f.pre_save(record, True), connection) for f in fields]
    with _bound_cursor() as cursor:
        cursor.execute(sql, [*params, key.pk, key.stored, token])
        row = cursor.fetchone()
    if row is None:
        return False
    record.pk = row[0]
    record._state.adding = False
    record._state.db = "default"
    return True


# ------------------------------------------------------------------------------------------ hand-off
#: Accepted deliveries waiting for the worker: a Redis list of ``<account id>:<event id>``. Each web process
#: gathers its accepted deliveries for ``WEBHOOK_HAND_OFF_WINDOW_SECONDS`` (default 0.02; 0: each at once)
#: and pushes them in one ``RPUSH`` from a thread of its own, so a request never waits for Redis. A push onto
#: an empty list (and one that passes a multiple of ``HAND_OFF_KICK_EVERY`` while it grows) sends one
#: ``webhooks.apply_pending`` task, which applies what the list holds until it is empty. Whatever is lost on
#: the way (a process that died with deliveries gathered, Redis unreachable, a task that could not be sent, a
#: worker that died holding a batch) the sweeper finds in the database: a delivery is stored before it is
#: answered, and stays ``verified`` until a worker has tried it.
HAND_OFF_KICK_EVERY = 50
HAND_OFF_BATCH = 100


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    """One client (and connection pool) per process, not a connection per delivery."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def _pending_key() -> str:
    return redis_key("webhooks", "pending")


class _Gathered:
    """This process's accepted deliveries not pushed yet, and the thread that pushes them."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def add(self, item: str, window: float) -> None:
        with self.lock:
            self.items.append(item)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.run, args=(window,), name="webhooks-hand-off", daemon=True)
                self.thread.start()
        self.wake.set()

    def run(self, window: float) -> None:
        while True:
            self.wake.wait()
            time.sleep(window)
            self.wake.clear()
            try:
                self.push()
            except Exception:  # never let the thread die: the sweeper covers what this push lost
                logger.exception("webhook hand-off failed")

    def push(self) -> int:
        with self.lock:
            items, self.items = self.items, []
        if items:
            _push(items)
        return len(items)


_GATHERED = _Gathered()
atexit.register(_GATHERED.push)  # a web process that ends (max requests, restart) pushes what it gathered
os.register_at_fork(after_in_child=_GATHERED.__init__)  # a forked process starts empty, with a free lock


def _push(items: list[str]) -> None:
    """RPUSH accepted deliveries; send the task when the list was empty (or passed a multiple of
    ``HAND_OFF_KICK_EVERY``). Never raises: what fails here the sweeper picks up."""
    from .tasks import webhook_apply_pending_task

    try:
        waiting = _redis(settings.REDIS_URL).rpush(_pending_key(), *items)
    except RedisError:
        logger.warning("%s webhook events not handed off (Redis unreachable): the sweeper will", len(items))
        return
    before = waiting - len(items)
    if before == 0 or waiting // HAND_OFF_KICK_EVERY > before // HAND_OFF_KICK_EVERY:
        try:
            webhook_apply_pending_task.apply_async()
        except Exception:  # the broker is down: the list keeps the deliveries, the sweeper sends the task
            logger.warning("webhook hand-off: no task sent (broker unreachable)", exc_info=True)


def webhook_hand_off(*, client_account_id: int, event_id: int) -> None:
    """Hand an accepted delivery to the worker: gathered and pushed by this process's hand-off thread within
    ``WEBHOOK_HAND_OFF_WINDOW_SECONDS`` (at once when 0). Never raises."""
    item = f"{client_account_id}:{event_id}"
    window = float(setting("WEBHOOK_HAND_OFF_WINDOW_SECONDS", 0.02))
    if window <= 0:
        _push([item])
    else:
        _GATHERED.add(item, window)


def webhook_hand_off_flush() -> int:
    """Push what this process has gathered now (tests; a process about to end). How many were pushed."""
    return _GATHERED.push()


def webhook_pending_apply(*, batch: int = HAND_OFF_BATCH) -> int:
    """Apply the accepted deliveries waiting in the hand-off list, a batch at a time, until it is empty.
    A delivery whose look-up has no budget yet, or that fails, goes to ``webhooks.apply_event`` (retried
    there). Returns how many were taken."""
    from .apply import account_for_apply
    from .tasks import webhook_apply_event_task

    conn = _redis(settings.REDIS_URL)
    taken = 0
    while items := conn.lpop(_pending_key(), batch):
        taken += len(items)
        wanted: dict[int, list[int]] = {}
        for item in items:
            account_id, _, event_id = item.decode().partition(":")
            wanted.setdefault(int(account_id), []).append(int(event_id))
        for account_id, ids in wanted.items():
            account = account_for_apply(account_id)  # once per account and batch, with its credential
            events = WebhookEvent.objects.for_account(account_id).filter(pk__in=ids).select_related("company")
            for event in events.order_by("pk"):
                try:
                    webhook_event_apply(event=event, account=account)
                except Exception:  # Transient (no budget yet) or a failure: the per-event task retries it
                    logger.info("webhook event %s of account %s: retried on its own", event.pk, account_id,
                                exc_info=True)  # fmt: skip
                    try:
                        webhook_apply_event_task.apply_async(
                            kwargs={"client_account_id": account_id, "event_id": event.pk}, countdown=1
                        )
                    except Exception:  # no task sent: left untried, for the sweeper
                        logger.warning("webhook event %s: no retry task sent", event.pk, exc_info=True)
                    else:
                        webhook_event_deferred(event=event)
    return taken


def webhook_event_deferred(*, event: WebhookEvent) -> None:
    """An attempt that did not finish: counted, so the sweeper leaves the event to its retrying task."""
    WebhookEvent.objects.for_account(event.client_account_id).filter(pk=event.pk).update(
        attempts=models.F("attempts") + 1
    )


def webhook_events_sweep(*, now: datetime | None = None) -> int:
    """Hand off again every accepted delivery that no worker has tried yet ``WEBHOOK_HAND_OFF_GRACE_SECONDS``
    (default 60) after it arrived and that is not waiting in the hand-off list (its hand-off was lost, or the
    worker holding it died); send the task when the hand-off list is not empty. Runs every minute (beat).
    Returns how many were handed off again."""
    from .tasks import webhook_apply_pending_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=float(setting("WEBHOOK_HAND_OFF_GRACE_SECONDS", 60)))
    stale = list(
        WebhookEvent.objects.unscoped(reason="beat-dispatch")
        .filter(status=EventStatus.VERIFIED, attempts=0, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("client_account_id", "pk")[:10_000]
    )
    conn = _redis(settings.REDIS_URL)
    waiting = set(conn.lrange(_pending_key(), 0, -1))  # a backlog the worker has not reached yet is not lost
    stale = [(a, e) for a, e in stale if f"{a}:{e}".encode() not in waiting]
    if stale:
        logger.warning("webhooks: %s accepted deliveries were not handed off in time; handed off again", len(stale))
        for start in range(0, len(stale), 1000):
            conn.rpush(_pending_key(), *[f"{a}:{e}" for a, e in stale[start : start + 1000]])
    if stale or conn.llen(_pending_key()):
        webhook_apply_pending_task.apply_async()
    return len(stale)


# --------------------------------------------------------------------------------------------- apply
def webhook_event_apply(*, event: WebhookEvent, account: ClientAccount | None = None) -> WebhookEvent:
    """Apply one verified event to the mirror (``apply.py``). Idempotent: an event applied (or ignored) before
    is left alone. Raises ``Transient`` when a look-up it needs has no budget yet (the task retries).
    ``account``: its account as ``apply.account_for_apply`` reads it, when the caller holds it already."""
    from .apply import event_apply

    if event.status not in (EventStatus.VERIFIED, EventStatus.FAILED):
        return event
    return event_apply(event, account)


def webhook_event_fail(*, event: WebhookEvent, message: str) -> None:
    """Applying crashed for good: recorded on the event (staff see it in the log)."""
    event.status = EventStatus.FAILED
    event.reason = message[:300]
    event.save(update_fields=["status", "reason", "attempts"])


def webhook_events_prune(*, now: datetime | None = None) -> int:
    """Forget events older than ``WEBHOOK_EVENT_RETENTION_DAYS`` (default 30), account by account (daily beat),
    and what the receiver remembered of records the agency's retention has let go."""
    from apps.operations.services import retention_cutoff

    days = float(setting("WEBHOOK_EVENT_RETENTION_DAYS", 30))
    now = now or timezone.now()
    removed = 0
    for account in ClientAccount.objects.unscoped(reason="beat-dispatch").select_related("agency"):
        if days > 0:
            cutoff = now - timedelta(days=days)
            removed += WebhookEvent.objects.for_account(account).filter(received_at__lt=cutoff).delete()[0]
        forgotten = retention_cutoff(agency=account.agency, now=now)
        WebhookRecord.objects.for_account(account).filter(applied_at__lt=forgotten).delete()
    return removed
