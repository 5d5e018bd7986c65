"""The generic pull engine: one code path for every resource described in ``resources.py``.

Pages -> change detection by payload hash -> pure mapper (``map_record``, changed records only) -> per-page
bulk upsert (``bulk_create(update_conflicts=True)``, PostgreSQL ``INSERT … ON CONFLICT``, see ``upsert_rows``)
inside one transaction, together with the run's counters and the
resource's checkpoint, so a crash never leaves half a page and the successor resumes after the last
committed page. Idempotent: a record already mirrored with the same payload hash is not rewritten, so a
sync with no upstream change writes nothing to the mirror (``last_seen_at`` of an unchanged record is
refreshed at most every ``SYNC_LAST_SEEN_RESOLUTION_SECONDS``, default 6 h).

Disappearance: the ids listed by a pass go into a Redis set of that pass (``SeenSet``, kept across a crash
and a resume); at the end of a complete listing, live rows of the listed scope (the whole resource, or the
time window of a windowed pass) missing from the set are marked ``deleted_upstream_at``; nothing is ever
deleted locally. If the set was lost (Redis restarted) the sweep is skipped, never guessed. Streaming: one
page in memory at a time.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import logging
import operator
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.callrail.client import CallRailClient
from apps.callrail.errors import NotFound, Transient
from apps.core.redis import get_redis, redis_key

from .models import KIND_RANK, SyncKind, SyncRun, SyncState
from .reread import coverage_record
from .resources import OFFSET, RELATIVE, SINGLE, Col, Resource, get_resource

logger = logging.getLogger(__name__)

MAX_PROBLEMS_KEPT = 200
_MISSING = object()

#: Hooks ``(ctx, resource, {callrail_id: record}) -> ids`` naming listed records whose local row holds an edit
#: not yet pushed to CallRail (registered by apps.push): a pull never overwrites a pending local edit.
PENDING_EDIT_HOOKS: list[Callable[[Any, Resource, dict[str, Any]], set[str]]] = []
#: ``callrail_id`` prefix of rows created in the portal and not yet confirmed by CallRail (never swept).
LOCAL_ID_PREFIX = "pending:"


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# ------------------------------------------------------------------------------------------- context
@dataclass
class Counters:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: Counters) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


@dataclass
class SyncContext:
    """What one execution of a run needs: the account, its client, and where to record what happened.

    ``on_page`` is called inside each page's transaction (the service saves the run's counters and renews
    the account lock there); ``now`` is injectable for tests of windows.
    """

    account: Any
    client: CallRailClient
    run: SyncRun | None = None
    on_page: Callable[[SyncContext], None] | None = None
    now: Callable[[], datetime] = timezone.now
    counters: Counters = field(default_factory=Counters)
    problems: list[dict] = field(default_factory=list)
    problem_count: int = 0
    pages: int = 0
    current: str = ""
    reread_days: int | None = None
    #: a re-read's explicit time windows per resource (``SyncRun.windows``): {resource: [[start, end], …]}
    windows: dict[str, list] = field(default_factory=dict)
    #: the session commits asynchronously (``_async_commit``): pages need no SET LOCAL of their own
    async_commit: bool = False
    #: ``time.monotonic()`` after which a resumable pass stops at its next page boundary (``SliceOver``)
    slice_ends: float | None = None
    #: resources whose pass began with no row of the account in the table: pages are inserted, not looked up
    insert_only: set[str] = field(default_factory=set)
    _inserted: dict[str, int] = field(default_factory=dict)
    _analyzed: dict[str, int] = field(default_factory=dict)
    _lookups: dict[str, tuple[str, tuple]] = field(default_factory=dict)
    _refs: dict[str, dict[str, int]] = field(default_factory=dict)

    def slice_over(self) -> bool:
        return self.slice_ends is not None and monotonic() >= self.slice_ends

    def problem(self, resource: Resource, callrail_id: Any, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append({"resource": resource.name, "id": str(callrail_id or ""), "message": message})
        logger.warning(
            "sync account=%s resource=%s record=%s: %s", self.account.pk, resource.name, callrail_id, message
        )

    def refs(self, resource_name: str) -> dict[str, int]:
        """CallRail id -> local pk of a (small) resource, loaded once per run after that resource synced."""
        if resource_name not in self._refs:
            model = get_resource(resource_name).model
            rows = model.objects.for_account(self.account).values_list("callrail_id", "pk")
            self._refs[resource_name] = dict(rows.iterator())
        return self._refs[resource_name]

    def forget_refs(self, resource_name: str) -> None:
        self._refs.pop(resource_name, None)

    @property
    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.account.time_zone or "UTC")
        except (ValueError, KeyError):
            return ZoneInfo("UTC")


class SliceOver(Transient):
    """The run's slice of worker time is spent (``SYNC_SLICE_SECONDS``): it stops after a committed page and
    its checkpoint, and goes back to the tail of its queue, so one huge account never holds a worker for its
    whole sync while the others wait."""

    def __init__(self) -> None:
        super().__init__("slice of worker time spent; continues from its checkpoint", retry_after=0)


class SeenSet:
    """The CallRail ids one pass has listed, in Redis (``redis_key("sync", "seen", account, resource, pass)``).

    ``added`` counts what this pass committed (kept in the checkpoint for windowed passes), so a set that
    lost members (Redis restarted without persistence) is detected and the sweep skipped.
    """

    def __init__(self, account_pk: int, resource: str, pass_id: str, added: int = 0) -> None:
        self.key = redis_key("sync", "seen", account_pk, resource, pass_id)
        self.added = added
        self.redis = get_redis()

    def add(self, ids: list[str]) -> None:
        if ids:
            pipe = self.redis.pipeline(transaction=False)
            pipe.sadd(self.key, *ids)
            pipe.expire(self.key, int(setting("SYNC_SEEN_TTL", 3 * 86400)))
            pipe.execute()
            self.added += len(ids)

    def intact(self) -> bool:
        return self.added == 0 or self.redis.scard(self.key) > 0

    def missing(self, ids: list[str]) -> list[str]:
        flags = self.redis.smismember(self.key, ids) if ids else []
        return [ident for ident, flag in zip(ids, flags, strict=True) if not flag]

    def discard(self) -> None:
        self.redis.delete(self.key)


# -------------------------------------------------------------------------------------------- mapping
def _dig(record: Any, path: str) -> Any:
    current = record
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {type(value).__name__}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    raise ValueError(f"expected true/false, got {value!r}"[:120])


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        result = int(value.strip())
    else:
        raise ValueError(f"expected a whole number, got {value!r}"[:120])
    if not -(2**31) <= result < 2**31:
        raise ValueError(f"number out of range: {result}")
    return result


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected an amount, got a boolean")
    try:
        if isinstance(value, int | float):
            result = Decimal(str(value))
        elif isinstance(value, str):
            result = Decimal(value.strip().replace("$", "").replace(",", ""))
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError(f"expected an amount, got {value!r}"[:120]) from None
    if not result.is_finite() or abs(result) >= Decimal(10) ** 10:
        raise ValueError(f"amount out of range: {value!r}"[:120])
    return result.quantize(Decimal("0.01"))


def _to_datetime(value: Any, tz: ZoneInfo) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 time, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}"[:120]) from None
    if parsed.tzinfo is None:  # CallRail sends offsets; a bare time is in the account's zone
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _when(value: Any, ctx: SyncContext) -> datetime:
    """``_to_datetime`` with a fast path for the usual ISO 8601 time with its offset."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    return _to_datetime(value, ctx.tz)


