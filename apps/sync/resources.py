"""Declarative descriptions of every mirrored CallRail resource — the only per-resource sync knowledge.

The generic engine (``engine.py``) reads a :class:`Resource`: where to list it, which key holds the
records, how it is paginated, whether it is listed per parent (integrations, outbound caller IDs and
integration triggers per company), whether it is windowed by time (calls, form submissions: incremental by
a cursor), and how each upstream field maps to a model column. Field names come from the CallRail API v3
reference (shared/callrail-docs/001_…txt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps

OFFSET = "offset"
RELATIVE = "relative"
SINGLE = "single"


@dataclass(frozen=True)
class Col:
    """One model column filled from the upstream record.

    ``source`` is a key, or a dotted path into nested objects (``company.id``). ``kind`` selects the
    converter (text, bool, int, decimal, datetime, json, names, ref). ``ref`` names the resource a foreign
    key points at, resolved by CallRail id within the same account. ``default`` is stored when the field is
    missing or invalid (the problem is recorded on the run).
    """

    source: str
    kind: str = "text"
    ref: str | None = None
    default: Any = None
    optional: bool = False  # absent from some records by design: no problem is recorded


def text(source: str, default: Any = None) -> Col:
    return Col(source, "text", default=default)


def boolean(source: str, default: Any = None, *, optional: bool = False) -> Col:
    return Col(source, "bool", default=default, optional=optional)


def integer(source: str) -> Col:
    return Col(source, "int")


def decimal(source: str) -> Col:
    return Col(source, "decimal")


def when(source: str) -> Col:
    return Col(source, "datetime")


def data(source: str, default: Any = None) -> Col:
    return Col(source, "json", default=default)


def names(source: str) -> Col:
    """A list of strings or of objects with a ``name`` (call tags) -> list of names."""
    return Col(source, "names", default=[])


def ref(source: str, resource: str) -> Col:
    return Col(source, "ref", ref=resource)


@dataclass(frozen=True)
class Parent:
    """List this resource once per live record of ``resource``, passing its CallRail id as ``param``;
    ``column`` (a foreign key) is set to that parent."""

    resource: str
    param: str
    column: str


@dataclass(frozen=True)
class Window:
    """Incremental by time: ``column``/``source`` hold the record's time; ``sort`` is the API sort field for
    oldest-first listing, which lets a pass resume after its last committed page (None: the endpoint cannot
    sort, so an interrupted pass re-reads its window from the start)."""

    column: str
    source: str
    sort: str | None


@dataclass(frozen=True)
class Resource:
    name: str
    model_label: str
    path: str
    list_key: str | None
    columns: dict[str, Col]
    pagination: str = OFFSET
    id_field: str = "id"
    fields: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    #: communication records: always send explicit start_date/end_date (never the API's default range)
    dated: bool = False
    window: Window | None = None
    parent: Parent | None = None

    @property
    def model(self):
        return apps.get_model(self.model_label)

    def __str__(self) -> str:
        return self.name


ACCOUNT = Resource(
    name="account",
    model_label="sync.AccountRecord",
    path="/a/{account_id}.json",
    list_key=None,
    pagination=SINGLE,
    fields=("numeric_id",),
    columns={
        "name": text("name", ""),
        "numeric_id": Col("numeric_id", "int", optional=True),
        "outbound_recording_enabled": boolean("outbound_recording_enabled"),
        "hipaa_account": boolean("hipaa_account"),
    },
)

COMPANIES = Resource(
    name="companies",
    model_label="companies.Company",
    path="companies.json",
    list_key="companies",
    columns={
        "name": text("name", ""),
        "status": text("status", ""),
        "time_zone": text("time_zone", ""),
        "dni_active": boolean("dni_active"),
        "callscribe_enabled": boolean("callscribe_enabled"),
        "lead_scoring_enabled": boolean("lead_scoring_enabled"),
        "form_capture": boolean("form_capture"),
        "upstream_created_at": when("created_at"),
        "disabled_at": when("disabled_at"),
    },
)

USERS = Resource(
    name="users",
    model_label="callrail_users.CallRailUser",
    path="users.json",
    list_key="users",
    columns={
        "email": text("email", ""),
        "first_name": text("first_name", ""),
        "last_name": text("last_name", ""),
        "name": text("name", ""),
        "role": text("role", ""),
        "accepted": boolean("accepted"),
        "company_ids": Col("companies", "ids", default=[]),  # [{"id", "name"}] -> ids
        "upstream_created_at": when("created_at"),
    },
)

TRACKERS = Resource(
    name="trackers",
    model_label="trackers.Tracker",
    path="trackers.json",
    list_key="trackers",
    columns={
        "company": ref("company.id", "companies"),
        "name": text("name", ""),
        "type": text("type", ""),
        "status": text("status", ""),
        "destination_number": text("destination_number"),
        "tracking_numbers": data("tracking_numbers", []),
        "whisper_message": text("whisper_message"),
        "sms_enabled": boolean("sms_enabled"),
        "source": data("source", {}),
        "source_type": text("source.type"),
        "call_flow": data("call_flow", {}),
        "recording_enabled": boolean("call_flow.recording_enabled"),
        "upstream_created_at": when("created_at"),
        "disabled_at": when("disabled_at"),
    },
)

TAGS = Resource(
    name="tags",
    model_label="tags.Tag",
    path="tags.json",
    list_key="tags",
    columns={
        "company": ref("company_id", "companies"),
        "name": text("name", ""),
        "tag_level": text("tag_level", ""),
        "color": text("color"),
        "background_color": text("background_color"),
        "status": text("status", ""),
        "upstream_created_at": when("created_at"),
    },
)

NOTIFICATIONS = Resource(
    name="notifications",
    model_label="notifications.Notification",
    path="notifications.json",
    list_key="notifications",
    columns={
        "user": ref("user_id", "users"),
        "company": ref("company_id", "companies"),
        "tracker": ref("tracker_id", "trackers"),
        "name": text("name", ""),
        "email": text("email"),
        "alert_type": text("alert_type", ""),
        "call_enabled": boolean("call_enabled"),
        "sms_enabled": boolean("sms_enabled"),
        "send_email": boolean("send_email"),
        "send_push": boolean("send_push"),
        "send_desktop": boolean("send_desktop"),
    },
)

SUMMARY_EMAILS = Resource(
    name="summary_emails",
    model_label="summary_emails.SummaryEmail",
    path="summary_emails.json",
    list_key="summary_emails",
    columns={
        "user": ref("user.id", "users"),
        "company": ref("scope.id", "companies"),  # a company-scoped subscription; None for the account
        "scope_type": text("scope.type", ""),
        "scope_id": text("scope.id"),
        "frequency": data("frequency", []),
        "config": data("config", {}),
    },
)

INTEGRATIONS = Resource(
    name="integrations",
    model_label="integrations.Integration",
    path="integrations.json",
    list_key="integrations",
    parent=Parent(resource="companies", param="company_id", column="company"),
    columns={
        "type": text("type", ""),
        "state": text("state", ""),
        "config": data("config", {}),
    },
)

CALLER_IDS = Resource(
    name="caller_ids",
    model_label="calls.OutboundCallerId",
    path="caller_ids.json",
    list_key="caller_ids",
    parent=Parent(resource="companies", param="company_id", column="company"),  # company_id is required
    columns={
        "phone_number": text("phone_number", ""),
        "name": text("name", ""),
        "verified": boolean("verified"),
        "upstream_created_at": when("created_at"),
    },
)

INTEGRATION_TRIGGERS = Resource(
    name="integration_triggers",
    model_label="integrations.IntegrationTrigger",
    path="integration_triggers.json",
    list_key="integration_criteria",
    parent=Parent(resource="companies", param="company_id", column="company"),  # company_id is required
    columns={
        "integration_callrail_id": integer("integration_id"),  # null: the company's default trigger
        "integration_type": text("integration.type", ""),
        "tracker_ids": data("tracker_ids", []),
        "call_type": text("call_type"),
        "min_duration": integer("min_duration"),
        "max_duration": integer("max_duration"),
        "lead_status": text("lead_status"),
    },
)

CALL_FIELDS = (
    "call_type", "company_id", "company_name", "created_at", "device_type", "first_call", "prior_calls",
    "lead_status", "note", "source", "source_name", "tags", "value", "tracker_id", "keywords", "medium",
    "campaign", "referring_url", "landing_page_url", "person_id", "agent_email", "transcription",
    "call_summary", "sentiment",
)  # fmt: skip

CALLS = Resource(
    name="calls",
    model_label="calls.Call",
    path="calls.json",
    list_key="calls",
    pagination=RELATIVE,
    fields=CALL_FIELDS,
    dated=True,
    window=Window(column="start_time", source="start_time", sort="start_time"),
    columns={
        "company": ref("company_id", "companies"),
        "tracker": ref("tracker_id", "trackers"),
        "direction": text("direction", ""),
        "call_type": text("call_type"),
        "answered": boolean("answered"),
        "voicemail": boolean("voicemail"),
        "duration": integer("duration"),
        "start_time": when("start_time"),
        "upstream_created_at": when("created_at"),
        "customer_name": text("customer_name"),
        "customer_phone_number": text("customer_phone_number"),
        "customer_city": text("customer_city"),
        "customer_state": text("customer_state"),
        "customer_country": text("customer_country"),
        "business_phone_number": text("business_phone_number"),
        "tracking_phone_number": text("tracking_phone_number"),
        "source": text("source"),
        "source_name": text("source_name"),
        "medium": text("medium"),
        "campaign": text("campaign"),
        "keywords": text("keywords"),
        "landing_page_url": text("landing_page_url"),
        "referring_url": text("referring_url"),
        "device_type": text("device_type"),
        "lead_status": text("lead_status"),
        "value": decimal("value"),
        "note": text("note"),
        "tags": names("tags"),
        "recording_url": text("recording"),
        "recording_player": text("recording_player"),
        "recording_duration": integer("recording_duration"),
        "spam": boolean("spam", False, optional=True),  # not a list field; set by edits and webhooks
        "first_call": boolean("first_call"),
        "prior_calls": integer("prior_calls"),
        "person_id": text("person_id"),
        "agent_email": text("agent_email"),
    },
)

FORM_SUBMISSIONS = Resource(
    name="form_submissions",
    model_label="form_submissions.FormSubmission",
    path="form_submissions.json",
    list_key="form_submissions",
    fields=("lead_status", "value", "note", "tags", "form_name"),
    dated=True,
    window=Window(column="submitted_at", source="submitted_at", sort="submitted_at"),
    columns={
        "company": ref("company_id", "companies"),
        "person_id": text("person_id"),
        "form_name": text("form_name"),
        "form_url": text("form_url"),
        "landing_page_url": text("landing_page_url"),
        "referrer": text("referrer"),
        "referring_url": text("referring_url"),
        "submitted_at": when("submitted_at"),
        "first_form": boolean("first_form"),
        "customer_phone_number": text("customer_phone_number"),
        "customer_name": text("customer_name"),
        "customer_email": text("customer_email"),
        "source": text("source"),
        "medium": text("medium"),
        "campaign": text("campaign"),
        "keywords": text("keywords"),
        "lead_status": text("lead_status"),
        "value": decimal("value"),
        "note": text("note"),
        "tags": names("tags"),
    },
)

TEXT_CONVERSATIONS = Resource(
    name="text_conversations",
    model_label="text_conversations.TextConversation",
    path="text-messages.json",
    list_key="conversations",
    fields=("lead_status",),
    dated=True,
    # Listed newest message first and filtered by it: a conversation with a new message re-enters the window.
    window=Window(column="last_message_at", source="last_message_at", sort=None),
    columns={
        "company": ref("company_id", "companies"),
        "current_tracker": ref("current_tracker_id", "trackers"),
        "customer_name": text("customer_name"),
        "customer_phone_number": text("customer_phone_number"),
        "initial_tracking_number": text("initial_tracking_number"),
        "current_tracking_number": text("current_tracking_number"),
        "last_message_at": when("last_message_at"),
        "state": text("state", ""),
        "lead_status": text("lead_status"),
    },
)

#: Every resource, in dependency order (a foreign key's target is synced before the records pointing at it).
RESOURCES: tuple[Resource, ...] = (
    ACCOUNT, COMPANIES, USERS, TRACKERS, TAGS, NOTIFICATIONS, SUMMARY_EMAILS, INTEGRATIONS, CALLER_IDS,
    INTEGRATION_TRIGGERS, CALLS, FORM_SUBMISSIONS, TEXT_CONVERSATIONS,
)  # fmt: skip
BY_NAME: dict[str, Resource] = {r.name: r for r in RESOURCES}


def resource_names() -> list[str]:
    return [r.name for r in RESOURCES]


def get_resource(name: str) -> Resource:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"Unknown resource {name!r}; one of: {', '.join(BY_NAME)}") from None
