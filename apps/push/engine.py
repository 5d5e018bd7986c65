"""The generic push engine: drains one account's outbox to CallRail, in order, under the interactive budget.

One code path for every resource described in ``writes.py``. Per account one drain at a time (a Redis
lock); entries are taken in id order and, per object, a later entry never overtakes an earlier one that
has not succeeded (a failed or conflicting entry holds the object's later edits until a person retries or
discards it). Each entry is marked in flight (committed) before its request, so a crash is visible: an
in-flight entry found by the next drain (which holds the lock, so nobody else is sending it) is resumed,
and a create that may have reached CallRail is looked up upstream before it is sent again.

Outcomes: 2xx -> done, CallRail's answer applied to the mirrored row; 4xx -> failed with CallRail's message
(the local edit is kept); 5xx / network / 429 -> pending again with a backoff (``not_before``), and the
task re-enqueues itself with a countdown (never a sleep); no budget token -> nothing sent, retried when the
budget says.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.callrail.client import CallRailClient, client_for_account
from apps.callrail.errors import (
    BudgetExhausted,
    CallRailError,
    NotFound,
    Permanent,
    RateLimited,
    Transient,
    ValidationFailed,
)
from apps.core.redis import get_redis, redis_key
from apps.sync.engine import SyncContext, map_record, payload_hash
from apps.sync.resources import get_resource

from .models import (
    BLOCKING_STATUSES,
    OPEN_STATUSES,
    PENDING_PREFIX,
    EntryStatus,
    Operation,
    OutboxEntry,
)
from .writes import ANSWER_HOOKS, NotReady, Write, get_write

logger = logging.getLogger(__name__)


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def norm(value: Any) -> Any:
    """A JSON-comparable form of a column value (Decimal -> "12.50", datetimes -> ISO text)."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def same(a: Any, b: Any) -> bool:
    return json.dumps(norm(a), sort_keys=True) == json.dumps(norm(b), sort_keys=True)


# --------------------------------------------------------------------------------------------- lock
class DrainLock:
    """One drain per account across every worker (``SET NX EX`` with an owner token)."""

    def __init__(self, account_pk: int) -> None:
        self.key = redis_key("push", "lock", account_pk)
        self.token = uuid.uuid4().hex
        self.redis = get_redis()

    def acquire(self, ttl: int) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, ex=ttl))

    def renew(self, ttl: int) -> None:
        if (self.redis.get(self.key) or b"").decode() == self.token:
            self.redis.expire(self.key, ttl)

    def release(self) -> None:
        if (self.redis.get(self.key) or b"").decode() == self.token:
            self.redis.delete(self.key)


# ------------------------------------------------------------------------------------------ results
@dataclass
class DrainResult:
    sent: int = 0  # entries whose request(s) reached CallRail
    done: int = 0
    failed: int = 0
    conflicts: int = 0
    busy: bool = False
    #: seconds after which the drain should run again (transient failure, budget, waiting reference)
    retry_in: float | None = None
    notes: list[str] = field(default_factory=list)

    def wait(self, seconds: float) -> None:
        seconds = max(0.5, float(seconds))
        self.retry_in = seconds if self.retry_in is None else min(self.retry_in, seconds)


class _Stop(Exception):
    """Stop the whole drain (no budget, or CallRail is rate limiting the account)."""


class _Refused(Exception):
    """The write's ``before_send`` refused to send (nothing went to CallRail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ClassSpent(Exception):
    """No budget left in one limit class (SMS sends, outbound calls): that class's entries wait, others go on."""

    def __init__(self, limit_class: str) -> None:
        super().__init__(limit_class)
        self.limit_class = limit_class


# ----------------------------------------------------------------------------------------- helpers
def _row(entry: OutboxEntry, write: Write, *, lock: bool = False):
    model = write.model_class()
    rows = model.objects.for_account(entry.client_account_id).filter(pk=entry.object_pk)
    return (rows.select_for_update() if lock else rows).first()


def backoff_seconds(attempts: int) -> float:
    base = float(setting("PUSH_RETRY_BASE_SECONDS", 5))
    return min(base * (2 ** max(0, attempts - 1)), float(setting("PUSH_RETRY_MAX_SECONDS", 300)))


def _answer(body: Any) -> dict:
    if isinstance(body, dict):
        text = json.dumps(body, cls=DjangoJSONEncoder)
        return body if len(text) < 20000 else {"truncated": text[:20000]}
    return {"body": body} if body is not None else {}


