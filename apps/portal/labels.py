"""CallRail's values in CallRail's own words: what its app shows for the enum values its API returns.

``label(family, value)`` looks a value up; an unknown value (CallRail added one) is shown readably
(``new_thing`` -> "New thing") rather than raw. The families are the API's field names.
"""

from __future__ import annotations

from typing import Any

LABELS: dict[str, dict[str, str]] = {
    "alert_type": {
        "all": "All calls",
        "first_call": "First-time callers",
        "missed_and_vm": "Missed calls and voicemails",
        "vm_only": "Voicemails only",
    },
    "source_type": {  # a tracker's source (source.type)
        "all": "All website visitors",
        "search": "Search",
        "landing_url": "Landing page URL",
        "landing_params": "Landing page parameters",
        "web_referrer": "Referring website",
        "direct": "Direct visits",
        "offline": "Offline",
        "google_ad_extension": "Google Ads call extension",
        "mobile_ad_extension": "Mobile ad extension",
        "google_my_business": "Google Business Profile",
        "facebook_all": "Facebook",
        "bing_all": "Bing",
    },
    "tracker_type": {"source": "Source tracker", "session": "Website pool (session tracker)"},
    "tag_level": {"account": "Account", "company": "Company"},
    "scope_type": {"account": "Whole account", "company": "Company"},
    "frequency": {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"},
    "summary_config": {
        "summary_statistics": "Summary statistics",
        "top_sources": "Top sources",
        "top_keywords": "Top keywords",
        "call_log": "Call log",
    },
    "lead_status": {
        "good_lead": "Good lead",
        "not_a_lead": "Not a lead",
        "previously_marked_good_lead": "Previously marked good lead",
        "not_scored": "Not scored",
    },
    "direction": {"inbound": "Inbound", "outbound": "Outbound", "incoming": "Received", "outgoing": "Sent"},
    "call_type": {
        "first_call": "First call",
        "inbound": "Inbound",
        "outbound": "Outbound",
        "missed": "Missed",
        "voicemail": "Voicemail",
        "voicemail_transcription": "Voicemail (transcribed)",
        "abandoned": "Abandoned",
        "answered": "Answered",
    },
    "trigger_call_type": {  # an integration trigger's call_type (null: every call)
        "first_call": "First-time callers",
        "vm": "Voicemails",
        "missed_and_vm": "Missed calls and voicemails",
    },
    "device_type": {"desktop": "Desktop", "mobile": "Mobile", "tablet": "Tablet"},
    "medium": {"cpc": "Paid (CPC)", "organic": "Organic", "referral": "Referral", "direct": "Direct",
               "offline": "Offline", "email": "Email", "social": "Social"},
    "status": {"active": "Active", "disabled": "Disabled", "enabled": "Enabled", "archived": "Archived"},
    "state": {"active": "Active", "disabled": "Disabled", "archived": "Archived"},
    "role": {"admin": "Admin", "manager": "Manager", "reporting": "Reporting", "analyst": "Analyst",
             "agent": "Agent"},
    "integration_type": {
        "Webhooks": "Webhooks",
        "GoogleAnalytics": "Google Analytics",
        "GoogleAds": "Google Ads",
        "Custom": "Custom cookie capture",
        "Slack": "Slack",
        "Hubspot": "HubSpot",
        "Salesforce": "Salesforce",
    },
    "webhook_event": {
        "pre_call_webhook": "Pre-call",
        "answered_call_webhook": "Call answered",
        "post_call_webhook": "Post-call",
        "updated_call_webhook": "Call modified",
        "sms_received_webhook": "Text message received",
        "sms_sent_webhook": "Text message sent",
        "form_captured_webhook": "Form submitted",
        "post_outbound_call_webhook": "Outbound post-call",
        "updated_outbound_call_webhook": "Outbound call modified",
    },
    "message_status": {"sent": "Sent", "error": "Not delivered", "failed": "Not delivered"},
    # the portal's own words for CallRail fields, where a record's changes are listed (outbox, audit log)
    "field": {
        "note": "Note", "tags": "Tags", "lead_status": "Lead status", "value": "Value", "spam": "Spam",
        "customer_name": "Customer name", "name": "Name", "color": "Colour", "time_zone": "Time zone",
        "destination_number": "Destination number", "whisper_message": "Whisper message",
        "sms_enabled": "Text messaging", "call_flow": "Call flow", "source": "Source", "company_ids": "Companies",
        "alert_type": "Alert", "call_enabled": "Call alerts", "send_email": "By email", "send_push": "By push",
        "send_desktop": "On the desktop", "frequency": "Frequency", "config": "Contents", "status": "Status",
        "state": "State", "email": "Email", "user_id": "CallRail user", "company_id": "Company",
        "tracker_id": "Tracker", "append_tags": "Add tags",
    },
}


def humanize(value: Any) -> str:
    """An unknown machine value, readably: ``missed_and_vm`` -> "Missed and vm"."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else ""


def label(family: str, value: Any) -> str:
    """CallRail's wording of ``value`` (a value of the API field ``family``)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return LABELS.get(family, {}).get(str(value)) or humanize(value)


#: CallRail's tag colours ("Available Colors") as CSS colours, for the tag picker's swatches
TAG_SWATCHES = {
    "gray1": "#9ca3af", "gray2": "#4b5563", "blue1": "#60a5fa", "blue2": "#1d4ed8", "cyan1": "#22d3ee",
    "cyan2": "#0891b2", "purple1": "#a78bfa", "purple2": "#6d28d9", "pink1": "#f9a8d4", "pink2": "#f472b6",
    "pink3": "#db2777", "pink4": "#9d174d", "red1": "#f87171", "red2": "#b91c1c", "orange1": "#fdba74",
    "orange2": "#fb923c", "orange3": "#ea580c", "orange4": "#9a3412", "yellow1": "#fde047", "yellow2": "#ca8a04",
    "green1": "#86efac", "green2": "#4ade80", "green3": "#16a34a", "green4": "#166534",
}  # fmt: skip


#: fields whose values are CallRail's enum values, by the family that words them (a record's changes)
VALUE_FAMILIES = {
    "alert_type": "alert_type", "tag_level": "tag_level", "scope_type": "scope_type", "status": "status",
    "state": "state", "direction": "direction", "device_type": "device_type", "medium": "medium", "role": "role",
    "lead_status": "lead_status", "call_type": "call_type", "frequency": "frequency", "source_type": "source_type",
    "config": "summary_config", "type": "source_type",
}  # fmt: skip


def field_label(name: str) -> str:
    """A field's label; a name already written for people ("API base URL") is shown as written."""
    return LABELS["field"].get(name) or (name if " " in name else humanize(name))


def readable_value(name: str, value: Any) -> str:
    """A recorded value as people read it: yes/no, CallRail's words, lists joined, phone numbers formatted."""
    from .formatting import format_phone

    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(readable_value(name, v) for v in value) if value else "none"
    if isinstance(value, dict):
        if name == "config" and all(isinstance(v, bool) for v in value.values()):
            return ", ".join(label("summary_config", k) for k, on in value.items() if on) or "none"
        return "; ".join(f"{field_label(k)}: {readable_value(k, v)}" for k, v in value.items()) if value else "none"
    if name in VALUE_FAMILIES and isinstance(value, str):
        return label(VALUE_FAMILIES[name], value)
    if isinstance(value, str) and (name.endswith("number") or name.endswith("_phone")):
        return format_phone(value)
    return str(value)


def change_rows(
    before: dict | None, after: dict | None, names: dict[str, str] | None = None
) -> list[tuple[str, str | None, str]]:
    """(field, before, after) of each field that differs, readably; before None where nothing was recorded.
    ``names`` words fields this module does not know."""
    before, after, names = before or {}, after or {}, names or {}
    return [
        (
            names.get(k) or field_label(k),
            readable_value(k, before[k]) if k in before else None,
            readable_value(k, after.get(k)),
        )
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


_VERBS = {
    "create": "created", "update": "changed", "delete": "deleted", "disable": "disabled", "invite": "invited",
    "accept": "accepted", "resend": "sent again", "revoke": "revoked", "activate": "reactivated",
    "deactivate": "deactivated", "start": "started", "stop": "stopped", "retry": "retried", "discard": "discarded",
    "subscribe": "subscribed", "unsubscribe": "unsubscribed", "request": "page opened", "enforce": "applied",
    "job_start": "job started", "job_finish": "job finished", "sync_resume": "sync resumed",
    "sync_pause": "sync paused", "signing_key_set": "signing key set", "deletion_scheduled": "deletion scheduled",
    "deletion_cancelled": "deletion cancelled", "exported": "exported", "deleted": "deleted", "retention": "changed",
}  # fmt: skip
_ENTITIES = {
    "api_token": "API token", "client_account": "Client account", "view_as": "Viewing as a client",
    "sync_schedule": "Sync schedule", "outbox": "Outbox entry", "bulk": "Bulk", "summary": "Portal summary",
    "impersonation": "Viewing as a client", "webhooks": "Webhooks", "retention": "Data retention",
    "calls": "Call", "tags": "Tag", "companies": "Company", "trackers": "Tracker", "users": "CallRail user",
    "notifications": "Notification", "summary_emails": "Summary email", "integrations": "Integration",
    "agency": "Agency", "membership": "Member", "invitation": "Invitation",
}  # fmt: skip


def action_label(action: str) -> str:
    """An audit action (``membership.invite``) as a sentence fragment (``Member invited``)."""
    entity, _, verb = (action or "").partition(".")
    if entity == "agency" and verb == "retention":
        return "Data retention changed"
    return f"{_ENTITIES.get(entity) or humanize(entity)} {_VERBS.get(verb) or humanize(verb).lower()}".strip()
