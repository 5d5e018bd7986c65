"""Fixtures of the trust-boundary regression tests (issue 16): one test file per finding.

``listener`` stands for "some other server on the portal's network": it records every request it gets
(headers included) and answers what the test tells it to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.webhooks.conftest import hooked_account  # noqa: F401  (an account mirrored from the sandbox)


@dataclass
class Listener:
    url: str
    requests: list[dict] = field(default_factory=list)
    status: int = 200
    body: bytes = b'{"ok": true}'
    content_type: str = "application/json"

    def authorizations(self) -> list[str]:
        return [r["headers"].get("Authorization", "") for r in self.requests]


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            state.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
