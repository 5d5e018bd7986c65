"""Shared fixtures: two agencies with two client accounts each, a user of every role, a pinned clock, and the
session's clean-up (nothing left behind: Redis keys, the embedded Redis, connections to the test database).

Runs against PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else on the embedded default. Every
test process is isolated by the test settings (agency_portal/settings/test.py), so any test runs under
pytest-xdist as it is.
"""

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from apps.core import embedded_redis
from apps.tenancy.models import Agency, ClientAccount, Role, User
from tests.factories import AgencyFactory, ClientAccountFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.workers", "apps.sandbox.pytest_plugin"]

logger = logging.getLogger(__name__)

#: The instant a pinned clock shows unless the test names another (``@pytest.mark.clock("…")``): a weekday
#: afternoon in New York, mid-month, no daylight-saving change near.
PINNED_NOW = datetime(2026, 6, 17, 15, 0, tzinfo=UTC)


#: Instants where dates and periods turn over: the last minute of a month and of a year, a leap day, and
#: days on which daylight-saving time starts or ends (New York, the test accounts' zone; Auckland).
EDGE_INSTANTS = (
    "2026-12-31T23:59:30+00:00",  # New Year in UTC; already Jan 1 in Auckland, still Dec 31 in New York
    "2026-04-30T23:59:00+00:00",  # a month's last minute in UTC
    "2027-03-01T02:30:00+00:00",  # 02:30 UTC: still Feb 28 (the last day of February) in New York
    "2026-03-08T07:30:00+00:00",  # 03:30 EDT, half an hour after New York sprang forward (a 23-hour day)
    "2026-11-01T06:30:00+00:00",  # 01:30 EST, the second 01:30 of New York's 25-hour day
    "2026-04-04T14:30:00+00:00",  # 02:30 NZST, the second 02:30 of Auckland's 25-hour day (Apr 5 local)
    "2028-02-29T23:59:00+00:00",  # a leap day's last minute
)


@pytest.fixture
def clock(request) -> Iterator[time_machine.Traveller]:
    """Pin this process's clock (``datetime.now``, ``time.time``, ``date.today``; not the monotonic clock, so
    waits still work) for a test whose result depends on the time of day or the date. It starts at
    ``PINNED_NOW``, at the instant of the test's ``@pytest.mark.clock("2026-01-31T23:59:00+00:00")``, or at
    each instant of ``@pytest.mark.parametrize("clock", EDGE_INSTANTS, indirect=True)``, and ticks on from
    there; ``clock.move_to(…)`` / ``clock.shift(…)`` move it. Request it before the fixtures that read the clock
    (the sandbox seeds its history at its "now"). Celery workers the test starts afterwards share the pinned
    clock (`tests.workers.clock_offset`), ticking from the instant they start; Redis and the database server
    keep the real clock."""
    marker = request.node.get_closest_marker("clock")
    start = getattr(request, "param", None) or (marker.args[0] if marker else None)
    with time_machine.travel(datetime.fromisoformat(start) if start else PINNED_NOW, tick=True) as traveller:
        yield traveller


def chromium_path() -> str:
    """Debian's chromium for the browser tests; skipped with a clear message where it is missing (failed in CI,
    which installs it, so a missing install step cannot hide behind a skip)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Chromium is not installed (apt-get install chromium): browser test skipped"
    if os.environ.get("CI"):
        pytest.fail(message.replace("skipped", "cannot run in CI"))
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault suite's table (tests/faults/summary.py), whichever process ran its tests."""
    from tests.faults.summary import write_summary

    write_summary(terminalreporter, Path(settings.BASE_DIR) / "var" / "fault-summary.txt")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist: collect the fault-suite rows of a worker that finished (tests/faults/conftest.py)."""
    from tests.faults.summary import ROWS, Row

    ROWS.extend(Row(**row) for row in getattr(node, "workeroutput", {}).get("fault_rows", []))


# ------------------------------------------------------------------------------------- nothing left behind
@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """pytest-django's test databases; before they are dropped, no connection of another process may remain
    (a worker a test failed to stop): those are listed as a warning and closed, so the drop never fails."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        others = cursor.fetchall()
        if others:
            logger.warning("connections to the test database still open at the end of the run: %s", others)
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
    connection.close()


@pytest.fixture(scope="session", autouse=True)
def _leave_no_redis_keys() -> Iterator[None]:
    """At the end of the run (after the test databases are gone): delete every key of this test process (its
    prefix, agency_portal/settings/test.py) and stop the embedded Redis if this process started it."""
    yield
    if not settings.EMBEDDED_REDIS or embedded_redis.answers_ping("127.0.0.1", settings.EMBEDDED_REDIS_PORT):
        _delete_keys(_glob_escape(settings.REDIS_KEY_PREFIX) + ":*")
    embedded_redis.stop_if_started()


@pytest.fixture(autouse=True)
def _no_budget_of_an_earlier_test_on_sqlite() -> Iterator[None]:
    """SQLite gives a rolled-back test's primary keys again, so the next test's account 1 would inherit the
    last one's CallRail budget from Redis (its spent requests, a 429's block): on SQLite each test ends by
    removing this process's budget keys. PostgreSQL's sequences never give a key twice."""
    yield
    if connection.vendor == "sqlite" and (
        not settings.EMBEDDED_REDIS or embedded_redis.answers_ping("127.0.0.1", settings.EMBEDDED_REDIS_PORT)
    ):
        from apps.core.redis import redis_key

        namespace = getattr(settings, "CALLRAIL_BUDGET_NAMESPACE", "callrail:budget")
        _delete_keys(_glob_escape(redis_key(namespace)) + ":*")


def _delete_keys(pattern: str) -> None:
    from apps.core.redis import get_redis

    conn = get_redis()
    batch: list[bytes] = []
    for key in conn.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 500:
            conn.unlink(*batch)
            batch.clear()
    if batch:
        conn.unlink(*batch)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


@dataclass
class Tenant:
    """One agency with two client accounts and a user of every role."""

    agency: Agency
    account: ClientAccount
    other_account: ClientAccount
    owner: User
    admin: User
    staff: User
    restricted_staff: User  # limited to `account`
    client_user: User  # client of `account`


def make_tenant(name: str) -> Tenant:
    agency = AgencyFactory(name=name)
    account = ClientAccountFactory(agency=agency, name=f"{name} Dental")
    other_account = ClientAccountFactory(agency=agency, name=f"{name} Plumbing")

    def member(role: Role, accounts=()) -> User:
        return MembershipFactory(agency=agency, role=role, client_accounts=list(accounts)).user

    return Tenant(
        agency=agency,
        account=account,
        other_account=other_account,
        owner=member(Role.OWNER),
        admin=member(Role.ADMIN),
        staff=member(Role.STAFF),
        restricted_staff=member(Role.STAFF, [account]),
        client_user=member(Role.CLIENT, [account]),
    )


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("Acme")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("Globex")


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def login(client):
    """Sign a user in on the Django test client and return that client."""

    def _login(user: User):
        client.force_login(user)
        return client

    return _login