def _to_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    out = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str):
            raise ValueError(f"unexpected list item {item!r}"[:120])
        out.append(name)
    return out


def _to_ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    out = []
    for item in value:
        ident = item.get("id") if isinstance(item, dict) else item
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise ValueError(f"unexpected list item {item!r}"[:120])
        out.append(str(ident))
    return out


def _to_json(value: Any) -> Any:
    return value


@dataclass
class _Plan:
    """A column's conversion plan, derived once per resource from the Col and the model field."""

    attname: str
    name: str
    col: Col
    null: bool
    max_length: int | None
    convert: Callable[[Any], Any]
    dotted: bool = False


_CONVERTERS: dict[str, Callable[..., Any]] = {
    "text": _to_text,
    "bool": _to_bool,
    "int": _to_int,
    "decimal": _to_decimal,
    "json": _to_json,
    "names": _to_names,
    "ids": _to_ids,
}

_plans: dict[str, list[_Plan]] = {}


def plans_for(resource: Resource) -> list[_Plan]:
    plans = _plans.get(resource.name)
    if plans is None:
        plans = []
        for name, col in resource.columns.items():
            model_field = resource.model._meta.get_field(name)
            if col.kind not in (*_CONVERTERS, "datetime", "ref"):
                raise ValueError(f"{resource.name}.{name}: unknown column kind {col.kind!r}")
            plans.append(
                _Plan(
                    attname=model_field.attname,
                    name=name,
                    col=col,
                    null=model_field.null,
                    max_length=getattr(model_field, "max_length", None) if isinstance(
                        model_field, models.CharField) else None,
                    convert=_CONVERTERS.get(col.kind, _to_json),
                    dotted="." in col.source,
                )
            )  # fmt: skip
        _plans[resource.name] = plans
    return plans


def canonical_json(record: Any) -> str:
    """Compact, key-sorted JSON: equal records give equal text (and hash). orjson: ten times json's speed."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def payload_hash(record: Any) -> str:
    return hashlib.sha1(canonical_json(record).encode(), usedforsecurity=False).hexdigest()


def record_id(ctx: SyncContext, resource: Resource, record: Any) -> str | None:
    """The record's CallRail id, or None (recorded on the run) when the record cannot be stored at all."""
    if not isinstance(record, dict):
        ctx.problem(resource, None, f"record is not an object: {str(record)[:80]!r}")
        return None
    ident = record.get(resource.id_field)
    if isinstance(ident, bool) or not isinstance(ident, str | int) or str(ident).strip() == "":
        ctx.problem(resource, None, f"record without a usable {resource.id_field!r}; skipped")
        return None
    callrail_id = str(ident)
    if len(callrail_id) > 64:
        ctx.problem(resource, callrail_id[:64], "id longer than 64 characters; skipped")
        return None
    return callrail_id


def map_record(ctx: SyncContext, resource: Resource, record: dict, callrail_id: str) -> dict[str, Any]:
    """Upstream record -> column values (a pure mapping). Invalid or missing fields are stored as their
    default and recorded on the run, so one bad field never loses the record."""
    plans = plans_for(resource)
    values = mapper_for(resource)(record, ctx)
    if values is None:
        return _map_checked(ctx, resource, record, callrail_id)
    return {plan.attname: value for plan, value in zip(plans, values, strict=True)}


