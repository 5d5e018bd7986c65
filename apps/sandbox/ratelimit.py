"""Sliding-window rate limits, as documented: hourly and daily, per class of request — per account, and
per key as well (CallRail's 429 text blames "the User or Agency": the least convenient reading is that one
key behind many accounts is throttled as one). A key is the direct API key, or the gateway connection (the
CallRail user who authorised it); key limits default to the account limits and are configurable.

Windows are measured on a *sandbox clock* that runs ``time_scale`` times faster than real time (so with
``time_scale=60`` an "hour" lasts one real minute) and that tests can push forward with :meth:`advance`.
Refused requests (429) do not use up the allowance; they are counted separately.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 86400.0
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "general": {"hour": 1000, "day": 10000},
    "sms": {"hour": 150, "day": 1000},
    "outbound": {"hour": 100, "day": 2000},
}
CLASSES = tuple(DEFAULT_LIMITS)


@dataclass
class Bucket:
    hour: deque = field(default_factory=deque)  # sandbox-clock times of accepted requests in the last hour
    day: deque = field(default_factory=deque)
    accepted: int = 0
    rejected: int = 0


class RateLimiter:
    def __init__(self, time_scale: float = 1.0, limits: dict | None = None):
        self._lock = threading.Lock()
        self._scale = float(time_scale)
        self._real0 = time.monotonic()
        self._virtual0 = 0.0
        self.enabled = True
        self.limits = _merge(DEFAULT_LIMITS, limits)
        self.overrides: dict[str, dict[str, dict[str, int]]] = {}
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.key_enabled = True
        self.key_limits = _merge(DEFAULT_LIMITS, None)
        self.key_overrides: dict[str, dict[str, dict[str, int]]] = {}
        self.key_log: dict[str, deque] = {}  # principal -> sandbox-clock times of every accepted request

    # the sandbox clock ---------------------------------------------------------------------------------------
    @property
    def time_scale(self) -> float:
        return self._scale

    def clock(self) -> float:
        return self._virtual0 + (time.monotonic() - self._real0) * self._scale

    def set_time_scale(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            self._virtual0 = self.clock()
            self._real0 = time.monotonic()
            self._scale = float(scale)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (in sandbox seconds), e.g. 3600 to let an hourly window expire."""
        with self._lock:
            self._virtual0 += float(seconds)

    # configuration -------------------------------------------------------------------------------------------
    def configure(self, limits: dict | None = None, account_id: str | None = None, enabled: bool | None = None):
        with self._lock:
            if enabled is not None:
                self.enabled = bool(enabled)
            if limits:
                if account_id:
                    self.overrides[account_id] = _merge(self.limits_for(account_id), limits)
                else:
                    self.limits = _merge(self.limits, limits)

    def limits_for(self, account_id: str) -> dict[str, dict[str, int]]:
        return self.overrides.get(account_id, self.limits)

    def configure_keys(self, limits: dict | None = None, key: str | None = None, enabled: bool | None = None):
        """Per-key limits: for every key, or one (its principal: ``token:<api key>`` or ``connection:<id>``)."""
        with self._lock:
            if enabled is not None:
                self.key_enabled = bool(enabled)
            if limits:
                if key:
                    self.key_overrides[key] = _merge(self.key_limits_for(key), limits)
                else:
                    self.key_limits = _merge(self.key_limits, limits)

    def key_limits_for(self, principal: str) -> dict[str, dict[str, int]]:
        return self.key_overrides.get(principal, self.key_limits)

    def reset_usage(self) -> None:
        with self._lock:
            self.buckets.clear()
            self.key_log.clear()

    # the check -----------------------------------------------------------------------------------------------
    def hit(self, account_id: str, rate_class: str) -> float | None:
        """Count one request. None when allowed; otherwise the real seconds until the window frees up."""
        with self._lock:
            now = self.clock()
            bucket = self.buckets.setdefault((account_id, rate_class), Bucket())
            _expire(bucket, now)
            limits = self.limits_for(account_id).get(rate_class, DEFAULT_LIMITS["general"])
            if self.enabled:
                waits = []
                if len(bucket.hour) >= limits["hour"]:
                    waits.append(bucket.hour[0] + HOUR - now if bucket.hour else HOUR)
                if len(bucket.day) >= limits["day"]:
                    waits.append(bucket.day[0] + DAY - now if bucket.day else DAY)
                if waits:
                    bucket.rejected += 1
                    return max(max(waits), 0.001) / self._scale
            bucket.hour.append(now)
            bucket.day.append(now)
            bucket.accepted += 1
            return None

    def hit_request(self, account_ids: list[str], rate_class: str, principal: str | None) -> tuple[float | None, list]:
        """Count one request against each of its accounts and its key, all or nothing.

        Returns (None, []) when allowed; otherwise (real seconds until it would be, the refused subjects:
        account ids and ``key`` for the key's own limit).
        """
        with self._lock:
            now = self.clock()
            subjects: list[tuple[str, Bucket, dict, bool]] = []
            for account_id in account_ids:
                limits = self.limits_for(account_id).get(rate_class, DEFAULT_LIMITS["general"])
                subjects.append((account_id, self._bucket(account_id, rate_class, now), limits, self.enabled))
            if principal:
                limits = self.key_limits_for(principal).get(rate_class, DEFAULT_LIMITS["general"])
                bucket = self._bucket(f"key:{principal}", rate_class, now)
                subjects.append(("key", bucket, limits, self.enabled and self.key_enabled))
            refused, waits = [], []
            for name, bucket, limits, enforced in subjects:
                if not enforced:
                    continue
                wait = []
                if len(bucket.hour) >= limits["hour"]:
                    wait.append(bucket.hour[0] + HOUR - now if bucket.hour else HOUR)
                if len(bucket.day) >= limits["day"]:
                    wait.append(bucket.day[0] + DAY - now if bucket.day else DAY)
                if wait:
                    refused.append(name)
                    waits.append(max(wait))
                    bucket.rejected += 1
            if refused:
                return max(max(waits), 0.001) / self._scale, refused
            for _name, bucket, _limits, _enforced in subjects:
                bucket.hour.append(now)
                bucket.day.append(now)
                bucket.accepted += 1
            if principal:
                self.key_log.setdefault(principal, deque(maxlen=200_000)).append(now)
            return None, []

    def _bucket(self, subject: str, rate_class: str, now: float) -> Bucket:
        bucket = self.buckets.setdefault((subject, rate_class), Bucket())
        _expire(bucket, now)
        return bucket

    def key_usage(self, principal: str) -> dict[str, dict]:
        """Per class for one key: the current windows, limits, accepted and refused, and the most requests it
        made in any sliding hour and day (over every request it made since the last reset)."""
        out = self.usage(f"key:{principal}", self.key_limits_for(principal))
        with self._lock:
            times = list(self.key_log.get(principal, ()))
        out["all"] = {"max_per_hour": max_in_window(times, HOUR), "max_per_day": max_in_window(times, DAY),
                      "requests": len(times)}
        return out

    def usage(self, account_id: str, limits: dict | None = None) -> dict[str, dict]:
        with self._lock:
            now = self.clock()
            out = {}
            for rate_class in CLASSES:
                bucket = self.buckets.get((account_id, rate_class), Bucket())
                _expire(bucket, now)
                class_limits = (limits or self.limits_for(account_id))[rate_class]
                out[rate_class] = {
                    "hour": len(bucket.hour),
                    "day": len(bucket.day),
                    "limit_hour": class_limits["hour"],
                    "limit_day": class_limits["day"],
                    "accepted": bucket.accepted,
                    "rejected": bucket.rejected,
                }
            return out

    def describe(self) -> dict:
        return {
            "enabled": self.enabled,
            "time_scale": self._scale,
            "clock": round(self.clock(), 3),
            "limits": self.limits,
            "overrides": self.overrides,
            "key_limits_enabled": self.key_enabled,
            "key_limits": self.key_limits,
            "key_overrides": self.key_overrides,
        }


def _expire(bucket: Bucket, now: float) -> None:
    while bucket.hour and bucket.hour[0] <= now - HOUR:
        bucket.hour.popleft()
    while bucket.day and bucket.day[0] <= now - DAY:
        bucket.day.popleft()


def _merge(base: dict, changes: dict | None) -> dict:
    merged = {k: dict(v) for k, v in base.items()}
    for rate_class, values in (changes or {}).items():
        if rate_class not in DEFAULT_LIMITS:
            raise ValueError(f"unknown rate class {rate_class!r}; use one of {', '.join(CLASSES)}")
        for window, limit in values.items():
            if window not in ("hour", "day"):
                raise ValueError(f"unknown window {window!r}; use hour or day")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise ValueError("limits must be non-negative integers")
            merged[rate_class][window] = limit
    return merged


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` (sorted, sandbox clock) that fall within any span of ``window``."""
    best = 0
    left = 0
    for right, t in enumerate(times):
        while t - times[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best
