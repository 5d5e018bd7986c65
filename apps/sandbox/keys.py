"""Who reaches what: API keys that reach several accounts, gateway keys and their OAuth connections.

The seed gives each demo account its own direct key, an agency key reaching two accounts and a gateway key
with one connection per account (``seed._keys``). This module adds what agencies do with keys:

* ``MULTI_ACCOUNT_KEY``: an agency login's key reaching the first three demo accounts (the demo imports
  them through one credential);
* keys made on demand for any set of accounts (``POST /_sandbox/keys``), and revoking a key;
* gateway keys with no connection yet (``POST /_sandbox/gateway/keys``) and the connections the emulated
  control API (``gateway.py``) creates, authorises, expires, fails, deletes — and revokes, as when the
  account's owner withdraws the authorisation on CallRail's side (``POST /_sandbox/gateway/connections/
  {id}/revoke``).

``state.gateway_keys`` (the API's index: gateway key -> its ACTIVE connections and their grants) is kept in
step with the connection records here. A key's grants map each account to the CallRail user whose key it
is: the account's first administrator, as for the seeded direct keys.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .seed import DEMO_ACCOUNTS

if TYPE_CHECKING:
    from .state import SandboxState

MULTI_ACCOUNT_KEY = "5f0c7e2a9b8d4c16a3e1f7b2d9c4a8e6"
PENDING, ACTIVE, EXPIRED, FAILED, REVOKED = "PENDING", "ACTIVE", "EXPIRED", "FAILED", "REVOKED"


@dataclass
class ConnectionRecord:
    connection_id: str
    gateway_key: str
    status: str
    created: float  # time.time()
    updated: float
    session_token: str
    grants: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    def describe(self, base_url: str) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "status": self.status,
            "creation_time": _iso(self.created),
            "last_updated_time": _iso(self.updated),
            "url": f"{base_url}/ctrl/connect?session_token={self.session_token}",
            "app": "callrail",
            "metadata": {"reason": self.reason} if self.reason else {},
        }


@dataclass
class GatewaySettings:
    #: Accounts an authorisation grants (None: every account of the sandbox).
    grant_accounts: list[str] | None = None
    #: A pending connection becomes ACTIVE by itself this many seconds after it was created (tests).
    activate_after: float | None = None
    #: A pending connection whose link was not used within this many seconds is EXPIRED.
    expire_after: float = 3600.0
    #: The next authorisation fails with this reason (the owner declined, CallRail refused the login).
    fail_next: str = ""


@dataclass
class Access:
    connections: dict[str, ConnectionRecord] = field(default_factory=dict)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)


def access(state: SandboxState) -> Access:
    return state.__dict__.setdefault("access", Access())


def seed(state: SandboxState) -> None:
    """After the seed: the multi-account key, and a record for each seeded (active) gateway connection."""
    state.access = Access()
    accounts = [d.account_id for d in DEMO_ACCOUNTS[:3] if d.account_id in state.accounts]
    if accounts:
        grant_key(state, accounts, key=MULTI_ACCOUNT_KEY)
    now = time.time()
    for gateway_key, connections in state.gateway_keys.items():
        for connection_id, grants in connections:
            state.access.connections[connection_id] = ConnectionRecord(
                connection_id, gateway_key, ACTIVE, now, now, secrets.token_urlsafe(16), dict(grants)
            )


# ------------------------------------------------------------------------------------------------ direct keys
def _grants(state: SandboxState, account_ids: list[str]) -> dict[str, str]:
    unknown = [a for a in account_ids if a not in state.accounts]
    if unknown:
        raise ApiError(404, f"Unknown account(s): {', '.join(unknown)}")
    return {a: next(iter(state.accounts[a].users)) for a in account_ids}


def grant_key(state: SandboxState, account_ids: list[str], key: str | None = None) -> str:
    """A direct API key reaching ``account_ids`` (an empty list: a valid key that reaches no account)."""
    key = key or secrets.token_hex(16)
    with state.lock:
        state.token_keys[key] = _grants(state, account_ids)
    return key


def revoke_key(state: SandboxState, key: str) -> bool:
    with state.lock:
        return state.token_keys.pop(key, None) is not None


# ---------------------------------------------------------------------------------------------- gateway keys
def new_gateway_key(state: SandboxState) -> str:
    key = secrets.token_hex(16)
    with state.lock:
        state.gateway_keys[key] = []
    return key


def create_connection(state: SandboxState, gateway_key: str) -> ConnectionRecord:
    now = time.time()
    record = ConnectionRecord(
        secrets.token_hex(4) + "-" + "-".join(secrets.token_hex(2) for _ in range(3)) + "-" + secrets.token_hex(6),
        gateway_key, PENDING, now, now, secrets.token_urlsafe(24),
    )  # fmt: skip
    with state.lock:
        access(state).connections[record.connection_id] = record
    return record


def refresh(state: SandboxState, record: ConnectionRecord) -> ConnectionRecord:
    """Apply what time does to a pending connection: activation after the set delay, or expiry."""
    settings = access(state).gateway
    if record.status == PENDING:
        age = time.time() - record.created
        if settings.activate_after is not None and age >= settings.activate_after:
            authorise(state, record)
        elif age >= settings.expire_after:
            minutes = settings.expire_after / 60
            _set(record, EXPIRED, f"The authorisation link was not used within {minutes:.0f} minutes")
    return record


def authorise(state: SandboxState, record: ConnectionRecord, account_ids: list[str] | None = None) -> ConnectionRecord:
    """The account's owner completed the authorisation (or declined it: ``fail_next``)."""
    settings = access(state).gateway
    with state.lock:
        if record.status != PENDING:
            return record
        if settings.fail_next:
            _set(record, FAILED, settings.fail_next)
            settings.fail_next = ""
            return record
        chosen = account_ids if account_ids is not None else settings.grant_accounts
        record.grants = _grants(state, list(chosen if chosen is not None else state.accounts))
        _set(record, ACTIVE)
        state.gateway_keys.setdefault(record.gateway_key, []).append((record.connection_id, record.grants))
    return record


