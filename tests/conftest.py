"""Shared fixtures: two agencies with two client accounts each, and a user of every role.

Runs against PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else on the embedded default.
"""

from dataclasses import dataclass

import pytest

from apps.tenancy.models import Agency, ClientAccount, Role, User
from tests.factories import AgencyFactory, ClientAccountFactory, MembershipFactory, UserFactory

pytest_plugins = ["tests.workers", "apps.sandbox.pytest_plugin"]


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
