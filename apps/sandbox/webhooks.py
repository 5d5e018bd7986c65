"""Webhook signing and delivery.

CallRail signs every webhook with the company's signing key: ``Signature: base64(HMAC-SHA1(key, raw body))``.
Deliveries run on a background thread (one POST per URL, no retries, as CallRail does not resend) and are
recorded so that tests can inspect what was sent and how the receiver answered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

USER_AGENT = "CallRail-Sandbox-Webhooks/1.0"


def sign(signing_key: str, body: bytes) -> str:
    """The ``Signature`` header value for ``body``."""
    digest = hmac.new(signing_key.encode("utf-8"), body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Delivery:
    id: int
    event: str
    url: str
    account_id: str
    company_id: str
    body: bytes
    signature: str
    queued_at: float
    status: int | None = None
    error: str | None = None
    sent_at: float | None = None
    duration_ms: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def describe(self, with_body: bool = True) -> dict[str, Any]:
        out = {
            "id": self.id,
            "event": self.event,
            "url": self.url,
            "account_id": self.account_id,
            "company_id": self.company_id,
            "signature": self.signature,
            "status": self.status,
            "error": self.error,
            "queued_at": self.queued_at,
            "sent_at": self.sent_at,
            "duration_ms": self.duration_ms,
        }
        if with_body:
            out["body"] = self.body.decode("utf-8")
        return out


class WebhookDispatcher:
    def __init__(self, timeout: float = 5.0, history: int = 5000):
        self.timeout = timeout
        self.enabled = True
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._counter = 0
        self.deliveries: deque[Delivery] = deque(maxlen=history)

    def enqueue(self, event: str, url: str, account_id: str, company_id: str, body: bytes, signing_key: str) -> None:
        with self._lock:
            self._counter += 1
            delivery = Delivery(
                id=self._counter,
                event=event,
                url=url,
                account_id=account_id,
                company_id=company_id,
                body=body,
                signature=sign(signing_key, body),
                queued_at=time.time(),
            )
            self.deliveries.append(delivery)
            if not self.enabled:  # decided now, not when the sender thread gets to it (it may lag behind)
                delivery.error = "delivery disabled"
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()
        self._queue.put(delivery)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                self._send(delivery)
            finally:
                self._queue.task_done()

    def _send(self, delivery: Delivery) -> None:
        if not delivery.url.startswith(("http://", "https://")):
            delivery.error = "unsupported URL scheme"
            return
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            delivery.url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Signature": delivery.signature,
                "User-Agent": USER_AGENT,
            },
        )
        started = time.monotonic()
        delivery.sent_at = time.time()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                delivery.status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
        except (urllib.error.URLError, OSError, ValueError) as exc:
            delivery.error = str(getattr(exc, "reason", exc))
        delivery.duration_ms = round((time.monotonic() - started) * 1000, 1)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has been attempted. False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def clear(self) -> None:
        self.flush(timeout=2.0)
        with self._lock:
            self.deliveries.clear()

    def stop(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=2.0)
        self._thread = None