def _map_checked(ctx: SyncContext, resource: Resource, record: dict, callrail_id: str) -> dict[str, Any]:
    """The mapping of a record the compiled mapper declined: every field converted, every problem recorded."""
    values: dict[str, Any] = {}
    for plan in plans_for(resource):
        col = plan.col
        raw = _dig(record, col.source) if plan.dotted else record.get(col.source, _MISSING)
        value = col.default
        if raw is _MISSING:
            if not (col.optional or ("." in col.source and col.source.split(".")[0] in record)):
                # (a nested key absent from a present object, such as source.type, is not a problem)
                ctx.problem(resource, callrail_id, f"field {col.source!r} missing")
        elif raw is not None:
            try:
                if col.kind == "datetime":
                    value = _to_datetime(raw, ctx.tz)
                elif col.kind == "ref":
                    value = ctx.refs(col.ref).get(str(raw)) if isinstance(raw, str | int) else None
                else:
                    value = plan.convert(raw)
                    if plan.max_length and isinstance(value, str) and len(value) > plan.max_length:
                        ctx.problem(resource, callrail_id, f"{col.source!r} longer than {plan.max_length}; cut")
                        value = value[: plan.max_length]
            except ValueError as exc:
                ctx.problem(resource, callrail_id, f"field {col.source!r}: {exc}")
                value = col.default
        if value is None and not plan.null:
            value = col.default if col.default is not None else ""
        values[plan.attname] = value
    return values


_mappers: dict[str, Callable[[dict, SyncContext], tuple | None]] = {}


def mapper_for(resource: Resource) -> Callable[[dict, SyncContext], tuple | None]:
    """The resource's compiled mapping: ``(record, ctx) -> column values in plans_for order``, or None.

    Generated once per resource from its plans as straight-line Python: a value that already has the column's
    type is taken as is (a null or an absent optional field takes the column's default), so a well-formed
    record costs a dictionary lookup and a type check per column instead of a converter call. Anything else
    (a value to convert, a missing field, an over-long text) returns None, and ``_map_checked`` converts the
    record and records its problems: both give the same values (tests/sync/test_engine.py compares them).
    """
    mapper = _mappers.get(resource.name)
    if mapper is None:
        mapper = _mappers[resource.name] = _compile_mapper(resource)
    return mapper


def _compile_mapper(resource: Resource) -> Callable[[dict, SyncContext], tuple | None]:
    plans = plans_for(resource)
    scope: dict[str, Any] = {"MISSING": _MISSING, "dig": _dig, "iso": datetime.fromisoformat}
    refs = sorted({plan.col.ref for plan in plans if plan.col.kind == "ref"})
    # Every required top-level field in one C call (a missing one raises KeyError: the checked mapping).
    fetched = [i for i, plan in enumerate(plans) if not plan.dotted and not plan.col.optional]
    scope["fetch"] = operator.itemgetter(*[plans[i].col.source for i in fetched]) if fetched else None
    lines = ["def mapper(record, ctx):"]
    lines += [f"    ref{i} = ctx.refs({name!r})" for i, name in enumerate(refs)]
    lines.append("    try:")
    if fetched:
        targets = "".join(f"v{i}, " for i in fetched)
        lines.append(f"        {targets}= fetch(record)" + ("," if len(fetched) == 1 else ""))
    for i, plan in enumerate(plans):
        col, v = plan.col, f"v{i}"
        default = col.default if col.default is not None or plan.null else ""
        scope[f"D{i}"] = default
        none = f"{v} = D{i}" if default is not None else "pass"  # what a null (or an absent optional) becomes
        if col.optional:  # absent or null: the default
            lines.append(f"        {v} = record.get({col.source!r})")
        elif plan.dotted:  # a nested key absent from a present object is no problem: the checked mapping says
            lines += [f"        {v} = dig(record, {col.source!r})", f"        if {v} is MISSING: return None"]
        kind = col.kind
        if kind == "text":
            lines.append(f"        if type({v}) is str:")
            limit = f"if len({v}) > {plan.max_length}: return None" if plan.max_length else "pass"
            lines.append(f"            {limit}")
            lines += [f"        elif {v} is None: {none}", "        else: return None"]  # (a number: checked)
        elif kind == "bool":
            lines += [f"        if type({v}) is bool: pass", f"        elif {v} is None: {none}",
                      "        else: return None"]  # fmt: skip
        elif kind == "int":  # CallRail sends some numbers as text ("recording_duration": "62")
            scope[f"C{i}"] = plan.convert
            lines += [f"        if type({v}) is str and {v}.isdigit(): {v} = int({v})",
                      f"        if type({v}) is int:", f"            if not {-(2**31)} <= {v} < {2**31}: return None",
                      f"        elif {v} is None: {none}", f"        else: {v} = C{i}({v})"]  # fmt: skip
        elif kind == "datetime":
            lines += [f"        if type({v}) is str:", f"            {v} = iso({v})",
                      f"            if {v}.tzinfo is None: {v} = {v}.replace(tzinfo=ctx.tz)",
                      f"        elif {v} is None: {none}", "        else: return None"]  # fmt: skip
        elif kind == "ref":
            lines += [f"        if type({v}) is str: {v} = ref{refs.index(col.ref)}.get({v})",
                      f"        elif {v} is not None: return None"]  # fmt: skip
            if default is not None:
                lines.append(f"        if {v} is None: {v} = D{i}")
        elif kind == "names":
            scope[f"C{i}"] = plan.convert
            lines += [f"        if type({v}) is list and not {v}: {v} = []", f"        elif {v} is None: {none}",
                      f"        else: {v} = C{i}({v})"]  # fmt: skip
        elif kind == "json":
            lines.append(f"        if {v} is None: {none}")
        else:  # decimal, ids: the converter (a ValueError declines the record)
            scope[f"C{i}"] = plan.convert
            lines += [f"        if {v} is None: {none}", f"        else: {v} = C{i}({v})"]
    lines += ["    except (KeyError, ValueError):", "        return None"]
    lines.append("    return (" + "".join(f"v{i}, " for i in range(len(plans))) + ")")
    exec(compile("\n".join(lines), f"<mapper {resource.name}>", "exec"), scope)  # noqa: S102 - our own source
    return scope["mapper"]


