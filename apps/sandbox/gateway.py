"""The managed-OAuth gateway's control API, emulated under ``/ctrl`` (instead of ``https://ctrl.maton.ai``).

As the gateway guide shows it, with ``Authorization: Bearer <gateway key>``:

* ``GET /ctrl/connections?app=callrail[&status=ACTIVE]`` -> ``{"connections": [...]}``
* ``POST /ctrl/connections`` with ``{"app": "callrail"}`` -> ``{"connection": {...}}``, status ``PENDING`` and a
  ``url`` where the account's owner completes the authorisation;
* ``GET /ctrl/connections/{id}`` -> ``{"connection": {connection_id, status, creation_time,
  last_updated_time, url, app, metadata}}``;
* ``DELETE /ctrl/connections/{id}`` -> ``{"connection": {..., "status": "DELETED"}}``.

Opening the ``url`` (``GET /ctrl/connect?session_token=…``) completes the authorisation: the connection turns
``ACTIVE`` and reaches the accounts ``keys.GatewaySettings.grant_accounts`` names (every account by
default). Tests can instead let it activate by itself after a delay, expire it, or make it fail; see
``keys.py`` for those settings and for revoking a connection on CallRail's side.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from werkzeug.wrappers import Request, Response

from . import keys
from .errors import ApiError

GATEWAY_CONTROL_PREFIX = "/ctrl/"


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


class GatewayControlApi:
    def __init__(self, state) -> None:
        self.state = state

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except ApiError as exc:
            return _json(exc.status, {"error": exc.message})

    def _base(self, request: Request) -> str:
        return (self.state.public_url or request.host_url).rstrip("/")

    def _handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][1:]
        method = request.method.upper()
        if parts == ["connect"]:
            return self._connect_page(request)
        gateway_key = self._authenticate(request)
        base = self._base(request)
        if parts == ["connections"]:
            if method == "GET":
                status = (request.args.get("status") or "").upper()
                app = request.args.get("app")
                records = [
                    keys.refresh(self.state, r) for r in list(keys.access(self.state).connections.values())
                    if r.gateway_key == gateway_key
                ]  # fmt: skip
                items = [r.describe(base) for r in sorted(records, key=lambda r: r.created)]
                items = [i for i in items if (not status or i["status"] == status) and app in (None, "", i["app"])]
                return _json(200, {"connections": items})
            if method == "POST":
                body = _body(request)
                if body.get("app") != "callrail":
                    raise ApiError(400, "app is required and must be an app the gateway knows, e.g. callrail")
                record = keys.create_connection(self.state, gateway_key)
                return _json(200, {"connection": record.describe(base)})
            raise ApiError(405, "Method Not Allowed")
        if len(parts) == 2 and parts[0] == "connections":
            record = keys.find(self.state, parts[1], gateway_key)
            if method == "GET":
                return _json(200, {"connection": record.describe(base)})
            if method == "DELETE":
                keys.revoke(self.state, record, "Deleted through the control API", status="DELETED")
                with self.state.lock:
                    keys.access(self.state).connections.pop(record.connection_id, None)
                return _json(200, {"connection": record.describe(base)})
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, "Not found")

    def _authenticate(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not key or key not in self.state.gateway_keys:
            raise ApiError(401, "Invalid or missing API key. Provide it as: Authorization: Bearer YOUR_API_KEY")
        return key

    def _connect_page(self, request: Request) -> Response:
        token = request.args.get("session_token", "")
        record = next((r for r in keys.access(self.state).connections.values() if r.session_token == token), None)
        if record is None:
            return _page(404, "Unknown link", "This authorisation link is not valid.")
        keys.refresh(self.state, record)
        if record.status == keys.PENDING:
            keys.authorise(self.state, record)
        if record.status == keys.ACTIVE:
            names = ", ".join(self.state.accounts[a].name for a in record.grants if a in self.state.accounts)
            return _page(200, "CallRail connected", f"The gateway can now reach: {names or 'no account'}. "
                                                    "You can close this window.")  # fmt: skip
        return _page(410, "Authorisation not completed", record.reason or f"This connection is {record.status}.")


def _body(request: Request) -> dict:
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return data


def _page(status: int, title: str, text: str) -> Response:
    html = (f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
            f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")  # fmt: skip
    return Response(html, status=status, content_type="text/html; charset=utf-8")
