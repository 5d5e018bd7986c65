"""The one HTTP client of CallRail API v3. Transport only: it never touches the ORM.

Every request, retries included, first takes a token from the account's budget (``budget.py``) — and from
its credential's key scope when that limit is on — for its limit class and lane; with none granted it raises
``BudgetExhausted`` and sends nothing. Every request URL is checked against the outbound policy
(``destinations.py``) first: a key is never sent to a base URL ``CALLRAIL_ALLOWED_BASE_URLS`` does not
allow. Failures become typed errors (``errors.py``). 5xx answers and network failures are retried a few
times with exponential backoff and full jitter, each sleep bounded by a few seconds; longer waits surface
as ``Transient`` errors whose ``retry_after`` a Celery task uses as its countdown. A 429 marks the budget
exhausted for every worker of the account (and of its key) and raises ``RateLimited``.

Paths are relative to the account unless they start with ``/``::

    client.get("companies.json")                -> GET {root}/v3/a/{ACC…}/companies.json
    client.get("/a.json")                       -> GET {root}/v3/a.json
    for call in client.iter_records_relative("calls.json", fields=["tags"]): ...

``root`` is the account's base URL (direct: ``Authorization: Token token="KEY"``) or the base URL plus
``/callrail`` (gateway: ``Authorization: Bearer KEY`` and optionally ``Maton-Connection``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.auth import AuthBase
from urllib3.exceptions import NewConnectionError

from . import destinations
from .budget import Budget, BudgetStatus, Scope, get_budget
from .errors import (
    BudgetExhausted,
    CallRailError,
    ConnectionInactive,
    DestinationNotAllowed,
    Forbidden,
    MalformedResponse,
    NotFound,
    Permanent,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

logger = logging.getLogger(__name__)

DIRECT = "direct"
GATEWAY = "gateway"
MAX_PER_PAGE = 250
USER_AGENT = "agency-portal/1.0 (+CallRail API v3 client)"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_OFFSET_META = ("page", "per_page", "total_pages", "total_records")
_RELATIVE_META = ("next_page", "has_next_page")


class _CallRailAuth(AuthBase):
    """Sets the Authorization (and gateway connection) headers. Passing an ``auth`` object also keeps
    requests from consulting ~/.netrc, which could otherwise replace the header."""

    def __init__(self, auth_mode: str, api_key: str, connection_id: str = "") -> None:
        self.auth_mode, self.api_key, self.connection_id = auth_mode, api_key, connection_id

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.auth_mode == GATEWAY:
            request.headers["Authorization"] = f"Bearer {self.api_key}"
            if self.connection_id:
                request.headers["Maton-Connection"] = self.connection_id
        else:
            request.headers["Authorization"] = f'Token token="{self.api_key}"'
        return request


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint: its records and CallRail's pagination metadata."""

    records: list[dict[str, Any]]
    raw: dict[str, Any]
    page: int | None = None
    per_page: int | None = None
    total_pages: int | None = None
    total_records: int | None = None
    has_next_page: bool | None = None
    next_page: str | None = None


