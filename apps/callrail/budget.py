"""CallRail request budgets per account and per key, shared by every worker process on every machine.

CallRail limits each account per hour and per day and per limit class (API v3 reference, "Rate
Limiting"); every client of the account spends the same allowance. Its 429 text says "The User or Agency
has sent too many requests", so one agency key behind many accounts may be throttled as one: a request
made with a credential also takes a token from the credential's own windows (the *key scope*, on by default
per credential, see ``Scope``). The portal allows itself ``CALLRAIL_BUDGET_SAFETY`` (90%) of each limit, and
every request takes one token from every scope it is charged to before it is sent — all or nothing.

How it holds
------------
* **Store.** One Redis sorted set per (account, limit class) holds the time of every request granted in
  the last day (integer microseconds from Redis ``TIME``, so clocks of the worker machines never matter).
  The hourly count is ``ZCOUNT`` over the last hour, the daily count ``ZCARD`` after trimming entries
  older than a day: both are **exact sliding windows** — any hour, any 24 hours — not fixed buckets, so
  a burst across a clock edge cannot exceed a limit.
* **Scopes.** A budget holder is a *scope*: a client account (its pk) or a credential (``key:<pk>``). A
  request is charged to its account and, when the credential's key-level limit is on, to the credential;
  requests made for the key itself (listing the accounts it reaches) are charged to the key and to every
  account it already serves. Each scope has its own sorted sets, ceilings, lanes, blocks and 429 events.
* **Atomicity.** Check-and-take runs in one Lua script (``EVALSHA``) over every scope and class the
  request is charged to, which Redis executes without interleaving, so any number of processes on any
  number of machines can race for the last token and at most the limit is admitted in every scope. The
  script spans two scopes, so they live in one Redis (not a cluster: Celery's broker needs one anyway).
  We use our own script rather than the ``limits`` library: ``limits`` checks one (limit, window) per
  call, so the hourly and daily windows, the general class charged with an SMS send, and the account and
  key scopes could not be taken all-or-nothing; it has no notion of lanes sharing one counter with
  different ceilings; it answers "when does a token return" only per window; and it timestamps with
  the caller's clock. The script is ~80 lines and its tests race real processes.
* **Lanes.** All lanes share one counter; a lane is admitted while the shared count is below its share
  of each window: ``background`` 70%, ``followup`` 90%, ``interactive`` 100% (settings). A long
  background sync therefore always leaves 30% of every window to people.
* **Pacing.** The daily limit binds (10,000/day is ~417/hour), so the background lane is also capped per
  sliding hour at its daily allowance divided by 24: its day's allowance then lasts the whole day.
* **Denial.** ``try_acquire`` never sends anything and never sleeps: it answers how long until the
  lane gets a token (computed exactly from the timestamps that must leave the window), which a task
  passes to ``self.retry(countdown=...)``.
* **429.** ``mark_exhausted`` blocks the account (a 429 on the general class — CallRail then answers 429
  on every endpoint) or the one class (SMS send, outbound call), and the same in its key scope since
  CallRail does not say whose limit was reached, for every worker until the reset CallRail
  indicates (``Retry-After``). CallRail documents none, so by default until the next hour boundary and
  never less than 60 s, plus jitter; a 429 again within an hour of a block ending means the daily limit
  is the one reached, so the block then lasts until the next day boundary. Each event is recorded.
* **Redis unreachable.** Each process falls back to a local in-process budget with the same rules, each
  ceiling divided by ``CALLRAIL_BUDGET_FALLBACK_PROCESSES`` and reduced by what Redis last reported
  spent — never unlimited. It logs a warning, shows ``degraded`` in the status, probes Redis again every
  few seconds, and on recovery writes the requests it granted locally into the shared windows.
* **Time scale.** ``CALLRAIL_BUDGET_TIME_SCALE`` makes budget time run faster (60: an "hour" lasts a
  minute) for the sandbox, tests and benchmarks. Limits stay the same, windows shrink.
"""

from __future__ import annotations

import bisect
import copy
import logging
import math
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings

from apps.core.redis import get_redis, redis_key

logger = logging.getLogger(__name__)

HOUR = 3600.0
DAY = 86400.0
US = 1_000_000


@dataclass(frozen=True)
class Limits:
    hour: int
    day: int


#: CallRail's default limits (API v3 reference, "Default Rate Limits").
DEFAULT_LIMITS: dict[str, Limits] = {
    "general": Limits(hour=1000, day=10000),
    "sms_send": Limits(hour=150, day=1000),
    "outbound_call": Limits(hour=100, day=2000),
}
LIMIT_CLASSES: tuple[str, ...] = tuple(DEFAULT_LIMITS)

#: Which counters one request of a class takes a token from. CallRail does not say whether an SMS send or
#: an outbound call also counts as a general request; we assume it does (the conservative reading).
CHARGED_CLASSES: dict[str, tuple[str, ...]] = {
    "general": ("general",),
    "sms_send": ("sms_send", "general"),
    "outbound_call": ("outbound_call", "general"),
}

LANES: tuple[str, ...] = ("background", "followup", "interactive")
DEFAULT_LANE_SHARES: dict[str, float] = {"background": 0.7, "followup": 0.9, "interactive": 1.0}


# ---------------------------------------------------------------------------------------------- scopes
@dataclass(frozen=True)
class Scope:
    """A budget holder: a client account (its pk) or a credential (``key_scope_key(pk)``).

    ``overrides`` are its raised CallRail limits (``{"general": {"hour": 2000, "day": 20000}}``); the safety
    share still applies to them. ``label`` names it in messages ("the key 'Northwind agency key'").
    """

    key: str
    overrides: Mapping | None = None
    label: str = ""


