"""Where the portal may send a CallRail key: the one outbound-URL policy.

Everything the portal calls with a credential goes through ``apps/callrail`` (ruff bans ``requests``
elsewhere), and every URL it calls is checked here first:

* CallRail's API and the OAuth gateway's API: a credential's base URL must start with one of the
  prefixes in ``CALLRAIL_ALLOWED_BASE_URLS`` (default ``https://api.callrail.com`` and the gateway's
  ``https://`` root). Forms, the REST API and the operator commands refuse any other base URL, and the
  client refuses to send to one even if it reached the database some other way (an old row, a data
  migration): a stored key only ever leaves for the destination it was saved with.
* The gateway's control API (``CALLRAIL_GATEWAY_CONTROL_URL``): an operator setting nobody can change
  from the portal; allowed for control requests only.
* Email goes to ``EMAIL_URL``, also an operator setting; webhooks are received, never sent.

A prefix matches a URL with the same scheme, host and port and whose path continues the prefix's path at
a ``/`` boundary: ``https://api.callrail.com`` allows ``https://api.callrail.com/v3/…`` but neither
``https://api.callrail.com.example.net``, ``http://api.callrail.com`` nor ``https://api.callrail.com:8443``.
A prefix without a port means the scheme's default port; ``:*`` allows any port (tests, whose sandbox
listens on a free loopback port). User information (``user:pass@``) is never allowed in a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


class DestinationRefused(ValueError):
    """A URL the policy does not allow; the message says what to do, never what answered there."""


@dataclass(frozen=True)
class Prefix:
    scheme: str
    host: str
    port: int | None  # None: any port
    path: str  # without a trailing slash ("" for the root)

    def matches(self, url: str) -> bool:
        try:
            target = _parts(url)
        except ValueError:
            return False
        scheme, host, port, path = target
        if (scheme, host) != (self.scheme, self.host) or (self.port is not None and port != self.port):
            return False
        return path == self.path or path.startswith(self.path + "/") or (not self.path and path.startswith("/"))

    def __str__(self) -> str:
        port = "*" if self.port is None else str(self.port)
        shown = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{port}"
        return f"{self.scheme}://{self.host}{shown}{self.path}"


def _parts(url: str, *, any_port: bool = False) -> tuple[str, str, int | None, str]:
    url = url.strip()
    wildcard = any_port and ":*" in url
    parts = urlsplit(url.replace(":*", "", 1) if wildcard else url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} carries a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"{url!r} has no host")
    port = None if wildcard else (parts.port or DEFAULT_PORTS[scheme])  # .port raises ValueError when invalid
    return scheme, host, port, parts.path.rstrip("/")


def parse_prefix(text: str) -> Prefix:
    """One entry of ``CALLRAIL_ALLOWED_BASE_URLS``; ValueError when it is not an http(s) URL prefix."""
    scheme, host, port, path = _parts(text, any_port=True)
    if urlsplit(text.strip()).query or urlsplit(text.strip()).fragment:
        raise ValueError(f"{text!r}: an allowed base URL has no query or fragment")
    return Prefix(scheme, host, port, path)


def allowed_prefixes() -> list[Prefix]:
    return [parse_prefix(entry) for entry in settings.CALLRAIL_ALLOWED_BASE_URLS if entry.strip()]


def is_allowed(url: str) -> bool:
    return any(prefix.matches(url) for prefix in allowed_prefixes())


def allowed_text() -> str:
    return ", ".join(str(p) for p in allowed_prefixes()) or "(none)"


def check_base_url(url: str) -> str:
    """A base URL a person entered, normalised (no trailing slash); DestinationRefused unless allowed."""
    url = (url or "").strip().rstrip("/")
    try:
        _parts(url)
    except ValueError:
        raise DestinationRefused("Enter the base URL as https://host (for example https://api.callrail.com).") from None
    if not is_allowed(url):
        raise DestinationRefused(
            f"CallRail keys may only be sent to {allowed_text()}. Ask your operator to add this address to "
            "CALLRAIL_ALLOWED_BASE_URLS if it is a CallRail-compatible server you trust."
        )
    return url


def require_allowed(url: str) -> None:
    """Raise DestinationRefused unless ``url`` (a full request URL) is allowed: the client's last check."""
    if not is_allowed(url):
        raise DestinationRefused(f"requests to {_origin(url)} are not allowed (CALLRAIL_ALLOWED_BASE_URLS)")


def control_url() -> str:
    """The gateway control API's root (``CALLRAIL_GATEWAY_CONTROL_URL``), without a trailing slash."""
    return settings.CALLRAIL_GATEWAY_CONTROL_URL.rstrip("/")


def require_control(url: str) -> None:
    """Control requests go to the control API's root and nowhere else."""
    root = control_url()
    try:
        prefix = parse_prefix(root)
    except ValueError:
        raise DestinationRefused("CALLRAIL_GATEWAY_CONTROL_URL is not an http(s) URL") from None
    if not prefix.matches(url):
        raise DestinationRefused(f"control requests go to {root} only")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"
