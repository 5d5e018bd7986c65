"""The one Redis connection pool for portal code that talks to Redis directly (budgets, locks)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )


def redis_key(*parts: object) -> str:
    """A key under the installation's prefix: redis_key("budget", 7) -> "ap:budget:7"."""
    return ":".join([settings.REDIS_KEY_PREFIX, *map(str, parts)])
