"""Declarative descriptions of every CallRail write the portal makes — the only per-resource push knowledge.

The generic drain (``engine.py``) reads a :class:`Write`: the collection and item paths, which model columns
map to which request keys (and how they are encoded), how a create's body is built, what a delete does
locally, and how to find an object upstream before re-creating it (a create is never retried blindly: a
crash between CallRail's answer and the local write must not leave a second tracker that costs money every
month). Paths and fields come from the CallRail API v3 reference (shared/callrail-docs/001_…txt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .models import PENDING_PREFIX


class NotReady(Exception):
    """The entry refers to an object CallRail has not confirmed yet (its create is still queued)."""


def cid(obj: Any) -> str | None:
    """The CallRail id of a mirrored row (None for no row); NotReady while its own create is pending."""
    if obj is None:
        return None
    if obj.callrail_id.startswith(PENDING_PREFIX):
        raise NotReady(f"{obj._meta.verbose_name} {obj} is not in CallRail yet")
    return obj.callrail_id


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Field:
    """A model column sent as request key ``key``; ``encode(row)`` builds the value from the row for a foreign
    key (the referenced object's CallRail id, known only at send time)."""

    column: str
    key: str
    encode: Callable[[Any], Any] | None = None

    def value(self, row: Any) -> Any:
        return self.encode(row) if self.encode else _plain(getattr(row, self.column))


@dataclass(frozen=True)
class Lookup:
    """How to find an object upstream: list ``path`` with ``params(row)`` and take the record ``match``es."""

    params: Callable[[Any], dict[str, Any]]
    match: Callable[[Any, dict], bool]


@dataclass(frozen=True)
class Write:
    name: str  # also the sync resource name (model, columns, mapping)
    collection: str
    item: str
    fields: tuple[Field, ...]
    create_body: Callable[[Any, Any], dict] | None = None  # (row, entry) -> body
    lookup: Lookup | None = None
    list_key: str = ""
    #: columns set on the local row by a delete (disable); empty: the row is marked deleted
    delete_sets: dict[str, Any] = field(default_factory=dict)
    #: columns always sent together with any update (CallRail replaces them whole)
    update_always: tuple[str, ...] = ()
    #: For a write whose rows are not a mirrored resource (an SMS sent from the portal): its model's label.
    model: str = ""
    #: The CallRail limit class its requests count against (apps/callrail/budget.py): when that class has no
    #: budget left, only the entries of writes of the same class wait; the others go on.
    limit_class: str = "general"
    #: ``(client, row, entry) -> record | None``: find what an earlier attempt may have created upstream
    #: (used instead of ``lookup`` when a list filter cannot say it, e.g. a text inside a conversation).
    find: Callable[[Any, Any, Any], dict | None] | None = None
    #: ``(row, entry) -> reason | None``: a reason, known at send time, not to send at all (an opt-out that
    #: arrived after the text was queued). The entry fails with the reason; nothing is sent.
    before_send: Callable[[Any, Any], str | None] | None = None
    #: ``(account, row, record, entry, client) -> None``: writes CallRail's answer locally, instead of
    #: ``apply_answer`` (rows of ``model``).
    on_done: Callable[[Any, Any, dict, Any, Any], None] | None = None

    def model_class(self) -> Any:
        """The model of this write's rows."""
        if self.model:
            from django.apps import apps

            return apps.get_model(self.model)
        from apps.sync.resources import get_resource

        return get_resource(self.name).model

    def field_for(self, column: str) -> Field:
        for f in self.fields:
            if f.column == column:
                return f
        raise KeyError(f"{self.name}: {column!r} is not a writable column")

    def update_body(self, row: Any, columns: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for column in [*columns, *[c for c in self.update_always if c not in columns]]:
            f = self.field_for(column)
            body[f.key] = f.value(row)
        return body


def _lower(value: Any) -> str:
    return str(value or "").strip().lower()


# ----------------------------------------------------------------------------------------------- writes
TAGS = Write(
    name="tags",
    collection="tags.json",
    item="tags/{id}.json",
    list_key="tags",
    fields=(Field("name", "name"), Field("color", "color")),
    create_body=lambda row, entry: {
        "name": row.name,
        "color": row.color,
        **({"company_id": cid(row.company)} if row.company_id else {"tag_level": "account"}),
    },
    lookup=Lookup(
        params=lambda row: {"company_id": cid(row.company)} if row.company_id else {"tag_level": "account"},
        match=lambda row, rec: (
            _lower(rec.get("name")) == _lower(row.name)
            and (rec.get("company_id") or None) == (cid(row.company) if row.company_id else None)
        ),
    ),
)

COMPANIES = Write(
    name="companies",
    collection="companies.json",
    item="companies/{id}.json",
    list_key="companies",
    fields=(Field("name", "name"), Field("time_zone", "time_zone")),
    create_body=lambda row, entry: {"name": row.name, **({"time_zone": row.time_zone} if row.time_zone else {})},
    lookup=Lookup(
        params=lambda row: {"status": "active"},
        match=lambda row, rec: _lower(rec.get("name")) == _lower(row.name) and rec.get("status") != "disabled",
    ),
    delete_sets={"status": "disabled"},
)


def _tracker_create(row: Any, entry: Any) -> dict:
    number = dict(entry.options.get("number") or {})
    body = {
        "type": row.type,
        "name": row.name,
        "company_id": cid(row.company),
        "call_flow": row.call_flow,  # always the whole call flow: CallRail replaces it
        "source": row.source,
        "sms_enabled": bool(row.sms_enabled),
    }
    if row.whisper_message:
        body["whisper_message"] = row.whisper_message
    if row.type == "session":
        body["pool_size"] = int(entry.options.get("pool_size") or 4)
        body["pool_numbers"] = number
    else:
        body["tracking_number"] = number
    return body


TRACKERS = Write(
    name="trackers",
    collection="trackers.json",
    item="trackers/{id}.json",
    list_key="trackers",
    fields=(
        Field("name", "name"),
        Field("whisper_message", "whisper_message"),
        Field("sms_enabled", "sms_enabled"),
        Field("call_flow", "call_flow"),  # the destination number lives inside it
        Field("source", "source"),
    ),
    create_body=_tracker_create,
    lookup=Lookup(
        params=lambda row: {"company_id": cid(row.company), "type": row.type},
        match=lambda row, rec: _lower(rec.get("name")) == _lower(row.name) and rec.get("status") != "disabled",
    ),
    delete_sets={"status": "disabled"},
)

USERS = Write(
    name="users",
    collection="users.json",
    item="users/{id}.json",
    list_key="users",
    fields=(Field("company_ids", "companies"),),
    create_body=lambda row, entry: {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "role": row.role,
        **({"companies": list(row.company_ids)} if row.role != "admin" else {}),
    },
    lookup=Lookup(
        params=lambda row: {"search": row.email},
        match=lambda row, rec: _lower(rec.get("email")) == _lower(row.email),
    ),
)


def _notification_target(row: Any) -> dict:
    return {"user_id": cid(row.user)} if row.user_id else {"email": row.email}


_NOTIFICATION_FLAGS = ("call_enabled", "sms_enabled", "send_email", "send_push", "send_desktop")

NOTIFICATIONS = Write(
    name="notifications",
    collection="notifications.json",
    item="notifications/{id}.json",
    list_key="notifications",
    fields=(
        Field("company", "company_id", encode=lambda row: cid(row.company)),
        Field("tracker", "tracker_id", encode=lambda row: cid(row.tracker)),
        Field("alert_type", "alert_type"),
        *(Field(flag, flag) for flag in _NOTIFICATION_FLAGS),
    ),
    create_body=lambda row, entry: {
        **_notification_target(row),
        **({"company_id": cid(row.company)} if row.company_id else {}),
        **({"tracker_id": cid(row.tracker)} if row.tracker_id else {}),
        **({"alert_type": row.alert_type} if row.alert_type else {}),
        **{flag: bool(getattr(row, flag)) for flag in _NOTIFICATION_FLAGS},
    },
    lookup=Lookup(
        params=_notification_target,
        match=lambda row, rec: (
            (rec.get("company_id") or None) == (cid(row.company) if row.company_id else None)
            and (rec.get("tracker_id") or None) == (cid(row.tracker) if row.tracker_id else None)
            and (rec.get("alert_type") or None) == (row.alert_type or None)
            and all(bool(rec.get(flag)) == bool(getattr(row, flag)) for flag in _NOTIFICATION_FLAGS)
        ),
    ),
)


def _summary_target(row: Any) -> dict:
    target = {"user_id": cid(row.user)} if row.user_id else {"email": (row.payload or {}).get("email")}
    if row.company_id:
        target["company_id"] = cid(row.company)
    return target


SUMMARY_EMAILS = Write(
    name="summary_emails",
    collection="summary_emails.json",
    item="summary_emails/{id}.json",
    list_key="summary_emails",
    fields=(Field("frequency", "frequency"), Field("config", "config")),
    update_always=("config",),  # CallRail requires config on every update
    create_body=lambda row, entry: {**_summary_target(row), "frequency": row.frequency, "config": row.config},
    lookup=Lookup(
        params=_summary_target,
        match=lambda row, rec: (
            sorted(rec.get("frequency") or []) == sorted(row.frequency or [])
            and ((rec.get("scope") or {}).get("type") == "Company") == bool(row.company_id)
        ),
    ),
)

INTEGRATIONS = Write(
    name="integrations",
    collection="integrations.json",
    item="integrations/{id}.json",
    list_key="integrations",
    fields=(Field("config", "config"), Field("state", "state")),
    create_body=lambda row, entry: {"company_id": cid(row.company), "type": row.type, "config": row.config},
    lookup=Lookup(
        params=lambda row: {"company_id": cid(row.company)},
        match=lambda row, rec: rec.get("type") == row.type,
    ),
    delete_sets={"state": "disabled"},
)

#: Per write name, ``(account, row, answer) -> answer``: what CallRail answered, before it reaches the mirror.
#: Registered by the app owning the resource (its ``AppConfig.ready``), so push imports no domain app: the
#: integrations app takes the signing key out of a Webhooks integration's answer and stores it.
ANSWER_HOOKS: dict[str, Callable[[Any, Any, dict], dict]] = {}


def register_answer_hook(name: str, hook: Callable[[Any, Any, dict], dict]) -> None:
    get_write(name)  # validates
    ANSWER_HOOKS[name] = hook


CALLS = Write(
    name="calls",
    collection="calls.json",
    item="calls/{id}.json",
    list_key="calls",
    fields=(
        Field("note", "note"),
        Field("lead_status", "lead_status"),
        Field("value", "value"),
        Field("customer_name", "customer_name"),
        Field("tags", "tags"),
        Field("spam", "spam"),
    ),
)

WRITES: dict[str, Write] = {
    w.name: w for w in (TAGS, COMPANIES, TRACKERS, USERS, NOTIFICATIONS, SUMMARY_EMAILS, INTEGRATIONS, CALLS)
}


def get_write(name: str) -> Write:
    return WRITES[name]


def register_write(write: Write) -> None:
    """Add a write described by the app owning its rows (its ``AppConfig.ready``): push imports no domain app."""
    WRITES[write.name] = write
