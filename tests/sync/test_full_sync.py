"""A full sync against the live sandbox (over HTTP) mirrors every resource, field by field."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.sync.models import SyncKind, SyncStatus
from apps.sync.resources import RESOURCES, get_resource

from .conftest import add_integrations, control, execute, money, parse_time, upstream_records

pytestmark = pytest.mark.django_db


def fk(path):
    """The upstream id a foreign key should point at (dotted path), compared by the target's CallRail id."""

    def get(payload):
        value = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)

    return get


def key(name, convert=lambda v: v):
    return lambda payload: convert(payload.get(name))


def tag_names(payload):
    return [t["name"] if isinstance(t, dict) else t for t in payload.get("tags") or []]


# column -> expected value from the upstream record; written by hand from the CallRail reference, independent
# of apps/sync/resources.py, so a wrong mapping there fails here.
EXPECTED = {
    "account": {"name": key("name"), "hipaa_account": key("hipaa_account"), "numeric_id": key("numeric_id")},
    "companies": {
        "name": key("name"), "status": key("status"), "time_zone": key("time_zone"),
        "upstream_created_at": key("created_at", parse_time), "disabled_at": key("disabled_at", parse_time),
    },
    "users": {
        "email": key("email"), "role": key("role"), "name": key("name"),
        "company_ids": lambda p: [c["id"] for c in p.get("companies") or []],
    },
    "trackers": {
        "name": key("name"), "type": key("type"), "status": key("status"), "company": fk("company.id"),
        "tracking_numbers": key("tracking_numbers"), "call_flow": key("call_flow"), "source": key("source"),
    },
    "tags": {
        "name": key("name"), "tag_level": key("tag_level"), "color": key("color"), "company": fk("company_id"),
        "status": key("status"),
    },
    "notifications": {
        "name": key("name"), "alert_type": key("alert_type"), "company": fk("company_id"),
        "tracker": fk("tracker_id"), "user": fk("user_id"),
    },
    "summary_emails": {
        "frequency": key("frequency"), "config": key("config"), "user": fk("user.id"),
        "scope_type": lambda p: p["scope"]["type"],
    },
    "integrations": {"type": key("type"), "state": key("state"), "config": key("config")},
    "caller_ids": {
        "phone_number": key("phone_number"), "name": key("name"), "verified": key("verified"),
        "upstream_created_at": key("created_at", parse_time),
    },
    "integration_triggers": {
        "integration_callrail_id": key("integration_id"), "integration_type": lambda p: p["integration"]["type"],
        "tracker_ids": key("tracker_ids"), "call_type": key("call_type"), "min_duration": key("min_duration"),
        "max_duration": key("max_duration"), "lead_status": key("lead_status"),
    },
    "calls": {
        "direction": key("direction"), "answered": key("answered"), "voicemail": key("voicemail"),
        "duration": key("duration"), "start_time": key("start_time", parse_time),
        "customer_name": key("customer_name"), "customer_phone_number": key("customer_phone_number"),
        "customer_city": key("customer_city"), "customer_state": key("customer_state"),
        "tracking_phone_number": key("tracking_phone_number"), "source": key("source"), "medium": key("medium"),
        "campaign": key("campaign"), "keywords": key("keywords"), "landing_page_url": key("landing_page_url"),
        "lead_status": key("lead_status"), "value": key("value", money), "note": key("note"), "tags": tag_names,
        "recording_url": key("recording"), "first_call": key("first_call"), "company": fk("company_id"),
        "tracker": fk("tracker_id"),
    },
    "form_submissions": {
        "submitted_at": key("submitted_at", parse_time), "customer_name": key("customer_name"),
        "customer_email": key("customer_email"), "company": fk("company_id"), "lead_status": key("lead_status"),
        "value": key("value", money), "tags": tag_names, "source": key("source"),
    },
    "text_conversations": {
        "customer_phone_number": key("customer_phone_number"), "state": key("state"),
        "last_message_at": key("last_message_at", parse_time), "company": fk("company_id"),
        "current_tracker": fk("current_tracker_id"),
    },
}  # fmt: skip


def actual(row, column):
    value = getattr(row, column)
    if hasattr(value, "callrail_id"):
        return value.callrail_id
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return value


def assert_mirror_equals_upstream(account, only=None):
    for resource in RESOURCES:
        if only and resource.name not in only:
            continue
        upstream = upstream_records(account, resource)
        rows = {row.callrail_id: row for row in resource.model.objects.for_account(account).live()}
        assert set(rows) == set(upstream), resource.name
        for callrail_id, record in upstream.items():
            row = rows[callrail_id]
            assert row.payload == record, f"{resource.name} {callrail_id}"
            for column, expected in EXPECTED[resource.name].items():
                assert actual(row, column) == expected(record), f"{resource.name} {callrail_id} {column}"


def test_full_sync_mirrors_every_resource_field_by_field(sandbox, sandbox_account):
    add_integrations(sandbox_account)
    since = time.time()
    run = execute(sandbox_account, SyncKind.FULL)
    sent = control(sandbox, "GET", f"requests?since={since}&account_id={sandbox_account.callrail_account_id}")

    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.problem_count == 0, run.problems
    counts = sandbox.state.counts(sandbox_account.callrail_account_id)
    for name in ("companies", "trackers", "users", "tags", "notifications", "summary_emails", "integrations",
                 "caller_ids", "integration_triggers", "calls", "form_submissions", "text_conversations"):  # fmt: skip
        mirrored = get_resource(name).model.objects.for_account(sandbox_account).live().count()
        assert mirrored == counts[name], name
    assert counts["calls"] > 50
    assert counts["companies"] >= 2
    assert counts["integrations"] == counts["companies"]
    assert counts["integration_triggers"] == 2 * counts["companies"]
    assert counts["caller_ids"] == counts["companies"] + 1  # the seeded verified one, one unverified per company
    assert_mirror_equals_upstream(sandbox_account)
    total = sum(counts[n] for n in counts if n not in ("calls_including_spam", "deleted_calls")) + 1
    assert run.records_created == total
    assert run.records_updated == run.records_deleted == 0
    assert run.requests == len(sent["requests"])  # the run counts what it really sent
    # one page per list at this size; integrations, outbound caller IDs and integration triggers: one per company
    assert run.requests == len(RESOURCES) - 3 + 3 * counts["companies"]
