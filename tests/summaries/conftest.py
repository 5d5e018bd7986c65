"""Fixtures of the summary tests: the sandbox account of the sync tests, synced into the mirror."""

from __future__ import annotations

import pytest

from apps.calls.models import Call
from tests.sync.conftest import execute, sandbox_account  # noqa: F401 - re-exported fixture


@pytest.fixture(autouse=True)
def _pinned_clock(request):
    """Summaries are about send times and periods: every test here runs on a pinned clock (tests/conftest.py
    ``clock``), set before the sandbox seeds its history. Not the tests with a real worker, whose process keeps
    the real clock: those must hold at any hour by themselves."""
    if request.node.get_closest_marker("worker"):
        yield None
    else:
        yield request.getfixturevalue("clock")


@pytest.fixture
def synced(sandbox_account):  # noqa: F811
    """The tenant's account pointed at the sandbox, its companies, trackers and calls pulled into the mirror."""
    run = execute(sandbox_account, resources=["companies", "trackers", "calls"])
    assert run.status == "succeeded", run.errors
    assert Call.objects.for_account(sandbox_account).count() > 50
    return sandbox_account


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on a local port, and Django's mail settings pointed at it."""
    from tests.summaries.smtp_sink import SmtpSink

    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield sink
    finally:
        sink.stop()
