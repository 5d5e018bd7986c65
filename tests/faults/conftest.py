"""Fixtures and helpers of the fault suite: worker processes with their own environment, a private Redis server,
the comparison of mirror and sandbox, the budget check, and the summary table printed at the end of the run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from apps.core import embedded_redis
from apps.sync.resources import get_resource
from tests.faults.summary import ROWS, Row
from tests.sync.conftest import control, upstream_records
from tests.workers import WorkerProcess, start_worker

#: CallRail's limits the account is given, both in the sandbox and in the portal's budget (its overrides).
LIMITS = {"general": {"hour": 500, "day": 5000}}


@pytest.fixture
def summary_row(request) -> Iterator[Row]:
    """The test's line of the summary table; appended whether the test passes or fails."""
    row = Row(fault=request.node.get_closest_marker("fault").args[0])
    yield row
    ROWS.append(row)


def pytest_sessionfinish(session: Any) -> None:
    """Under pytest-xdist, hand this worker's rows to the controller, which prints the table (tests/conftest.py)."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["fault_rows"] = [asdict(row) for row in ROWS]


# ----------------------------------------------------------------------------------------------- workers
class FaultWorker(WorkerProcess):
    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a machine that lost power."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_fault_worker(
    *, redis_url: str | None = None, env: dict[str, str] | None = None, concurrency: int = 1,
    queues: str = "default,interactive,sync,push",
) -> FaultWorker:  # fmt: skip
    """``tests.workers.start_worker`` with the fault suite's settings module and extra environment (on the test
    database of either back-end)."""
    extra = {**(env or {}), **({"REDIS_URL": redis_url} if redis_url else {})}
    worker = start_worker(
        queues, concurrency, settings_module="tests.faults.worker_settings", env=extra, name="fault",
        process_class=FaultWorker,
    )  # fmt: skip
    assert isinstance(worker, FaultWorker)
    return worker


# -------------------------------------------------------------------------------------------- private Redis
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own (never the shared one), with an append-only file so a restart keeps
    the data, as a production Redis (docker-compose: ``--appendonly yes``) does."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.binary = embedded_redis.redis_server_binary()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=embedded_redis.real_clock_env(),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------- comparisons
def limit_account(account: Any, sandbox: Any, limits: dict = LIMITS) -> None:
    """Give the account the same CallRail limits in the sandbox and in the portal's budget."""
    account.budget_overrides = limits
    account.save(update_fields=["budget_overrides"])
    control(sandbox, "POST", "rate-limits", limits=limits, account_id=account.callrail_account_id)


def mirror_vs_sandbox(account: Any, names: list[str]) -> tuple[int, int, int]:
    """(records lost, duplicate rows, extra rows) of the mirror against what the sandbox lists, per resource."""
    lost = dups = extra = 0
    for name in names:
        resource = get_resource(name)
        upstream = set(upstream_records(account, resource))
        ids = list(resource.model.objects.for_account(account).live().values_list("callrail_id", flat=True))
        dups += len(ids) - len(set(ids))
        lost += len(upstream - set(ids))
        extra += len(set(ids) - upstream)
    return lost, dups, extra


def budget_check(sandbox: Any, account: Any, row: Row) -> dict:
    """Fill the row's budget columns from the sandbox's usage (its own count of requests per sliding window)."""
    usage = control(sandbox, "GET", f"usage?account_id={account.callrail_account_id}")
    general = usage[account.callrail_account_id]["general"] if account.callrail_account_id in usage else usage
    general = general.get("general", general)
    row.max_per_hour = general["max_per_hour"]
    row.limit_hour = general["limit_hour"]
    row.rejected_429 = general["rejected"]
    row.overrun = max(0, general["max_per_hour"] - general["limit_hour"], general["max_per_day"] - general["limit_day"])
    return general
