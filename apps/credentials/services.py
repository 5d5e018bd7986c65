"""The only writers of credentials, gateway connections and client accounts' connection settings.

Every change is audited with who, when and a readable before/after — never the key (its fingerprint
stands in). A key is checked with one budgeted request before anything is kept (unless ``check=False``),
an import creates every chosen account or none, and a refused key or revoked connection is shown on the
credential (or connection) and on each account it serves, and emailed to the agency's owners and admins
once per failure — not once per account or per sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.audit.services import audit_record
from apps.callrail import destinations
from apps.callrail.client import CallRailClient, client_for_account
from apps.callrail.errors import (
    AuthFailed,
    CallRailError,
    ConnectionInactive,
    DestinationNotAllowed,
    MalformedResponse,
    NotFound,
    Unauthorized,
)
from apps.callrail.gateway import GatewayControl
from apps.tenancy.models import Agency, AuthMode, ClientAccount, Membership, Role, User, callrail_account_id_validator

from .models import ConnectionStatus, Credential, GatewayConnection

logger = logging.getLogger(__name__)

DEFAULT_TIME_ZONE = "America/New_York"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _served(credential: Credential):
    """The accounts a credential serves (all of its own agency: services keep them so)."""
    return ClientAccount.objects.unscoped(reason="credential").filter(credential_id=credential.pk)


def _served_by(connection: GatewayConnection):
    return ClientAccount.objects.unscoped(reason="credential").filter(gateway_connection_id=connection.pk)


def _bad(field_name: str | None, message: str) -> ValidationError:
    return ValidationError({field_name: message}) if field_name else ValidationError(message)


# ============================================================================================ credentials
def _clean_destination(auth_mode: str, base_url: str) -> tuple[str, str]:
    if auth_mode not in AuthMode.values:
        raise _bad("auth_mode", f"Choose {AuthMode.DIRECT.label} or {AuthMode.GATEWAY.label}.")
    base_url = (base_url or "").strip().rstrip("/")
    if base_url:
        try:
            base_url = destinations.check_base_url(base_url)
        except destinations.DestinationRefused as exc:
            raise _bad("base_url", str(exc)) from None
    else:
        from apps.callrail.client import default_base_url

        if not destinations.is_allowed(default_base_url(auth_mode)):
            allowed = destinations.allowed_text()
            raise _bad("base_url", f"The default destination is not allowed here; enter one of {allowed}.")
    return auth_mode, base_url


def _clean_overrides(value: Any, field_name: str = "budget_overrides") -> dict:
    """``{"general": {"hour": 2000, "day": 20000}}``: known classes and windows, positive integers."""
    from apps.callrail.budget import LIMIT_CLASSES

    if not value:
        return {}
    if not isinstance(value, dict):
        raise _bad(field_name, 'Enter limits as {"general": {"hour": 1000, "day": 10000}}.')
    clean: dict[str, dict[str, int]] = {}
    for limit_class, windows in value.items():
        if limit_class not in LIMIT_CLASSES or not isinstance(windows, dict):
            raise _bad(field_name, f"Unknown limit class {limit_class!r}: use {', '.join(LIMIT_CLASSES)}.")
        for window, limit in windows.items():
            if window not in ("hour", "day") or isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise _bad(field_name, f"{limit_class}: give positive whole numbers for hour and day.")
            clean.setdefault(limit_class, {})[window] = limit
    return clean


def _readable(credential: Credential) -> dict[str, Any]:
    """What the audit log shows of a credential (never the key)."""
    return {
        "name": credential.name,
        "authentication": AuthMode(credential.auth_mode).label,
        "API base URL": credential.effective_base_url,
        "key": f"fingerprint {credential.key_fingerprint}" if credential.api_key else "",
        "budget per key": "on" if credential.key_limit_enabled else "off",
        "key limits": credential.budget_overrides or "CallRail's defaults",
    }


def key_client(credential: Credential, *, connection_id: str = "", lane: str = "interactive") -> CallRailClient:
    """A client for requests made for the key itself (listing the accounts it reaches): charged to the key's
    own windows and to every account it already serves (CallRail counts ``/a.json`` for each of them)."""
    from apps.callrail.budget import Scope

    served = _served(credential)
    return CallRailClient(
        account_key=None,
        api_key=credential.api_key,
        auth_mode=credential.auth_mode,
        connection_id=connection_id,
        base_url=credential.effective_base_url,
        key_scope=credential.key_scope,
        also_charge=[Scope(str(a.pk), a.budget_overrides or None) for a in served],
        lane=lane,
    )


def _check_key(credential: Credential) -> None:
    """One request with the key (a gateway key: one control request): ValidationError when refused."""
    try:
        if credential.is_gateway:
            GatewayControl(api_key=credential.api_key).list()
            return
        body = key_client(credential).get("/a.json", params={"per_page": 250})
        if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
            raise MalformedResponse("the account list is missing", path="/v3/a.json")
    except CallRailError as exc:
        logger.info("key check of credential %s refused: %s", credential.pk, exc)
        raise _bad("api_key", exc.public_message) from None
    if not body["accounts"]:
        raise _bad(
            "api_key",
            "CallRail accepted the key but it reaches no account. Use the API key of a CallRail user who has "
            "access to the client accounts (CallRail › Settings › API keys).",
        )


@transaction.atomic
def credential_create(
    *,
    agency: Agency,
    name: str,
    auth_mode: str,
    api_key: str,
    base_url: str = "",
    key_limit_enabled: bool = True,
    budget_overrides: dict | None = None,
    actor: User | None = None,
    check: bool = True,
) -> Credential:
    """Add a key to the agency. With ``check`` the key is tried first (one request); nothing is kept when
    CallRail refuses it or it reaches no account."""
    name = (name or "").strip()
    api_key = (api_key or "").strip()
    if not name:
        raise _bad("name", "Name the credential, e.g. “Agency API key”.")
    if not api_key:
        raise _bad("api_key", "Enter the key: CallRail cannot be reached without one.")
    auth_mode, base_url = _clean_destination(auth_mode, base_url)
    if Credential.objects.filter(agency=agency, name__iexact=name).exists():
        raise _bad("name", f"{agency.name} already has a credential named “{name}”.")
    credential = Credential(
        agency=agency, name=name, auth_mode=auth_mode, api_key=api_key, base_url=base_url,
        key_limit_enabled=key_limit_enabled, budget_overrides=_clean_overrides(budget_overrides),
        created_by=actor if getattr(actor, "pk", None) else None, key_changed_at=timezone.now(),
    )  # fmt: skip
    credential.full_clean()
    credential.save()  # inside the transaction: the check below is charged to its key scope
    if check:
        _check_key(credential)
        credential.checked_at = timezone.now()
        credential.save(update_fields=["checked_at"])
    audit_record(agency=agency, actor=actor, action="credential.create", obj=credential, after=_readable(credential))
    return credential


@transaction.atomic
def credential_update(
    *,
    credential: Credential,
    actor: User | None = None,
    name: str | None = None,
    key_limit_enabled: bool | None = None,
    budget_overrides: dict | None = None,
) -> Credential:
    """Name and budget settings (the key and its destination change only through ``credential_replace_key``)."""
    credential = Credential.objects.select_for_update().get(pk=credential.pk)
    before = _readable(credential)
    if name is not None:
        name = name.strip()
        if not name:
            raise _bad("name", "Name the credential, e.g. “Agency API key”.")
        clash = Credential.objects.filter(agency_id=credential.agency_id, name__iexact=name).exclude(pk=credential.pk)
        if clash.exists():
            raise _bad("name", f"The agency already has a credential named “{name}”.")
        credential.name = name
    if key_limit_enabled is not None:
        credential.key_limit_enabled = key_limit_enabled
    if budget_overrides is not None:
        credential.budget_overrides = _clean_overrides(budget_overrides)
    credential.full_clean()
    credential.save()
    after = _readable(credential)
    if after != before:
        audit_record(agency=credential.agency, actor=actor, action="credential.update", obj=credential,
                     before=before, after=after)  # fmt: skip
    return credential


@transaction.atomic
def credential_replace_key(
    *, credential: Credential, api_key: str, base_url: str | None = None, actor: User | None = None, check: bool = True
) -> Credential:
    """Rotate the key (optionally with a new destination: the base URL only changes together with the key).

    With ``check`` the new key must reach every account the credential serves (one request); otherwise
    nothing changes and the message names the accounts it does not reach. A working new key clears the
    "key refused" flags on the credential and its accounts.
    """
    credential = Credential.objects.select_for_update().get(pk=credential.pk)
    before = _readable(credential)
    api_key = (api_key or "").strip()
    if not api_key:
        raise _bad("api_key", "Enter the new key.")
    if base_url is not None:
        _mode, credential.base_url = _clean_destination(credential.auth_mode, base_url)
    credential.api_key = api_key
    if check:
        _check_key(credential)
        if not credential.is_gateway:
            reached = {a.callrail_account_id for a in _list_accounts(credential)}
            served = list(_served(credential).order_by("name"))
            missing = [a.name for a in served if a.callrail_account_id not in reached]
            if missing:
                raise _bad("api_key", f"The new key does not reach {', '.join(missing)}: nothing was changed. Use "
                                      "the key of a CallRail user with access to every account it serves.")  # fmt: skip
    now = timezone.now()
    credential.key_changed_at = credential.checked_at = now
    credential.error, credential.error_at = "", None
    credential.full_clean()
    credential.save()
    _served(credential).update(connection_error="", connection_checked_at=now)
    audit_record(agency=credential.agency, actor=actor, action="credential.key_replace", obj=credential,
                 before=before, after=_readable(credential))  # fmt: skip
    return credential


@transaction.atomic
def credential_delete(*, credential: Credential, actor: User | None = None) -> None:
    """Remove a credential that no account uses any more (its gateway connections are deleted there too)."""
    count = _served(credential).count()
    if count:
        raise ValidationError(
            f"{count} client account{'s use' if count != 1 else ' uses'} this credential: move "
            f"{'them' if count != 1 else 'it'} to another credential or delete {'them' if count != 1 else 'it'} first."
        )
    if credential.is_gateway:
        control = GatewayControl(api_key=credential.api_key)
        for connection in credential.connections.exclude(status=ConnectionStatus.REMOVED):
            try:
                control.delete(connection.connection_id)
            except CallRailError as exc:  # the key may be revoked already: the portal forgets it anyway
                logger.warning("could not delete gateway connection %s: %s", connection.connection_id, exc)
    audit_record(agency=credential.agency, actor=actor, action="credential.delete", obj=credential,
                 before=_readable(credential))  # fmt: skip
    pk = credential.pk
    credential.delete()
    transaction.on_commit(lambda: _forget_budget(pk))


def _forget_budget(credential_pk: int) -> None:
    from apps.callrail.budget import get_budget, key_scope_key

    try:
        get_budget().reset(key_scope_key(credential_pk))
    except Exception:  # the keys expire on their own
        logger.warning("could not clear the budget keys of credential %s", credential_pk)


# ================================================================================ reaching and importing
@dataclass
class ReachableAccount:
    """One account a credential reaches, and where it is connected already."""

    callrail_account_id: str
    name: str
    connection: GatewayConnection | None = None
    #: The account of this agency that already connects it, if any.
    existing: ClientAccount | None = None
    #: Other agencies of the user where it is connected.
    elsewhere: list[str] = field(default_factory=list)

    @property
    def importable(self) -> bool:
        return self.existing is None


def _list_accounts(credential: Credential, connection: GatewayConnection | None = None) -> list[ReachableAccount]:
    """Every account the key (or one gateway connection) reaches, from ``GET /v3/a.json`` (paginated)."""
    found: dict[str, ReachableAccount] = {}
    if credential.is_gateway:
        active = list(credential.connections.filter(status=ConnectionStatus.ACTIVE, error=""))
        # No connection recorded here (a key added by command): the gateway's default (oldest active) one.
        default = [None] if not credential.connections.exists() else []
        connections = [connection] if connection else (active or default)
    else:
        connections = [None]
    for conn in connections:
        client = key_client(credential, connection_id=conn.connection_id if conn else "")
        for record in client.iter_records("/a.json", list_key="accounts", params={"sort": "name"}):
            account_id = str(record.get("id") or "")
            if account_id and account_id not in found:
                found[account_id] = ReachableAccount(account_id, str(record.get("name") or account_id), conn)
    return sorted(found.values(), key=lambda a: a.name.lower())


def credential_reachable_accounts(
    *, credential: Credential, user: User | None = None, connection: GatewayConnection | None = None
) -> list[ReachableAccount]:
    """The accounts a credential reaches, each marked when it is connected already in this agency or in
    another agency of ``user``. Raises ``CallRailError`` (its ``public_message`` is for people)."""
    reachable = _list_accounts(credential, connection)
    ids = [a.callrail_account_id for a in reachable]
    here = {
        a.callrail_account_id: a
        for a in ClientAccount.objects.unscoped(reason="credential").filter(
            agency_id=credential.agency_id, callrail_account_id__in=ids
        )
    }
    elsewhere: dict[str, list[str]] = {}
    if user is not None:
        rows = (
            ClientAccount.objects.visible_to(user)
            .filter(callrail_account_id__in=ids)
            .exclude(agency_id=credential.agency_id)
            .values_list("callrail_account_id", "agency__name")
        )
        for account_id, agency_name in rows:
            elsewhere.setdefault(account_id, []).append(agency_name)
    for account in reachable:
        account.existing = here.get(account.callrail_account_id)
        account.elsewhere = sorted(set(elsewhere.get(account.callrail_account_id, [])))
    return reachable


@dataclass(frozen=True)
class ImportChoice:
    callrail_account_id: str
    name: str = ""
    time_zone: str = ""
    connection: GatewayConnection | None = None


@dataclass
class ImportResult:
    accounts: list[ClientAccount]
    #: Accounts whose time zone was read from their first company in CallRail.
    time_zones_read: int = 0


def _read_account(client: CallRailClient, account_id: str) -> dict:
    """``GET /v3/a/{id}.json``: the account, or MalformedResponse when whatever answered is not CallRail."""
    body = client.get(f"/a/{account_id}.json")
    if not isinstance(body, dict) or body.get("id") != account_id:
        raise MalformedResponse("the answer to the account read is not that account", path=f"/v3/a/{account_id}.json")
    return body


def _time_zone_of(client: CallRailClient) -> str:
    """The account's time zone: its first active company's (CallRail keeps time zones per company)."""
    from apps.tenancy.models import TIME_ZONE_CHOICES

    body = client.get("companies.json", params={"per_page": 25})
    companies = body.get("companies") if isinstance(body, dict) else None
    if not isinstance(companies, list):
        raise MalformedResponse("the companies list is missing", path="companies.json")
    known = {name for name, _label in TIME_ZONE_CHOICES}
    for company in sorted(companies or [], key=lambda c: c.get("status") != "active"):
        zone = company.get("time_zone")
        if zone in known:
            return zone
    return ""


@transaction.atomic
def accounts_import(
    *,
    credential: Credential,
    choices: list[ImportChoice],
    actor: User | None = None,
    start_sync: bool = True,
    check: bool = True,
) -> ImportResult:
    """Connect the chosen accounts of a credential in one step: every one of them, or none.

    Each account is read once from CallRail through the credential (its companies: this proves the key
    reaches it and gives its time zone, which CallRail keeps per company); a refusal, or an account already
    connected in the agency, imports nothing. With ``start_sync`` each account's first full sync is queued
    when the import commits.
    """
    if not choices:
        raise ValidationError("Choose at least one account to import.")
    if credential.error:
        raise ValidationError(f"{credential.name} is not working: {credential.error}")
    agency = credential.agency
    seen: set[str] = set()
    errors: list[str] = []
    for choice in choices:
        account_id = choice.callrail_account_id.strip()
        try:
            callrail_account_id_validator(account_id)
        except ValidationError:
            errors.append(f"{account_id!r} is not a CallRail account id (ACC followed by 32 hex characters).")
            continue
        if account_id in seen:
            errors.append(f"{account_id} is listed twice.")
        seen.add(account_id)
        if choice.connection is not None and choice.connection.credential_id != credential.pk:
            errors.append(f"{account_id}: that connection belongs to another credential.")
        if credential.is_gateway and choice.connection is not None and not choice.connection.is_active:
            errors.append(f"{account_id}: the connection is not active ({choice.connection.status_label}).")
    existing = {
        a.callrail_account_id: a
        for a in ClientAccount.objects.unscoped(reason="credential").filter(agency=agency, callrail_account_id__in=seen)
    }
    for account_id, account in existing.items():
        errors.append(f"{account_id} is already connected in {agency.name} as “{account.name}”: open it there "
                      "(or choose another credential for it on its settings page).")  # fmt: skip
    if errors:
        raise ValidationError([*errors, "Nothing was imported."])
    names: dict[str, str] = {}
    if check and any(not choice.name.strip() for choice in choices):  # CallRail's names (one listing request)
        try:
            names = {a.callrail_account_id: a.name for a in _list_accounts(credential)}
        except CallRailError as exc:
            raise ValidationError([exc.public_message, "Nothing was imported."]) from None
    accounts: list[ClientAccount] = []
    read = 0
    for choice in choices:
        account_id = choice.callrail_account_id.strip()
        account = ClientAccount(
            agency=agency, credential=credential, gateway_connection=choice.connection,
            callrail_account_id=account_id,
            name=(choice.name.strip() or names.get(account_id) or account_id)[:200],
            time_zone=choice.time_zone or DEFAULT_TIME_ZONE,
        )  # fmt: skip
        account.full_clean()
        try:
            with transaction.atomic():
                account.save()  # in the transaction: its pk is its budget key for the request below
        except IntegrityError:  # connected at the same moment by someone else
            raise ValidationError([f"{account_id} was just connected in {agency.name} by someone else.",
                                   "Nothing was imported."]) from None  # fmt: skip
        if check:
            try:
                zone = _time_zone_of(client_for_account(account, lane="interactive"))
            except CallRailError as exc:
                logger.info("import of %s through credential %s refused: %s", account.callrail_account_id,
                            credential.pk, exc)  # fmt: skip
                what = (
                    f"{account.name} ({account.callrail_account_id}): "
                    + ("the key does not reach this account." if isinstance(exc, NotFound) else exc.public_message)
                )
                raise ValidationError([what, "Nothing was imported."]) from None
            if zone and not choice.time_zone:
                account.time_zone = zone
                account.save(update_fields=["time_zone"])
                read += 1
            account.connection_checked_at = timezone.now()
            account.save(update_fields=["connection_checked_at"])
        audit_record(
            agency=agency, actor=actor, action="client_account.import", obj=account, client_account=account,
            after={"name": account.name, "CallRail account": account.callrail_account_id, "credential": credential.name,
                   "connection": str(account.gateway_connection or ""), "time zone": account.time_zone},
        )  # fmt: skip
        accounts.append(account)
    if start_sync:
        from apps.sync.models import SyncKind, SyncTrigger
        from apps.sync.services import sync_request

        for account in accounts:
            sync_request(account=account, kind=SyncKind.FULL, trigger=SyncTrigger.MANUAL)
    return ImportResult(accounts=accounts, time_zones_read=read)


# ========================================================================================= client accounts
def _readable_account(account: ClientAccount) -> dict[str, Any]:
    return {
        "name": account.name,
        "CallRail account": account.callrail_account_id,
        "credential": account.credential.name,
        "connection": str(account.gateway_connection or ""),
        "time zone": account.time_zone,
        "account limits": account.budget_overrides or "CallRail's defaults",
    }


@transaction.atomic
def client_account_update(
    *,
    account: ClientAccount,
    actor: User | None = None,
    name: str | None = None,
    time_zone: str | None = None,
    credential: Credential | None = None,
    gateway_connection: GatewayConnection | None = None,
    budget_overrides: dict | None = None,
    check: bool = True,
) -> ClientAccount:
    """Name, time zone, account-level budget, and which of the agency's credentials reaches the account.

    Moving to another credential changes where its requests go, so with ``check`` the new credential must
    reach the account (one request) before anything is kept.
    """
    account = ClientAccount.objects.for_account(account).select_for_update().select_related("credential").get()
    before = _readable_account(account)
    if name is not None:
        account.name = name.strip()
    if time_zone:
        account.time_zone = time_zone
    if budget_overrides is not None:
        account.budget_overrides = _clean_overrides(budget_overrides)
    new_connection = gateway_connection.pk if gateway_connection is not None else None
    moved = credential is not None and (
        credential.pk != account.credential_id or new_connection != account.gateway_connection_id
    )
    if credential is not None:
        if credential.agency_id != account.agency_id:
            raise _bad("credential", "Choose a credential of this agency.")
        if gateway_connection is not None and gateway_connection.credential_id != credential.pk:
            raise _bad("gateway_connection", "Choose a connection of the chosen credential.")
        if not credential.is_gateway:
            gateway_connection = None
        account.credential, account.gateway_connection = credential, gateway_connection
    account.full_clean()
    if moved:
        account.connection_error = ""
        if check:
            try:
                _read_account(client_for_account(account, lane="interactive"), account.callrail_account_id)
            except CallRailError as exc:
                detail = "it does not reach this account." if isinstance(exc, NotFound) else exc.public_message
                raise _bad("credential", f"{account.credential.name}: {detail} Nothing was changed.") from None
            account.connection_checked_at = timezone.now()
    account.save()
    after = _readable_account(account)
    if after != before:
        audit_record(agency=account.agency, actor=actor, action="client_account.update", obj=account,
                     client_account=account, before=before, after=after)  # fmt: skip
    return account


def client_account_check_connection(*, account: ClientAccount, actor: User | None = None) -> str | None:
    """"Test connection": one interactive request reading the account through its credential.

    Returns None when CallRail accepted, else the message to show (it never says what answered). A refused
    key or connection is recorded as a sync would record it; a transient failure changes nothing.
    """
    try:
        _read_account(client_for_account(account, lane="interactive"), account.callrail_account_id)
    except (AuthFailed, NotFound, DestinationNotAllowed) as exc:
        client_account_mark_refused(account=account, error=exc)
        account.refresh_from_db(fields=["connection_error"])
        return account.connection_error or exc.public_message
    except CallRailError as exc:
        return f"{exc.public_message}"
    client_account_mark_accepted(account=account)
    return None


# ================================================================================ refusals and recoveries
def client_account_mark_accepted(*, account: ClientAccount) -> None:
    ClientAccount.objects.for_account(account).update(connection_error="", connection_checked_at=timezone.now())
    account.connection_error = ""


def client_account_mark_refused(*, account: ClientAccount, error: CallRailError) -> None:
    """CallRail (or the gateway) refused a request of ``account``: flag whatever failed — the key (every
    account of the credential), the gateway connection (its accounts) or this account alone — so the
    schedule skips them until someone fixes it. Called by the sync engine and by "Test connection"."""
    credential = Credential.objects.get(pk=account.credential_id)
    if credential.is_gateway and isinstance(error, Unauthorized | ConnectionInactive):
        _gateway_refused(account, credential, error)
    elif isinstance(error, Unauthorized | DestinationNotAllowed):
        credential_mark_refused(credential=credential, message=error.public_message)
    else:  # Forbidden, NotFound: the key works, but not for this account
        message = (
            f"The credential “{credential.name}” does not reach this account any more (CallRail does not know it for "
            "this key). Choose another credential on the account's settings page, or ask the account's owner to "
            "grant access again."
            if isinstance(error, NotFound)
            else error.public_message
        )
        now = timezone.now()
        ClientAccount.objects.for_account(account).update(connection_error=message, connection_checked_at=now)
        account.connection_error = message
    account.refresh_from_db(fields=["connection_error"])


def _gateway_refused(account: ClientAccount, credential: Credential, error: CallRailError) -> None:
    """Ask the control API whose fault it is: the gateway key's, or the connection's (revoked, deleted)."""
    connection = account.gateway_connection
    if connection is None:
        credential_mark_refused(credential=credential, message=error.public_message)
        return
    try:
        info = GatewayControl(api_key=credential.api_key).get(connection.connection_id)
    except Unauthorized as exc:
        credential_mark_refused(credential=credential, message=exc.public_message)
        return
    except NotFound:
        connection_mark_inactive(connection=connection, status=ConnectionStatus.DELETED,
                                 reason="The gateway no longer has this connection (it was deleted).")  # fmt: skip
        return
    except CallRailError:
        info = None
    if info is not None and not info.is_active:
        reason = str(info.metadata.get("reason") or info.metadata.get("error") or "")
        connection_mark_inactive(connection=connection, status=info.status, reason=reason)
    else:
        reason = "CallRail refused this connection's authorisation (it was revoked in CallRail)."
        connection_mark_inactive(connection=connection, status=connection.status, reason=reason)


def credential_mark_refused(*, credential: Credential, message: str) -> None:
    """Flag the key and every account it serves; email the agency's owners and admins once per failure."""
    now = timezone.now()
    with transaction.atomic():
        unflagged = Credential.objects.filter(pk=credential.pk, error="")
        first = unflagged.update(error=message, error_at=now, checked_at=now)
        _served(credential).update(connection_error=message, connection_checked_at=now)
    credential.error = message
    if first:
        logger.warning("credential %s (%s) refused: %s", credential.pk, credential.name, message)
        accounts = list(_served(credential).order_by("name"))
        _notify_admins(credential.agency, subject=f"CallRail refused the key “{credential.name}”", problem=message,
                       credential=credential, accounts=accounts)  # fmt: skip


