"""Demo data: two agencies, users of every role, client accounts pointing at the CallRail sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.tenancy.models import Agency, ClientAccount, Membership, Role, User
from apps.tenancy.services import client_account_save

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - printed on purpose: demo logins only


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    note: str


DEMO_LOGINS = [
    DemoLogin("owner@northwind.test", Role.OWNER, "Northwind Digital: sees and manages every client account"),
    DemoLogin("staff@northwind.test", Role.STAFF, "Northwind Digital: works in every client account"),
    DemoLogin("limited@northwind.test", Role.STAFF, "Northwind Digital: assigned to the first two accounts only"),
    DemoLogin("client@northwind.test", Role.CLIENT, "a client of Northwind: sees only its own account"),
    DemoLogin("owner@southside.test", Role.OWNER, "Southside Media: another agency, sees none of Northwind"),
]


def _user(email: str) -> User:
    user = User.objects.filter(email=email).first() or User(email=email)
    local, domain = email.split("@")
    user.full_name = user.full_name or f"{local.capitalize()} at {domain.split('.')[0].capitalize()}"
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _member(user: User, agency: Agency, role: str, accounts: list[ClientAccount] | None = None) -> None:
    membership, _ = Membership.objects.update_or_create(user=user, agency=agency, defaults={"role": role})
    membership.client_accounts.set(accounts or [])


@transaction.atomic
def load_demo_data(*, sandbox_url: str, accounts: list[dict]) -> list[ClientAccount]:
    """Idempotent: re-running resets the demo users' passwords and re-points accounts at the sandbox.

    `accounts` are the sandbox's demo accounts: dicts with id, name and api_key. The last one goes to
    the second agency, the rest to Northwind.
    """
    northwind, _ = Agency.objects.get_or_create(slug="northwind-digital", defaults={"name": "Northwind Digital"})
    southside, _ = Agency.objects.get_or_create(slug="southside-media", defaults={"name": "Southside Media"})
    saved: list[ClientAccount] = []
    for index, spec in enumerate(accounts):
        agency = southside if index == len(accounts) - 1 and len(accounts) > 1 else northwind
        existing = agency.client_accounts.filter(callrail_account_id=spec["id"]).first()
        account, _ = client_account_save(
            agency=agency,
            instance=existing,
            callrail_account_id=spec["id"],
            name=spec["name"],
            auth_mode="direct",
            api_key=spec["api_key"],
            base_url=sandbox_url,
            time_zone=spec.get("time_zone") or "America/New_York",
        )
        saved.append(account)
    northwind_accounts = [a for a in saved if a.agency_id == northwind.pk]
    _member(_user("owner@northwind.test"), northwind, Role.OWNER)
    _member(_user("staff@northwind.test"), northwind, Role.STAFF)
    _member(_user("limited@northwind.test"), northwind, Role.STAFF, northwind_accounts[:2])
    client = _user("client@northwind.test")
    _member(client, northwind, Role.CLIENT, northwind_accounts[:1])
    _member(_user("owner@southside.test"), southside, Role.OWNER)
    _daily_summary(northwind_accounts[0], client)
    return saved


def _daily_summary(account: ClientAccount, client: User) -> None:
    """One branded daily summary for the client, so the demo shows what it sends (EMAIL_URL: var/mail)."""
    from apps.summaries.models import PortalSummary
    from apps.summaries.services import summary_save

    if not PortalSummary.objects.for_account(account).exists():
        summary_save(account=account, actor=None, frequency="daily", hour=7, users=[client])
