"""What the portal lists and shows of every mirrored CallRail resource: one declaration each.

Columns, filters, search fields and sort keys use CallRail's own names (API v3 reference). The generic
views in ``views.py`` and the machinery in ``listing.py`` do the rest.
"""

from __future__ import annotations

from apps.calls.selectors import ANSWER_STATUSES, DIRECTIONS, LEAD_STATUSES, call_answer_status_q, lead_status_q
from apps.integrations.selectors import configured_events

from .formatting import format_phone, title_case_name
from .labels import label
from .listing import BoolFilter, ChoiceFilter, Column, DateRangeFilter, PortalResource, RefFilter, TagFilter


def call_status(call) -> str:
    """CallRail's call type as a person reads it: outbound, answered, voicemail or missed."""
    if call.direction == "outbound":
        return "Outbound"
    if call.voicemail:
        return "Voicemail"
    return "Answered" if call.answered else "Missed"


COMPANY = RefFilter("company", "Company", "companies.Company", "company")


# --- titles: what a record is called on its page, in breadcrumbs and links (never a CallRail id if avoidable)
def _person(obj) -> str:
    return title_case_name(obj.customer_name) or format_phone(obj.customer_phone_number) or "Unknown caller"


def call_title(call) -> str:
    return f"Call from {_person(call)}"


def conversation_title(conversation) -> str:
    """Titled by the customer, as CallRail does: the formatted name, else the formatted number."""
    payload = conversation.payload or {}
    name = payload.get("formatted_customer_name") or title_case_name(conversation.customer_name)
    return name or format_phone(conversation.customer_phone_number) or "Unknown customer"


def form_title(submission) -> str:
    who = title_case_name(submission.customer_name) or submission.customer_email or "someone"
    return f"{submission.form_name or 'Form'} from {who}"


def _with_company(name: str, obj) -> str:
    company = getattr(obj, "company", None)
    return f"{name} · {company.name}" if company is not None else name


def tracker_title(tracker) -> str:
    return _with_company(tracker.name or "Tracker", tracker)


def tag_title(tag) -> str:
    return _with_company(tag.name, tag) if tag.company_id else f"{tag.name} · whole account"


def summary_email_title(summary) -> str:
    user = summary.user if summary.user_id else None  # (lists defer the payload: only columns here)
    who = (user.name or user.email) if user else ""
    often = ", ".join(label("frequency", f) for f in summary.frequency or []) or "Summary"
    scope = summary.company.name if summary.company_id and summary.company else "whole account"
    return f"{often} summary for {who or 'a recipient'} ({scope})"


def integration_title(integration) -> str:
    return _with_company(label("integration_type", integration.type) or "Integration", integration)


def caller_id_title(caller_id) -> str:
    return _with_company(caller_id.name or format_phone(caller_id.phone_number) or "Outbound caller ID", caller_id)


def integration_trigger_title(trigger) -> str:
    kind = label("integration_type", trigger.integration_type) or "Integration"
    return _with_company(f"{kind} trigger", trigger)


def notification_title(notification) -> str:
    return notification.name or label("alert_type", notification.alert_type) or "Notification"


def _lead_filter() -> ChoiceFilter:
    return ChoiceFilter("lead_status", "Lead status", choices=LEAD_STATUSES, q=lead_status_q)