# ------------------------------------------------------------------------------------------ writing
#: The columns the engine fills on every mirrored row, before the resource's own (``plans_for`` order).
MIRROR_COLUMNS = (
    "client_account_id", "callrail_id", "payload", "payload_hash", "first_seen_at", "last_seen_at", "changed_at",
    "deleted_upstream_at",
)  # fmt: skip
_PAYLOAD = MIRROR_COLUMNS.index("payload")
_ALWAYS_UPDATED = ("payload", "payload_hash", "last_seen_at", "changed_at", "deleted_upstream_at")
try:  # the COPY path talks to psycopg directly, whose errors Django does not wrap
    from psycopg.errors import UniqueViolation as _CopyUniqueViolation
except ImportError:  # SQLite (the embedded default)
    _CopyUniqueViolation = IntegrityError


def apply_page(
    ctx: SyncContext,
    resource: Resource,
    records: list[Any],
    *,
    extra: dict[str, Any] | None = None,
    state: SyncState | None = None,
    seen: SeenSet | None = None,
) -> Counters:
    """Upsert one page in one transaction (with the run's counters and the resource's checkpoint).

    While the resource is in ``ctx.insert_only`` (its pass began with no row of the account in the table, so
    every listed record is new) the page is inserted without looking up existing rows or pending edits. A
    record that exists after all (written meanwhile by a webhook, or listed again by a resumed pass) makes that
    insert fail as a whole; the page is then written the careful way, and so is the rest of the pass.
    """
    for col in resource.columns.values():
        if col.ref:
            ctx.refs(col.ref)  # loaded now: the lazy mapping below runs while the connection is busy with COPY
    listed: dict[str, dict] = {}
    for record in records:
        callrail_id = record_id(ctx, resource, record)
        if callrail_id is not None:
            listed[callrail_id] = record
    if resource.name in ctx.insert_only:
        problems, problem_count = len(ctx.problems), ctx.problem_count
        try:
            return _write_page(ctx, resource, listed, extra, state, seen, insert_only=True)
        except (IntegrityError, _CopyUniqueViolation):
            del ctx.problems[problems:]  # recorded again by the careful write
            ctx.problem_count = problem_count
            ctx.insert_only.discard(resource.name)
            logger.info("sync account=%s resource=%s: a listed record exists already; writing carefully",
                        ctx.account.pk, resource.name)  # fmt: skip
    return _write_page(ctx, resource, listed, extra, state, seen, insert_only=False)


def _hashed(record: dict, extra: dict[str, Any] | None) -> tuple[str, str]:
    """(payload hash, canonical JSON) of a record; the hash covers the parent a listing was made for."""
    blob = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    suffix = canonical_json(sorted(extra.items())).encode() if extra else b""
    return hashlib.sha1(blob + suffix, usedforsecurity=False).hexdigest(), blob.decode()


def _write_page(
    ctx: SyncContext,
    resource: Resource,
    listed: dict[str, dict],
    extra: dict[str, Any] | None,
    state: SyncState | None,
    seen: SeenSet | None,
    *,
    insert_only: bool,
) -> Counters:
    model = resource.model
    now = ctx.now()
    counts = Counters()
    with transaction.atomic():
        if not ctx.async_commit and _async_commit_wanted():  # (a page outside a pass: a webhook's records)
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        touch: list[str] = []
        changed: list[tuple[str, dict, tuple[str, str] | None]] = []  # (id, record, (hash, JSON) if known)
        if insert_only:  # hashed while COPY runs (below)
            changed = [(callrail_id, record, None) for callrail_id, record in listed.items()]
            counts.created = len(changed)
        else:
            existing = _existing_rows(ctx, model, list(listed))
            stale = now.timestamp() - float(setting("SYNC_LAST_SEEN_RESOLUTION_SECONDS", 6 * 3600))
            held: set[str] = set()
            if existing:  # only an existing row can hold a local edit
                for hook in PENDING_EDIT_HOOKS:
                    held |= hook(ctx, resource, {cid: listed[cid] for cid in existing})
            for callrail_id, record in listed.items():
                if callrail_id in held:
                    continue  # a local edit is still pending: the push (or a person) decides, not the pull
                known = existing.get(callrail_id)
                hashed = _hashed(record, extra)
                if known is not None and known[0] == hashed[0] and known[1]:
                    counts.unchanged += 1
                    if known[2] is None or known[2] <= stale:
                        touch.append(callrail_id)
                else:
                    changed.append((callrail_id, record, hashed))
                    if known is None:
                        counts.created += 1
                    else:
                        counts.updated += 1
        extra_values = tuple((extra or {}).values())

        def rows() -> Iterator[tuple[tuple, str]]:
            # Mapped lazily (only what changed), while PostgreSQL is already ingesting the previous rows.
            mapper, account_pk = mapper_for(resource), ctx.account.pk
            for callrail_id, record, hashed in changed:
                digest, blob = hashed or _hashed(record, extra)
                values = mapper(record, ctx)
                if values is None:
                    values = tuple(_map_checked(ctx, resource, record, callrail_id).values())
                yield (account_pk, callrail_id, record, digest, now, now, now, None, *values, *extra_values), blob

        if changed:
            columns = [*MIRROR_COLUMNS, *(p.attname for p in plans_for(resource)), *(extra or {})]
            upsert_rows(
                model, columns, rows(), update=[p.attname for p in plans_for(resource)] + list(extra or {}),
                all_new=counts.updated == 0,
            )  # fmt: skip
        if touch:
            model.objects.for_account(ctx.account).filter(callrail_id__in=touch).update(last_seen_at=now)
        if seen is not None:
            seen.add(list(listed))
            if state is not None:
                state.checkpoint["seen"] = seen.added
        if state is not None:
            state.save(update_fields=["checkpoint"])
        ctx.counters.add(counts)
        ctx.pages += 1
        if ctx.on_page is not None:
            ctx.on_page(ctx)
    if counts.created:
        _count_inserted(ctx, model, counts.created, analyze_now=not insert_only)
    return counts


