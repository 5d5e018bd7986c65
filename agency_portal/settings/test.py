"""Test settings: base settings against whatever DATABASE_URL / REDIS_URL say (embedded otherwise)."""

from .base import *  # noqa: F403
from .base import CALLRAIL_ALLOWED_BASE_URLS, REDIS_KEY_PREFIX

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,  # noqa: F405
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:test-cache",
    }
}

# A real Celery worker in another process must reach the same test database, so SQLite uses a file.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405

# The sandbox listens on a free loopback port; tests of the outbound policy narrow this themselves.
CALLRAIL_ALLOWED_BASE_URLS = [*CALLRAIL_ALLOWED_BASE_URLS, "http://127.0.0.1:*", "http://localhost:*"]
# Tests that start workers give each test its budget keys of its own (removed afterwards).
CALLRAIL_BUDGET_NAMESPACE = env.str("CALLRAIL_BUDGET_NAMESPACE", default="callrail:budget")  # noqa: F405