class _QuietContext(SyncContext):
    """Mapping a partial answer (a PUT returns only some fields): missing fields are expected, not problems."""

    def problem(self, resource: Any, callrail_id: Any, message: str) -> None:
        return None


def apply_answer(*, account: Any, write: Write, row: Any, record: dict, keep: set[str] = frozenset()) -> None:
    """Apply CallRail's answer to the mirrored row: the columns whose source key the answer carries (a
    partial answer never blanks the others), except ``keep`` (columns a later local edit still holds)."""
    resource = get_resource(write.name)
    hook = ANSWER_HOOKS.get(write.name)
    if hook is not None:
        record = hook(account, row, record)
    ctx = _QuietContext(account=account, client=None)
    ident = str(record.get("id", row.callrail_id))
    mapped = map_record(ctx, resource, record, ident)
    model = resource.model
    update: dict[str, Any] = {}
    for name, col in resource.columns.items():
        top = col.source.split(".")[0]
        if top not in record or name in keep:
            continue
        attname = model._meta.get_field(name).attname
        update[attname] = mapped[attname]
    now = timezone.now()
    merged = {**(row.payload or {}), **record}
    update.update(payload=merged, payload_hash=payload_hash(merged), last_seen_at=now, changed_at=now)
    if row.callrail_id.startswith(PENDING_PREFIX) and record.get("id") is not None:
        # A pull may have mirrored the new object already (a crash before this write): one row stays.
        model.objects.for_account(account).filter(callrail_id=ident).exclude(pk=row.pk).delete()
        update["callrail_id"] = ident
    model.objects.for_account(account).filter(pk=row.pk).update(**update)


def _later_columns(entry: OutboxEntry) -> set[str]:
    later = OutboxEntry.objects.for_account(entry.client_account_id).filter(
        resource=entry.resource, object_pk=entry.object_pk, pk__gt=entry.pk, status__in=BLOCKING_STATUSES
    )
    columns: set[str] = set()
    for changes in later.values_list("changes", flat=True):
        columns |= set(changes or {})
    return columns


def _conflicts(entry: OutboxEntry) -> dict[str, dict[str, Any]]:
    out = {}
    for column, seen in (entry.upstream or {}).items():
        if column in entry.base and not same(seen, entry.base[column]):
            out[column] = {"upstream": seen, "based_on": entry.base[column], "local": entry.changes.get(column)}
    return out


# ------------------------------------------------------------------------------------------- sending
def _send(client: CallRailClient, entry: OutboxEntry, write: Write, row: Any, resumed: bool) -> Any:
    """One entry's request(s). Returns CallRail's record (or None for a delete)."""
    if entry.operation == Operation.CREATE:
        if resumed and write.find is not None:
            found = write.find(client, row, entry)
            if found is not None:
                entry.options = {**entry.options, "found_upstream": True}
                return found
        elif resumed and write.lookup is not None:
            found = _lookup(client, write, row)
            if found is not None:
                entry.options = {**entry.options, "found_upstream": True}
                return found
        reason = write.before_send(row, entry) if write.before_send is not None else None
        if reason:
            raise _Refused(reason)
        body = write.create_body(row, entry)
        entry.request_body = body
        return client.post(write.collection, json=body, retry=False)
    path = write.item.format(id=row.callrail_id)
    if row.callrail_id.startswith(PENDING_PREFIX):
        raise NotReady(f"{row} is not in CallRail yet")
    if entry.operation == Operation.DELETE:
        try:
            client.delete(path)
        except NotFound:
            return None  # already gone: what the person wanted
        return None
    body = write.update_body(row, list(entry.changes))
    for column in entry.changes:  # send the values of the edit itself, not a later one's
        f = write.field_for(column)
        if f.encode is None:
            body[f.key] = entry.changes[column]
    if entry.options.get("append_tags"):
        body["tags"] = list(entry.options.get("tags") or [])
        body["append_tags"] = True
    entry.request_body = body
    return client.put(path, json=body)


def _lookup(client: CallRailClient, write: Write, row: Any) -> dict | None:
    params = write.lookup.params(row)
    for record in client.iter_records(write.collection, list_key=write.list_key, params=params):
        if write.lookup.match(row, record):
            return record
    return None