def revoke(state: SandboxState, record: ConnectionRecord, reason: str, *, status: str = REVOKED) -> None:
    """The connection stops working (the owner revoked it on CallRail's side, or it was deleted)."""
    with state.lock:
        connections = state.gateway_keys.get(record.gateway_key, [])
        connections[:] = [c for c in connections if c[0] != record.connection_id]
        _set(record, status, reason)


def find(state: SandboxState, connection_id: str, gateway_key: str | None = None) -> ConnectionRecord:
    record = access(state).connections.get(connection_id)
    if record is None or (gateway_key is not None and record.gateway_key != gateway_key):
        raise ApiError(404, "Connection not found")
    return refresh(state, record)


def _set(record: ConnectionRecord, status: str, reason: str = "") -> None:
    record.status, record.reason, record.updated = status, reason, time.time()


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- control plane
def principal(key: str) -> str:
    """``token:<key>`` for a raw direct key; principals (``token:…``, ``connection:…``) pass through."""
    return key if key.startswith(("token:", "connection:")) else f"token:{key}"


def handle_control(state: SandboxState, method: str, parts: list[str], body: dict, args: Any) -> Any:
    """The ``/_sandbox/`` routes of this module; None when the route is not one of them."""
    route = "/".join(parts)
    if route == "keys" and method == "POST":
        accounts = body.get("accounts")
        if not isinstance(accounts, list):
            raise ApiError(400, "accounts must be a list of account ids")
        key = grant_key(state, [str(a) for a in accounts], key=body.get("key") or None)
        return {"key": key, "accounts": accounts}
    if parts[:1] == ["keys"] and len(parts) == 2 and method == "DELETE":
        return {"revoked": revoke_key(state, parts[1])}
    if route == "rate-limits/keys" and method == "POST":
        key = body.get("key")
        state.ratelimiter.configure_keys(body.get("limits"), principal(key) if key else None, body.get("enabled"))
        return state.ratelimiter.describe()
    if route == "usage/key" and method == "GET":
        key = args.get("key")
        if not key:
            raise ApiError(400, "key is required (an API key, token:<key> or connection:<id>)")
        return state.ratelimiter.key_usage(principal(key))
    if route == "gateway/keys" and method == "POST":
        return {"key": new_gateway_key(state)}
    if route == "gateway":
        settings = access(state).gateway
        if method == "POST":
            if "grant_accounts" in body:
                settings.grant_accounts = body["grant_accounts"]
            if "activate_after_seconds" in body:
                value = body["activate_after_seconds"]
                settings.activate_after = None if value is None else float(value)
            if "expire_after_seconds" in body:
                settings.expire_after = float(body["expire_after_seconds"])
            if "fail_next" in body:
                settings.fail_next = str(body["fail_next"] or "")
        return {"grant_accounts": settings.grant_accounts, "activate_after_seconds": settings.activate_after,
                "expire_after_seconds": settings.expire_after, "fail_next": settings.fail_next}  # fmt: skip
    if parts[:2] == ["gateway", "connections"] and len(parts) == 4 and method == "POST":
        record = find(state, parts[2])
        if parts[3] == "authorise":
            authorise(state, record, body.get("accounts"))
        elif parts[3] == "revoke":
            revoke(state, record, str(body.get("reason") or "The owner revoked the authorisation in CallRail"))
        else:
            raise ApiError(404, "Unknown connection action")
        return {"connection": record.describe(state.base_url)}
    return None