# --------------------------------------------------------------------------------------------- sessions
_sessions: dict[tuple[int, str], requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(key: str, url: str | None = None) -> requests.Session:
    """One pooled ``requests.Session`` per account and process (connections are reused across clients);
    ``url``: the root it serves (see ``new_session``)."""
    pid = os.getpid()
    with _sessions_lock:
        session = _sessions.get((pid, key))
        if session is None:
            for stale in [k for k in _sessions if k[0] != pid]:  # inherited over a fork: never share sockets
                del _sessions[stale]
            session = _sessions[(pid, key)] = new_session(url)
        return session


def new_session(url: str | None = None) -> requests.Session:
    """A Session configured like the pooled ones (headers, pool size, no urllib3 retries of its own).

    Given the root ``url`` it serves, the environment's proxy (``HTTPS_PROXY``, ``NO_PROXY``…) and CA bundle
    (``REQUESTS_CA_BUNDLE``) settings are resolved for it once, here: requests would otherwise scan the whole
    environment again at every request (a quarter of a request's CPU on the client side)."""
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if url:
        session.proxies.update(requests.utils.get_environ_proxies(url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
    return session


# ----------------------------------------------------------------------------------------------- client
class CallRailClient:
    """A client bound to one CallRail account (one ClientAccount), or to a key alone (``account_key=None``:
    listing the accounts a credential reaches, charged to ``key_scope`` and ``also_charge``).

    ``lane`` is the default budget lane of this client's requests (``background`` for sync,
    ``followup`` for webhook application, ``interactive`` for a person waiting); each call may override it.
    ``key_scope`` is the credential's key-level budget (None when that limit is off): every request takes
    a token from it too, and a 429 blocks it too.
    """

    def __init__(
        self,
        *,
        account_key: object | None,
        callrail_account_id: str = "",
        api_key: str,
        auth_mode: str = DIRECT,
        connection_id: str = "",
        base_url: str | None = None,
        budget_overrides: Mapping | None = None,
        key_scope: Scope | None = None,
        also_charge: Iterable[Scope] = (),
        lane: str = "background",
        budget: Budget | None = None,
        session: requests.Session | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        budget_wait: float | None = None,
    ) -> None:
        if auth_mode not in (DIRECT, GATEWAY):
            raise ValueError(f"auth_mode must be {DIRECT!r} or {GATEWAY!r}, not {auth_mode!r}")
        self.account_key = account_key
        self.callrail_account_id = callrail_account_id
        self.auth_mode = auth_mode
        self.base_url = (base_url or default_base_url(auth_mode)).rstrip("/")
        self.root = self.base_url + ("/callrail" if auth_mode == GATEWAY else "")
        self.budget_overrides = dict(budget_overrides or {})
        self.key_scope = key_scope
        own = [Scope(str(account_key), self.budget_overrides or None)] if account_key is not None else []
        self.scopes = [*own, *([key_scope] if key_scope else []), *also_charge]
        if not self.scopes:
            raise ValueError("a CallRail client needs a budget scope (an account, or its key's)")
        self.lane = lane
        self.budget = budget if budget is not None else get_budget()
        self.budget.caps("general", lane)  # fail early on an unknown lane
        self.session = session if session is not None else session_for(f"{self.scopes[0].key}|{self.root}", self.root)
        self._auth = _CallRailAuth(auth_mode, api_key, connection_id)
        total = float(timeout if timeout is not None else settings.CALLRAIL_HTTP_TIMEOUT)
        self.timeout = (min(total, 5.0), total)  # (connect, read)
        self.max_retries = int(max_retries if max_retries is not None else _setting("CALLRAIL_MAX_RETRIES", 3))
        self.backoff_base = float(backoff_base if backoff_base is not None else _setting("CALLRAIL_BACKOFF_BASE", 0.5))
        self.backoff_max = float(backoff_max if backoff_max is not None else _setting("CALLRAIL_BACKOFF_MAX", 4.0))
        self.budget_wait = float(budget_wait if budget_wait is not None else _setting("CALLRAIL_BUDGET_MAX_WAIT", 0.0))

    def __repr__(self) -> str:
        return f"<CallRailClient {self.callrail_account_id} ({self.auth_mode}) {self.root}>"

    # -------------------------------------------------------------------------------------------- URLs
    def url(self, path: str) -> str:
        """The absolute URL of an API path (account-relative, ``/``-absolute, or a full ``next_page`` URL).

        A full URL is re-rooted on this account's base: its path and query are kept as CallRail wrote
        them, but the host is always ours, so the key never goes to a host CallRail's answer names.
        """
        if "://" in path:
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            for prefix in (urlsplit(self.root).path.rstrip("/"), "/callrail"):
                if prefix and path.startswith(prefix + "/v3/"):
                    path = path[len(prefix) :]
                    break
        elif not path.startswith("/"):
            path = f"/a/{self.callrail_account_id}/{path}"
        if not path.startswith("/v3/"):
            path = "/v3" + path
        return self.root + path

    @staticmethod
    def limit_class_for(method: str, path: str) -> str:
        """Which CallRail limit a request counts against: sending an SMS and placing an outbound call
        (POST to the text-messages and calls collections) have their own limits."""
        if method.upper() == "POST":
            bare = urlsplit(path).path.rstrip("/")
            if bare.endswith("/text-messages.json") or bare == "text-messages.json":
                return "sms_send"
            if bare.endswith("/calls.json") or bare == "calls.json":
                return "outbound_call"
        return "general"

    # ---------------------------------------------------------------------------------------- requests
    def get(self, path: str, *, params: Mapping | None = None, fields: Iterable[str] | None = None, **kw) -> Any:
        return self.request("GET", path, params=params, fields=fields, **kw)

    def post(self, path: str, *, json: Any = None, params: Mapping | None = None, **kw) -> Any:
        return self.request("POST", path, params=params, json=json, **kw)

    def put(self, path: str, *, json: Any = None, params: Mapping | None = None, **kw) -> Any:
        return self.request("PUT", path, params=params, json=json, **kw)

    def delete(self, path: str, *, params: Mapping | None = None, **kw) -> Any:
        return self.request("DELETE", path, params=params, **kw)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping | None = None,
        json: Any = None,
        fields: Iterable[str] | None = None,
        lane: str | None = None,
        limit_class: str | None = None,
        retry: bool | None = None,
    ) -> Any:
        """Send one request (plus bounded retries) and return the decoded JSON body, or None when empty.

        ``retry=None`` retries idempotent methods on 5xx and network errors, and POST only where the request
        cannot have been processed (503, connection refused or connect timeout); True/False force it.
        """
        method = method.upper()
        lane = lane or self.lane
        limit_class = limit_class or self.limit_class_for(method, path)
        query = dict(params or {})
        if fields is not None:
            query["fields"] = fields if isinstance(fields, str) else ",".join(fields)
        url = self.url(path)
        shown = urlsplit(url).path
        ctx = {"account": self.callrail_account_id, "account_key": self.account_key, "method": method, "path": shown}
        try:
            destinations.require_allowed(url)
        except destinations.DestinationRefused as exc:
            raise DestinationNotAllowed(f"Not sent: {exc}", **ctx) from None
        attempt = 0
        while True:
            self._take_token(limit_class, lane, ctx)
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=query or None,
                    json=json,
                    auth=self._auth,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as exc:  # fmt: skip
                self._log(ctx, None, started, attempt, lane, error=exc)
                raise Permanent(f"Invalid CallRail base URL {self.base_url!r}: {exc}", **ctx) from exc
            except requests.RequestException as exc:
                self._log(ctx, None, started, attempt, lane, error=exc)
                if attempt < self.max_retries and self._may_retry(method, retry, exc=exc):
                    self._backoff(attempt)
                    attempt += 1
                    continue
                raise Unavailable(f"CallRail could not be reached: {type(exc).__name__}: {exc}", **ctx) from exc
            status = response.status_code
            self._log(ctx, status, started, attempt, lane)
            if status >= 500:
                if attempt < self.max_retries and self._may_retry(method, retry, status=status):
                    response.close()
                    self._backoff(attempt)
                    attempt += 1
                    continue
                raise Unavailable(
                    f"CallRail answered {status} {response.reason or ''}".strip()
                    + (f" after {attempt + 1} attempts" if attempt else ""),
                    status=status,
                    **ctx,
                )
            return self._handle(response, limit_class, ctx)

    def _take_token(self, limit_class: str, lane: str, ctx: dict) -> None:
        waited = 0.0
        while True:
            grant = self.budget.acquire(self.scopes, limit_class, lane)
            if grant.granted:
                return
            if waited + grant.retry_after > self.budget_wait:
                whose = next((s for s in self.scopes if s.key == grant.limited_by), None)
                of = f" of {whose.label or whose.key}" if whose is not None and whose is not self.scopes[0] else ""
                raise BudgetExhausted(
                    f"No {lane} budget left{of} for {limit_class} requests; next token in {grant.retry_after:.1f} s",
                    retry_after=grant.retry_after,
                    limit_class=limit_class,
                    lane=lane,
                    limited_by=grant.limited_by or "",
                    **ctx,
                )
            time.sleep(grant.retry_after)
            waited += grant.retry_after

    @staticmethod
    def _may_retry(method: str, retry: bool | None, *, status: int | None = None, exc: Exception | None = None) -> bool:
        if retry is not None:
            return retry
        if method in _IDEMPOTENT:
            return True
        if status is not None:
            return status == 503
        # Not sent at all: nothing can have been created on CallRail's side.
        if isinstance(exc, requests.ConnectTimeout):
            return True
        reason = getattr(exc.args[0], "reason", None) if exc is not None and exc.args else None
        return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)

    def _backoff(self, attempt: int) -> None:
        """Exponential backoff with full jitter, never longer than ``backoff_max`` seconds."""
        time.sleep(random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt)))  # noqa: S311

    def _log(self, ctx: dict, status: int | None, started: float, attempt: int, lane: str, error=None) -> None:
        duration_ms = (time.monotonic() - started) * 1000
        extra = {
            "callrail_account": ctx["account"],
            "client_account_id": ctx["account_key"],
            "http_method": ctx["method"],
            "http_path": ctx["path"],
            "http_status": status,
            "duration_ms": round(duration_ms, 1),
            "attempt": attempt + 1,
            "budget_lane": lane,
        }
        if error is None:
            logger.log(
                logging.INFO if status is not None and status < 400 else logging.WARNING,
                "CallRail %s %s account=%s (%s) status=%s duration=%.0fms attempt=%d lane=%s",
                ctx["method"], ctx["path"], ctx["account"], ctx["account_key"], status, duration_ms,
                attempt + 1, lane, extra=extra,
            )  # fmt: skip
        else:
            logger.warning(
                "CallRail %s %s account=%s (%s) status=error duration=%.0fms attempt=%d lane=%s: %s: %s",
                ctx["method"], ctx["path"], ctx["account"], ctx["account_key"], duration_ms, attempt + 1,
                lane, type(error).__name__, error, extra=extra,
            )  # fmt: skip

    def _handle(self, response: requests.Response, limit_class: str, ctx: dict) -> Any:
        status = response.status_code
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            first, *others = self.scopes
            blocked = self.budget.mark_exhausted(first.key, limit_class, retry_after=retry_after, also=others)
            raise RateLimited(
                f"CallRail rate limit reached for account {self.callrail_account_id or '(key)'}; every worker of the "
                f"account{' and of its key' if others else ''} holds back for {blocked:.0f} s",
                retry_after=blocked,
                status=status,
                **ctx,
            )
        if 300 <= status < 400:
            raise MalformedResponse(
                f"CallRail answered with a redirect to {response.headers.get('Location', '?')}; "
                "check the account's base URL",
                status=status,
                **ctx,
            )
        if status >= 400:
            body, message = _error_message(response)
            if self.auth_mode == GATEWAY and _names_connection(message) and status in (400, 401, 403, 404):
                raise ConnectionInactive(
                    f"The gateway does not hold connection {self._auth.connection_id or '(default)'} as active: "
                    f"{message}",
                    status=status,
                    **ctx,
                )
            if status == 401:
                via = " (through the gateway)" if self.auth_mode == GATEWAY else ""
                raise Unauthorized(
                    f"CallRail rejected the key for account {self.callrail_account_id}{via}: {message}",
                    status=status,
                    public=(
                        "The gateway refused the key (or the connection was revoked). Replace the gateway key or "
                        "reconnect to resume the sync."
                        if self.auth_mode == GATEWAY
                        else ""
                    ),
                    **ctx,
                )
            if status == 403:
                raise Forbidden(message, status=status, **ctx)
            if status == 404:
                raise NotFound(message, status=status, **ctx)
            if status in (400, 405, 406, 409, 422):
                raise ValidationFailed(message, errors=body, status=status, **ctx)
            raise Permanent(f"CallRail answered {status}: {message}", status=status, **ctx)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            snippet = response.text[:80].replace("\n", " ")
            raise MalformedResponse(
                f"CallRail answered {status} with a body that is not JSON ({snippet!r})", status=status, **ctx
            ) from exc

    # -------------------------------------------------------------------------------------- pagination
    def paginate(
        self,
        path: str,
        *,
        list_key: str | None = None,
        params: Mapping | None = None,
        per_page: int = MAX_PER_PAGE,
        fields: Iterable[str] | None = None,
        lane: str | None = None,
        start_page: int = 1,
    ) -> Iterator[Page]:
        """Offset pagination: yield each page of a list endpoint, from ``start_page`` to the last."""
        page_no = start_page
        while True:
            query = {**(params or {}), "page": page_no, "per_page": per_page}
            body = self.get(path, params=query, fields=fields, lane=lane)
            meta = self._require(body, _OFFSET_META[:3], path)
            records = self._records(body, list_key, path)
            total_pages = _as_int(meta["total_pages"], "total_pages", self, path)
            yield Page(
                records=records,
                raw=body,
                page=_as_int(meta["page"], "page", self, path),
                per_page=_as_int(meta["per_page"], "per_page", self, path),
                total_pages=total_pages,
                total_records=body.get("total_records"),
            )
            if page_no >= total_pages or not records:
                return
            page_no += 1

    def iter_records(self, path: str, **kwargs) -> Iterator[dict[str, Any]]:
        """Offset pagination, record by record."""
        for page in self.paginate(path, **kwargs):
            yield from page.records

    def paginate_relative(
        self,
        path: str = "calls.json",
        *,
        list_key: str | None = None,
        params: Mapping | None = None,
        per_page: int = MAX_PER_PAGE,
        fields: Iterable[str] | None = None,
        lane: str | None = None,
    ) -> Iterator[Page]:
        """Relative pagination (the calls list): follow ``next_page`` until ``has_next_page`` is false.

        ``next_page`` is used unmodified (path and query) except that it is re-rooted on our base URL.
        """
        query: Mapping | None = {**(params or {}), "relative_pagination": "true", "per_page": per_page}
        target, seen = path, set()
        while True:
            body = self.get(target, params=query, fields=fields if query is not None else None, lane=lane)
            meta = self._require(body, ("has_next_page",), path)
            records = self._records(body, list_key, path)
            next_page = body.get("next_page")
            has_next = bool(meta["has_next_page"])
            yield Page(records=records, raw=body, per_page=body.get("per_page"), has_next_page=has_next,
                       next_page=next_page)  # fmt: skip
            if not has_next:
                return
            if not isinstance(next_page, str) or not next_page:
                raise MalformedResponse("has_next_page is true but next_page is missing", **self._ctx("GET", path))
            if next_page in seen:
                raise MalformedResponse(f"next_page repeats {next_page!r}", **self._ctx("GET", path))
            seen.add(next_page)
            # next_page carries every parameter (fields included); send it exactly as given.
            target, query = next_page, None

    def iter_records_relative(self, path: str = "calls.json", **kwargs) -> Iterator[dict[str, Any]]:
        """Relative pagination, record by record."""
        for page in self.paginate_relative(path, **kwargs):
            yield from page.records

    # ------------------------------------------------------------------------------------------ helpers
    def _ctx(self, method: str, path: str) -> dict:
        return {
            "account": self.callrail_account_id,
            "account_key": self.account_key,
            "method": method,
            "path": urlsplit(self.url(path)).path,
        }

    def _require(self, body: Any, keys: Iterable[str], path: str) -> dict:
        if not isinstance(body, dict):
            raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}", **self._ctx("GET", path))
        missing = [k for k in keys if k not in body]
        if missing:
            raise MalformedResponse(f"pagination field(s) missing: {', '.join(missing)}", **self._ctx("GET", path))
        return body

    def _records(self, body: dict, list_key: str | None, path: str) -> list[dict[str, Any]]:
        key = list_key or _list_key(body, path)
        records = body.get(key) if key else None
        if not isinstance(records, list):
            raise MalformedResponse(f"list key {key or '?'!r} missing or not a list", **self._ctx("GET", path))
        return records

    def budget_status(self) -> BudgetStatus:
        """This client's first budget scope's status (its account's), for the gauge."""
        return self.budget.status(self.scopes[0].key, overrides=self.scopes[0].overrides)