def _finish(entry: OutboxEntry, **values: Any) -> None:
    for key, value in values.items():
        setattr(entry, key, value)
    entry.save(update_fields=[*values, "updated_at"])


def process_entry(client: CallRailClient, account: Any, entry: OutboxEntry, result: DrainResult) -> bool:
    """Send one entry and record the outcome. True when the entry is done (its object may go on)."""
    write = get_write(entry.resource)
    resumed = entry.attempts > 0  # an earlier attempt may have reached CallRail
    conflicts = _conflicts(entry) if entry.operation == Operation.UPDATE else {}
    if conflicts:
        text = "; ".join(
            f"{col}: CallRail now has {c['upstream']!r}, this edit was based on {c['based_on']!r}"
            for col, c in conflicts.items()
        )
        _finish(entry, status=EntryStatus.CONFLICT, message=f"Changed in CallRail since the edit: {text}",
                last_answer={"conflicts": conflicts})  # fmt: skip
        result.conflicts += 1
        return False
    with transaction.atomic():
        # Under the row's lock: an edit being saved now is either in the row read here, or (the entry being
        # in flight already) gets an entry of its own. Never lost between the two.
        row = _row(entry, write, lock=True)
        if row is None:
            _finish(entry, status=EntryStatus.DISCARDED, message="The record no longer exists in the portal.")
            return False
        taken = (
            OutboxEntry.objects.for_account(account)
            .filter(pk=entry.pk, status__in=OPEN_STATUSES)
            .update(status=EntryStatus.IN_FLIGHT, attempts=entry.attempts + 1, sent_at=timezone.now())
        )
    if not taken:
        return False  # superseded or discarded meanwhile
    entry.refresh_from_db()
    try:
        record = _send(client, entry, write, row, resumed)
    except _Refused as exc:  # nothing was sent
        _finish(entry, status=EntryStatus.FAILED, attempts=entry.attempts - 1, message=exc.reason)
        result.failed += 1
        return False
    except NotReady as exc:
        _finish(entry, status=EntryStatus.PENDING, attempts=entry.attempts - 1, message=f"Waiting: {exc}")
        result.wait(float(setting("PUSH_WAIT_SECONDS", 5)))
        return False
    except BudgetExhausted as exc:  # nothing was sent
        _finish(entry, status=EntryStatus.PENDING, attempts=entry.attempts - 1,
                not_before=timezone.now() + timedelta(seconds=exc.retry_after), message=exc.message)  # fmt: skip
        result.wait(exc.retry_after)
        if write.limit_class != "general" and exc.limit_class == write.limit_class:
            raise _ClassSpent(write.limit_class) from exc
        raise _Stop from exc
    except Transient as exc:
        result.sent += 1
        wait = max(float(exc.retry_after or 0), backoff_seconds(entry.attempts))
        if entry.attempts >= int(setting("PUSH_MAX_ATTEMPTS", 8)):
            message = f"CallRail did not take the change after {entry.attempts} attempts: {exc.message}"
            _finish(entry, status=EntryStatus.FAILED, last_status_code=exc.status, message=message)
            result.failed += 1
            return False
        _finish(entry, status=EntryStatus.PENDING, last_status_code=exc.status,
                not_before=timezone.now() + timedelta(seconds=wait),
                message=f"Will retry (attempt {entry.attempts}): {exc.message}")  # fmt: skip
        result.wait(wait)
        if isinstance(exc, RateLimited):
            raise _Stop from exc
        return False
    except Permanent as exc:
        result.sent += 1
        body = exc.errors if isinstance(exc, ValidationFailed) else {}
        _finish(entry, status=EntryStatus.FAILED, last_status_code=exc.status, message=exc.message,
                last_answer=_answer(body), request_body=entry.request_body)  # fmt: skip
        result.failed += 1
        return False
    except CallRailError as exc:  # pragma: no cover - every error is Transient or Permanent
        _finish(entry, status=EntryStatus.FAILED, message=str(exc))
        result.failed += 1
        return False
    result.sent += 1
    with transaction.atomic():
        if write.on_done is not None:
            write.on_done(account, row, record if isinstance(record, dict) else {}, entry, client)
        elif isinstance(record, dict):
            # Lock the row first: a service editing it holds this lock until its entry is committed, so the
            # later edits seen next are complete and the answer never overwrites one of them.
            row = type(row).objects.for_account(account).select_for_update().filter(pk=row.pk).first() or row
            apply_answer(account=account, write=write, row=row, record=record, keep=_later_columns(entry))
        now = timezone.now()
        _finish(entry, status=EntryStatus.DONE, done_at=now, last_status_code=200, message="",
                last_answer=_answer(record), options=entry.options, not_before=None,
                request_body=entry.request_body)  # fmt: skip
        # What a pull saw before this entry was sent is stale for the object's later entries.
        OutboxEntry.objects.for_account(account).filter(
            resource=entry.resource, object_pk=entry.object_pk, pk__gt=entry.pk, status=EntryStatus.PENDING
        ).update(upstream={})
    result.done += 1
    return True