COMPANIES = PortalResource(
    name="companies",
    label="Companies",
    singular="company",
    model_label="companies.Company",
    columns=(
        Column("name", "Name", sort="name", kind="link"),
        Column("status", "Status", sort="status", kind="badge", labels="status"),
        Column("time_zone", "Time zone", sort="time_zone"),
        Column("callscribe_enabled", "CallScribe", kind="bool", default=False),
        Column("lead_scoring_enabled", "Lead scoring", kind="bool"),
        Column("form_capture", "Form capture", kind="bool", default=False),
        Column("dni_active", "DNI active", kind="bool", default=False),
        Column("upstream_created_at", "Created", sort="upstream_created_at", kind="datetime"),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(ChoiceFilter("status", "Status", choices=(("active", "Active"), ("disabled", "Disabled"))),),
    search=("name", "callrail_id"),
    detail_template="portal/company_detail.html",
)

TRACKERS = PortalResource(
    name="trackers",
    label="Trackers",
    singular="tracker",
    model_label="trackers.Tracker",
    related=("company",),
    columns=(
        Column("name", "Name", sort="name", kind="link"),
        Column("tracking_numbers", "Tracking numbers", kind="phones"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("type", "Type", sort="type", labels="tracker_type"),
        Column("source_type", "Source", sort="source_type", labels="source_type"),
        Column("destination_number", "Destination", sort="destination_number", kind="phone", default=False),
        Column("status", "Status", sort="status", kind="badge", labels="status"),
        Column("sms_enabled", "SMS", kind="bool", default=False),
        Column("recording_enabled", "Recording", kind="bool", default=False),
        Column("upstream_created_at", "Created", sort="upstream_created_at", kind="datetime", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(
        COMPANY,
        ChoiceFilter("status", "Status", choices=(("active", "Active"), ("disabled", "Disabled"))),
        ChoiceFilter("type", "Type", choices=(("source", "Source"), ("session", "Website (session)"))),
        ChoiceFilter("source_type", "Source", distinct=True, labels="source_type"),
    ),
    search=("name", "destination_number", "callrail_id"),
    title=tracker_title,
    staff_only=True,
    detail_template="portal/tracker_detail.html",
)

USERS = PortalResource(
    name="users",
    label="CallRail users",
    singular="CallRail user",
    model_label="callrail_users.CallRailUser",
    columns=(
        Column("name", "Name", sort="name", kind="link"),
        Column("email", "Email", sort="email"),
        Column("role", "Role", sort="role", kind="badge", labels="role"),
        Column("accepted", "Accepted", kind="bool"),
        Column("company_ids", "Companies", kind="count"),
        Column("upstream_created_at", "Created", sort="upstream_created_at", kind="datetime", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(
        ChoiceFilter(
            "role",
            "Role",
            choices=(
                ("admin", "Admin"),
                ("manager", "Manager"),
                ("reporting", "Reporting"),
                ("analyst", "Analyst"),
                ("agent", "Agent"),
            ),
        ),
        BoolFilter("accepted", "Accepted invitation"),
    ),
    search=("name", "email", "first_name", "last_name"),
    staff_only=True,
)

TAGS = PortalResource(
    name="tags",
    label="Tags",
    singular="tag",
    model_label="tags.Tag",
    related=("company",),
    columns=(
        Column("name", "Name", sort="name", kind="tag"),
        Column("tag_level", "Level", sort="tag_level", labels="tag_level"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("color", "Colour", sort="color", kind="code"),
        Column("status", "Status", sort="status", kind="badge", labels="status"),
        Column("upstream_created_at", "Created", sort="upstream_created_at", kind="datetime", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(COMPANY, ChoiceFilter("tag_level", "Level", choices=(("account", "Account"), ("company", "Company")))),
    search=("name",),
    title=tag_title,
    staff_only=True,
)

NOTIFICATIONS = PortalResource(
    name="notifications",
    label="Notifications",
    singular="notification",
    model_label="notifications.Notification",
    related=("company", "tracker", "user"),
    columns=(
        Column("name", "Name", sort="name", kind="link"),
        Column("user", "User", path="user__email", sort="user__email"),
        Column("email", "Email", sort="email", default=False),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("tracker", "Tracker", path="tracker__name", sort="tracker__name", default=False),
        Column("alert_type", "Alert", sort="alert_type", labels="alert_type"),
        Column("call_enabled", "Calls", kind="bool"),
        Column("sms_enabled", "Texts", kind="bool"),
        Column("send_email", "Email", kind="bool"),
        Column("send_push", "Push", kind="bool", default=False),
        Column("send_desktop", "Desktop", kind="bool", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(
        COMPANY,
        ChoiceFilter(
            "alert_type",
            "Alert",
            choices=(
                ("all", "All calls"),
                ("first_call", "First-time callers"),
                ("missed_and_vm", "Missed calls and voicemails"),
                ("vm_only", "Voicemails only"),
            ),
        ),
    ),
    search=("name", "email", "user__email"),
    title=notification_title,
    staff_only=True,
)

SUMMARY_EMAILS = PortalResource(
    name="summary_emails",
    label="Summary emails",
    singular="summary email subscription",
    model_label="summary_emails.SummaryEmail",
    related=("company", "user"),
    columns=(
        Column("title", "Subscription", getter=summary_email_title, sort="callrail_id", kind="link"),
        Column("user", "User", path="user__email", sort="user__email"),
        Column("scope_type", "Scope", sort="scope_type", labels="scope_type"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("frequency", "Frequency", kind="list", labels="frequency"),
        Column("config", "Contents", kind="keys", labels="summary_config"),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="title",
    filters=(
        COMPANY,
        ChoiceFilter("scope_type", "Scope", choices=(("account", "Account"), ("company", "Company"))),
    ),
    search=("user__email", "user__name"),
    title=summary_email_title,
    staff_only=True,
)

INTEGRATIONS = PortalResource(
    name="integrations",
    label="Integrations",
    singular="integration",
    model_label="integrations.Integration",
    related=("company",),
    columns=(
        Column("type", "Type", sort="type", kind="link", labels="integration_type"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("state", "State", sort="state", kind="badge", labels="state"),
        # the events configured, in CallRail's words; never their URLs (they carry tokens)
        Column("config", "Configuration", kind="list", getter=configured_events, labels="webhook_event"),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="type",
    filters=(
        COMPANY,
        ChoiceFilter("state", "State", choices=(("active", "Active"), ("disabled", "Disabled"))),
        ChoiceFilter("type", "Type", distinct=True, labels="integration_type"),
    ),
    search=("type",),
    title=integration_title,
    staff_only=True,
)

CALLER_IDS = PortalResource(
    name="caller_ids",
    label="Outbound caller IDs",
    singular="outbound caller ID",
    model_label="calls.OutboundCallerId",
    related=("company",),
    columns=(  # never the validation code in a list (staff see it in the record's payload)
        Column("name", "Name", sort="name", kind="link"),
        Column("phone_number", "Phone number", sort="phone_number", kind="phone"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("verified", "Verified", sort="verified", kind="bool"),
        Column("upstream_created_at", "Created", sort="upstream_created_at", kind="datetime", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="name",
    filters=(COMPANY, BoolFilter("verified", "Verified")),
    search=("name", "phone_number"),
    title=caller_id_title,
    staff_only=True,
    detail_fields=("name", "phone_number", "company", "verified", "upstream_created_at"),
)

INTEGRATION_TRIGGERS = PortalResource(
    name="integration_triggers",
    label="Integration triggers",
    singular="integration trigger",
    model_label="integrations.IntegrationTrigger",
    related=("company",),
    columns=(
        Column("integration_type", "Integration", sort="integration_type", kind="link", labels="integration_type"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("call_type", "Call type", sort="call_type", labels="trigger_call_type"),
        Column("min_duration", "Minimum duration", sort="min_duration", kind="duration"),
        Column("max_duration", "Maximum duration", sort="max_duration", kind="duration"),
        Column("lead_status", "Lead status", sort="lead_status", kind="lead"),
        Column("tracker_ids", "Trackers", kind="count"),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="integration_type",
    filters=(COMPANY,),
    search=("integration_type",),
    title=integration_trigger_title,
    staff_only=True,
)

CALLS = PortalResource(
    name="calls",
    label="Calls",
    singular="call",
    model_label="calls.Call",
    related=("company", "tracker"),
    columns=(
        Column("start_time", "Start", sort="start_time", kind="link_datetime"),
        Column("customer", "Caller", path="customer_name", sort="customer_name", kind="caller"),
        Column("customer_phone_number", "Phone", sort="customer_phone_number", kind="phone", default=False),
        Column("customer_location", "Location", path="customer_city", sort="customer_city", default=False),
        Column("direction", "Direction", sort="direction", labels="direction", default=False),
        Column("status", "Status", getter=call_status, kind="call_status"),
        Column("duration", "Duration", sort="duration", kind="duration"),
        Column("recording", "Recording", path="recording_duration", kind="recording"),
        Column("source", "Source", sort="source", kind="source"),
        Column("tracker", "Tracker", path="tracker__name", sort="tracker__name", default=False),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("tracking_phone_number", "Tracking number", sort="tracking_phone_number", kind="phone", default=False),
        Column("first_call", "First call", sort="first_call", kind="bool"),
        Column("lead_status", "Lead status", sort="lead_status", kind="lead"),
        Column("tags", "Tags", kind="tags"),
        Column("value", "Value", sort="value", kind="money", default=False),
        Column("medium", "Medium", sort="medium", labels="medium", default=False),
        Column("campaign", "Campaign", sort="campaign", default=False),
        Column("keywords", "Keywords", default=False),
        Column("device_type", "Device", sort="device_type", labels="device_type", default=False),
        Column("agent_email", "Agent", sort="agent_email", default=False),
        Column("note", "Note", default=False),
        Column("spam", "Spam", sort="spam", kind="bool", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="-start_time",
    filters=(
        DateRangeFilter("start_time"),
        COMPANY,
        RefFilter("tracker", "Tracker", "trackers.Tracker", "tracker", qualify="company__name"),
        ChoiceFilter("source", "Source", distinct=True),
        ChoiceFilter("direction", "Direction", choices=DIRECTIONS),
        ChoiceFilter("answer_status", "Answer status", choices=ANSWER_STATUSES, q=call_answer_status_q),
        _lead_filter(),
        TagFilter(),
        BoolFilter("first_call", "First-time caller"),
        BoolFilter("spam", "Spam", yes="Only spam", no="Not spam"),
    ),
    # CallRail's searchable call fields (customer_number is the customer's phone number)
    search=(
        "customer_name",
        "customer_phone_number",
        "business_phone_number",
        "tracking_phone_number",
        "note",
        "source",
    ),
    detail_template="portal/call_detail.html",
    empty_hint="Calls appear after the first sync of this account.",
    title=call_title,
)

FORM_SUBMISSIONS = PortalResource(
    name="form_submissions",
    label="Form submissions",
    singular="form submission",
    model_label="form_submissions.FormSubmission",
    related=("company",),
    columns=(
        Column("submitted_at", "Submitted", sort="submitted_at", kind="link_datetime"),
        Column("customer_name", "Name", sort="customer_name", kind="name"),
        Column("customer_email", "Email", sort="customer_email"),
        Column("customer_phone_number", "Phone", sort="customer_phone_number", kind="phone", default=False),
        Column("form_name", "Form", sort="form_name"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("source", "Source", sort="source"),
        Column("first_form", "First form", kind="bool", default=False),
        Column("lead_status", "Lead status", sort="lead_status", kind="lead"),
        Column("tags", "Tags", kind="tags", default=False),
        Column("value", "Value", sort="value", kind="money", default=False),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="-submitted_at",
    filters=(
        DateRangeFilter("submitted_at"),
        COMPANY,
        ChoiceFilter("source", "Source", distinct=True),
        _lead_filter(),
        BoolFilter("first_form", "First form"),
        TagFilter(),
    ),
    search=("customer_name", "customer_email", "customer_phone_number", "form_name", "source"),
    title=form_title,
)

TEXT_CONVERSATIONS = PortalResource(
    name="text_conversations",
    label="Text conversations",
    singular="text conversation",
    model_label="text_conversations.TextConversation",
    related=("company", "current_tracker"),
    columns=(
        Column("last_message_at", "Last message", sort="last_message_at", kind="link_datetime"),
        Column("customer_name", "Customer", sort="customer_name", kind="name"),
        Column("customer_phone_number", "Phone", sort="customer_phone_number", kind="phone"),
        Column("company", "Company", path="company__name", sort="company__name"),
        Column("current_tracker", "Tracker", path="current_tracker__name", sort="current_tracker__name"),
        Column("state", "State", sort="state", kind="badge", labels="state"),
        Column("lead_status", "Lead status", sort="lead_status", kind="lead"),
        Column("callrail_id", "CallRail id", sort="callrail_id", kind="code", default=False),
    ),
    default_sort="-last_message_at",
    filters=(
        DateRangeFilter("last_message_at", default=""),  # a text inbox lists every conversation
        COMPANY,
        ChoiceFilter("state", "State", choices=(("active", "Active"), ("archived", "Archived"))),
        _lead_filter(),
    ),
    search=("customer_name", "customer_phone_number", "current_tracking_number"),
    title=conversation_title,
    detail_template="text_conversations/detail.html",
)

#: Every resource page, in the order of the account tabs.
PORTAL_RESOURCES: tuple[PortalResource, ...] = (
    CALLS, FORM_SUBMISSIONS, TEXT_CONVERSATIONS, COMPANIES, TRACKERS, USERS, TAGS, NOTIFICATIONS, SUMMARY_EMAILS,
    INTEGRATIONS, INTEGRATION_TRIGGERS, CALLER_IDS,
)  # fmt: skip
BY_NAME = {r.name: r for r in PORTAL_RESOURCES}

#: every sync resource name as people read it (sync runs, "Sync now")
RESOURCE_LABELS = {"account": "Account settings", **{r.name: r.label for r in PORTAL_RESOURCES}}