def connection_mark_inactive(*, connection: GatewayConnection, status: str, reason: str = "") -> None:
    """A gateway connection stopped working: flag it and its accounts, email the admins once."""
    now = timezone.now()
    label = GatewayConnection(status=status).status_label.lower()
    message = (
        f"The gateway connection “{connection}” is {label}"
        + (f": {reason.rstrip('.')}" if reason else "")
        + ". Its accounts stay paused until someone reconnects with CallRail and moves them to the new connection."
    )
    with transaction.atomic():
        first = GatewayConnection.objects.filter(pk=connection.pk, error="").update(
            error=message, error_at=now, checked_at=now, status=status or connection.status, status_reason=reason
        )
        _served_by(connection).update(connection_error=message, connection_checked_at=now)
    connection.refresh_from_db()
    if first:
        logger.warning("gateway connection %s is %s: %s", connection.connection_id, status, reason)
        accounts = list(_served_by(connection).order_by("name"))
        _notify_admins(connection.credential.agency, subject=f"A CallRail connection stopped: {connection}",
                       problem=message, credential=connection.credential, accounts=accounts)  # fmt: skip


def _agency_admins(agency: Agency) -> list[str]:
    memberships = Membership.objects.filter(
        agency=agency, is_active=True, user__is_active=True, role__in=[Role.OWNER, Role.ADMIN]
    ).select_related("user")
    return sorted({m.user.email for m in memberships})


