"""Typed errors of the CallRail client.

Two families, so that Celery tasks can retry the one and record the other (CONVENTIONS C6.5):

* ``Transient`` — the same request may succeed later: ``RateLimited`` (CallRail answered 429),
  ``Unavailable`` (5xx or network failure after the bounded retries), ``BudgetExhausted`` (the portal's
  own budget granted no token, so nothing was sent). Each carries ``retry_after`` in seconds when known,
  which a task passes to ``self.retry(countdown=...)``.
* ``Permanent`` — retrying cannot help until a person changes something: ``Unauthorized`` / ``Forbidden``
  (both ``AuthFailed``), ``NotFound``, ``ValidationFailed`` (CallRail's own message kept),
  ``MalformedResponse`` (not JSON, missing keys, unexpected redirect).

Every error names the account (CallRail id and portal key), method and path, never the API key.
"""

from __future__ import annotations


class CallRailError(Exception):
    """Base of every error the CallRail client raises."""

    #: Whether a task may retry the same request later.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        account: str = "",
        account_key: object = None,
        method: str = "",
        path: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.account = account
        self.account_key = account_key
        self.method = method
        self.path = path
        self.status = status

    def __str__(self) -> str:
        where = " ".join(part for part in (self.method, self.path) if part)
        context = ", ".join(
            part
            for part in (
                f"account {self.account}" if self.account else "",
                where,
                f"HTTP {self.status}" if self.status is not None else "",
            )
            if part
        )
        return f"{self.message} ({context})" if context else self.message


class Transient(CallRailError):
    """The request may succeed later; ``retry_after`` (seconds) says when, if known."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Permanent(CallRailError):
    """Retrying the same request cannot succeed; record it and show it to a person."""


class RateLimited(Transient):
    """CallRail answered 429. The account's budget has been marked exhausted for every worker."""


class Unavailable(Transient):
    """CallRail answered 5xx, or the network failed, on every attempt the client allowed itself."""


class BudgetExhausted(Transient):
    """The portal's budget granted no token for this request, so it was not sent.

    ``retry_after`` is how long until the budget returns a token for the same lane.
    """

    def __init__(self, message: str, *, retry_after: float, limit_class: str = "", lane: str = "", **kwargs):
        super().__init__(message, retry_after=retry_after, **kwargs)
        self.limit_class = limit_class
        self.lane = lane


class AuthFailed(Permanent):
    """CallRail refused the credentials (401) or the action (403)."""


class Unauthorized(AuthFailed):
    """401: CallRail rejected the key. The account's sync should stop until someone fixes the key."""


class Forbidden(AuthFailed):
    """403: the key is valid but its user may not do this."""


class NotFound(Permanent):
    """404: no such record or endpoint."""


class ValidationFailed(Permanent):
    """400/405/406/422: CallRail refused the request; ``message`` is CallRail's own explanation."""

    def __init__(self, message: str, *, errors: object = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        #: The decoded error body as CallRail sent it (dict, list or str), for display next to a field.
        self.errors = errors


class MalformedResponse(Permanent):
    """CallRail's answer was not what the API documents (not JSON, missing keys, a redirect)."""