def _async_commit_wanted() -> bool:
    """Pages commit asynchronously (``SYNC_ASYNC_COMMIT``, default on): a page and its checkpoint commit
    together, so a database crash that loses the last commits loses both, and the next run re-reads those
    pages. Saves a WAL flush per page."""
    return connection.vendor == "postgresql" and bool(setting("SYNC_ASYNC_COMMIT", True))


@contextmanager
def _async_commit(ctx: SyncContext) -> Iterator[None]:
    """Asynchronous commit for the session while a resource syncs: set once, not once per page."""
    if not _async_commit_wanted() or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    ctx.async_commit = True
    try:
        yield
    finally:
        ctx.async_commit = False
        if connection.connection is not None and not connection.in_atomic_block:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
            except DatabaseError:  # the connection broke: it is closed and the setting goes with it
                logger.warning("sync account=%s: could not reset synchronous_commit", ctx.account.pk)


def _existing_rows(ctx: SyncContext, model: type[models.Model], ids: list[str]) -> dict[str, tuple]:
    """CallRail id -> (payload hash, live, last seen as a POSIX timestamp) of listed records mirrored already.

    On PostgreSQL the scoped query is compiled once per run and table, with the page's ids as one array
    parameter (``= ANY(%s)``), and returns no timestamp to parse: compiling the ORM query for every page, and
    loading two timestamps a row, cost more than the database's own work for a replayed page.
    """
    rows = model.objects.for_account(ctx.account).order_by()
    if connection.vendor != "postgresql":
        found = rows.filter(callrail_id__in=ids).values_list(
            "callrail_id", "payload_hash", "deleted_upstream_at", "last_seen_at"
        )
        return {
            cid: (digest, deleted is None, last_seen.timestamp() if last_seen else None)
            for cid, digest, deleted, last_seen in found
        }
    compiled = ctx._lookups.get(model._meta.label)
    if compiled is None:
        query = (
            rows.filter(_Any(models.F("callrail_id"), models.Value(_IDS)))
            .annotate(
                _live=models.ExpressionWrapper(models.Q(deleted_upstream_at__isnull=True), models.BooleanField()),
                _seen=RawSQL("extract(epoch from last_seen_at)::float8", [], models.FloatField()),
            )
            .values_list("callrail_id", "payload_hash", "_live", "_seen")
            .query
        )
        compiled = ctx._lookups[model._meta.label] = query.sql_with_params()
    sql, params = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids if param is _IDS else param for param in params])
        return {cid: (digest, live, seen) for cid, digest, live, seen in cursor.fetchall()}


_IDS = ["(the page's ids)"]  # the placeholder compiled into the look-up, replaced by each page's ids


