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
