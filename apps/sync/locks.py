"""The per-account sync lock: one run per account at a time, across every worker and machine.

A Redis key with a token and an expiry (``SET NX EX``). The holder renews it with every committed page;
a worker that dies stops renewing, so the lock expires after ``ttl`` seconds and the next run takes over
(resuming from the committed checkpoint). Renew and release are compare-and-set (Lua), so a worker never
extends or frees a lock another worker has since taken.
"""

from __future__ import annotations

import uuid

from apps.core.redis import get_redis, redis_key

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LockLost(RuntimeError):
    """Another worker took the account's lock (ours expired): stop writing at once."""


class AccountSyncLock:
    def __init__(self, client_account_id: int, *, owner: str = "") -> None:
        self.key = redis_key("sync", "lock", client_account_id)
        self.token = f"{owner}:{uuid.uuid4().hex}" if owner else uuid.uuid4().hex
        self.redis = get_redis()

    def acquire(self, ttl: int) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, ex=max(1, int(ttl))))

    def renew(self, ttl: int) -> None:
        if not self.redis.eval(_RENEW, 1, self.key, self.token, max(1, int(ttl))):
            raise LockLost(f"sync lock {self.key} is no longer ours")

    def release(self) -> bool:
        return bool(self.redis.eval(_RELEASE, 1, self.key, self.token))

    def holder(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if value is not None else None

    def ttl(self) -> int:
        """Seconds until the current holder's lock expires (0 if free)."""
        return max(0, int(self.redis.ttl(self.key)))


def is_locked(client_account_id: int) -> bool:
    return bool(get_redis().exists(redis_key("sync", "lock", client_account_id)))