class _Any(models.Lookup):
    """``column = ANY(%s)``: a list of values as one array parameter (PostgreSQL)."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _count_inserted(ctx: SyncContext, model: type[models.Model], created: int, *, analyze_now: bool) -> None:
    """Refresh PostgreSQL's statistics once a run has inserted many rows into a table (a first full sync).

    Pages that look rows up need them at once: without them the planner answers the per-page lookup by
    scanning the whole account's rows instead of using the (account, CallRail id) index (100 ms instead of
    5 ms a page at 100,000 calls). An insert-only pass looks nothing up: it analyzes once, at its end
    (``analyze_after_pass``), for the next pass.
    """
    table = model._meta.db_table
    ctx._inserted[table] = ctx._inserted.get(table, 0) + created
    if analyze_now and table not in ctx._analyzed:  # once during the run; again at the end of the pass
        analyze_after_pass(ctx, model)


def analyze_after_pass(ctx: SyncContext, model: type[models.Model]) -> None:
    """ANALYZE the columns the engine looks rows up by, if this run inserted SYNC_ANALYZE_AFTER_ROWS rows into
    ``model``'s table since it last did. Only those: ANALYZE of a whole 100,000-call table took 3 s, of these
    two columns 0.4 s; autovacuum analyzes the rest once enough of the table changed."""
    table = model._meta.db_table
    inserted = ctx._inserted.get(table, 0)
    threshold = int(setting("SYNC_ANALYZE_AFTER_ROWS", 5000))
    if connection.vendor != "postgresql" or inserted - ctx._analyzed.get(table, 0) < threshold:
        return
    ctx._analyzed[table] = inserted
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in ("client_account", "callrail_id"))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {quote(table)} ({columns})")


def upsert_rows(
    model: type[models.Model],
    columns: list[str],
    writes: Iterable[tuple[tuple, str]],
    *,
    update: list[str],
    all_new: bool = False,
) -> None:
    """Insert or update rows by (client_account, callrail_id); ``writes`` yields (values in ``columns`` order,
    the payload's canonical JSON).

    Everywhere: ``bulk_create(update_conflicts=True)`` (``INSERT … ON CONFLICT DO UPDATE`` on PostgreSQL,
    ``ON CONFLICT`` on SQLite). On PostgreSQL, when ``SYNC_COPY_UPSERT`` (default on), the same
    ``INSERT … ON CONFLICT DO UPDATE`` statement reads the page from a session-local staging table filled
    with ``COPY``: Django's parameter quoting of a 250 x 45 value page costs more than the database's own
    work, and this path writes several times as many calls per second (see benchmarks/sync_bench.py). When
    every row of the page is new (``all_new``: none existed in this transaction, under the account lock) they
    are copied straight into the table (a plain INSERT elsewhere); a row inserted meanwhile hits the unique
    constraint and rolls the page back, never duplicates it.
    """
    update_fields = [*update, *_ALWAYS_UPDATED]
    if connection.vendor == "postgresql" and setting("SYNC_COPY_UPSERT", True):
        _copy_upsert(model, columns, writes, update_fields, direct=all_new)
        return
    conflicts = {} if all_new else {
        "update_conflicts": True, "unique_fields": ["client_account", "callrail_id"], "update_fields": update_fields,
    }  # fmt: skip
    model.objects.bulk_create([model(**dict(zip(columns, values, strict=True))) for values, _ in writes], **conflicts)


_json_positions: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}


def _copy_upsert(
    model: type[models.Model],
    columns: list[str],
    writes: Iterable[tuple[tuple, str]],
    update: list[str],
    *,
    direct: bool = False,
) -> None:
    quote = connection.ops.quote_name
    table, stage, column_list, assignments = _copy_statements(model, tuple(columns), tuple(update))
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor (COPY is not in the DB-API)
        if direct:
            _copy_rows(raw, model, quote(table), column_list, columns, writes)
            return
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {quote(stage)} AS SELECT * FROM {quote(table)} WITH NO DATA"  # noqa: S608
        )
        _copy_rows(raw, model, quote(stage), column_list, columns, writes)
        raw.execute(
            f"INSERT INTO {quote(table)} ({column_list}) SELECT {column_list} FROM {quote(stage)} "  # noqa: S608
            f"ON CONFLICT (client_account_id, callrail_id) DO UPDATE SET {assignments}"
        )
        raw.execute(f"TRUNCATE {quote(stage)}")


@functools.cache
def _copy_statements(model: type[models.Model], columns: tuple[str, ...], update: tuple[str, ...]) -> tuple:
    """(table, staging table, quoted column list, ON CONFLICT assignments): identifiers from the model's meta."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    column_list = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
    assignments = ", ".join(
        f"{quote(model._meta.get_field(c).column)} = EXCLUDED.{quote(model._meta.get_field(c).column)}"
        for c in update
    )
    return table, f"sync_stage_{table}"[:63], column_list, assignments


def _copy_rows(raw: Any, model: type[models.Model], table: str, column_list: str, columns: list[str], writes) -> None:
    # Identifiers only (from the model's meta, quoted); every value travels through COPY (psycopg's C dumpers).
    key = (model._meta.label, tuple(columns))
    positions = _json_positions.get(key)
    if positions is None:  # JSON columns other than the payload (sent as its canonical JSON)
        positions = _json_positions[key] = tuple(
            i for i, name in enumerate(columns)
            if name != "payload" and isinstance(model._meta.get_field(name), models.JSONField)
        )  # fmt: skip
    dumps = orjson.dumps
    with raw.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        for values, blob in writes:
            row = list(values)
            row[_PAYLOAD] = blob
            for i in positions:
                row[i] = dumps(row[i]).decode()
            copy.write_row(row)


def mark_disappeared(
    ctx: SyncContext, resource: Resource, *, seen: SeenSet, window: tuple[datetime, datetime] | None = None
) -> int:
    """Mark live rows of the listed scope whose id this pass did not list as deleted upstream."""
    if not seen.intact():
        ctx.problem(resource, None, "the pass's list of seen ids was lost (Redis restarted?): deletions not checked")
        return 0
    rows = resource.model.objects.for_account(ctx.account).filter(deleted_upstream_at__isnull=True)
    rows = rows.exclude(callrail_id__startswith=LOCAL_ID_PREFIX)  # created locally, not in CallRail yet
    if any(f.name == "spam" for f in resource.model._meta.concrete_fields):
        rows = rows.exclude(spam=True)  # CallRail hides spam calls from lists; the mirror keeps them as spam
    if window is not None:
        column = resource.window.column
        rows = rows.filter(**{f"{column}__gte": window[0], f"{column}__lte": window[1]})
    gone: list[int] = []
    batch: list[tuple[int, str]] = []
    for pair in rows.values_list("pk", "callrail_id").iterator(chunk_size=2000):
        batch.append(pair)
        if len(batch) == 1000:
            gone += _unseen(seen, batch)
            batch = []
    gone += _unseen(seen, batch)
    count = 0
    now = ctx.now()
    with transaction.atomic():
        for start in range(0, len(gone), 1000):
            chunk = gone[start : start + 1000]
            count += resource.model.objects.for_account(ctx.account).filter(pk__in=chunk).update(
                deleted_upstream_at=now, changed_at=now
            )
        ctx.counters.deleted += count
        if count and ctx.on_page is not None:
            ctx.on_page(ctx)
    seen.discard()
    return count


def _unseen(seen: SeenSet, batch: list[tuple[int, str]]) -> list[int]:
    missing = set(seen.missing([callrail_id for _, callrail_id in batch]))
    return [pk for pk, callrail_id in batch if callrail_id in missing]


# ------------------------------------------------------------------------------------------ listing
def _date_param(moment: datetime, tz: ZoneInfo) -> str:
    """An explicit, inclusive bound in the account's time zone, with its offset (no DST ambiguity)."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def retention_start(now: datetime, tz: ZoneInfo, agency_months: int | None = None) -> datetime:
    """The oldest instant a full sync asks for: CallRail keeps communication records 25 months
    (``SYNC_HISTORY_MONTHS``), the agency perhaps fewer (its retention, which a sync must not undo); one
    day of margin so the request is never refused as out of retention."""
    months = min(int(setting("SYNC_HISTORY_MONTHS", 25)), agency_months or 10**6)
    today = now.astimezone(tz).date()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])  # 31 March - 1 month = 28/29 February
    return datetime.combine(date(year, month + 1, day) + timedelta(days=1), time(0), tz)


def _pages(ctx: SyncContext, resource: Resource, params: dict[str, Any]) -> Iterator[list[Any]]:
    client = ctx.client
    fields = resource.fields or None
    per_page = int(setting("SYNC_PER_PAGE", 250))
    if resource.pagination == SINGLE:
        body = client.get(resource.path.format(account_id=ctx.account.callrail_account_id), fields=fields)
        yield [body]
    elif resource.pagination == RELATIVE:
        for page in client.paginate_relative(
            resource.path, list_key=resource.list_key, params=params, fields=fields, per_page=per_page
        ):
            yield page.records
    elif resource.pagination == OFFSET:
        for page in client.paginate(
            resource.path, list_key=resource.list_key, params=params, fields=fields, per_page=per_page
        ):
            yield page.records
    else:  # pragma: no cover - a description error
        raise ValueError(f"{resource.name}: unknown pagination {resource.pagination!r}")


def _dated_params(ctx: SyncContext, start: datetime, end: datetime) -> dict[str, str]:
    tz = ctx.tz
    return {"start_date": _date_param(start, tz), "end_date": _date_param(end, tz), "time_zone": str(tz)}


def sync_listed(ctx: SyncContext, resource: Resource) -> None:
    """A complete listing of a non-windowed resource, then disappearance detection over all of it (unless the
    pass began on an empty table: see ``_first_pass``)."""
    started = ctx.now()
    first = _first_pass(ctx, resource)
    seen = None if first else SeenSet(ctx.account.pk, resource.name, started.isoformat())
    if seen is not None:
        seen.discard()  # a fresh pass
    params: dict[str, Any] = dict(resource.params)
    if resource.dated:
        floor = retention_start(started, ctx.tz, ctx.account.agency.retention_months)
        params.update(_dated_params(ctx, floor, started))
    with _insert_only(ctx, resource, first):
        if resource.parent is not None:
            parent = resource.parent
            parent_model = get_resource(parent.resource).model
            parent_rows = list(
                parent_model.objects.for_account(ctx.account).live().order_by("pk").values_list("pk", "callrail_id")
            )
            for parent_pk, parent_id in parent_rows:
                try:
                    for records in _pages(ctx, resource, {**params, parent.param: parent_id}):
                        apply_page(ctx, resource, records, extra={f"{parent.column}_id": parent_pk}, seen=seen)
                except NotFound:
                    logger.info("sync %s: %s %s is gone upstream", resource.name, parent.resource, parent_id)
        else:
            for records in _pages(ctx, resource, params):
                apply_page(ctx, resource, records, seen=seen)
    if seen is not None:
        mark_disappeared(ctx, resource, seen=seen)
    analyze_after_pass(ctx, resource.model)
    ctx.forget_refs(resource.name)


def _first_pass(ctx: SyncContext, resource: Resource) -> bool:
    """Whether the account has no row at all in the resource's table (its first full sync, typically).

    Such a pass lists only new records, so its pages are inserted without looking anything up, and it needs no
    deletion sweep: every row present at its end was listed by it or written meanwhile by someone else (a
    webhook), which a sweep must not mark deleted.
    """
    return not resource.model.objects.for_account(ctx.account).exists()


@contextmanager
def _insert_only(ctx: SyncContext, resource: Resource, enabled: bool) -> Iterator[None]:
    if enabled:
        ctx.insert_only.add(resource.name)
    try:
        yield
    finally:
        ctx.insert_only.discard(resource.name)


def _state(ctx: SyncContext, resource: Resource) -> SyncState:
    state, _ = SyncState.objects.for_account(ctx.account).get_or_create(
        client_account=ctx.account, resource=resource.name
    )
    return state


def _new_window(ctx: SyncContext, resource: Resource, state: SyncState, kind: str) -> dict[str, Any]:
    now = ctx.now()
    if now.microsecond:  # the end is inclusive and sent in whole seconds: round up, never cut off "now"
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    floor = retention_start(now, ctx.tz, ctx.account.agency.retention_months)
    if kind == SyncKind.INCREMENTAL and state.cursor is not None:
        overlap = timedelta(minutes=float(setting("SYNC_OVERLAP_MINUTES", 30)))
        start = state.cursor - overlap
    elif kind == SyncKind.REREAD:
        start = now - timedelta(days=int(ctx.reread_days or setting("SYNC_REREAD_DAYS", 30)))
    else:  # full, or an incremental with no cursor yet
        kind = SyncKind.FULL
        start = floor
    start = max(start, floor).replace(microsecond=0)
    return {
        "kind": str(kind),
        "window_start": start.isoformat(),
        "window_end": now.isoformat(),
        "pass_started_at": ctx.now().isoformat(),
        "after": None,
        "pages": 0,
        "first": _first_pass(ctx, resource),
    }


def sync_windowed(ctx: SyncContext, resource: Resource, kind: str) -> None:
    """Calls, form submissions, text conversations: a time window, listed oldest first where the API can
    sort (then checkpointed after each page).

    An unfinished pass (its checkpoint survived a crash) is resumed first, from its last committed record
    time (inclusive, so nothing is skipped; the overlap is absorbed by the idempotent upsert). A requested
    pass wider than the resumed one then runs as well.
    """
    state = _state(ctx, resource)
    windows = ctx.windows.get(resource.name) if kind == SyncKind.REREAD else None
    if state.checkpoint:
        resumed_kind = state.checkpoint.get("kind", SyncKind.FULL)
        index = state.checkpoint.get("window_index")
        mine = ctx.run is not None and state.checkpoint.get("run") == ctx.run.pk  # (else another run's window)
        _run_window(ctx, resource, state)
        if windows and index is not None and mine:
            _window_done(ctx, resource, index)
        elif not windows and KIND_RANK.get(kind, 0) <= KIND_RANK.get(resumed_kind, 2):
            return
    if windows:
        _run_windows(ctx, resource, state, windows)
        return
    state.checkpoint = _new_window(ctx, resource, state, kind)
    state.save(update_fields=["checkpoint"])
    _run_window(ctx, resource, state)


def _run_windows(ctx: SyncContext, resource: Resource, state: SyncState, windows: list) -> None:
    """A re-read of explicit windows (a slice of the continuous re-read, a round, a targeted pull): each a
    pass of its own, with its checkpoint and disappearance check; done ones are skipped on a resume."""
    done = (ctx.run.progress.get("windows_done") or {}).get(resource.name, 0) if ctx.run is not None else 0
    for index, (start, end) in enumerate(windows):
        if index < done:
            continue
        now = ctx.now()
        floor = retention_start(now, ctx.tz, ctx.account.agency.retention_months)
        start = max(datetime.fromisoformat(start), floor).replace(microsecond=0)
        end = min(datetime.fromisoformat(end), now.replace(microsecond=0) + timedelta(seconds=1))
        if end >= start:
            state.checkpoint = {
                "kind": str(SyncKind.REREAD), "window_start": start.isoformat(), "window_end": end.isoformat(),
                "pass_started_at": now.isoformat(), "after": None, "pages": 0, "window_index": index,
                "run": ctx.run.pk if ctx.run is not None else None,
            }  # fmt: skip
            state.save(update_fields=["checkpoint"])
            _run_window(ctx, resource, state)
        _window_done(ctx, resource, index)


def _window_done(ctx: SyncContext, resource: Resource, index: int) -> None:
    if ctx.run is not None:
        done = {**(ctx.run.progress.get("windows_done") or {}), resource.name: index + 1}
        ctx.run.progress = {**ctx.run.progress, "windows_done": done}
        ctx.run.save(update_fields=["progress"])


def _may_slice(ctx: SyncContext, records: list, after: str | None, resumed_from: str | None) -> bool:
    """Whether the pass stops here for its slice: time is up, a full page says more follow (the last page never
    ends a slice), and the checkpoint moved on since this execution resumed (every slice makes progress)."""
    return len(records) >= int(setting("SYNC_PER_PAGE", 250)) and after != resumed_from and ctx.slice_over()


def _run_window(ctx: SyncContext, resource: Resource, state: SyncState) -> None:
    cp = state.checkpoint
    window_start = datetime.fromisoformat(cp["window_start"])
    window_end = datetime.fromisoformat(cp["window_end"])
    first = bool(cp.get("first"))
    seen = None if first else SeenSet(ctx.account.pk, resource.name, cp["pass_started_at"], added=cp.get("seen", 0))
    start = datetime.fromisoformat(cp["after"]) if cp.get("after") else window_start
    params = {**resource.params, **_dated_params(ctx, start, window_end)}
    resumable = resource.window.sort is not None
    resumed_from = cp.get("after")
    if resumable:
        params.update(sort=resource.window.sort, order="asc")
    with _insert_only(ctx, resource, first):
        for records in _pages(ctx, resource, params):
            latest = None
            for record in records:
                raw = record.get(resource.window.source) if isinstance(record, dict) else None
                try:
                    moment = _when(raw, ctx) if raw else None
                except ValueError:
                    moment = None
                if moment is not None and (latest is None or moment > latest):
                    latest = moment
            if latest is not None and resumable:
                # Resume from the second of the newest committed record: inclusive, never skipping a record.
                cp["after"] = max(latest.replace(microsecond=0), start).astimezone(UTC).isoformat()
            cp["pages"] = cp.get("pages", 0) + 1
            apply_page(ctx, resource, records, state=state, seen=seen)
            if resumable and _may_slice(ctx, records, cp.get("after"), resumed_from):
                raise SliceOver  # the page and its checkpoint are committed: the next slice resumes from there
    if seen is not None:
        mark_disappeared(ctx, resource, seen=seen, window=(window_start, window_end))
    analyze_after_pass(ctx, resource.model)
    with transaction.atomic():
        kind = cp.get("kind")
        if kind != SyncKind.REREAD or "window_index" not in cp:  # an old slice says nothing of the newest records
            state.cursor = max(filter(None, [state.cursor, window_end]))
        if kind == SyncKind.FULL:
            state.last_full_at = window_end
        if kind in (SyncKind.FULL, SyncKind.REREAD):
            state.last_reread_at = max(filter(None, [state.last_reread_at, window_end]))
        state.last_success_at = ctx.now()
        state.checkpoint = {}
        # what was listed when, for the continuous re-read (apps/sync/reread.py): as of the run's queueing
        read_at = ctx.run.queued_at if ctx.run is not None else datetime.fromisoformat(cp["pass_started_at"])
        floor = retention_start(ctx.now(), ctx.tz, ctx.account.agency.retention_months)
        coverage_record(state, window_start, window_end, read_at, floor)
        state.save()


def sync_resource(ctx: SyncContext, resource: Resource, kind: str) -> None:
    """Bring one resource of the account up to date with CallRail (every kind lists small resources fully)."""
    ctx.current = resource.name
    with _async_commit(ctx):
        if resource.window is not None:
            sync_windowed(ctx, resource, kind)
        elif resource.pagination == SINGLE:
            for records in _pages(ctx, resource, {}):
                apply_page(ctx, resource, records)
        else:
            sync_listed(ctx, resource)
