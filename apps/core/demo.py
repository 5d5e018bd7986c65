"""Demo data: two agencies, users of every role, client accounts pointing at the CallRail sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.credentials.models import ConnectionStatus, Credential, GatewayConnection
from apps.credentials.services import (
    ImportChoice,
    accounts_import,
    client_account_update,
    credential_create,
    credential_replace_key,
)
from apps.tenancy.models import Agency, AuthMode, ClientAccount, Membership, Role, User

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
def load_demo_data(
    *, sandbox_url: str, accounts: list[dict], agency_key: str = "", gateway_key: str = ""
) -> list[ClientAccount]:
    """Idempotent: re-running resets the demo users' passwords and re-points accounts at the sandbox.

    `accounts` are the sandbox's demo accounts: dicts with id, name, api_key, time_zone and connection_id.
    The last one goes to the second agency, the rest to Northwind. Accounts are connected the way agencies
    do it, through credentials: Northwind's through one agency key reaching all of them (`agency_key`),
    Southside's through a gateway key and its OAuth connection (`gateway_key`). Without those keys each
    account gets a credential with its own key. Nothing is sent to the sandbox here (it starts afterwards).
    """
    northwind, _ = Agency.objects.get_or_create(slug="northwind-digital", defaults={"name": "Northwind Digital"})
    southside, _ = Agency.objects.get_or_create(slug="southside-media", defaults={"name": "Southside Media"})
    saved: list[ClientAccount] = []
    for index, spec in enumerate(accounts):
        second = index == len(accounts) - 1 and len(accounts) > 1
        agency = southside if second else northwind
        if second and gateway_key:
            credential = _credential(agency, "Southside gateway key", AuthMode.GATEWAY, gateway_key, sandbox_url)
            connection, _ = GatewayConnection.objects.update_or_create(
                credential=credential, connection_id=spec["connection_id"],
                defaults={"status": ConnectionStatus.ACTIVE, "label": f"{spec['name']} (owner's CallRail login)",
                          "error": ""},
            )  # fmt: skip
        elif not second and agency_key:
            credential, connection = _credential(agency, "Northwind agency key", AuthMode.DIRECT, agency_key,
                                                 sandbox_url), None  # fmt: skip
        else:
            credential, connection = _credential(agency, f"{spec['name']} key", AuthMode.DIRECT, spec["api_key"],
                                                 sandbox_url), None  # fmt: skip
        existing = ClientAccount.objects.unscoped(reason="demo-data").filter(
            agency=agency, callrail_account_id=spec["id"]
        ).first()
        if existing is None:
            choice = ImportChoice(spec["id"], spec["name"], spec.get("time_zone") or "America/New_York", connection)
            result = accounts_import(credential=credential, choices=[choice], check=False, start_sync=False)
            account = result.accounts[0]
        else:
            account = client_account_update(account=existing, name=spec["name"], credential=credential,
                                            gateway_connection=connection, check=False)  # fmt: skip
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


def _credential(agency: Agency, name: str, auth_mode: str, api_key: str, sandbox_url: str) -> Credential:
    """The demo credential of that name, pointed at the sandbox with this key (re-keyed if it changed)."""
    credential = agency.credentials.filter(name=name).first()
    if credential is None:
        return credential_create(agency=agency, name=name, auth_mode=auth_mode, api_key=api_key,
                                 base_url=sandbox_url, check=False)  # fmt: skip
    if credential.api_key != api_key or credential.base_url != sandbox_url or credential.error:
        credential = credential_replace_key(credential=credential, api_key=api_key, base_url=sandbox_url, check=False)
    return credential


def _daily_summary(account: ClientAccount, client: User) -> None:
    """One branded daily summary for the client, so the demo shows what it sends (EMAIL_URL: var/mail)."""
    from apps.summaries.models import PortalSummary
    from apps.summaries.services import summary_save

    if not PortalSummary.objects.for_account(account).exists():
        summary_save(account=account, actor=None, frequency="daily", hour=7, users=[client])
