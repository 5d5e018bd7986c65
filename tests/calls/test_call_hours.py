"""``CallHour``: the hours the dashboard's date-range figures read instead of every call. PostgreSQL's statement
triggers on ``calls_call`` keep them equal to the calls added up, whatever writes the calls (the sync's COPY
upserts, ORM saves, bulk inserts and updates, deletions, a company's deletion setting its calls' company to
none, the account's deletion), and ``agency_call_totals`` reading them gives what adding up the calls gives,
in every time zone (half and quarter hours off UTC included), range, and scope."""

from __future__ import annotations

import itertools
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.calls import reports
from apps.calls.models import Call, CallHour
from apps.calls.selectors import DATE_RANGES, agency_call_totals, date_window, zone_of
from apps.companies.models import Company
from apps.operations.services import client_account_delete
from apps.sync.models import SyncKind
from apps.sync.selectors import mirror_list
from apps.tenancy.models import ClientAccount, Role
from apps.tenancy.selectors import client_account_list
from tests.conftest import EDGE_INSTANTS
from tests.factories import ClientAccountFactory, MembershipFactory
from tests.portal.mirror import call, mirror
from tests.sync.conftest import execute, sandbox_account  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def expected_hours(account: ClientAccount) -> dict[tuple, tuple]:
    """The account's live, non-spam calls added up by company and UTC hour, in Python."""
    out: dict[tuple, tuple] = {}
    for c in Call.objects.for_account(account).live().filter(spam=False, start_time__isnull=False):
        key = (c.company_id, c.start_time.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
        part = (1, bool(c.answered), bool(c.voicemail), bool(c.first_call), c.lead_status == "good_lead",
                c.duration or 0, c.value or Decimal(0))  # fmt: skip
        out[key] = tuple(a + b for a, b in zip(out.get(key, (0, 0, 0, 0, 0, 0, Decimal(0))), part, strict=True))
    return out


def stored_hours(account: ClientAccount) -> dict[tuple, tuple]:
    return {
        (h.company_id, h.hour): (h.calls, h.answered, h.voicemails, h.first_time, h.leads, h.seconds, h.value)
        for h in CallHour.objects.for_account(account)
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="CallHour is kept by PostgreSQL's triggers")
def test_the_hours_match_the_calls_after_a_sync_and_every_kind_of_change(sandbox_account):  # noqa: F811
    account = sandbox_account
    execute(account, SyncKind.FULL)  # the sync's COPY upserts
    assert len(expected_hours(account)) > 10
    assert stored_hours(account) == expected_hours(account)

    calls = list(Call.objects.for_account(account).live().filter(spam=False).order_by("pk")[:7])
    calls[0].answered = not calls[0].answered
    calls[1].spam = True
    calls[2].deleted_upstream_at = timezone.now()
    calls[3].start_time -= timedelta(days=3, minutes=17)
    calls[4].value, calls[4].lead_status = Decimal("125.50"), "good_lead"
    for changed in calls[:5]:
        changed.save()
    Call.objects.for_account(account).filter(pk=calls[5].pk).delete()
    Call.objects.for_account(account).filter(duration__gt=100).update(duration=F("duration") + 7)
    assert stored_hours(account) == expected_hours(account)

    company = Company.objects.for_account(account).filter(calls__isnull=False).distinct().first()
    assert company is not None
    gone = company.pk
    company.delete()  # its calls keep their hours, under no company
    assert not CallHour.objects.for_account(account).filter(company_id=gone).exists()
    assert stored_hours(account) == expected_hours(account)

    execute(account, SyncKind.FULL)  # listed again: the sync's updates (the deleted call and company come back)
    assert stored_hours(account) == expected_hours(account)

    client_account_delete(account=account, batch_size=50)
    assert not CallHour.objects.for_account(account).exists()


def raw_totals(*, user, agency, preset: str) -> dict[int, dict]:
    """What the dashboard showed before it read the hours: every visible call of each account's window added up."""
    out = {}
    for account in client_account_list(user=user, agency=agency):
        start, end = date_window(preset, zone_of(account))
        window = {"start_time__lte": end, **({"start_time__gte": start} if start else {})}
        calls = mirror_list(Call, user=user, agency=agency).filter(client_account=account, spam=False, **window)
        row = calls.aggregate(**reports.AGGREGATES)
        if row["n"]:
            totals = reports.totals_from_row(row)
            out[account.pk] = {**totals.as_callrail(), "voicemails": totals.voicemails,
                               "answered_rate": totals.answered_percent}  # fmt: skip
    return out


@pytest.mark.parametrize("clock", EDGE_INSTANTS, indirect=True)
def test_the_dashboard_totals_equal_the_calls_added_up_in_every_zone_range_and_scope(tenant):
    zones = ("Asia/Kolkata", "America/New_York", "Asia/Kathmandu", "Pacific/Auckland")
    accounts = [tenant.account, tenant.other_account] + [ClientAccountFactory(agency=tenant.agency) for _ in zones[2:]]
    now = timezone.now()
    companies = {}
    rows = []
    for account, zone in zip(accounts, zones, strict=True):
        account.time_zone = zone
        account.save()
        companies[account.pk] = [mirror(Company, account, name=f"Branch {i}", status="active") for i in range(2)]
        # every 23 minutes for three days around now's midnights, then every 29 hours back over two years
        moments = [now - timedelta(minutes=23 * k) for k in range(190)]
        moments += [now - timedelta(hours=29 * k, minutes=7 * k) for k in range(3, 610)]
        for k, moment in enumerate(moments):
            rows.append(Call(
                client_account=account, callrail_id=f"CAL{account.pk}-{k}", payload={}, payload_hash="x",
                first_seen_at=now, last_seen_at=now, changed_at=now, start_time=moment, direction="inbound",
                answered=k % 3 != 0, voicemail=k % 5 == 0, first_call=k % 2 == 0, duration=k % 300,
                lead_status="good_lead" if k % 7 == 0 else None, value=Decimal(k % 11) if k % 4 else None,
                spam=k % 13 == 0, deleted_upstream_at=now if k % 17 == 0 else None,
                company=(companies[account.pk] + [None])[k % 3],
            ))  # fmt: skip
    Call.objects.bulk_create(rows, batch_size=500)
    limited = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[tenant.account])
    limited.companies.set([companies[tenant.account.pk][0]])

    for user in (tenant.owner, limited.user):  # their access scopes loaded (memberships: once a request)
        agency_call_totals(user=user, agency=tenant.agency, preset="today")
    for user, preset in itertools.product((tenant.owner, limited.user), dict(DATE_RANGES)):
        with CaptureQueriesContext(connection) as queries:
            got = agency_call_totals(user=user, agency=tenant.agency, preset=preset)
        assert got == raw_totals(user=user, agency=tenant.agency, preset=preset), (user, preset)
        assert len(queries) <= 3, [q["sql"][:80] for q in queries]  # the accounts, the hours, the edges' calls
    everyone = agency_call_totals(user=tenant.owner, agency=tenant.agency, preset="all_time")
    client = agency_call_totals(user=limited.user, agency=tenant.agency, preset="all_time")
    assert set(everyone) == {a.pk for a in accounts}
    assert set(client) == {tenant.account.pk}
    # one branch and the calls of no branch, not the other branch
    assert 0 < client[tenant.account.pk]["total_calls"] < everyone[tenant.account.pk]["total_calls"]


def test_each_agency_reads_only_its_own_hours(tenant, other_tenant):
    call(tenant.account, start=timezone.now() - timedelta(hours=3))
    call(other_tenant.account, start=timezone.now() - timedelta(hours=3), answered=False)
    call(other_tenant.account, start=timezone.now() - timedelta(hours=4))
    mine = agency_call_totals(user=tenant.owner, agency=tenant.agency, preset="all_time")
    theirs = agency_call_totals(user=other_tenant.owner, agency=other_tenant.agency, preset="all_time")
    assert {pk: t["total_calls"] for pk, t in mine.items()} == {tenant.account.pk: 1}
    assert {pk: t["total_calls"] for pk, t in theirs.items()} == {other_tenant.account.pk: 2}
    # an owner of one agency naming the other agency gets nothing of it
    assert agency_call_totals(user=tenant.owner, agency=other_tenant.agency, preset="all_time") == {}
