"""The engine's mapper and page writer on crafted pages: bad upstream input, idempotence, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from apps.calls.models import Call
from apps.companies.models import Company
from apps.sync.engine import SyncContext, _dated_params, _new_window, apply_page, retention_start
from apps.sync.models import SyncKind, SyncState
from apps.sync.resources import CALLS, COMPANIES

pytestmark = pytest.mark.django_db


def ctx_for(account, now=None):
    context = SyncContext(account=account, client=None)
    if now is not None:
        context.now = lambda: now
    return context


def good_call(ident, **extra):
    record = {col.source: None for col in CALLS.columns.values() if not col.optional}
    record |= {
        "id": ident, "direction": "inbound", "answered": True, "voicemail": False, "duration": 61,
        "start_time": "2026-11-20T10:15:00.123-05:00", "customer_name": "ANA LOPEZ", "value": "$12.50",
        "tags": [{"name": "New Patient", "color": "green2"}], "company_id": "COMx", "tracker_id": None,
        "recording": None, "lead_status": "good_lead",
    }  # fmt: skip
    record.update(extra)
    return record


def test_bad_records_are_stored_with_what_is_valid_and_recorded(tenant):
    account = tenant.account
    Company.objects.bulk_create([Company(
        client_account=account, callrail_id="COMx", payload={}, payload_hash="x", first_seen_at=datetime.now(UTC),
        last_seen_at=datetime.now(UTC), changed_at=datetime.now(UTC), name="Acme")])  # fmt: skip
    ctx = ctx_for(account)
    page = [
        good_call("CAL1"),
        good_call("CAL2", duration="eleven", start_time="yesterday", value=True, tags="vip", answered="maybe"),
        good_call("CAL3", customer_name="X" * 400),
        {"direction": "inbound"},  # no id: cannot be stored
        "not an object",
        {key: value for key, value in good_call("CAL4").items() if key != "direction"},
    ]
    counts = apply_page(ctx, CALLS, page)

    assert counts.created == 4
    calls = {c.callrail_id: c for c in Call.objects.for_account(account)}
    assert set(calls) == {"CAL1", "CAL2", "CAL3", "CAL4"}
    one = calls["CAL1"]
    assert one.start_time == datetime(2026, 11, 20, 15, 15, 0, 123000, tzinfo=UTC)
    assert one.value == Decimal("12.50")
    assert one.tags == ["New Patient"]
    assert one.company.name == "Acme"
    bad = calls["CAL2"]
    assert bad.direction == "inbound"
    assert bad.voicemail is False
    assert bad.duration is None
    assert bad.start_time is None
    assert bad.value is None
    assert bad.tags == []
    assert bad.answered is None
    assert bad.payload["duration"] == "eleven"  # the upstream record is kept whole
    assert len(calls["CAL3"].customer_name) == 255
    assert calls["CAL4"].direction == ""
    messages = [(p["id"], p["message"]) for p in ctx.problems]
    assert ctx.problem_count == len(messages) == 9
    assert ("CAL2", "field 'duration': expected a whole number, got 'eleven'") in messages
    assert any(m.startswith("record without a usable 'id'") for _, m in messages)
    assert any(cid == "CAL4" and "'direction' missing" in m for cid, m in messages)


def test_replaying_a_page_writes_nothing_and_a_change_updates_only_that_record(tenant):
    ctx = ctx_for(tenant.account)
    page = [{"id": f"COM{i}", "name": f"Company {i}", "status": "active", "time_zone": "America/New_York",
             "created_at": "2026-01-01T00:00:00.000Z", "disabled_at": None} for i in range(5)]  # fmt: skip
    assert apply_page(ctx, COMPANIES, page).created == 5
    before = list(Company.objects.for_account(tenant.account).order_by("pk").values_list("pk", "changed_at"))

    again = apply_page(ctx, COMPANIES, page)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    page[2] = {**page[2], "name": "Renamed"}
    changed = apply_page(ctx, COMPANIES, page)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 4)
    after = dict(Company.objects.for_account(tenant.account).values_list("pk", "changed_at"))
    assert [pk for pk, at in before if after[pk] != at] == [before[2][0]]
    assert Company.objects.for_account(tenant.account).count() == 5
    assert not Company.objects.for_account(tenant.other_account).exists()


def test_windows_are_explicit_inclusive_and_in_the_account_time_zone(tenant, settings):
    settings.SYNC_OVERLAP_MINUTES = 30
    tenant.account.time_zone = "America/Denver"
    now = datetime(2026, 7, 1, 18, 0, 0, 500000, tzinfo=UTC)
    ctx = ctx_for(tenant.account, now)
    state = SyncState(client_account=tenant.account, resource="calls")

    full = _new_window(ctx, CALLS, state, SyncKind.INCREMENTAL)  # no cursor yet: a full pass
    assert full["kind"] == SyncKind.FULL
    assert datetime.fromisoformat(full["window_start"]) == retention_start(now, ZoneInfo("America/Denver"))
    assert full["window_end"] == "2026-07-01T18:00:01+00:00"  # rounded up: the end is inclusive

    state.cursor = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    incremental = _new_window(ctx, CALLS, state, SyncKind.INCREMENTAL)
    assert incremental["window_start"] == "2026-07-01T16:30:00+00:00"  # cursor minus the overlap
    reread = _new_window(ctx, CALLS, state, SyncKind.REREAD)
    assert reread["window_start"].startswith("2026-06-01T18:00:01")

    params = _dated_params(ctx, datetime.fromisoformat(incremental["window_start"]), now)
    assert params == {"start_date": "2026-07-01T10:30:00-06:00", "end_date": "2026-07-01T12:00:00-06:00",
                      "time_zone": "America/Denver"}  # fmt: skip


@pytest.mark.parametrize("day", ["2026-03-31", "2026-05-30", "2026-01-29", "2026-07-15", "2028-04-30"])
def test_a_full_window_never_reaches_beyond_the_retention_period(day):
    from apps.sandbox.timeutil import retention_start as callrail_retention_start

    tz = ZoneInfo("America/Denver")
    now = datetime.fromisoformat(f"{day}T23:30:00").replace(tzinfo=tz)
    limit = callrail_retention_start(now, tz)  # what the sandbox (like CallRail) refuses before
    assert limit <= retention_start(now, tz) <= limit + timedelta(days=2)


def test_a_lost_seen_set_skips_the_deletion_sweep_instead_of_marking_everything(tenant):
    from apps.sync.engine import SeenSet, mark_disappeared

    ctx = ctx_for(tenant.account)
    page = [{"id": f"COM{i}", "name": f"Company {i}", "status": "active", "time_zone": "UTC",
             "created_at": None, "disabled_at": None} for i in range(3)]  # fmt: skip
    seen = SeenSet(tenant.account.pk, "companies", "test-pass")
    apply_page(ctx, COMPANIES, page, seen=seen)
    seen.discard()  # as if Redis restarted without persistence

    assert mark_disappeared(ctx, COMPANIES, seen=seen) == 0
    assert Company.objects.for_account(tenant.account).live().count() == 3
    assert "lost" in ctx.problems[-1]["message"]

    seen = SeenSet(tenant.account.pk, "companies", "test-pass-2")
    apply_page(ctx, COMPANIES, page[:2], seen=seen)
    assert mark_disappeared(ctx, COMPANIES, seen=seen) == 1
    assert list(Company.objects.for_account(tenant.account).deleted().values_list("callrail_id", flat=True)) == [
        "COM2"
    ]
    assert not seen.redis.exists(seen.key)  # the pass's set is removed after its sweep


def test_references_resolve_when_only_later_records_of_a_page_carry_them(tenant):
    """The mapping runs while PostgreSQL ingests the page (COPY): every lookup it needs is loaded first."""
    account = tenant.account
    Company.objects.bulk_create([Company(
        client_account=account, callrail_id="COMx", payload={}, payload_hash="x", first_seen_at=datetime.now(UTC),
        last_seen_at=datetime.now(UTC), changed_at=datetime.now(UTC), name="Acme")])  # fmt: skip
    page = [good_call(f"CAL{i}", company_id=None if i < 3 else "COMx") for i in range(6)]
    apply_page(ctx_for(account), CALLS, page)
    calls = Call.objects.for_account(account).order_by("callrail_id")
    assert [c.company_id is not None for c in calls] == [False, False, False, True, True, True]


def test_records_from_outside_a_listing_go_through_the_same_mapping(tenant):
    from apps.sync.services import mirror_apply_records

    first = mirror_apply_records(account=tenant.account, resource="calls", records=[good_call("CAL9")])
    again = mirror_apply_records(account=tenant.account, resource="calls", records=[good_call("CAL9")])
    edited = mirror_apply_records(account=tenant.account, resource="calls",
                                  records=[good_call("CAL9", note="Called back", value=40)])  # fmt: skip
    assert (first["created"], again["unchanged"], edited["updated"]) == (1, 1, 1)
    call = Call.objects.for_account(tenant.account).get(callrail_id="CAL9")
    assert call.note == "Called back"
    assert call.value == Decimal("40.00")
    assert not Call.objects.for_account(tenant.other_account).exists()


def test_a_shorter_agency_retention_bounds_the_full_window(tenant):
    """A sync never pulls back what the agency's retention job deleted."""
    tenant.agency.retention_months = 3
    tenant.agency.save()
    tenant.account.time_zone = "America/Denver"
    now = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
    ctx = ctx_for(tenant.account, now)
    full = _new_window(ctx, CALLS, SyncState(client_account=tenant.account, resource="calls"), SyncKind.FULL)
    assert full["window_start"].startswith("2026-04-16T00:00:00")  # three months and a day of margin


