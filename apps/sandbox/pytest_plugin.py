"""Pytest plugin: a live CallRail sandbox for tests.

Register with ``pytest_plugins = ["apps.sandbox.pytest_plugin"]`` in ``tests/conftest.py``.

Fixtures:

* ``sandbox_server`` (session scope): one threaded sandbox server for the whole run.
* ``sandbox`` (function scope): the same server, reset to the small fixed seed before each test.
  Returns the :class:`apps.sandbox.server.LiveSandbox` (``.url``, ``.state``, ``.reset()``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.sandbox.server import LiveSandbox, start_sandbox

TEST_SEED = 1
TEST_PROFILE = "small"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[LiveSandbox]:
    live = start_sandbox(seed=TEST_SEED, profile=TEST_PROFILE)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def sandbox(sandbox_server: LiveSandbox) -> LiveSandbox:
    sandbox_server.reset(seed=TEST_SEED, profile=TEST_PROFILE)
    return sandbox_server
