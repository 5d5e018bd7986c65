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

``message`` is for operators (logs, the run history): it may quote what answered. ``public_message`` is
what a person is shown on a page or in an email: it says what happened and what to do, and never what
answered on the other side (no status line, body or network error), so a form cannot be used to probe
the portal's network.
"""

from __future__ import annotations


class CallRailError(Exception):
    """Base of every error the CallRail client raises."""

    #: Whether a task may retry the same request later.
    transient: bool = False
    #: What a person is told, unless the raiser gave a more precise text of its own.
    default_public_message = (
        "CallRail could not be reached or did not answer as CallRail does. Nothing was changed; try again "
        "in a few minutes."
    )

    def __init__(
        self,
        message: str,
        *,
        account: str = "",
        account_key: object = None,
        method: str = "",
        path: str = "",
        status: int | None = None,
        public: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.public = public
        self.account = account
        self.account_key = account_key
        self.method = method
        self.path = path
        self.status = status

    @property
    def public_message(self) -> str:
        return self.public or self.default_public_message

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

    default_public_message = "CallRail asked the portal to slow down (too many requests); try again later."


class Unavailable(Transient):
    """CallRail answered 5xx, or the network failed, on every attempt the client allowed itself."""


class BudgetExhausted(Transient):
    """The portal's budget granted no token for this request, so it was not sent.

    ``retry_after`` is how long until the budget returns a token for the same lane; ``limited_by`` the scope
    that refused it (an account's pk, or ``key:<credential pk>``).
    """

    def __init__(
        self, message: str, *, retry_after: float, limit_class: str = "", lane: str = "", limited_by: str = "",
        **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(message, retry_after=retry_after, **kwargs)
        self.limit_class = limit_class
        self.lane = lane
        self.limited_by = limited_by

    @property
    def public_message(self) -> str:
        minutes = max(1, round((self.retry_after or 0) / 60))
        whose = "the key's" if self.limited_by.startswith("key:") else "the account's"
        return (
            f"{whose.capitalize()} CallRail request budget is spent for now; nothing was sent. Try again in about "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )


class AuthFailed(Permanent):
    """CallRail refused the credentials (401) or the action (403)."""

    default_public_message = "CallRail refused the key. Enter a new key (or reconnect) to resume the sync."


class Unauthorized(AuthFailed):
    """401: CallRail rejected the key. The account's sync should stop until someone fixes the key."""

    default_public_message = (
        "CallRail refused the key (it was revoked, rotated or mistyped). Replace the key on the credential "
        "to resume the sync."
    )


class ConnectionInactive(AuthFailed):
    """The gateway does not (or no longer) hold the OAuth connection the request named: it was revoked,
    deleted or never completed. Its accounts stop until someone reconnects."""

    default_public_message = (
        "The gateway connection is no longer active (it was revoked or removed). Reconnect with CallRail to "
        "resume the sync."
    )


class Forbidden(AuthFailed):
    """403: the key is valid but its user may not do this."""

    default_public_message = (
        "The key's CallRail user is not allowed to do this: use the key of an administrator of the account."
    )


class DestinationNotAllowed(AuthFailed):
    """The request's URL is not one ``CALLRAIL_ALLOWED_BASE_URLS`` allows; nothing was sent. Like a refused
    key, it stops the credential's accounts until someone enters the key again with an allowed base URL."""

    default_public_message = (
        "This credential's base URL is not an allowed CallRail destination, so its key was not sent. Enter the "
        "key again with an allowed base URL (or ask your operator to allow it)."
    )


class NotFound(Permanent):
    """404: no such record or endpoint."""

    default_public_message = "CallRail does not know this account (or record) for this key."


class ValidationFailed(Permanent):
    """400/405/406/422: CallRail refused the request; ``message`` is CallRail's own explanation."""

    def __init__(self, message: str, *, errors: object = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        #: The decoded error body as CallRail sent it (dict, list or str), for display next to a field.
        self.errors = errors


class MalformedResponse(Permanent):
    """CallRail's answer was not what the API documents (not JSON, missing keys, a redirect)."""