def test_the_compiled_mapping_gives_what_the_checked_mapping_gives(tenant):
    """The compiled mapper (the fast path) and the converting, problem-recording mapping agree on every
    record; a well-formed record never needs the slow one."""
    from apps.sync.engine import _map_checked, map_record, mapper_for

    account = tenant.account
    account.time_zone = "America/Denver"
    Company.objects.bulk_create([Company(
        client_account=account, callrail_id="COMx", payload={}, payload_hash="x", first_seen_at=datetime.now(UTC),
        last_seen_at=datetime.now(UTC), changed_at=datetime.now(UTC), name="Acme")])  # fmt: skip
    records = [
        good_call("A", value=None, tags=[]),  # as CallRail lists most calls
        good_call("B", recording_duration="62", duration=0, spam=True, value=12.5, tags=["VIP", {"name": "New"}]),
        good_call("C", start_time="2026-11-20T10:15:00", company_id="COMnone", customer_city=None),  # no offset
        good_call("D", duration="eleven", answered="maybe", value=True, customer_name="X" * 400),  # problems
        good_call("E", duration=2**31, prior_calls=-3, tracker_id=7, customer_phone_number=4045550100),
        {key: value for key, value in good_call("F").items() if key not in ("direction", "spam")},  # missing
        good_call("G", start_time=" 2026-11-20T10:15:00Z", direction=None, first_call=None, tags=None),
    ]
    fast = mapper_for(CALLS)
    checked_ctx = ctx_for(account)
    for record in records:
        ctx = ctx_for(account)
        expected = _map_checked(checked_ctx, CALLS, record, record["id"])
        assert map_record(ctx, CALLS, record, record["id"]) == expected, record["id"]
        assert [p["message"] for p in ctx.problems] == [
            p["message"] for p in checked_ctx.problems if p["id"] == record["id"]
        ]
    assert fast(records[0], ctx_for(account)) is not None
    assert fast(records[1], ctx_for(account)) is not None
    assert fast(records[3], ctx_for(account)) is None  # declined: the checked mapping records the problems
    assert map_record(ctx_for(account), CALLS, records[1], "B")["recording_duration"] == 62
    assert map_record(ctx_for(account), CALLS, records[2], "C")["start_time"] == datetime(
        2026, 11, 20, 17, 15, tzinfo=UTC
    )  # a time without offset is in the account's zone


