"""A real Celery worker process for tests whose behaviour depends on one (pytest fixture `celery_worker`).

The worker runs `celery -A agency_portal worker` with the test process's environment, pointed at the
test database, so tasks see rows committed by a `transaction=True` test.
"""

from __future__ import annotations

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
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, name: str, log: Path) -> None:
        self.process, self.name, self.log = process, name, log

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would: no clean shutdown, unacknowledged tasks stay queued."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(
    queues: str = "default,sync,push,webhooks,email",
    concurrency: int = 2,
    env: dict[str, str] | None = None,
    *,
    settings_module: str = "agency_portal.settings.test",
) -> WorkerProcess:
    """``env``: more environment variables of the worker (settings such as ``CALLRAIL_BUDGET_TIME_SCALE``, or
    ``EMAIL_URL`` with ``settings_module="tests.summaries.worker_settings"``)."""
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "REDIS_URL": settings.REDIS_URL,
           **(env or {})}  # fmt: skip
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    log = Path(settings.VAR_DIR) / f"worker-{name.split('@')[0]}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "agency_portal", "worker", "-Q", queues, "-c", str(concurrency),
         "-n", name, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return WorkerProcess(process, name, log)


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