def key_scope_key(credential_pk: object) -> str:
    """The budget key of a credential's key-level windows."""
    return f"key:{credential_pk}"


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Acquisition:
    """The answer of ``try_acquire``. Truthy when granted."""

    granted: bool
    #: Seconds (real time) until this lane can get a token; 0.0 when granted.
    retry_after: float
    limit_class: str
    lane: str
    #: Shared counts of the first charged class after this call (hour, day); None when unknown.
    hour_used: int | None = None
    day_used: int | None = None
    #: True when the answer came from the local fallback because Redis was unreachable.
    degraded: bool = False
    #: When the decision was taken, in Unix seconds of the deciding clock (Redis TIME, or local when degraded).
    decided_at: float | None = None
    #: The scope whose windows (or 429 block) refused the request: its key, or None when granted.
    limited_by: str | None = None

    def __bool__(self) -> bool:
        return self.granted


def _floor(value: float) -> int:
    """floor() that forgives binary rounding: 100 * 0.9 * 0.7 is 62.999999…, and means 63."""
    return math.floor(value + 1e-9)


def _dt(us: float | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / US, tz=UTC)


@dataclass
class ClassStatus:
    """One limit class of one account, for display."""

    limit_class: str
    callrail_hour_limit: int
    callrail_day_limit: int
    #: The portal's own ceilings (CallRail's limit times the safety share).
    hour_limit: int
    day_limit: int
    hour_spent: int
    day_spent: int
    #: Ceilings of the background lane (after pacing) and what they hold back for people.
    background_hour_cap: int
    background_day_cap: int
    held_back_hour: int
    held_back_day: int
    #: When the oldest request of the window leaves it (a token returns), and when the window is empty.
    hour_frees_at: datetime | None = None
    hour_clear_at: datetime | None = None
    day_frees_at: datetime | None = None
    day_clear_at: datetime | None = None
    #: Set while a 429 blocks this class.
    blocked_until: datetime | None = None
    #: None when background work may send now, else when it may again.
    background_resumes_at: datetime | None = None

    @property
    def hour_percent(self) -> int:
        return _percent(self.hour_spent, self.hour_limit)

    @property
    def day_percent(self) -> int:
        return _percent(self.day_spent, self.day_limit)

    @property
    def background_hour_percent(self) -> int:
        return _percent(self.background_hour_cap, self.hour_limit)

    @property
    def background_day_percent(self) -> int:
        return _percent(self.background_day_cap, self.day_limit)

    @property
    def level(self) -> str:
        """ok / warn (70% spent, or background paused) / full (ceiling reached or a 429 block)."""
        worst = max(self.hour_percent, self.day_percent)
        if self.blocked_until is not None or worst >= 100:
            return "full"
        return "warn" if worst >= 70 or self.background_resumes_at is not None else "ok"


def _percent(part: int, whole: int) -> int:
    if whole <= 0:
        return 100
    return max(0, min(100, round(100 * part / whole)))


