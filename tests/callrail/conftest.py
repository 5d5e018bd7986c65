"""Fixtures of the CallRail client and budget tests: real Redis (REDIS_URL), budgets in a namespace of
their own (removed afterwards, never FLUSHDB: other processes share this Redis), and a throwaway
redis-server that a test may stop and start again."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis

from apps.callrail.budget import Budget
from apps.core import embedded_redis
from apps.core.redis import get_redis, redis_key


@pytest.fixture(autouse=True)
def no_broker_connections_across_fork() -> None:
    """Several tests fork worker processes. A forked child closes the broker connections it inherited
    (kombu's after-fork hook) and can wait forever on a socket the parent still reads: close them first."""
    from agency_portal.celery import app

    app.pool.force_close_all()
    app.producer_pool.force_close_all()


@pytest.fixture
def budget_namespace() -> Iterator[str]:
    namespace = f"test-callrail-{uuid.uuid4().hex[:12]}"
    yield namespace
    conn = get_redis()
    keys = list(conn.scan_iter(match=redis_key(namespace, "*"), count=1000))
    if keys:
        conn.delete(*keys)


@pytest.fixture
def make_budget(budget_namespace: str) -> Callable[..., Budget]:
    """Budget(namespace=<this test's>, **options); pass redis_client= for another server."""

    def make(**options) -> Budget:
        return Budget(namespace=budget_namespace, **options)

    return make


def redis_now(conn: redis.Redis | None = None) -> float:
    secs, micros = (conn or get_redis()).time()
    return secs + micros / 1e6


@dataclass
class ToyAccount:
    """What client_for_account reads from a ClientAccount (duck-typed)."""

    pk: int
    callrail_account_id: str
    api_key: str
    base_url: str
    auth_mode: str = "direct"
    connection_id: str = ""
    budget_overrides: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempRedis:
    """A redis-server of the test's own, which the test may stop and start on the same port."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [embedded_redis.redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            env=embedded_redis.real_clock_env(),  # never under libfaketime (a faked test run): Redis hangs there
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("temporary redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)


@pytest.fixture
def temp_redis(tmp_path) -> Iterator[TempRedis]:
    server = TempRedis(tmp_path)
    server.start()
    yield server
    server.stop()
