"""A real Celery worker process for tests whose behaviour depends on one (pytest fixture `celery_worker`).

The worker runs `celery -A agency_portal worker` with the test process's environment, pointed at the
test database, so tasks see rows committed by a `transaction=True` test. It loads the test settings with the
same environment as the test process, so under pytest-xdist it shares that process's key prefix, queues and
files (agency_portal/settings/test.py), never another's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from apps.core import embedded_redis

ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, name: str, log: Path) -> None:
        self.process, self.name, self.log = process, name, log

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would: no clean shutdown, unacknowledged tasks stay queued."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reap_pool()

    def _reap_pool(self) -> None:
        """Whatever the worker left of its pool (its own process group) is killed too: nothing outlives a test."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_pool()


def database_url() -> str:
    """The URL of the database this test process uses (the test database once it exists), for a child process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def worker_environment(settings_module: str = "agency_portal.settings.test", **extra: str) -> dict[str, str]:
    """The environment of a process a test starts: this one's (the xdist worker id included, so the child's test
    settings isolate it alike), the test database and this process's Redis (the embedded one started now if this
    process has not connected to it yet: the child is told its URL, so it never starts one of its own)."""
    if settings.EMBEDDED_REDIS:
        embedded_redis.ensure_running()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "REDIS_URL": settings.REDIS_URL,
        "DATABASE_URL": database_url(),
        **clock_offset(),
        **extra,
    }


def clock_offset() -> dict[str, str]:
    """The child shares this process's clock: where a test pinned it (the `clock` fixture) or the whole run
    shifted it (``TEST_CLOCK_OFFSET``), the child is told the offset from the real clock, so a worker applying
    what the pinned sandbox and live server wrote compares times on the same clock as they did."""
    if not time_machine.escape_hatch.is_travelling():
        return {}
    offset = time.time() - time_machine.escape_hatch.time.time()
    return {"TEST_CLOCK_OFFSET": f"{offset:.3f}"} if abs(offset) > 1 else {}


def start_worker(
    queues: str = "default,interactive,sync,push,webhooks,email",
    concurrency: int = 2,
    *,
    settings_module: str = "agency_portal.settings.test",
    env: dict[str, str] | None = None,
    name: str = "test",
    process_class: type[WorkerProcess] | None = None,
) -> WorkerProcess:
    """Start ``celery -A agency_portal worker`` on the test database and Redis, and wait until it is ready.

    Its own process group (``start_new_session``), so a test may kill it with its pool at once, and Ctrl-C on
    the test run reaches pytest only (whose fixtures stop it)."""
    name = f"{name}-{uuid.uuid4().hex[:8]}@%h"
    log = Path(settings.VAR_DIR) / f"worker-{name.split('@')[0]}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "agency_portal", "worker", "-Q", queues, "-c", str(concurrency),
         "-n", name, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env=worker_environment(settings_module, **(env or {})), stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = (process_class or WorkerProcess)(process, name, log)
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return worker


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[WorkerProcess]:
    worker = start_worker()
    try:
        yield worker
    finally:
        worker.stop()


def wait_for(predicate: Any, timeout: float = 60.0, step: float = 0.1, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy and return its value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")