def drain_account(account: Any, *, client: CallRailClient | None = None) -> DrainResult:
    """Send every eligible entry of the account's outbox, oldest first. Idempotent; safe to call anytime."""
    result = DrainResult()
    ttl = int(setting("PUSH_LOCK_TTL", 300))
    lock = DrainLock(account.pk)
    if not lock.acquire(ttl):
        result.busy = True
        result.wait(2)
        return result
    try:
        client = client or client_for_account(account, lane="interactive")
        blocked: set[tuple[str, int]] = set()
        spent: set[str] = set()  # limit classes with no budget left in this drain
        now = timezone.now()
        entries = list(OutboxEntry.objects.for_account(account).filter(status__in=BLOCKING_STATUSES).order_by("pk"))
        for entry in entries:
            key = (entry.resource, entry.object_pk)
            if key in blocked:
                continue
            if entry.status not in OPEN_STATUSES:
                blocked.add(key)
                continue
            if entry.not_before and entry.not_before > now:
                blocked.add(key)
                result.wait((entry.not_before - now).total_seconds())
                continue
            if get_write(entry.resource).limit_class in spent:
                continue  # stays pending; the drain re-runs when the budget says (result.retry_in)
            lock.renew(ttl)
            try:
                ok = process_entry(client, account, entry, result)
            except _ClassSpent as exc:
                spent.add(exc.limit_class)
                ok = True  # not blocked per object: the class waits as a whole
            except _Stop:
                break
            except Exception as exc:  # a bug: recorded on the entry, the other objects go on
                logger.exception("push entry %s of account %s crashed", entry.pk, account.pk)
                _finish(entry, status=EntryStatus.FAILED, message=f"{type(exc).__name__}: {exc}"[:2000])
                result.failed += 1
                ok = False
            if not ok:
                blocked.add(key)
        # Entries written while this drain ran (their task found the lock busy and re-enqueued itself).
        return result
    finally:
        lock.release()


# --------------------------------------------------------------------------------------- pull hook
def pull_hold(ctx: Any, resource: Any, records: dict[str, dict]) -> set[str]:
    """The pull engine's hook: CallRail ids of listed records whose local row has an edit not yet pushed
    (pending, in flight, failed or in conflict). The pull leaves those rows alone, and what it saw upstream
    is recorded on the pending entries so the drain can detect a conflict."""
    from apps.push.writes import WRITES

    if resource.name not in WRITES or not records:
        return set()
    entries = list(
        OutboxEntry.objects.for_account(ctx.account)
        .filter(resource=resource.name, status__in=BLOCKING_STATUSES)
        .order_by("pk")
    )
    if not entries:
        return set()
    ids = dict(
        resource.model.objects.for_account(ctx.account)
        .filter(pk__in={e.object_pk for e in entries}, callrail_id__in=list(records))
        .values_list("pk", "callrail_id")
    )
    held = set(ids.values())
    scratch = _QuietContext(account=ctx.account, client=None)
    model = resource.model
    for entry in entries:
        callrail_id = ids.get(entry.object_pk)
        if callrail_id is None or entry.status != EntryStatus.PENDING or entry.operation != Operation.UPDATE:
            continue
        mapped = map_record(scratch, resource, records[callrail_id], callrail_id)
        upstream = dict(entry.upstream or {})
        for column in entry.changes:
            if column not in entry.base:
                continue
            value = norm(mapped.get(model._meta.get_field(column).attname))
            if same(value, entry.base[column]):
                upstream.pop(column, None)
            else:
                upstream[column] = value
        if upstream != (entry.upstream or {}):
            OutboxEntry.objects.for_account(ctx.account).filter(pk=entry.pk).update(upstream=upstream)
    return held
