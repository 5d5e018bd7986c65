"""Fixtures of the credential tests: budgets in a namespace of the test's own, the gateway's control API
pointed at the sandbox (``/ctrl``), an agency key reaching three sandbox accounts, and real workers that
send real email to an SMTP sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from apps.callrail import budget as budget_module
from apps.core.redis import get_redis, redis_key
from apps.credentials.models import Credential
from apps.credentials.services import credential_create
from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS
from tests.summaries.smtp_sink import SmtpSink
from tests.workers import WorkerProcess, start_worker

THREE = [d.account_id for d in DEMO_ACCOUNTS[:3]]


@pytest.fixture(autouse=True)
def budget_namespace(settings, monkeypatch) -> Iterator[str]:
    """Every budget key of the test (this process and the workers it starts) under a namespace of its own."""
    namespace = f"test-credentials-{uuid.uuid4().hex[:10]}"
    settings.CALLRAIL_BUDGET_NAMESPACE = namespace
    monkeypatch.setenv("CALLRAIL_BUDGET_NAMESPACE", namespace)
    budget_module._default.clear()
    yield namespace
    budget_module._default.clear()
    conn = get_redis()
    keys = list(conn.scan_iter(match=redis_key(namespace, "*"), count=1000))
    if keys:
        conn.delete(*keys)


@pytest.fixture
def gateway_control(settings, sandbox, monkeypatch) -> str:
    url = f"{sandbox.url}/ctrl"
    settings.CALLRAIL_GATEWAY_CONTROL_URL = url
    monkeypatch.setenv("CALLRAIL_GATEWAY_CONTROL_URL", url)
    return url


@pytest.fixture
def agency_key(tenant, sandbox) -> Credential:
    """Acme's agency key: one CallRail login that reaches the sandbox's first three accounts."""
    return credential_create(agency=tenant.agency, name="Agency key", auth_mode="direct", api_key=MULTI_ACCOUNT_KEY,
                             base_url=sandbox.url, actor=tenant.owner)  # fmt: skip


@pytest.fixture
def smtp_sink(monkeypatch) -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{sink.port}")
    yield sink
    sink.stop()


@pytest.fixture
def mail_worker(transactional_db, smtp_sink) -> Iterator[WorkerProcess]:
    """A real worker on every queue whose email goes to the SMTP sink."""
    worker = start_worker(settings_module="tests.summaries.worker_settings")
    try:
        yield worker
    finally:
        worker.stop()
