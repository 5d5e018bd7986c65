"""Test settings: base settings against whatever DATABASE_URL / REDIS_URL say (embedded otherwise).

Every test process is isolated from every other one, and from an installation sharing the same Redis, here in
one place, so a test needs nothing of its own to run under pytest-xdist:

* Redis keys: ``<REDIS_KEY_PREFIX>.test`` (``….test.gw1`` for xdist worker gw1) prefixes every key, the cache,
  budgets, locks and Celery's queues; the suite deletes its keys at the end (tests/conftest.py).
* Files: ``VAR_DIR`` is ``<VAR_DIR>/test/<worker>`` (the SQLite test database, worker logs, exports, screenshots).
* The embedded Redis (no REDIS_URL): one per xdist worker, on ``EMBEDDED_REDIS_PORT + 10 * (n + 1)`` for worker
  gw<n> (steps of ten, so runs with neighbouring base ports never meet).
* Databases: pytest-django suffixes the test database per worker (``test_<name>_gw1``).

Celery worker processes started by tests load these same settings with the same environment
(``PYTEST_XDIST_WORKER`` included), so they land in the same place.

``TEST_CLOCK_OFFSET`` (seconds, e.g. set by ``make test FAKE_NOW=…``) shifts the clock of every process that
loads these settings by the same amount (time-machine; the monotonic clock and sleeps are untouched): the whole
suite, its workers included, runs as if it were another time. Redis and the database server keep theirs.
"""

import os
from datetime import UTC, datetime, timedelta

from apps.core import embedded_redis

from .base import *  # noqa: F403
from .base import EMBEDDED_REDIS, EMBEDDED_REDIS_PORT, REDIS_KEY_PREFIX, REDIS_URL, VAR_DIR

if os.environ.get("TEST_CLOCK_OFFSET"):
    import time_machine

    time_machine.travel(
        datetime.now(UTC) + timedelta(seconds=float(os.environ["TEST_CLOCK_OFFSET"])), tick=True
    ).start()

#: "gw0", "gw1"… under pytest-xdist, else "main".
TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER") or "main"

VAR_DIR = VAR_DIR / "test" / TEST_WORKER
VAR_DIR.mkdir(parents=True, exist_ok=True)
OPERATIONS_EXPORT_DIR = VAR_DIR / "exports"

if EMBEDDED_REDIS:
    if TEST_WORKER != "main":
        EMBEDDED_REDIS_PORT = EMBEDDED_REDIS_PORT + 10 * (1 + int(TEST_WORKER.removeprefix("gw")))
    REDIS_URL = embedded_redis.start_on_demand(VAR_DIR / "redis", EMBEDDED_REDIS_PORT)
REDIS_KEY_PREFIX = f"{REDIS_KEY_PREFIX}.test" + ("" if TEST_WORKER == "main" else f".{TEST_WORKER}")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
}

# A real Celery worker in another process must reach the same test database, so SQLite uses a file.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
