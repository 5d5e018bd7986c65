"""Helpers for the sandbox tests: a plain ``requests`` client with the documented headers, and a loopback
webhook receiver. The ``sandbox`` fixture itself comes from ``apps.sandbox.pytest_plugin``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from apps.sandbox.seed import DEMO_ACCOUNTS, DemoAccount


@dataclass
class Api:
    """CallRail as an unmodified client sees it: base URL, documented auth header, one account."""

    base: str  # e.g. http://127.0.0.1:1234/v3
    headers: dict[str, str]
    account_id: str
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str = "") -> str:
        if path.startswith("http"):
            return path
        if not path:
            return f"{self.base}/a/{self.account_id}.json"
        return f"{self.base}/a/{self.account_id}/{path}.json"

    def request(self, method: str, path: str = "", **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, self.url(path), headers=headers, timeout=30, **kwargs)

    def get(self, path: str = "", **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def first(self, resource: str, **params) -> dict:
        response = self.get(resource, params=params)
        assert response.status_code == 200, response.text
        key = {"text-messages": "conversations"}.get(resource, resource)
        return response.json()[key][0]


def api_for(sandbox, demo: DemoAccount, *, gateway: bool = False) -> Api:
    if gateway:
        return Api(f"{sandbox.url}/callrail/v3", demo.gateway_headers(), demo.account_id)
    return Api(f"{sandbox.url}/v3", demo.token_headers(), demo.account_id)


@pytest.fixture
def api(sandbox) -> Api:
    """The first demo account through the direct API with its own key."""
    return api_for(sandbox, DEMO_ACCOUNTS[0])


@pytest.fixture
def control(sandbox):
    """POST/GET JSON to the control plane."""

    def call(method: str, path: str, json=None, **params):
        response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=json, params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    return call


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(Received(self.path, dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()