def _from(agency: Agency) -> str:
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((agency.name, address or "portal@localhost"))


def _notify_admins(agency: Agency, *, subject: str, problem: str, credential: Credential, accounts: list) -> None:
    recipients = _agency_admins(agency)
    if not recipients:
        return
    link = settings.PORTAL_BASE_URL + reverse("credentials:detail", kwargs={"credential_pk": credential.pk})
    context = {"agency": agency, "problem": problem, "credential": credential, "accounts": accounts, "link": link}
    message = render_to_string("credentials/email/refused.txt", context)
    transaction.on_commit(
        lambda: send_mail(subject=subject, message=message, from_email=_from(agency), recipient_list=recipients)
    )


# ==================================================================================== gateway connections
def _readable_connection(connection: GatewayConnection) -> dict[str, Any]:
    return {"connection": connection.connection_id, "label": connection.label, "status": connection.status_label}


def connection_create(*, credential: Credential, label: str = "", actor: User | None = None) -> GatewayConnection:
    """"Connect with CallRail": a new gateway connection and its authorisation link, watched until active."""
    if not credential.is_gateway:
        raise ValidationError("Only a gateway credential has OAuth connections.")
    if credential.error:
        raise ValidationError(f"{credential.name} is not working: {credential.error}")
    try:
        info = GatewayControl(api_key=credential.api_key).create()
    except Unauthorized as exc:
        credential_mark_refused(credential=credential, message=exc.public_message)
        raise ValidationError(exc.public_message) from None
    except CallRailError as exc:
        raise ValidationError(f"No connection was created: {exc.public_message}") from None
    watch = timedelta(minutes=float(_setting("GATEWAY_CONNECTION_WATCH_MINUTES", 60)))
    with transaction.atomic():
        connection = GatewayConnection.objects.create(
            credential=credential, connection_id=info.connection_id, label=(label or "").strip()[:200],
            status=info.status or ConnectionStatus.PENDING, authorization_url=_safe_link(info.url),
            checked_at=timezone.now(), watch_until=timezone.now() + watch,
            activated_at=timezone.now() if info.is_active else None,
            created_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        audit_record(agency=credential.agency, actor=actor, action="connection.create", obj=connection,
                     after=_readable_connection(connection))  # fmt: skip
        if connection.is_pending:
            transaction.on_commit(lambda: _watch_later(connection.pk, 0))
    return connection


def _safe_link(url: str) -> str:
    """Only an http(s) link is ever shown or emailed."""
    return url if url.startswith(("https://", "http://")) else ""


def _watch_later(connection_pk: int, countdown: float) -> None:
    from .tasks import watch_connection_task

    watch_connection_task.apply_async(kwargs={"connection_id": connection_pk}, countdown=countdown)


def connection_refresh(*, connection: GatewayConnection) -> GatewayConnection:
    """Ask the gateway for the connection's status now (one control request) and record it."""
    try:
        info = GatewayControl(api_key=connection.credential.api_key).get(connection.connection_id)
    except NotFound:
        connection_mark_inactive(connection=connection, status=ConnectionStatus.DELETED,
                                 reason="The gateway no longer has this connection.")  # fmt: skip
        return connection
    except Unauthorized as exc:
        credential_mark_refused(credential=connection.credential, message=exc.public_message)
        raise ValidationError(exc.public_message) from None
    except CallRailError as exc:
        raise ValidationError(exc.public_message) from None
    now = timezone.now()
    reason = str(info.metadata.get("reason") or info.metadata.get("error") or "")
    if info.is_active:
        became = connection.status != ConnectionStatus.ACTIVE or connection.error
        GatewayConnection.objects.filter(pk=connection.pk).update(
            status=ConnectionStatus.ACTIVE, status_reason="", checked_at=now,
            activated_at=connection.activated_at or now, error="", error_at=None,
        )  # fmt: skip
        if became and connection.error:  # back: its accounts may sync again
            _served_by(connection).update(connection_error="", connection_checked_at=now)
    elif info.status in _FINAL and _served_by(connection).exists():
        connection_mark_inactive(connection=connection, status=info.status, reason=reason)
    else:
        GatewayConnection.objects.filter(pk=connection.pk).update(
            status=info.status, status_reason=reason, checked_at=now
        )
    connection.refresh_from_db()
    return connection


_FINAL = {"EXPIRED", "FAILED", "REVOKED", "DELETED", "ERROR", "CANCELLED"}


def connection_watch_step(*, connection_pk: int) -> float | None:
    """One look of the watcher (a Celery task): seconds until the next, or None when done."""
    connection = GatewayConnection.objects.select_related("credential").filter(pk=connection_pk).first()
    if connection is None or not connection.is_pending:
        return None
    try:
        connection = connection_refresh(connection=connection)
    except ValidationError:
        logger.info("gateway connection %s could not be checked just now", connection.connection_id)
    if not connection.is_pending:
        return None
    now = timezone.now()
    if connection.watch_until is None or now >= connection.watch_until:
        minutes = float(_setting("GATEWAY_CONNECTION_WATCH_MINUTES", 60))
        GatewayConnection.objects.filter(pk=connection.pk).update(
            status_reason=f"Not authorised within {minutes:.0f} minutes of being created. Send the link again, or "
            "create a new one if the gateway expired it."
        )
        return None
    poll = float(_setting("GATEWAY_CONNECTION_POLL_SECONDS", 5))
    return poll if now - connection.created_at < timedelta(minutes=5) else max(poll, 60.0)


def connection_send_link(
    *, connection: GatewayConnection, email: str, actor: User | None = None, note: str = ""
) -> None:
    """Email the authorisation link to the account's owner, under the agency's name and colours."""
    from django.core.validators import validate_email

    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise _bad("email", "Enter the email address of the person who owns the CallRail account.") from None
    if not connection.is_pending or not connection.authorization_url:
        raise ValidationError("This connection is not waiting for authorisation: create a new link.")
    agency = connection.credential.agency
    context = {"agency": agency, "link": connection.authorization_url, "note": (note or "").strip()[:1000],
               "sender": actor}  # fmt: skip
    message = EmailMultiAlternatives(
        subject=f"{agency.name} asks you to connect your CallRail account",
        body=render_to_string("credentials/email/authorise.txt", context),
        from_email=_from(agency),
        to=[email],
        reply_to=[actor.email] if getattr(actor, "email", "") else None,
    )
    message.attach_alternative(render_to_string("credentials/email/authorise.html", context), "text/html")
    with transaction.atomic():
        audit_record(agency=agency, actor=actor, action="connection.link_sent", obj=connection,
                     after={"sent to": email})  # fmt: skip
        transaction.on_commit(message.send)


@transaction.atomic
def connection_remove(*, connection: GatewayConnection, actor: User | None = None) -> list[ClientAccount]:
    """Delete the connection at the gateway and pause the accounts that use it (they are flagged until
    moved to another connection). Returns those accounts."""
    from apps.portal.services import client_account_sync_set

    if connection.status == ConnectionStatus.REMOVED:
        return []
    try:
        GatewayControl(api_key=connection.credential.api_key).delete(connection.connection_id)
    except Unauthorized:
        pass  # the gateway key is refused: the connection is unusable anyway; forget it here
    except CallRailError as exc:
        raise ValidationError(f"Nothing was removed: {exc.public_message}") from None
    before = _readable_connection(connection)
    now = timezone.now()
    who = getattr(actor, "email", "") or "an operator"
    message = (
        f"The gateway connection “{connection}” was removed by {who} on {now:%b %d, %Y}. Reconnect with CallRail "
        "and choose the new connection on this account's settings page to resume the sync."
    )
    connection.status, connection.removed_at, connection.error, connection.error_at = (
        ConnectionStatus.REMOVED, now, message, now,
    )  # fmt: skip
    connection.save(update_fields=["status", "removed_at", "error", "error_at"])
    accounts = list(_served_by(connection).select_related("agency"))
    for account in accounts:
        client_account_sync_set(account=account, enabled=False, actor=actor)
    _served_by(connection).update(connection_error=message, connection_checked_at=now)
    audit_record(agency=connection.credential.agency, actor=actor, action="connection.remove", obj=connection,
                 before=before, after={**_readable_connection(connection),
                                       "paused accounts": [a.name for a in accounts]})  # fmt: skip
    return accounts


def credential_sync_connections(*, credential: Credential, actor: User | None = None) -> list[GatewayConnection]:
    """Bring the portal's list of a gateway key's connections in step with the gateway's (one request):
    connections made elsewhere appear, ones the gateway no longer has are marked deleted."""
    try:
        listed = {c.connection_id: c for c in GatewayControl(api_key=credential.api_key).list()}
    except Unauthorized as exc:
        credential_mark_refused(credential=credential, message=exc.public_message)
        raise ValidationError(exc.public_message) from None
    except CallRailError as exc:
        raise ValidationError(exc.public_message) from None
    now = timezone.now()
    known = {c.connection_id: c for c in credential.connections.all()}
    for connection_id, info in listed.items():
        if connection_id not in known:
            GatewayConnection.objects.create(
                credential=credential, connection_id=connection_id, status=info.status,
                authorization_url=_safe_link(info.url), checked_at=now,
                activated_at=now if info.is_active else None,
            )  # fmt: skip
    for connection_id, connection in known.items():
        if connection.status == ConnectionStatus.REMOVED:
            continue
        info = listed.get(connection_id)
        if info is None:
            connection_mark_inactive(connection=connection, status=ConnectionStatus.DELETED,
                                     reason="The gateway no longer lists it.")  # fmt: skip
        elif info.status != connection.status:
            connection_refresh(connection=connection)
    return list(credential.connections.all())