# ---------------------------------------------------------------------------------------------- helpers
def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def default_base_url(auth_mode: str) -> str:
    """Where an account with no base URL of its own is served: CallRail itself, or the gateway."""
    if auth_mode == GATEWAY:
        return _setting("CALLRAIL_GATEWAY_BASE_URL", "https://gateway.maton.ai")
    return settings.CALLRAIL_DEFAULT_BASE_URL


def _as_int(value: Any, name: str, client: CallRailClient, path: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedResponse(f"{name} is not a number: {value!r}", **client._ctx("GET", path)) from None


def _list_key(body: dict, path: str) -> str | None:
    """The records' key: named after the resource ("form-submissions.json" -> "form_submissions"), or
    else the one list in the body that is not pagination metadata."""
    resource = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json").replace("-", "_")
    if isinstance(body.get(resource), list):
        return resource
    lists = [k for k, v in body.items() if isinstance(v, list) and k not in _OFFSET_META + _RELATIVE_META]
    return lists[0] if len(lists) == 1 else None


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(response: requests.Response) -> tuple[Any, str]:
    """CallRail's error body and a readable message: ``{"error": "..."}``, ``{"errors": [...]}`` or
    ``{"errors": {"field": ["..."]}}``; the reason phrase when the body says nothing."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return text, (text[:200] if text and "<" not in text[:1] else response.reason or f"HTTP {response.status_code}")
    message = None
    if isinstance(body, dict):
        for key in ("error", "errors", "message"):
            if key in body:
                message = _flatten(body[key])
                break
    elif isinstance(body, list | str):
        message = _flatten(body)
    return body, message or response.reason or f"HTTP {response.status_code}"


def _names_connection(message: str) -> bool:
    """Whether a gateway error is about the OAuth connection (revoked, deleted, not yet authorised) rather
    than the request: the gateway's errors name ``Maton-Connection`` or the connection."""
    lowered = message.lower()
    return "maton-connection" in lowered or ("connection" in lowered and ("active" in lowered or "revoked" in lowered))


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_flatten(v)}" for k, v in value.items())
    return str(value)


def client_for_account(
    account: Any, *, lane: str = "background", budget: Budget | None = None, **kwargs
) -> CallRailClient:
    """A client for a ClientAccount (duck-typed: ``pk``, ``callrail_account_id``, ``auth_mode``, ``api_key``,
    ``connection_id``, ``base_url``, ``budget_overrides`` and optionally ``budget_key_scope``, its
    credential's key-level budget). The account's pk is its budget key."""
    return CallRailClient(
        account_key=account.pk,
        callrail_account_id=account.callrail_account_id,
        api_key=account.api_key,
        auth_mode=getattr(account, "auth_mode", DIRECT) or DIRECT,
        connection_id=getattr(account, "connection_id", "") or "",
        base_url=getattr(account, "effective_base_url", "") or getattr(account, "base_url", "") or None,
        budget_overrides=getattr(account, "budget_overrides", None) or None,
        key_scope=getattr(account, "budget_key_scope", None),
        lane=lane,
        budget=budget,
        **kwargs,
    )


__all__ = ["CallRailClient", "CallRailError", "Page", "client_for_account", "new_session", "session_for"]
