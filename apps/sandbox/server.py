"""Run the sandbox: a threaded Werkzeug server in a background thread (tests, the demo) or in the foreground.

>>> live = start_sandbox(seed=1, profile="small")
>>> live.url            # "http://127.0.0.1:41234"
>>> live.state          # the in-process SandboxState, for assertions and control
>>> live.reset(seed=2)  # fresh data
>>> live.stop()
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .activity import ActivityTicker
from .app import SandboxApp
from .seed import DEMO_ACCOUNTS, DemoAccount
from .state import SandboxState

STATE_OPTIONS = ("calls_per_account", "history_days", "accounts", "first_account_calls", "anchor", "limits",
                 "public_url", "webhook_url", "request_log_size")


class QuietHandler(WSGIRequestHandler):
    """No per-request access log (tests make thousands of requests)."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LoggingHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"


@dataclass
class LiveSandbox:
    """A running sandbox server."""

    url: str
    state: SandboxState
    server: BaseWSGIServer
    thread: threading.Thread | None = None
    ticker: ActivityTicker | None = None
    accounts: list[DemoAccount] = field(default_factory=lambda: list(DEMO_ACCOUNTS))

    @property
    def api_url(self) -> str:
        """Base URL to use in place of ``https://api.callrail.com/v3``."""
        return f"{self.url}/v3"

    @property
    def gateway_url(self) -> str:
        """Base URL to use in place of ``https://gateway.maton.ai/callrail/v3``."""
        return f"{self.url}/callrail/v3"

    def reset(self, seed: int | None = None, profile: str | None = None, **options: Any) -> dict:
        return self.state.reset(seed=seed, profile=profile, **options)

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5.0)
        self.state.close()

    def __enter__(self) -> LiveSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 1,
    profile: str = "demo",
    time_scale: float = 1.0,
    quiet: bool = True,
    activity_interval: float | None = None,
    control_token: str | None = None,
    **options: Any,
) -> LiveSandbox:
    unknown = set(options) - set(STATE_OPTIONS)
    if unknown:
        raise TypeError(f"unknown sandbox options: {', '.join(sorted(unknown))}")
    state = SandboxState(seed=seed, profile=profile, time_scale=time_scale, **options)
    state.control_token = control_token
    server = make_server(host, port, SandboxApp(state), threaded=True,
                         request_handler=QuietHandler if quiet else LoggingHandler)
    server.daemon_threads = True
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - only for display
    url = f"http://{shown_host}:{server.server_port}"
    if not options.get("public_url"):
        state.base_url = url
    live = LiveSandbox(url=url, state=state, server=server)
    if activity_interval:
        live.ticker = ActivityTicker(state, activity_interval).start()
    return live


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 1,
    profile: str = "demo",
    time_scale: float = 1.0,
    **options: Any,
) -> LiveSandbox:
    """Start the sandbox on a background thread and return once it accepts connections.

    ``port=0`` picks a free port. Options: ``calls_per_account``, ``history_days``, ``accounts`` (how many demo
    accounts), ``anchor`` (the "now" of the seeded history), ``limits`` (rate limits, e.g.
    ``{"general": {"hour": 50}}``), ``public_url``, ``webhook_url``, ``activity_interval`` (seconds),
    ``quiet`` (no access log; default True), ``control_token``.
    """
    live = build(host, port, seed=seed, profile=profile, time_scale=time_scale, **options)
    thread = threading.Thread(target=live.server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"callrail-sandbox:{live.server.server_port}", daemon=True)
    thread.start()
    live.thread = thread
    return live


def serve_forever(live: LiveSandbox) -> None:
    """Serve in the current thread until interrupted (the CLI and the management command)."""
    logging.getLogger("apps.sandbox").info("CallRail sandbox listening on %s", live.url)
    try:
        live.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if live.ticker is not None:
            live.ticker.stop()
        live.server.server_close()
        live.state.close()
