"""The WSGI application: routing, authentication, rate limits, faults, errors — around ``resources``.

Paths (``.json`` optional, as CallRail's own ``next_page`` links omit it):

* direct:  ``/v3/a.json``, ``/v3/a/{account_id}.json``, ``/v3/a/{account_id}/{resource}[/{id}].json``
  with ``Authorization: Token token="KEY"`` (quotes optional);
* gateway: the same under ``/callrail/v3/…`` with ``Authorization: Bearer KEY`` and an optional
  ``Maton-Connection`` header choosing one of the key's connections;
* control plane: ``/_sandbox/…`` (see ``control.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from . import resources as res
from .body import Body, parse_body
from .context import Ctx
from .errors import ApiError
from .gateway import GATEWAY_CONTROL_PREFIX
from .query import paginate, select

log = logging.getLogger("apps.sandbox")

_TOKEN = re.compile(r'^\s*Token\s+token\s*=\s*"?([^"\s]+)"?\s*$', re.IGNORECASE)
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
_ACCESS_DENIED = 'Access denied. Provide a valid API key: Authorization: Token token="YOUR_API_KEY"'
_GATEWAY_DENIED = "Invalid or missing API key. Provide it as: Authorization: Bearer YOUR_API_KEY"
MAX_BODY = 5 * 1024 * 1024


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        response = Response(status=204)
    else:
        response = Response(json.dumps(body, ensure_ascii=False), status=status,
                            content_type="application/json; charset=utf-8")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(exc: ApiError) -> Response:
    return json_response(exc.status, {"error": exc.message}, exc.headers)


class SandboxApp:
    """``SandboxApp(state)`` is a WSGI callable serving the emulated API and the control plane."""

    def __init__(self, state):
        from .control import ControlPlane
        from .gateway import GatewayControlApi

        self.state = state
        self.control = ControlPlane(state)
        self.gateway_control = GatewayControlApi(state)

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            response = self.dispatch(request)
        except _Dropped:
            raise ConnectionResetError("connection dropped by the sandbox fault injector") from None
        return response(environ, start_response)

    # ---------------------------------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sandbox"):
            return self.control.handle(request)
        if path.startswith(GATEWAY_CONTROL_PREFIX):
            return self.gateway_control.handle(request)
        if path.startswith("/callrail/v3/") or path == "/callrail/v3":
            gateway, rest = True, path[len("/callrail/v3") :]
        elif path.startswith("/v3/") or path == "/v3":
            gateway, rest = False, path[len("/v3") :]
        elif path == "/":
            return json_response(200, {"service": "CallRail API v3 sandbox", "api": "/v3/a.json",
                                       "gateway": "/callrail/v3/a.json", "control": "/_sandbox/info"})
        else:
            return json_response(404, {"error": "Not found"})
        decision = self.state.faults.decide(path)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.action == "drop":
            self.state.record_request(None, request.method, path, 0, None, False)
            _drop(request)
            raise _Dropped
        if decision.action in ("500", "503"):
            status = int(decision.action)
            self.state.record_request(None, request.method, path, status, None, False)
            message = "Internal Server Error" if status == 500 else "Service Unavailable"
            headers = {"Retry-After": "1"} if status == 503 else None
            return json_response(status, {"error": message}, headers)
        try:
            response = self.api(request, rest, gateway)
            if decision.answer_delay:  # done already; the answer is late (a client may give up or die meanwhile)
                time.sleep(decision.answer_delay)
            return response
        except ApiError as exc:
            return error_response(exc)
        except RequestEntityTooLarge:
            return json_response(413, {"error": "Request body too large"})
        except Exception:
            log.exception("sandbox error on %s %s", request.method, request.full_path)
            return json_response(500, {"error": "Internal Server Error"})

    # ---------------------------------------------------------------------------------------------------------
    def authenticate(self, request: Request, gateway: bool) -> dict[str, str]:
        """The accounts (and the user in each) the request's credentials grant. The key's principal (the API
        key, or the gateway connection: the CallRail user who authorised it) goes to ``sandbox.principal``
        in the environ, for the per-key limits."""
        header = request.headers.get("Authorization", "")
        if gateway:
            match = _BEARER.match(header)
            connections = self.state.gateway_keys.get(match.group(1)) if match else None
            if connections is None:
                raise ApiError(401, _GATEWAY_DENIED)
            wanted = request.headers.get("Maton-Connection", "").strip()
            for connection_id, grants in connections:
                if connection_id == wanted or not wanted:
                    request.environ["sandbox.principal"] = f"connection:{connection_id}"
                    return grants
            if not wanted:
                raise ApiError(400, "This API key has no active CallRail connection (Maton-Connection)")
            raise ApiError(400, f"Maton-Connection {wanted!r} is not an active connection of this API key")
        match = _TOKEN.match(header)
        grants = self.state.token_keys.get(match.group(1)) if match else None
        if grants is None:  # a known key that reaches no account lists none
            raise ApiError(401, _ACCESS_DENIED, {"WWW-Authenticate": 'Token realm="Application"'})
        request.environ["sandbox.principal"] = f"token:{match.group(1)}"
        return grants

    def _rate(self, request: Request, account_ids: list[str], rate_class: str) -> None:
        path = request.path
        principal = request.environ.get("sandbox.principal")
        refused, _refused_by = self.state.ratelimiter.hit_request(account_ids, rate_class, principal)
        if refused is not None:
            for account_id in account_ids:
                self.state.record_request(account_id, request.method, path, 429, rate_class, False)
            # No Retry-After: the docs promise none, so the portal must not depend on one.
            raise ApiError(429, "API rate limit exceeded. Please slow down your requests and try again later.")

    def api(self, request: Request, rest: str, gateway: bool) -> Response:
        grants = self.authenticate(request, gateway)
        segments = [s for s in rest.split("/") if s]
        if segments and segments[-1].endswith(".json"):
            segments[-1] = segments[-1][:-5]
        if not segments or segments[0] != "a":
            raise ApiError(404, "Not found")
        method = request.method.upper()
        if method == "HEAD":  # answered like GET; the server leaves the body out
            method = "GET"
        prefix = "/callrail/v3" if gateway else "/v3"
        state = self.state
        if len(segments) == 1:
            if method != "GET":
                raise ApiError(405, "Method Not Allowed", {"Allow": "GET"})
            self._rate(request, list(grants), "general")
            with state.lock:
                ctx = self._ctx(request, prefix, None, None)
                accounts = [state.accounts[a] for a in grants if a in state.accounts]
                body, headers = paginate(res.ACCOUNTS, ctx, select(res.ACCOUNTS, ctx, accounts))
            for account_id in grants:
                state.record_request(account_id, method, request.path, 200, "general", True)
            return json_response(200, body, headers)

        account_id = self._account_id(segments[1], grants)
        tail = segments[2:]
        rate_class = "general"
        if method == "POST" and len(tail) == 1 and tail[0] in res.ENDPOINTS:
            rate_class = res.ENDPOINTS[tail[0]].rate_class  # SMS send and outbound calls have limits of their own
        self._rate(request, [account_id], rate_class)
        status = 500
        try:
            with state.lock:
                acc = state.accounts[account_id]
                ctx = self._ctx(request, prefix, acc, grants[account_id])
                response = self.route(request, ctx, tail)
            status = response.status_code
            return response
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            state.record_request(account_id, method, request.path, status, rate_class, True)

    def _account_id(self, raw: str, grants: dict[str, str]) -> str:
        if raw in grants and raw in self.state.accounts:
            return raw
        for account_id in grants:
            acc = self.state.accounts.get(account_id)
            if acc is not None and str(acc.numeric_id) == raw:
                return account_id
        raise ApiError(404, "Account not found")

    def _ctx(self, request: Request, prefix: str, acc, user_id: str | None) -> Ctx:
        base = (self.state.public_url or request.host_url).rstrip("/")
        args = request.args
        params = {key: args.getlist(key)[-1] for key in args}
        key_user = acc.users.get(user_id) if acc is not None and user_id else None
        if acc is not None and user_id and key_user is None:
            raise ApiError(401, _ACCESS_DENIED)
        ctx = Ctx(
            state=self.state,
            acc=acc,
            now=self.state.now(),
            base_url=base,
            api_root=f"{base}{prefix}",
            request_url=f"{base}{request.path}",
            args=args,
            params=params,
            key_user=key_user,
        )
        ctx.body_data = {}
        if request.method in ("POST", "PUT", "PATCH") or request.content_length:
            raw = request.get_data(cache=True)
            form = request.form.to_dict() if request.mimetype == "application/x-www-form-urlencoded" else None
            try:
                ctx.body_data = parse_body(raw, request.content_type or "", form)
            except ApiError:
                if request.method in ("POST", "PUT", "PATCH"):
                    raise
        return ctx

    # ---------------------------------------------------------------------------------------------------------
    def route(self, request: Request, ctx: Ctx, tail: list[str]) -> Response:
        method = request.method.upper()
        if method == "HEAD":
            method = "GET"
        if not tail:
            if method != "GET":
                raise ApiError(405, "Method Not Allowed", {"Allow": "GET"})
            return json_response(200, res.ACCOUNTS.render(ctx, ctx.acc))
        name = tail[0]
        if name == "calls" and len(tail) == 2 and tail[1] in ("summary", "timeseries"):
            _allow(method, "GET")
            body = res.call_summary(ctx) if tail[1] == "summary" else res.call_timeseries(ctx)
            return json_response(200, body)
        if name == "forms" and tail[1:] == ["summary"]:
            _allow(method, "GET")
            return json_response(200, res.form_summary(ctx))
        if name == "form_submissions" and tail[1:] == ["ignored_fields"]:
            _allow(method, "POST")
            return json_response(200, res.ignore_form_fields(ctx, Body(ctx.body_data)))
        if name == "companies" and tail[1:] == ["bulk_update"]:
            _allow(method, "POST")
            return json_response(200, res.bulk_update_companies(ctx, Body(ctx.body_data)))
        endpoint = res.ENDPOINTS.get(name)
        if endpoint is None:
            raise ApiError(404, "Not found")
        if len(tail) == 1:
            if method == "GET":
                records = res.list_records(endpoint, ctx)
                body, headers = paginate(endpoint.spec, ctx, records)
                return json_response(200, body, headers)
            if method == "POST" and endpoint.create is not None:
                status, body = endpoint.create(ctx, Body(ctx.body_data))
                return json_response(status, body)
            raise ApiError(405, "Method Not Allowed", {"Allow": "GET, POST" if endpoint.create else "GET"})
        record = endpoint.lookup(ctx, tail[1])
        if len(tail) == 3 and name == "calls" and tail[2] in ("recording", "page_views"):
            _allow(method, "GET")
            if tail[2] == "recording":
                return json_response(200, res.recording(ctx, record))
            body, headers = paginate(res.PAGE_VIEWS, ctx, res.page_views(ctx, record))
            return json_response(200, body, headers)
        if len(tail) != 2:
            raise ApiError(404, "Not found")
        allowed = ["GET"] + (["PUT"] if endpoint.update else []) + (["DELETE"] if endpoint.delete else [])
        if method == "GET":
            body = endpoint.show(ctx, record) if endpoint.show else endpoint.spec.render(ctx, record)
            return json_response(200, body)
        if method in ("PUT", "PATCH") and endpoint.update is not None:
            return json_response(200, endpoint.update(ctx, record, Body(ctx.body_data)))
        if method == "DELETE" and endpoint.delete is not None:
            endpoint.delete(ctx, record)
            return json_response(204)
        raise ApiError(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise ApiError(405, "Method Not Allowed", {"Allow": allowed})


class _Dropped(Exception):
    pass


def _drop(request: Request) -> None:
    """Close the client connection without answering (Werkzeug's dev server exposes the socket)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
