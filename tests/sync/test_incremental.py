"""Incremental sync, the 30-day re-read and idempotence, against the live sandbox over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.sync.models import SyncKind, SyncState, SyncStatus
from apps.sync.resources import RESOURCES

from .conftest import control, execute
from .test_full_sync import assert_mirror_equals_upstream

pytestmark = pytest.mark.django_db


def snapshot(account):
    """Every mirrored row as stored (all columns)."""
    return {
        resource.name: sorted(
            tuple(row.items()) for row in resource.model.objects.for_account(account).order_by("pk").values()
        )
        for resource in RESOURCES
    }


def activity(sandbox, account, **what):
    return control(sandbox, "POST", "activity", account_id=account.callrail_account_id, **what)[
        account.callrail_account_id
    ]


def test_second_sync_with_no_upstream_change_writes_nothing(sandbox, sandbox_account):
    first = execute(sandbox_account, SyncKind.FULL)
    assert first.status == SyncStatus.SUCCEEDED
    assert first.records_created > 100
    before = snapshot(sandbox_account)

    for kind in (SyncKind.FULL, SyncKind.INCREMENTAL, SyncKind.REREAD):
        run = execute(sandbox_account, kind)
        assert run.status == SyncStatus.SUCCEEDED, run.errors
        assert (run.records_created, run.records_updated, run.records_deleted) == (0, 0, 0), kind
        assert run.records_unchanged > 0
        assert snapshot(sandbox_account) == before, kind


def test_a_first_sync_only_inserts_and_the_next_one_looks_rows_up(sandbox, sandbox_account, settings):
    """A first full sync (no row of the account yet) looks nothing up, keeps no seen set, sweeps nothing and
    refreshes the look-up statistics once, at the end of the pass; the next sync compares every record."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.core.redis import get_redis, redis_key

    settings.SYNC_ANALYZE_AFTER_ROWS = 1
    settings.SYNC_PER_PAGE = 50

    def calls_sync() -> tuple:
        with CaptureQueriesContext(connection) as captured:
            run = execute(sandbox_account, SyncKind.FULL, ["calls"])
        sql = [q["sql"] for q in captured]
        lookups = [s for s in sql if s.startswith("SELECT") and '"calls_call"."payload_hash"' in s]
        holds = [s for s in sql if "push_outboxentry" in s]
        analyzes = [i for i, s in enumerate(sql) if s.startswith("ANALYZE")]
        return run, lookups, holds, analyzes, sql

    seen_keys = redis_key("sync", "seen", sandbox_account.pk, "calls", "*")
    first, lookups, holds, analyzes, sql = calls_sync()
    assert first.status == SyncStatus.SUCCEEDED
    assert first.records_created > 100  # several pages
    assert (lookups, holds) == ([], [])
    if connection.vendor == "postgresql":  # statistics for the planner: PostgreSQL's ANALYZE only
        assert len(analyzes) == 1
        assert '"calls_call"' in sql[analyzes[0]]
    else:
        assert analyzes == []
    assert not list(get_redis().scan_iter(match=seen_keys))

    again, lookups, holds, analyzes, _ = calls_sync()
    assert (again.records_created, again.records_updated, again.records_unchanged) == (0, 0, first.records_created)
    assert len(lookups) == -(-first.records_created // 50)  # one per page
    assert analyzes == []


def test_last_seen_is_refreshed_without_rewriting_content(sandbox, sandbox_account, settings):
    from apps.companies.models import Company

    execute(sandbox_account, SyncKind.FULL, resources=["companies"])
    before = {c.callrail_id: c for c in Company.objects.for_account(sandbox_account)}
    settings.SYNC_LAST_SEEN_RESOLUTION_SECONDS = 0
    run = execute(sandbox_account, SyncKind.INCREMENTAL, resources=["companies"])
    assert run.records_unchanged == len(before)
    for company in Company.objects.for_account(sandbox_account):
        assert company.last_seen_at > before[company.callrail_id].last_seen_at
        assert company.changed_at == before[company.callrail_id].changed_at
        assert company.payload == before[company.callrail_id].payload


def test_incremental_with_nothing_new_costs_one_page_per_list(sandbox, sandbox_account):
    from apps.companies.models import Company

    execute(sandbox_account, SyncKind.FULL)
    run = execute(sandbox_account, SyncKind.INCREMENTAL)
    companies = Company.objects.for_account(sandbox_account).live().count()
    # integrations, outbound caller IDs and integration triggers are listed per company
    assert run.requests == len(RESOURCES) - 3 + 3 * companies


def test_a_run_saves_its_progress_at_most_every_few_seconds_and_its_counts_at_the_end(sandbox, sandbox_account,
                                                                                      settings):  # fmt: skip
    """The run's row is written at its start, at most every ``SYNC_PROGRESS_SAVE_SECONDS`` and at its end, not
    once per page and resource: at scale those writes were a sixth of an incremental's queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    execute(sandbox_account, SyncKind.FULL)
    settings.SYNC_PROGRESS_SAVE_SECONDS = 3600
    with CaptureQueriesContext(connection) as queries:
        run = execute(sandbox_account, SyncKind.INCREMENTAL)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "sync_syncrun"')]
    assert run.status == SyncStatus.SUCCEEDED
    assert run.progress["pages"] >= run.requests > 10  # a page per request at least (none empty here)
    assert len(writes) == 3, writes  # started, counts and progress, finished
    run.refresh_from_db()
    assert run.requests > 10
    assert run.records_unchanged > 0
    assert run.progress["done"] == [r.name for r in RESOURCES]


def test_deleted_records_are_hidden_from_lists_by_default_but_kept(sandbox, sandbox_account, tenant, settings):
    settings.SYNC_REREAD_DAYS = 31  # the sandbox deletes calls of the last 30 days: no edge case at the boundary
    from apps.calls.selectors import call_list

    execute(sandbox_account, SyncKind.FULL)
    deleted = set(activity(sandbox, sandbox_account, deleted_calls=2)["deleted_calls"])
    execute(sandbox_account, SyncKind.REREAD)
    shown = set(call_list(user=tenant.staff).values_list("callrail_id", flat=True))
    everything = set(call_list(user=tenant.staff, include_deleted=True).values_list("callrail_id", flat=True))
    assert deleted
    assert not deleted & shown
    assert everything == shown | deleted
    assert not call_list(user=tenant.client_user.__class__.objects.create_user("x@example.test"))


def test_incremental_picks_up_new_and_recently_modified_calls(sandbox, sandbox_account):
    execute(sandbox_account, SyncKind.FULL)
    new_ids = activity(sandbox, sandbox_account, new_calls=12, complete_outbound=True)["new_calls"]

    run = execute(sandbox_account, SyncKind.INCREMENTAL)
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.records_created == len(new_ids) > 0
    calls = Call.objects.for_account(sandbox_account)
    assert set(calls.filter(callrail_id__in=new_ids).values_list("callrail_id", flat=True)) == set(new_ids)

    # Edits to calls inside the overlap window (the new ones: recordings, tags, notes, lead status, value).
    modified = activity(sandbox, sandbox_account, modified_calls=4, modify_within_days=0.01)["modified_calls"]
    assert modified
    run = execute(sandbox_account, SyncKind.INCREMENTAL)
    assert run.records_updated == len(modified)
    assert_mirror_equals_upstream(sandbox_account)


def test_reread_applies_old_edits_and_deletions_that_incremental_cannot_see(sandbox, sandbox_account, settings):
    settings.SYNC_REREAD_DAYS = 31  # the sandbox deletes calls of the last 30 days: no edge case at the boundary
    execute(sandbox_account, SyncKind.FULL)
    report = activity(sandbox, sandbox_account, modified_calls=5, deleted_calls=3, modify_within_days=20)
    modified = {m["id"] if isinstance(m, dict) else m for m in report["modified_calls"]}
    deleted = set(report["deleted_calls"])
    assert modified
    assert deleted

    incremental = execute(sandbox_account, SyncKind.INCREMENTAL)
    assert incremental.records_updated == incremental.records_deleted == 0  # outside the overlap window

    reread = execute(sandbox_account, SyncKind.REREAD)
    assert reread.status == SyncStatus.SUCCEEDED, reread.errors
    assert reread.records_deleted == len(deleted)
    assert reread.records_updated == len(modified - deleted)
    calls = Call.objects.for_account(sandbox_account)
    # Deleted upstream: marked, hidden from lists by default, not lost.
    assert set(calls.deleted().values_list("callrail_id", flat=True)) == deleted
    assert not calls.live().filter(callrail_id__in=deleted).exists()
    assert calls.filter(callrail_id__in=deleted).count() == len(deleted)
    assert_mirror_equals_upstream(sandbox_account)


def test_small_resources_disappearing_upstream_are_marked_on_any_sync(sandbox, sandbox_account):
    from apps.callrail.client import client_for_account
    from apps.tags.models import Tag

    execute(sandbox_account, SyncKind.FULL)
    tag = Tag.objects.for_account(sandbox_account).live().first()
    client_for_account(sandbox_account, lane="interactive").delete(f"tags/{tag.callrail_id}.json")

    run = execute(sandbox_account, SyncKind.INCREMENTAL)
    assert run.records_deleted == 1
    tag.refresh_from_db()
    assert tag.deleted_upstream_at is not None
    assert tag.name
    # (calls that carried the tag change upstream too; older than the overlap window they are the re-read's job)
    assert_mirror_equals_upstream(sandbox_account, only={"tags", "companies", "trackers", "users"})


def test_cursor_advances_to_the_window_end_and_the_overlap_is_reread(sandbox, sandbox_account, settings):
    settings.SYNC_OVERLAP_MINUTES = 45
    execute(sandbox_account, SyncKind.FULL)
    state = SyncState.objects.for_account(sandbox_account).get(resource="calls")
    first_cursor = state.cursor
    assert first_cursor is not None
    assert state.checkpoint == {}
    assert state.last_full_at == first_cursor

    new = activity(sandbox, sandbox_account, new_calls=3)["new_calls"]
    run = execute(sandbox_account, SyncKind.INCREMENTAL, resources=["calls"])
    state.refresh_from_db()
    assert state.cursor >= first_cursor
    # The calls of the last 45 minutes were listed again (unchanged), the new ones created.
    since = first_cursor - timedelta(minutes=45)
    recent = Call.objects.for_account(sandbox_account).filter(start_time__gte=since, start_time__lte=first_cursor)
    recent = recent.exclude(callrail_id__in=new).count()
    assert run.records_created == 3
    assert run.records_unchanged == recent


def carrying(calls, name: str) -> set[str]:
    """The CallRail ids of the calls carrying tag ``name`` (in Python: SQLite has no JSON containment)."""
    return {callrail_id for callrail_id, names in calls.values_list("callrail_id", "tags") if name in (names or [])}


def test_a_tag_deleted_or_renamed_upstream_changes_every_mirrored_call_at_the_next_incremental(
    sandbox, sandbox_account
):
    """The docs: removing a tag removes it from every interaction; renaming changes it everywhere — also on
    calls far older than the incremental's window."""
    from collections import Counter

    from apps.callrail.client import client_for_account
    from apps.tags.models import Tag

    execute(sandbox_account, SyncKind.FULL)
    tags = Tag.objects.for_account(sandbox_account).live().exclude(company=None)
    company = tags.first().company  # company tags: the same name may be another company's tag as well
    calls = Call.objects.for_account(sandbox_account).filter(company=company)
    own = set(tags.filter(company=company).values_list("name", flat=True))
    carried = Counter(name for names in calls.values_list("tags", flat=True) for name in names if name in own)
    (gone, _), (renamed, _) = carried.most_common(2)
    old_window = calls.filter(start_time__lt=timezone.now() - timedelta(days=2))
    assert carrying(old_window, gone)  # calls the incremental does not list again
    assert carrying(old_window, renamed)
    api = client_for_account(sandbox_account, lane="interactive")
    doomed = tags.get(company=company, name=gone)
    moved = tags.get(company=company, name=renamed)
    api.delete(f"tags/{doomed.callrail_id}.json")
    api.put(f"tags/{moved.callrail_id}.json", json={"name": f"{renamed} (renamed)"})
    with_renamed = carrying(calls, renamed)

    run = execute(sandbox_account, SyncKind.INCREMENTAL)

    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert not carrying(calls, gone)
    assert not carrying(calls, renamed)
    assert carrying(calls, f"{renamed} (renamed)") == with_renamed
    assert run.progress["tags_applied"]["removed"] > 0
    assert_mirror_equals_upstream(sandbox_account, only={"calls", "tags"})
    # and the calls now hash like CallRail lists them: a re-read of everything finds nothing to update
    again = execute(sandbox_account, SyncKind.FULL, ["calls"])
    assert again.records_updated == 0