def test_an_insert_only_page_looks_nothing_up_and_a_collision_is_written_carefully(tenant):
    """A first pass inserts its pages without looking rows up; a record that exists after all (written by a
    webhook meanwhile) rolls that page back, and it is written the careful way, counted once, no duplicate."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.sync.services import mirror_apply_records

    account = tenant.account
    ctx = ctx_for(account)
    ctx.insert_only.add("calls")
    with CaptureQueriesContext(connection) as queries:
        counts = apply_page(ctx, CALLS, [good_call("CAL1"), good_call("CAL2")])
    assert (counts.created, counts.updated) == (2, 0)
    assert not [q for q in queries if "payload_hash" in q["sql"] and q["sql"].startswith("SELECT")]

    mirror_apply_records(account=account, resource="calls", records=[good_call("CAL3", note="by a webhook")])
    page = [good_call("CAL3", note="listed"), good_call("CAL4", duration="eleven")]
    counts = apply_page(ctx, CALLS, page)
    assert (counts.created, counts.updated) == (1, 1)
    assert "calls" not in ctx.insert_only  # the rest of the pass is written carefully
    assert Call.objects.for_account(account).count() == 4
    assert Call.objects.for_account(account).get(callrail_id="CAL3").note == "listed"
    assert [p["id"] for p in ctx.problems] == ["CAL4"]  # recorded once, not once per attempt


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE refreshes PostgreSQL's planner statistics")
def test_pages_that_look_rows_up_analyze_once_a_run_not_once_a_page(tenant, settings):
    """Look-ups need fresh statistics once a run has inserted many rows: one ANALYZE, not one per page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SYNC_ANALYZE_AFTER_ROWS = 2
    ctx = ctx_for(tenant.account)
    with CaptureQueriesContext(connection) as queries:
        for page in range(4):
            apply_page(ctx, CALLS, [good_call(f"CAL{page}-{i}") for i in range(3)])
    analyzes = [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")]
    assert len(analyzes) == 1
    assert '"client_account_id", "callrail_id"' in analyzes[0]