@dataclass
class BudgetStatus:
    """What ``budget_status`` returns: an account's spending, for the gauge and the REST API."""

    account_key: str
    classes: list[ClassStatus]
    rate_limited_day: int = 0  # 429s received from CallRail in the last (scaled) day
    last_rate_limited_at: datetime | None = None
    blocked_until: datetime | None = None  # account-wide block after a 429 on the general class
    deferred: int = 0  # requests refused by the budget in the current hour window (not sent)
    degraded: bool = False
    degraded_since: datetime | None = None
    backend: str = "redis"
    time_scale: float = 1.0
    safety: float = 0.9
    checked_at: datetime | None = None
    #: The credential's key-level budget this account also spends (``budget_status_for_account``), if on.
    key: BudgetStatus | None = None
    #: What this budget belongs to, for display ("Northwind agency key").
    label: str = ""

    @property
    def general(self) -> ClassStatus:
        return self.classes[0]

    @property
    def blocked(self) -> bool:
        return self.blocked_until is not None or any(c.blocked_until for c in self.classes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO 8601), for the REST API."""

        def conv(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        data = conv({k: v for k, v in asdict(self).items() if k != "key"})
        for cls_data, cls in zip(data["classes"], self.classes, strict=True):
            cls_data.update(hour_percent=cls.hour_percent, day_percent=cls.day_percent, level=cls.level)
        data["blocked"] = self.blocked
        data["key"] = self.key.as_dict() if self.key is not None else None
        return data


# ------------------------------------------------------------------------------------------ Lua scripts
# KEYS, per scope: block, deferred counter, then per charged class: log, seq, class block.
# ARGV: [1] number of scopes, [2] number of classes, [3] cost, [4] hour (µs), [5] day (µs),
#       [6] mode (1 take, 0 peek), then per scope and class: hour ceiling, day ceiling.
# Returns {granted, wait_us, now_us, limiting scope (0-based, -1: none), then per scope and class: hour, day}
# (counts after the call).
_ACQUIRE_LUA = """
local nscopes = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local hour = tonumber(ARGV[4])
local day = tonumber(ARGV[5])
local take = ARGV[6] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fmt(x) return string.format('%.0f', x) end
local per = 2 + 3 * n
local wait = 0
local limiter = -1
local function hold(w, s) if w > wait then wait = w; limiter = s end end
local counts = {}
for s = 0, nscopes - 1 do
  local base = s * per
  local blk = tonumber(redis.call('GET', KEYS[base + 1]) or '0')
  if blk > now then hold(blk - now, s) end
  for i = 0, n - 1 do
    local log = KEYS[base + 3 + 3 * i]
    local a = 7 + 2 * (s * n + i)
    local hcap = tonumber(ARGV[a])
    local dcap = tonumber(ARGV[a + 1])
    local cblk = tonumber(redis.call('GET', KEYS[base + 5 + 3 * i]) or '0')
    if cblk > now then hold(cblk - now, s) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(now - day))
    local dn = redis.call('ZCARD', log)
    local hmin = '(' .. fmt(now - hour)
    local hn = redis.call('ZCOUNT', log, hmin, '+inf')
    counts[#counts + 1] = hn
    counts[#counts + 1] = dn
    if hn + cost > hcap then
      local w = hour
      if hcap >= cost then
        local e = redis.call('ZRANGEBYSCORE', log, hmin, '+inf', 'WITHSCORES', 'LIMIT', hn + cost - hcap - 1, 1)
        w = tonumber(e[2]) + hour - now
      end
      hold(w, s)
    end
    if dn + cost > dcap then
      local w = day
      if dcap >= cost then
        local k = dn + cost - dcap - 1
        local e = redis.call('ZRANGE', log, k, k, 'WITHSCORES')
        w = tonumber(e[2]) + day - now
      end
      hold(w, s)
    end
  end
end
if wait > 0 or not take then
  if wait > 0 and take then
    for s = 0, nscopes - 1 do
      local deferred = KEYS[s * per + 2]
      if redis.call('INCR', deferred) == 1 then redis.call('PEXPIRE', deferred, math.ceil(hour / 1000)) end
    end
  end
  local out = {(wait == 0) and 1 or 0, wait, now, limiter}
  for i = 1, #counts do out[#out + 1] = counts[i] end
  return out
end
local ttl = math.ceil(day / 1000) + 60000
for s = 0, nscopes - 1 do
  for i = 0, n - 1 do
    local log, seq = KEYS[s * per + 3 + 3 * i], KEYS[s * per + 4 + 3 * i]
    local last = redis.call('INCRBY', seq, cost)
    for j = last - cost + 1, last do redis.call('ZADD', log, fmt(now), fmt(j)) end
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', seq, ttl)
    local c = 2 * (s * n + i)
    counts[c + 1] = counts[c + 1] + cost
    counts[c + 2] = counts[c + 2] + cost
  end
end
local out = {1, 0, now, -1}
for i = 1, #counts do out[#out + 1] = counts[i] end
return out
"""

# KEYS: [1] block key, [2] events (zset), [3] meta (hash). ARGV: [1] retry_after µs (-1: none given),
# [2] minimum block µs, [3] jitter µs, [4] hour µs, [5] day µs, [6] scope label.
# Returns {blocked_until_us, now_us, escalated}.
# KEYS: per class (LIMIT_CLASSES order): log, class block; then the scope's block, events, meta, deferred.
# ARGV: [1] hour minimum, [2] day minimum (exclusive scores, "(…"). Returns per class: hour count, day count,
# the oldest score in the hour, in the day, the newest score, the class block; then the scope's block, 429s in
# the day, the last 429, the deferred count (false: none). One call per scope: a status of many accounts is
# one pipeline of a few thousand short calls, not tens of thousands of commands.
_STATUS_LUA = """
local out = {}
local nclasses = (#KEYS - 4) / 2
local function score(r) if r[2] then return r[2] end return false end
for i = 0, nclasses - 1 do
  local log = KEYS[1 + 2 * i]
  out[#out + 1] = redis.call('ZCOUNT', log, ARGV[1], '+inf')
  out[#out + 1] = redis.call('ZCOUNT', log, ARGV[2], '+inf')
  out[#out + 1] = score(redis.call('ZRANGEBYSCORE', log, ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, 1))
  out[#out + 1] = score(redis.call('ZRANGEBYSCORE', log, ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1))
  out[#out + 1] = score(redis.call('ZRANGE', log, -1, -1, 'WITHSCORES'))
  out[#out + 1] = redis.call('GET', KEYS[2 + 2 * i])
end
local base = 2 * nclasses
out[#out + 1] = redis.call('GET', KEYS[base + 1])
out[#out + 1] = redis.call('ZCOUNT', KEYS[base + 2], ARGV[2], '+inf')
out[#out + 1] = redis.call('HGET', KEYS[base + 3], 'last_429')
out[#out + 1] = redis.call('GET', KEYS[base + 4])
return out
"""

_EXHAUSTED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fmt(x) return string.format('%.0f', x) end
local retry_after = tonumber(ARGV[1])
local min_block = tonumber(ARGV[2])
local jitter = tonumber(ARGV[3])
local hour = tonumber(ARGV[4])
local day = tonumber(ARGV[5])
local scope = ARGV[6]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local last_until = tonumber(redis.call('HGET', KEYS[3], 'last_until:' .. scope) or '0')
local escalated = 0
local untl
if retry_after >= 0 then
  untl = now + math.max(retry_after, min_block / 60)
else
  local boundary = (math.floor(now / hour) + 1) * hour
  if last_until > 0 and last_until <= now and now - last_until < hour then
    boundary = (math.floor(now / day) + 1) * day
    escalated = 1
  end
  untl = math.max(boundary, now + min_block) + jitter
end
if current > untl then untl = current end
redis.call('SET', KEYS[1], fmt(untl), 'PX', math.ceil((untl - now) / 1000) + 1000)
redis.call('HSET', KEYS[3], 'last_until:' .. scope, fmt(untl), 'last_429', fmt(now))
redis.call('PEXPIRE', KEYS[3], math.ceil((day + (untl - now)) / 1000) + 60000)
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[2], fmt(now), scope .. ':' .. seq)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now - day))
redis.call('PEXPIRE', KEYS[2], math.ceil(day / 1000) + 60000)
return {untl, now, escalated}
"""


# --------------------------------------------------------------------------------------- local fallback
class _LocalBudget:
    """The same rules in one process, used only while Redis is unreachable. Ceilings are pre-divided."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logs: dict[tuple[str, str], list[int]] = {}
        self.blocks: dict[tuple[str, str], int] = {}  # (account, class or "*") -> until µs
        self.granted: list[tuple[str, str, int]] = []  # written to Redis on recovery
        self.deferred: dict[str, int] = {}

    @staticmethod
    def now_us() -> int:
        return time.time_ns() // 1000

    def acquire(
        self, scopes: list[tuple[str, list[tuple[str, int, int]]]], cost: int, hour: int, day: int, take: bool
    ) -> tuple[bool, int, list[int], int, int]:
        """``scopes``: (scope key, [(class, hour cap, day cap), ...]). Returns (granted, wait µs, counts per
        scope and class, now µs, index of the limiting scope or -1)."""
        with self.lock:
            now = self.now_us()
            wait, limiter = 0, -1
            counts: list[int] = []
            for index, (account, classes) in enumerate(scopes):
                waits = [self.blocks.get((account, "*"), 0) - now]
                for limit_class, hcap, dcap in classes:
                    waits.append(self.blocks.get((account, limit_class), 0) - now)
                    log = self.logs.setdefault((account, limit_class), [])
                    cut = bisect.bisect_right(log, now - day)
                    if cut:
                        del log[:cut]
                    dn = len(log)
                    first_in_hour = bisect.bisect_right(log, now - hour)
                    hn = dn - first_in_hour
                    counts += [hn, dn]
                    if hn + cost > hcap:
                        waits.append(hour if hcap < cost else log[first_in_hour + hn + cost - hcap - 1] + hour - now)
                    if dn + cost > dcap:
                        waits.append(day if dcap < cost else log[dn + cost - dcap - 1] + day - now)
                if max(waits) > wait:
                    wait, limiter = max(waits), index
            if wait > 0 or not take:
                if wait > 0 and take:
                    for account, _classes in scopes:
                        self.deferred[account] = self.deferred.get(account, 0) + 1
                return wait == 0, wait, counts, now, limiter
            position = 0
            for account, classes in scopes:
                for limit_class, _h, _d in classes:
                    self.logs[(account, limit_class)].extend([now] * cost)
                    self.granted.extend([(account, limit_class, now)] * cost)
                    counts[position] += cost
                    counts[position + 1] += cost
                    position += 2
            return True, 0, counts, now, -1

    def block(self, account: str, scope: str, until_us: int) -> None:
        with self.lock:
            self.blocks[(account, scope)] = max(until_us, self.blocks.get((account, scope), 0))

    def window_counts(self, account: str, limit_class: str, hour: int, day: int) -> tuple[int, int, list[int]]:
        with self.lock:
            now = self.now_us()
            log = [t for t in self.logs.get((account, limit_class), []) if t > now - day]
            return sum(1 for t in log if t > now - hour), len(log), log


# --------------------------------------------------------------------------------------------- budget
class Budget:
    """Budgets of every account, in Redis. Build one per process (``get_budget()``) or per test.

    ``account_key`` is the ClientAccount's primary key (anything ``str()``-able and stable).
    ``overrides`` are the account's ``budget_overrides``: ``{"general": {"hour": 2000, "day": 20000}}``,
    CallRail's raised limits; the safety share still applies to them.
    """

    def __init__(
        self,
        *,
        redis_client: redis.Redis | None = None,
        namespace: str = "callrail:budget",
        time_scale: float | None = None,
        safety: float | None = None,
        lane_shares: Mapping[str, float] | None = None,
        pace_background: bool | None = None,
        fallback_processes: int | None = None,
        min_block_seconds: float | None = None,
        block_jitter_seconds: float | None = None,
        redis_retry_seconds: float | None = None,
        window_guard_seconds: float | None = None,
    ) -> None:
        def opt(value: Any, name: str, default: Any) -> Any:
            return value if value is not None else getattr(settings, name, default)

        self.redis = redis_client if redis_client is not None else get_redis()
        self.namespace = namespace
        self.time_scale = float(opt(time_scale, "CALLRAIL_BUDGET_TIME_SCALE", 1.0))
        if self.time_scale <= 0:
            raise ValueError("CALLRAIL_BUDGET_TIME_SCALE must be positive")
        self.safety = float(opt(safety, "CALLRAIL_BUDGET_SAFETY", 0.9))
        self.lane_shares = {**DEFAULT_LANE_SHARES, **opt(lane_shares, "CALLRAIL_BUDGET_LANE_SHARES", {})}
        self.pace_background = bool(opt(pace_background, "CALLRAIL_BUDGET_PACE_BACKGROUND", True))
        self.fallback_processes = max(1, int(opt(fallback_processes, "CALLRAIL_BUDGET_FALLBACK_PROCESSES", 8)))
        # The minimum block and its jitter are budget time: they shrink with the time scale like the windows.
        self.min_block_seconds = float(opt(min_block_seconds, "CALLRAIL_BUDGET_MIN_BLOCK_SECONDS", 60.0))
        self.block_jitter_seconds = float(opt(block_jitter_seconds, "CALLRAIL_BUDGET_BLOCK_JITTER_SECONDS", 15.0))
        self.redis_retry_seconds = float(opt(redis_retry_seconds, "CALLRAIL_BUDGET_REDIS_RETRY_SECONDS", 5.0))
        # A grant is counted at grant time on Redis's clock, CallRail counts the request when it arrives: each
        # window is held this much longer (real seconds, not scaled), so a burst granted at a window's very
        # end and one at the next window's start cannot overlap in CallRail's count.
        guard_us = round(float(opt(window_guard_seconds, "CALLRAIL_BUDGET_WINDOW_GUARD_SECONDS", 1.0)) * US)
        self.hour_us = round(HOUR * US / self.time_scale) + guard_us
        self.day_us = round(DAY * US / self.time_scale) + guard_us
        self._acquire = self.redis.register_script(_ACQUIRE_LUA)
        self._exhausted = self.redis.register_script(_EXHAUSTED_LUA)
        self._status_reads = self.redis.register_script(_STATUS_LUA)
        self._local = _LocalBudget()
        self._state_lock = threading.Lock()
        self._degraded_since: float | None = None
        self._next_probe = 0.0
        # Last shared counts seen per (account, class): (hour, day, local µs), to start the fallback low.
        self._last_seen: dict[tuple[str, str], tuple[int, int, int]] = {}

    # ----------------------------------------------------------------------------------- configuration
    @property
    def hour_seconds(self) -> float:
        """Length of the budget's "hour" in real seconds."""
        return self.hour_us / US

    @property
    def day_seconds(self) -> float:
        return self.day_us / US

    def callrail_limits(self, limit_class: str, overrides: Mapping | None = None) -> Limits:
        """CallRail's limits for this account and class (defaults, or the account's raised ones)."""
        if limit_class not in DEFAULT_LIMITS:
            raise ValueError(f"unknown CallRail limit class {limit_class!r}; one of {', '.join(LIMIT_CLASSES)}")
        base = DEFAULT_LIMITS[limit_class]
        over = (overrides or {}).get(limit_class) or {}
        return Limits(hour=int(over.get("hour", base.hour)), day=int(over.get("day", base.day)))

    def limits(self, limit_class: str, overrides: Mapping | None = None) -> Limits:
        """The portal's own ceilings: CallRail's limits times the safety share."""
        lim = self.callrail_limits(limit_class, overrides)
        return Limits(hour=_floor(lim.hour * self.safety), day=_floor(lim.day * self.safety))

    def caps(self, limit_class: str, lane: str, overrides: Mapping | None = None) -> Limits:
        """How far the shared counts may go for a request of this lane (pacing included)."""
        if lane not in self.lane_shares:
            raise ValueError(f"unknown budget lane {lane!r}; one of {', '.join(self.lane_shares)}")
        own = self.limits(limit_class, overrides)
        share = min(1.0, max(0.0, float(self.lane_shares[lane])))
        hour, day = _floor(own.hour * share), _floor(own.day * share)
        if lane == "background" and self.pace_background:
            paced = _floor(day * self.hour_us / self.day_us)
            hour = min(hour, max(1, paced) if day else 0)
        return Limits(hour=hour, day=day)

    # ------------------------------------------------------------------------------------------- keys
    def _key(self, account: str, *parts: object) -> str:
        # One hash tag per scope: every key of an account (or of a key scope) stays together.
        return redis_key(self.namespace, f"{{{account}}}", *parts)

    def _acquire_keys(self, account: str, classes: tuple[str, ...]) -> list[str]:
        keys = [self._key(account, "block"), self._key(account, "deferred")]
        for limit_class in classes:
            keys += [
                self._key(account, limit_class, "log"),
                self._key(account, limit_class, "seq"),
                self._key(account, limit_class, "block"),
            ]
        return keys

    # ------------------------------------------------------------------------------------- acquiring
    def try_acquire(
        self,
        account_key: object,
        limit_class: str = "general",
        lane: str = "background",
        *,
        overrides: Mapping | None = None,
        cost: int = 1,
        also: Sequence[Scope] = (),
    ) -> Acquisition:
        """Take ``cost`` tokens for one request, or say how long until this lane can have them.

        Never blocks and never sleeps. All charged counters (e.g. SMS send and general), both windows and
        every scope (the account, and ``also`` — its credential's key scope) are taken together or not at all.
        """
        return self.acquire([Scope(str(account_key), overrides), *also], limit_class, lane, cost=cost)

    def peek(
        self,
        account_key: object,
        limit_class: str = "general",
        lane: str = "background",
        *,
        overrides: Mapping | None = None,
        also: Sequence[Scope] = (),
    ) -> Acquisition:
        """Like ``try_acquire`` without taking anything: would a request be admitted now?"""
        return self.acquire([Scope(str(account_key), overrides), *also], limit_class, lane, take=False)

    def acquire(
        self, scopes: Sequence[Scope], limit_class: str = "general", lane: str = "background", *, cost: int = 1,
        take: bool = True,
    ) -> Acquisition:  # fmt: skip
        """Take ``cost`` tokens in every one of ``scopes`` at once (or peek, ``take=False``)."""
        if cost < 1:
            raise ValueError("cost must be at least 1")
        if not scopes:
            raise ValueError("a request is charged to at least one scope")
        charged = CHARGED_CLASSES.get(limit_class)
        if charged is None:
            raise ValueError(f"unknown CallRail limit class {limit_class!r}")
        caps = [[self.caps(c, lane, scope.overrides) for c in charged] for scope in scopes]
        if self._use_redis():
            args: list[Any] = [len(scopes), len(charged), cost, self.hour_us, self.day_us, 1 if take else 0]
            keys: list[str] = []
            for scope, scope_caps in zip(scopes, caps, strict=True):
                keys += self._acquire_keys(scope.key, charged)
                for cap in scope_caps:
                    args += [cap.hour, cap.day]
            try:
                reply = self._acquire(keys=keys, args=args)
            except (redis.RedisError, OSError) as exc:
                self._enter_degraded(exc)
            else:
                granted, wait_us, now_us, limiter = (int(x) for x in reply[:4])
                counts = [int(x) for x in reply[4:]]
                seen_at = _LocalBudget.now_us()
                for s, scope in enumerate(scopes):
                    for i, c in enumerate(charged):
                        at = 2 * (s * len(charged) + i)
                        self._last_seen[(scope.key, c)] = (counts[at], counts[at + 1], seen_at)
                return Acquisition(
                    granted=bool(granted),
                    retry_after=wait_us / US,
                    limit_class=limit_class,
                    lane=lane,
                    hour_used=counts[0],
                    day_used=counts[1],
                    decided_at=now_us / US,
                    limited_by=scopes[limiter].key if limiter >= 0 else None,
                )
        local_scopes = [
            (scope.key, [(c, *self._local_caps(scope.key, c, cap)) for c, cap in zip(charged, scope_caps, strict=True)])
            for scope, scope_caps in zip(scopes, caps, strict=True)
        ]
        granted, wait_us, counts, now_us, limiter = self._local.acquire(
            local_scopes, cost, self.hour_us, self.day_us, take
        )
        return Acquisition(
            granted=granted,
            retry_after=wait_us / US,
            limit_class=limit_class,
            lane=lane,
            hour_used=counts[0],
            day_used=counts[1],
            degraded=True,
            decided_at=now_us / US,
            limited_by=scopes[limiter].key if limiter >= 0 else None,
        )

    def _local_caps(self, account: str, limit_class: str, cap: Limits) -> tuple[int, int]:
        """A conservative slice for one process: what Redis last showed left, divided among processes."""
        hour_left, day_left = cap.hour, cap.day
        seen = self._last_seen.get((account, limit_class))
        if seen is not None:
            hour_used, day_used, seen_at = seen
            age = _LocalBudget.now_us() - seen_at
            if age < self.hour_us:
                hour_left -= hour_used
            if age < self.day_us:
                day_left -= day_used
        procs = self.fallback_processes
        return max(0, hour_left) // procs, max(0, day_left) // procs

    # ------------------------------------------------------------------------------------- degraded mode
    @property
    def degraded(self) -> bool:
        return self._degraded_since is not None

    def _use_redis(self) -> bool:
        if self._degraded_since is None:
            return True
        if time.monotonic() < self._next_probe:
            return False
        return self._recover()

    def _enter_degraded(self, exc: BaseException) -> None:
        with self._state_lock:
            self._next_probe = time.monotonic() + self.redis_retry_seconds
            if self._degraded_since is None:
                self._degraded_since = time.time()
                logger.warning(
                    "CallRail budget DEGRADED: Redis unreachable (%s); using a local budget of 1/%d of each "
                    "limit in process %d until Redis answers again",
                    exc,
                    self.fallback_processes,
                    os.getpid(),
                )

    def _recover(self) -> bool:
        """Probe Redis; if it answers, write what was granted locally into the shared windows first."""
        with self._state_lock:
            if self._degraded_since is None:
                return True
            with self._local.lock:
                pending = list(self._local.granted)
                blocks = dict(self._local.blocks)
            try:
                self.redis.ping()
                merged = self._merge_local(pending, blocks)
            except (redis.RedisError, OSError):
                self._next_probe = time.monotonic() + self.redis_retry_seconds
                return False
            with self._local.lock:
                del self._local.granted[: len(pending)]
            since, self._degraded_since = self._degraded_since, None
        logger.warning(
            "CallRail budget recovered: Redis answers again after %.1f s degraded; %d locally granted "
            "requests written to the shared windows",
            time.time() - since,
            merged,
        )
        return True

    def _merge_local(self, pending: list[tuple[str, str, int]], blocks: dict[tuple[str, str], int]) -> int:
        """Add what this process granted while degraded to the shared windows, at Redis time."""
        if not pending and not blocks:
            return 0
        secs, micros = self.redis.time()
        offset = secs * US + micros - _LocalBudget.now_us()
        pipe = self.redis.pipeline(transaction=False)
        token = f"local-{os.getpid()}-{random.getrandbits(32):08x}"
        for n, (account, limit_class, at_us) in enumerate(pending):
            pipe.zadd(self._key(account, limit_class, "log"), {f"{token}-{n}": at_us + offset})
        for (account, scope), until in blocks.items():
            key = self._key(account, "block") if scope == "*" else self._key(account, scope, "block")
            remaining_ms = (until - _LocalBudget.now_us()) // 1000
            if remaining_ms > 0:
                pipe.set(key, str(until + offset), px=remaining_ms + 1000, nx=True)
        pipe.execute()
        return len(pending)

    # ------------------------------------------------------------------------------------------- 429
    def mark_exhausted(
        self,
        account_key: object,
        limit_class: str = "general",
        *,
        retry_after: float | None = None,
        also: Sequence[Scope] = (),
    ) -> float:
        """CallRail answered 429: stop every worker of the account (or class) until the reset.

        ``retry_after`` is CallRail's ``Retry-After`` in real seconds if it sent one. Without it the block
        lasts until the next (scaled) hour boundary, at least ``min_block_seconds`` (scaled), plus jitter;
        a repeated 429 soon after a block ended lasts until the next day boundary. Returns the seconds
        blocked from now.

        ``also`` are the other scopes the request was charged to (its credential's key scope): CallRail's 429
        does not say whether the account's limit or the key's was reached, so each of them is blocked by the
        same rule, and every account of that key holds back too.
        """
        blocked = self._block(str(account_key), limit_class, retry_after)
        for scope in also:
            blocked = max(blocked, self._block(scope.key, limit_class, retry_after))
        return blocked

    def _block(self, account: str, limit_class: str, retry_after: float | None) -> float:
        if limit_class not in CHARGED_CLASSES:
            raise ValueError(f"unknown CallRail limit class {limit_class!r}")
        # CallRail answers 429 on every endpoint once the general limit is reached: block the whole account.
        scope = "*" if limit_class == "general" else limit_class
        block_key = self._key(account, "block") if scope == "*" else self._key(account, scope, "block")
        retry_us = -1 if retry_after is None else max(0, round(retry_after * US))
        min_block_us = round(self.min_block_seconds * US / self.time_scale)
        jitter_us = round(random.uniform(0, self.block_jitter_seconds) * US / self.time_scale)  # noqa: S311
        if self._use_redis():
            try:
                until, now, escalated = self._exhausted(
                    keys=[block_key, self._key(account, "events"), self._key(account, "meta")],
                    args=[retry_us, min_block_us, jitter_us, self.hour_us, self.day_us, scope],
                )
            except (redis.RedisError, OSError) as exc:
                self._enter_degraded(exc)
            else:
                seconds = (int(until) - int(now)) / US
                logger.warning(
                    "CallRail answered 429 for %s (%s): every worker of %s held back for %.1f s%s",
                    _scope_name(account),
                    limit_class,
                    "it" if scope == "*" else f"class {scope}",
                    seconds,
                    " (repeated: daily limit assumed)" if int(escalated) else "",
                )
                return seconds
        now = _LocalBudget.now_us()
        if retry_us >= 0:
            until = now + retry_us
        else:
            boundary = (now // self.hour_us + 1) * self.hour_us
            until = max(boundary, now + min_block_us) + jitter_us
        self._local.block(account, scope, until)
        logger.warning(
            "CallRail answered 429 for %s (%s) while the budget is degraded: this process holds back "
            "for %.1f s",
            _scope_name(account),
            limit_class,
            (until - now) / US,
        )
        return (until - now) / US

    # ---------------------------------------------------------------------------------------- status
    def status(self, account_key: object, *, overrides: Mapping | None = None) -> BudgetStatus:
        """Spending of one account for display. Read-only; consistent enough for a gauge, not atomic."""
        account = str(account_key)
        if self._use_redis():
            try:
                result = self._redis_status(account, overrides)
            except (redis.RedisError, OSError) as exc:
                self._enter_degraded(exc)
            else:
                return result
        return self._local_status(account, overrides)

    def _class_status(self, limit_class: str, overrides: Mapping | None) -> ClassStatus:
        callrail = self.callrail_limits(limit_class, overrides)
        own = self.limits(limit_class, overrides)
        bg = self.caps(limit_class, "background", overrides)
        return ClassStatus(
            limit_class=limit_class,
            callrail_hour_limit=callrail.hour,
            callrail_day_limit=callrail.day,
            hour_limit=own.hour,
            day_limit=own.day,
            hour_spent=0,
            day_spent=0,
            background_hour_cap=bg.hour,
            background_day_cap=bg.day,
            held_back_hour=max(0, own.hour - bg.hour),
            held_back_day=max(0, own.day - bg.day),
        )

    def statuses(self, items: Sequence[tuple[object, Mapping | None]]) -> list[BudgetStatus]:
        """``status`` of many scopes (``(account_key, overrides)`` pairs) at once: one clock read and one
        pipeline for all of them (a page or a scrape of a thousand accounts is a few round trips, not five per
        account), plus a peek only for a class a background request would have to wait for."""
        if not items:
            return []
        if self._use_redis():
            try:
                secs, micros = self.redis.time()
                now = secs * US + micros
                pipe = self.redis.pipeline(transaction=False)
                for account, _ in items:
                    self._queue_status_reads(pipe, str(account), now)
                replies = pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self._enter_degraded(exc)
            else:
                templates: dict[str, ClassStatus] = {}  # the limits of a scope without overrides, worked out once
                return [
                    self._status_from_replies(str(account), overrides, now, reply, templates=templates)
                    for (account, overrides), reply in zip(items, replies, strict=True)
                ]
        return [self._local_status(str(account), overrides) for account, overrides in items]

    def _redis_status(self, account: str, overrides: Mapping | None) -> BudgetStatus:
        secs, micros = self.redis.time()
        now = secs * US + micros
        pipe = self.redis.pipeline(transaction=False)
        self._queue_status_reads(pipe, account, now)
        return self._status_from_replies(account, overrides, now, pipe.execute()[0])

    def _queue_status_reads(self, pipe: Any, account: str, now: int) -> None:
        scope = self._key(account)  # every key of the scope below it (``_key``), the prefix worked out once
        keys = []
        for limit_class in LIMIT_CLASSES:
            keys += [f"{scope}:{limit_class}:log", f"{scope}:{limit_class}:block"]
        keys += [f"{scope}:block", f"{scope}:events", f"{scope}:meta", f"{scope}:deferred"]
        self._status_reads(keys=keys, args=[f"({now - self.hour_us}", f"({now - self.day_us}"], client=pipe)

    def _status_from_replies(
        self, account: str, overrides: Mapping | None, now: int, replies: list, *,
        templates: dict[str, ClassStatus] | None = None,
    ) -> BudgetStatus:  # fmt: skip
        classes = []
        for i, limit_class in enumerate(LIMIT_CLASSES):
            hn, dn, oldest_h, oldest_d, newest, blk = replies[6 * i : 6 * i + 6]
            if templates is None or overrides:
                cls = self._class_status(limit_class, overrides)
            else:
                if limit_class not in templates:
                    templates[limit_class] = self._class_status(limit_class, None)
                cls = copy.copy(templates[limit_class])  # a shallow copy: dataclasses.replace costs 5x
            cls.hour_spent, cls.day_spent = int(hn), int(dn)
            if oldest_h:
                cls.hour_frees_at = _dt(float(oldest_h) + self.hour_us)
                cls.hour_clear_at = _dt(float(newest) + self.hour_us)
            if oldest_d:
                cls.day_frees_at = _dt(float(oldest_d) + self.day_us)
                cls.day_clear_at = _dt(float(newest) + self.day_us)
            if blk is not None and int(blk) > now:
                cls.blocked_until = _dt(int(blk))
            classes.append(cls)
        account_block, events, last_429, deferred = replies[6 * len(LIMIT_CLASSES) :]
        blocked = account_block is not None and int(account_block) > now
        by_class = {cls.limit_class: cls for cls in classes}
        for cls in classes:
            # A background request would be admitted (what the acquire script decides, read from the counts
            # above): no block and room in every class it is charged to. Otherwise the script says how long.
            charged = [by_class[c] for c in CHARGED_CLASSES[cls.limit_class]]
            if not blocked and all(
                c.blocked_until is None
                and c.hour_spent + 1 <= c.background_hour_cap
                and c.day_spent + 1 <= c.background_day_cap
                for c in charged
            ):
                continue
            peek = self.peek(account, cls.limit_class, "background", overrides=overrides)
            if not peek.granted:
                cls.background_resumes_at = _dt(now + peek.retry_after * US)
        return BudgetStatus(
            account_key=account,
            classes=classes,
            rate_limited_day=int(events),
            last_rate_limited_at=_dt(int(last_429)) if last_429 else None,
            blocked_until=_dt(int(account_block)) if blocked else None,
            deferred=int(deferred or 0),
            time_scale=self.time_scale,
            safety=self.safety,
            checked_at=_dt(now),
        )

    def _local_status(self, account: str, overrides: Mapping | None) -> BudgetStatus:
        now = _LocalBudget.now_us()
        classes = []
        for limit_class in LIMIT_CLASSES:
            cls = self._class_status(limit_class, overrides)
            hn, dn, log = self._local.window_counts(account, limit_class, self.hour_us, self.day_us)
            cls.hour_spent, cls.day_spent = hn, dn
            if log:
                cls.day_frees_at, cls.day_clear_at = _dt(log[0] + self.day_us), _dt(log[-1] + self.day_us)
            in_hour = [t for t in log if t > now - self.hour_us]
            if in_hour:
                cls.hour_frees_at, cls.hour_clear_at = _dt(in_hour[0] + self.hour_us), _dt(in_hour[-1] + self.hour_us)
            blk = self._local.blocks.get((account, limit_class), 0)
            cls.blocked_until = _dt(blk) if blk > now else None
            peek = self.peek(account, limit_class, "background", overrides=overrides)
            if not peek.granted:
                cls.background_resumes_at = _dt(now + peek.retry_after * US)
            classes.append(cls)
        blk = self._local.blocks.get((account, "*"), 0)
        return BudgetStatus(
            account_key=account,
            classes=classes,
            blocked_until=_dt(blk) if blk > now else None,
            deferred=self._local.deferred.get(account, 0),
            degraded=True,
            degraded_since=datetime.fromtimestamp(self._degraded_since, tz=UTC) if self._degraded_since else None,
            backend="local",
            time_scale=self.time_scale,
            safety=self.safety,
            checked_at=_dt(now),
        )

    # ------------------------------------------------------------------------------------------ admin
    def reset(self, account_key: object) -> None:
        """Forget an account's windows, blocks and events (tests, or an operator after a key change)."""
        account = str(account_key)
        keys = [self._key(account, part) for part in ("block", "deferred", "events", "meta")]
        for limit_class in LIMIT_CLASSES:
            keys += [self._key(account, limit_class, part) for part in ("log", "seq", "block")]
        self.redis.delete(*keys)
        with self._local.lock:
            for store in (self._local.logs, self._local.blocks):
                for key in [k for k in store if k[0] == account]:
                    del store[key]


# ------------------------------------------------------------------------------------- module helpers
_default: dict[int, Budget] = {}  # pid -> the process's Budget (a forked child builds its own)


def get_budget() -> Budget:
    """The process's Budget, configured from settings."""
    pid = os.getpid()
    budget = _default.get(pid)
    if budget is None:
        _default.clear()
        budget = _default[pid] = Budget(namespace=getattr(settings, "CALLRAIL_BUDGET_NAMESPACE", "callrail:budget"))
    return budget


def _scope_name(key: str) -> str:
    return f"key scope {key.removeprefix('key:')}" if key.startswith("key:") else f"account {key}"


def try_acquire(
    account_key: object,
    limit_class: str = "general",
    lane: str = "background",
    *,
    overrides: Mapping | None = None,
    cost: int = 1,
    also: Sequence[Scope] = (),
) -> Acquisition:
    return get_budget().try_acquire(account_key, limit_class, lane, overrides=overrides, cost=cost, also=also)


def mark_exhausted(
    account_key: object, limit_class: str = "general", *, retry_after: float | None = None, also: Sequence[Scope] = ()
) -> float:
    return get_budget().mark_exhausted(account_key, limit_class, retry_after=retry_after, also=also)


def budget_status(account_key: object, *, overrides: Mapping | None = None) -> BudgetStatus:
    return get_budget().status(account_key, overrides=overrides)


def budget_status_for_account(account: Any, *, key_statuses: dict[str, BudgetStatus] | None = None) -> BudgetStatus:
    """``budget_status`` for a ClientAccount (duck-typed: ``pk``, ``budget_overrides`` and optionally
    ``budget_key_scope``), with its credential's key-level budget in ``.key`` when that limit is on.
    ``key_statuses`` (scope key -> status) lets a page of many accounts read each key's budget once."""
    status = budget_status(account.pk, overrides=getattr(account, "budget_overrides", None) or None)
    status.label = str(getattr(account, "name", "") or "")
    key_scope = getattr(account, "budget_key_scope", None)
    if key_scope is not None:
        cache = key_statuses if key_statuses is not None else {}
        if key_scope.key not in cache:
            cache[key_scope.key] = budget_status_for_scope(key_scope)
        status.key = cache[key_scope.key]
    return status


def budget_statuses_for_accounts(accounts: Sequence[Any]) -> dict[Any, BudgetStatus]:
    """``budget_status_for_account`` of many accounts in one batch (``Budget.statuses``): every account and
    every credential's key budget read once, in one pipeline, whatever the number of accounts."""
    items = [(account.pk, getattr(account, "budget_overrides", None) or None) for account in accounts]
    scopes: dict[str, Scope] = {}
    for account in accounts:
        scope = getattr(account, "budget_key_scope", None)
        if scope is not None:
            scopes.setdefault(scope.key, scope)
    statuses = get_budget().statuses([*items, *((scope.key, scope.overrides or None) for scope in scopes.values())])
    key_statuses: dict[str, BudgetStatus] = {}
    for scope, status in zip(scopes.values(), statuses[len(items) :], strict=True):
        status.label = scope.label
        key_statuses[scope.key] = status
    out: dict[Any, BudgetStatus] = {}
    for account, status in zip(accounts, statuses[: len(items)], strict=True):
        status.label = str(getattr(account, "name", "") or "")
        scope = getattr(account, "budget_key_scope", None)
        status.key = key_statuses[scope.key] if scope is not None else None
        out[account.pk] = status
    return out


def budget_status_for_scope(scope: Scope) -> BudgetStatus:
    """The spending of one scope (a credential's key-level windows), labelled for display."""
    status = budget_status(scope.key, overrides=scope.overrides or None)
    status.label = scope.label
    return status
