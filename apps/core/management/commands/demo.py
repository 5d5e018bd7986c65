"""`manage.py demo`: the whole portal on one machine, from one command.

Migrates, loads the demo data, then starts and supervises the CallRail sandbox, a Celery worker,
Celery beat and the web server; Ctrl-C stops them all, and the embedded Redis if this command started it (a
Redis it found already answering on the port is reused, said so, and left running).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.core import embedded_redis
from apps.core.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo_data


class Command(BaseCommand):
    help = "Run the portal with demo data, the CallRail sandbox, a worker and beat (Ctrl-C stops all)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8100)
        parser.add_argument("--check", action="store_true", help="Start everything, check it answers, then stop.")

    def handle(self, *args, host: str, port: int, sandbox_port: int, check: bool, **options) -> None:
        from apps.sandbox.seed import DEMO_ACCOUNTS

        if settings.EMBEDDED_REDIS:
            if embedded_redis.ensure_running():
                self.stdout.write(f"Started the embedded Redis ({settings.REDIS_URL}); Ctrl-C stops it.")
            else:
                self.stdout.write(f"Reusing the Redis already answering at {settings.REDIS_URL} (left running).")
        try:
            self._run(host, port, sandbox_port, check, DEMO_ACCOUNTS)
        finally:
            if embedded_redis.stop_if_started():
                self.stdout.write("Stopped the embedded Redis.")

    def _run(self, host: str, port: int, sandbox_port: int, check: bool, demo_accounts) -> None:
        from apps.sandbox.keys import MULTI_ACCOUNT_KEY
        from apps.sandbox.seed import GATEWAY_KEY

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        sandbox_url = f"http://{host}:{sandbox_port}"
        _allow_sandbox(sandbox_url)
        accounts = load_demo_data(sandbox_url=sandbox_url, accounts=[_account_spec(a) for a in demo_accounts],
                                  agency_key=MULTI_ACCOUNT_KEY, gateway_key=GATEWAY_KEY)  # fmt: skip

        url = f"http://{host}:{port}"
        if not os.environ.get("PORTAL_BASE_URL"):
            # links in emails (and webhook URLs) point where this demo actually serves, whatever --port says
            os.environ["PORTAL_BASE_URL"] = url
            settings.PORTAL_BASE_URL = url
        elif settings.PORTAL_BASE_URL.rstrip("/") != url:
            self.stderr.write(f"PORTAL_BASE_URL is {settings.PORTAL_BASE_URL}, but the portal runs at {url}: "
                              "links in emails point at the former.")  # fmt: skip
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        celery = [sys.executable, "-m", "celery", "-A", "agency_portal"]
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(exist_ok=True)
        specs = {
            "sandbox": [*manage, "run_sandbox", "--host", host, "--port", str(sandbox_port)],
            "worker": [*celery, "worker", "-Q", ",".join(settings.CELERY_TASK_QUEUES_NAMES), "-c", "2",
                       "--loglevel", "INFO", "-n", "demo@%h"],
            "beat": [*celery, "beat", "--loglevel", "INFO", "-s", str(Path(settings.VAR_DIR) / "celerybeat-schedule")],
            "web": [*manage, "runserver", f"{host}:{port}", "--noreload", "--insecure"],
        }
        # The children use this Redis as given (never start or stop one themselves), and run in their own
        # sessions: Ctrl-C reaches this command only, which stops them in order and says so.
        env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
        processes: dict[str, subprocess.Popen] = {}
        try:
            for name, command in specs.items():
                log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child's life
                processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
                    command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            url = f"http://{host}:{port}/"
            self._wait_for(url, processes)
            self._banner(url, sandbox_url, accounts, log_dir)
            if check:
                return
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(
                            f"The {name} process ended unexpectedly (exit code {process.returncode}); "
                            f"see {log_dir / name}.log. Stopping the others."
                        )
                        return
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for name, process in processes.items():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    self.stderr.write(f"The {name} process did not stop within 15 s and was killed.")
            if processes:
                self.stdout.write(f"Stopped: {', '.join(processes)}.")

    def _wait_for(self, url: str, processes: dict[str, subprocess.Popen]) -> None:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} failed to start; see var/log/{name}.log")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2):  # noqa: S310 - our own loopback URL
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the web server did not answer at {url} within 60 s; see var/log/web.log")

    def _banner(self, url: str, sandbox_url: str, accounts, log_dir: Path) -> None:
        w = self.stdout.write
        w(self.style.SUCCESS(f"\nAgency Portal is running at {url}"))
        w(f"CallRail sandbox: {sandbox_url}   ({len(accounts)} demo client accounts point at it)")
        w(f"Workers: 1 Celery worker + beat; Redis: {settings.REDIS_URL}; logs in {log_dir}/")
        w(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for login in DEMO_LOGINS:
            w(f"  {login.email:<26} {login.role:<7} {login.note}")
        w("\nPress Ctrl-C to stop.")


def _account_spec(account) -> dict:
    """A sandbox DemoAccount as the loader's dict."""
    return {"id": account.account_id, "name": account.name, "api_key": account.api_key, "time_zone": account.time_zone,
            "connection_id": account.connection_id}  # fmt: skip


def _allow_sandbox(sandbox_url: str) -> None:
    """The demo's keys go to the sandbox: allow it (here and in the processes started below, which inherit the
    environment), and point the gateway's control API at it (``/ctrl``)."""
    import os

    allowed = [*settings.CALLRAIL_ALLOWED_BASE_URLS, sandbox_url]
    os.environ["CALLRAIL_ALLOWED_BASE_URLS"] = ",".join(allowed)
    os.environ.setdefault("CALLRAIL_GATEWAY_CONTROL_URL", f"{sandbox_url}/ctrl")
    settings.CALLRAIL_ALLOWED_BASE_URLS = allowed
    settings.CALLRAIL_GATEWAY_CONTROL_URL = os.environ["CALLRAIL_GATEWAY_CONTROL_URL"]
