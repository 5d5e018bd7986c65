"""The managed-OAuth gateway's control API: create, list, read and delete CallRail connections.

From the gateway guide (reference documents): ``POST /connections`` with ``{"app": "callrail"}`` creates a
connection and answers ``{"connection": {...}}`` with a ``url`` where the account's owner completes the
authorisation; ``GET /connections/{id}`` reports its ``status`` (``ACTIVE`` once authorised);
``GET /connections?app=callrail`` lists them; ``DELETE /connections/{id}`` removes one. Every request carries
``Authorization: Bearer <gateway key>`` and goes to ``CALLRAIL_GATEWAY_CONTROL_URL`` only
(``destinations.require_control``). These are not CallRail requests, so they spend no CallRail budget;
CallRail requests then go through the gateway's API with ``Maton-Connection: <connection_id>``.

The guide shows the single-connection shape only; a list may come as ``{"connections": [...]}`` or as a
bare array, and unknown statuses are passed on as the gateway wrote them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from django.conf import settings

from . import destinations
from .client import new_session
from .errors import CallRailError, DestinationNotAllowed, MalformedResponse, NotFound, Unauthorized, Unavailable

logger = logging.getLogger(__name__)

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class GatewayConnection:
    """One connection as the control API describes it."""

    connection_id: str
    status: str
    url: str = ""
    app: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status.upper() == ACTIVE

    @classmethod
    def from_json(cls, data: Any) -> GatewayConnection:
        if isinstance(data, dict) and isinstance(data.get("connection"), dict):
            data = data["connection"]
        if not isinstance(data, dict) or not data.get("connection_id"):
            raise MalformedResponse("the gateway's answer names no connection_id")
        return cls(
            connection_id=str(data["connection_id"]),
            status=str(data.get("status") or "").upper(),
            url=str(data.get("url") or ""),
            app=str(data.get("app") or ""),
            created=_time(data.get("creation_time")),
            updated=_time(data.get("last_updated_time")),
            metadata=data.get("metadata") if isinstance(data.get("metadata"), dict) else {},
        )


class GatewayControl:
    """The control API for one gateway key."""

    def __init__(self, *, api_key: str, session: requests.Session | None = None, timeout: float | None = None):
        self.root = destinations.control_url()
        self._api_key = api_key
        self.session = session if session is not None else new_session()
        total = float(timeout if timeout is not None else settings.CALLRAIL_HTTP_TIMEOUT)
        self.timeout = (min(total, 5.0), total)

    def __repr__(self) -> str:
        return f"<GatewayControl {self.root}>"

    def create(self) -> GatewayConnection:
        return GatewayConnection.from_json(self._request("POST", "/connections", json={"app": "callrail"}))

    def get(self, connection_id: str) -> GatewayConnection:
        return GatewayConnection.from_json(self._request("GET", f"/connections/{_segment(connection_id)}"))

    def list(self, *, status: str | None = None) -> list[GatewayConnection]:
        params = {"app": "callrail", **({"status": status} if status else {})}
        body = self._request("GET", "/connections", params=params)
        items = body.get("connections") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise MalformedResponse("the gateway's connection list is not a list")
        connections = [GatewayConnection.from_json(item) for item in items]
        return [c for c in connections if c.app in ("", "callrail")]

    def delete(self, connection_id: str) -> bool:
        """Remove a connection; False when the gateway no longer had it (already gone is fine)."""
        try:
            self._request("DELETE", f"/connections/{_segment(connection_id)}")
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        url = self.root + path
        ctx = {"method": method, "path": path}
        try:
            destinations.require_control(url)
        except destinations.DestinationRefused as exc:
            raise DestinationNotAllowed(f"Not sent: {exc}", **ctx) from None
        attempts = 2 if method in ("GET", "DELETE") else 1
        for attempt in range(attempts):
            try:
                response = self.session.request(
                    method, url, params=params, json=json, timeout=self.timeout, allow_redirects=False,
                    headers={"Authorization": f"Bearer {self._api_key}"},
                )  # fmt: skip
            except requests.RequestException as exc:
                logger.warning("gateway control %s %s failed: %s", method, path, exc)
                if attempt + 1 < attempts:
                    continue
                reason = type(exc).__name__
                raise Unavailable(f"The gateway's control API could not be reached: {reason}", **ctx) from exc
            break
        status = response.status_code
        logger.info("gateway control %s %s status=%s", method, path, status)
        if status == 401:
            raise Unauthorized(
                "The gateway refused the key",
                status=status,
                public="The gateway refused the key: check the gateway API key (it may have been rotated).",
                **ctx,
            )
        if status == 404:
            raise NotFound("The gateway does not know this connection", status=status, **ctx)
        if status >= 500 or 300 <= status < 400:
            raise Unavailable(f"The gateway's control API answered {status}", status=status, **ctx)
        if status >= 400:
            raise CallRailError(f"The gateway's control API answered {status}", status=status, **ctx)
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise MalformedResponse("The gateway's control API answered with a body that is not JSON", **ctx) from None


def _segment(connection_id: str) -> str:
    """A connection id as one path segment (ids are UUIDs; anything else is refused, not encoded)."""
    value = connection_id.strip()
    if not value or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise NotFound(f"{connection_id!r} is not a connection id")
    return value


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
