"""Who is acting, carried from the request into every Celery task it queues.

A request sets the context (middleware); `before_task_publish` copies it into the task's headers and
`task_prerun` restores it in the worker, so a bulk action or push that runs minutes later is still
recorded against the person who asked for it. `audit_record` reads it when its caller does not say.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

HEADER = "audit_context"


@dataclass(frozen=True)
class AuditContext:
    actor_id: int | None = None
    impersonator_id: int | None = None
    ip_address: str | None = None
    via: str = "web"


_current: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)
_request: ContextVar[Any] = ContextVar("audit_request", default=None)


def current_audit_context() -> AuditContext | None:
    """The task's context in a worker; in a request, resolved from it on first use (then cached on it)."""
    request = _request.get()
    if request is not None:
        if not hasattr(request, "_audit_context"):
            request._audit_context = context_for_request(request)
        return request._audit_context
    return _current.get()


@contextmanager
def audit_context(context: AuditContext | None) -> Iterator[None]:
    """Act as `context` (management commands, tests)."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def context_for_request(request: Any) -> AuditContext:
    user = getattr(request, "user", None)
    impersonator = getattr(request, "impersonator", None)
    return AuditContext(
        actor_id=user.pk if getattr(user, "is_authenticated", False) else None,
        impersonator_id=getattr(impersonator, "pk", None),
        ip_address=request.META.get("REMOTE_ADDR"),
        via="api" if request.path.startswith("/api/") else "web",
    )


class AuditContextMiddleware:
    """The request's person is the acting person for everything the request records or queues."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def publish_headers(headers: dict, **_: Any) -> None:
    """`before_task_publish`: the queuing person travels with the task."""
    context = current_audit_context()
    if context is not None and HEADER not in headers:
        headers[HEADER] = asdict(context)


def enter_task_context(task: Any = None, **_: Any) -> None:
    """`task_prerun`: inside the worker, act for the person who queued the task."""
    if task is None:
        return
    data = getattr(task.request, HEADER, None)
    context = AuditContext(**{**data, "via": "task"}) if isinstance(data, dict) else AuditContext(via="task")
    task.request._audit_tokens = (_current.set(context), _request.set(None))


def leave_task_context(task: Any = None, **_: Any) -> None:
    tokens = getattr(task.request, "_audit_tokens", None) if task is not None else None
    if tokens is not None:
        _current.reset(tokens[0])
        _request.reset(tokens[1])
