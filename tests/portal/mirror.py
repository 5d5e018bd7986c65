"""Mirrored rows for the portal's page tests, written straight into the mirror tables (as the sync would)."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from apps.calls.models import Call, OutboundCallerId
from apps.companies.models import Company
from apps.form_submissions.models import FormSubmission
from apps.integrations.models import Integration, IntegrationTrigger
from apps.notifications.models import Notification
from apps.summary_emails.models import SummaryEmail
from apps.tags.models import Tag
from apps.text_conversations.models import TextConversation
from apps.trackers.models import Tracker
from apps.users.models import CallRailUser

_ids = itertools.count(1)


def mirror(model: Any, account: Any, payload: dict | None = None, **fields: Any):
    """One mirrored record of ``account`` with the bookkeeping columns filled in."""
    now = timezone.now()
    payload = payload or {}
    prefix = model.__name__[:3].upper()
    return model.objects.create(
        client_account=account,
        callrail_id=fields.pop("callrail_id", f"{prefix}{next(_ids):08d}"),
        payload=payload,
        payload_hash=hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest(),  # noqa: S324
        first_seen_at=now,
        last_seen_at=now,
        changed_at=now,
        **fields,
    )


def call(account: Any, *, start: datetime | None = None, **fields: Any) -> Call:
    defaults = {
        "direction": "inbound", "answered": True, "voicemail": False, "duration": 60, "source": "Google Ads",
        "customer_name": "Jane Caller", "customer_phone_number": "+14045550100", "first_call": False, "tags": [],
        "start_time": start or timezone.now(),
    }  # fmt: skip
    payload = fields.pop("payload", None)
    defaults.update(fields)
    return mirror(Call, account, payload=payload, **defaults)


def every_resource(account: Any, *, label: str = "Acme") -> dict[str, Any]:
    """One record of every resource, linked to each other, named after ``label``."""
    company = mirror(Company, account, name=f"{label} Main Street", status="active", time_zone="America/New_York")
    tracker = mirror(
        Tracker,
        account,
        company=company,
        name=f"{label} Google Ads number",
        type="source",
        status="active",
        tracking_numbers=["+14045550199"],
        source_type="google_ad_extension",
    )
    user = mirror(
        CallRailUser,
        account,
        name=f"{label} Manager",
        email=f"manager@{label.lower()}.test",
        role="manager",
        accepted=True,
        company_ids=[company.callrail_id],
    )
    tag = mirror(
        Tag, account, company=company, name=f"{label}-vip", tag_level="company", color="red1", status="enabled"
    )
    notification = mirror(
        Notification,
        account,
        user=user,
        company=company,
        name=f"{label} alerts",
        alert_type="all",
        call_enabled=True,
        send_email=True,
    )
    summary = mirror(
        SummaryEmail,
        account,
        user=user,
        company=company,
        scope_type="company",
        frequency=["weekly"],
        config={"summary_statistics": True},
    )
    integration = mirror(
        Integration,
        account,
        company=company,
        type="Webhooks",
        state="active",
        config={"post_call_webhook": [f"https://{label.lower()}.test/hook"]},
    )
    trigger = mirror(
        IntegrationTrigger,
        account,
        company=company,
        integration_callrail_id=int(integration.callrail_id[3:]),
        integration_type="Webhooks",
        call_type="first_call",
        min_duration=10,
        lead_status="good_lead",
        tracker_ids=[tracker.callrail_id],
    )
    caller_id = mirror(
        OutboundCallerId, account, company=company, name=f"{label} Front Desk", phone_number="+14045550177",
        verified=True,
    )
    the_call = call(
        account,
        company=company,
        tracker=tracker,
        customer_name=f"{label} Caller",
        tags=[tag.name],
        lead_status="good_lead",
        value=Decimal("125.00"),
        note=f"{label} wants a quote",
        recording_player="https://app.callrail.test/calls/1/recording?access_key=k",
        payload={"transcription": f"Agent: Hello. Caller: {label} here about a quote."},
    )
    form = mirror(
        FormSubmission,
        account,
        company=company,
        form_name=f"{label} contact form",
        customer_name=f"{label} Former",
        customer_email=f"former@{label.lower()}.test",
        submitted_at=timezone.now() - timedelta(hours=2),
        source="Google Organic",
    )
    text = mirror(
        TextConversation,
        account,
        company=company,
        current_tracker=tracker,
        customer_name=f"{label} Texter",
        customer_phone_number="+14045550111",
        last_message_at=timezone.now() - timedelta(hours=1),
        thread_synced_at=timezone.now(),  # its thread was read from CallRail since: pages ask CallRail nothing
        state="active",
    )
    return {
        "companies": company, "trackers": tracker, "users": user, "tags": tag, "notifications": notification,
        "summary_emails": summary, "integrations": integration, "integration_triggers": trigger,
        "caller_ids": caller_id, "calls": the_call, "form_submissions": form,
        "text_conversations": text,
    }  # fmt: skip
