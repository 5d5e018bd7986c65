"""Every log line names its request, its Celery task and the client account it concerns.

`RequestIdMiddleware` takes `X-Request-ID` (or makes one) and echoes it; Celery's `task_prerun` puts the
task id in place; services working for one account wrap their work in `log_context(account=…)`.
`LogContextFilter` copies the current values onto each record, for the plain and the JSON formatter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_context: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039 (never mutated)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
FIELDS = ("request_id", "task_id", "account")


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Add values (an account is logged as its id) to every log line inside the block."""
    if "account" in values:
        values["account"] = getattr(values["account"], "pk", values["account"])
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


class LogContextFilter:
    def filter(self, record: Any) -> bool:
        current = _context.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, current.get(name, "-"))
        return True


class RequestIdMiddleware:
    """A request id per request: the caller's `X-Request-ID` when well-formed, else a new one."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def enter_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """`task_prerun`: the task's lines carry its id (and the request id of whoever queued it)."""
    if task is not None:
        task.request._log_token = _context.set({"task_id": task_id})


def leave_task(task: Any = None, **_: Any) -> None:
    token = getattr(getattr(task, "request", None), "_log_token", None)
    if token is not None:
        _context.reset(token)
