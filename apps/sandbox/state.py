"""The sandbox's state: accounts and their data, keys, rate limits, faults, webhooks — all in memory.

``SandboxState`` is the in-process handle a test or the demo holds (``LiveSandbox.state``). Every read or
write of account data happens under ``state.lock``; the WSGI app takes it for each request.
"""

from __future__ import annotations

import bisect
import random
import string
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import keys
from . import seed as seeding
from .context import Ctx
from .faults import FaultInjector
from .ratelimit import CLASSES, RateLimiter, max_in_window
from .store import AccountData, Call
from .webhooks import WebhookDispatcher, encode


@dataclass
class RequestRecord:
    at: float  # wall clock (time.time())
    clock: float  # sandbox clock (rate-limit time)
    account_id: str | None
    method: str
    path: str
    status: int
    rate_class: str | None
    counted: bool  # whether it used up allowance

    def describe(self) -> dict:
        return {
            "at": self.at,
            "clock": round(self.clock, 3),
            "account_id": self.account_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "rate_class": self.rate_class,
            "counted": self.counted,
        }


class SandboxState:
    """All the sandbox knows. Create with a seed and profile; ``reset()`` to start over."""

    def __init__(
        self,
        seed: int = 1,
        profile: str = "demo",
        *,
        time_scale: float = 1.0,
        calls_per_account: int | None = None,
        history_days: int | None = None,
        accounts: int | None = None,
        first_account_calls: int | None = None,
        anchor: datetime | None = None,
        limits: dict | None = None,
        public_url: str | None = None,
        webhook_url: str | None = None,
        request_log_size: int = 200_000,
    ):
        self.lock = threading.RLock()
        self._log_lock = threading.Lock()  # the request log is written outside ``lock``
        self.public_url = public_url
        self.base_url = public_url or "http://127.0.0.1"
        self.ratelimiter = RateLimiter(time_scale=time_scale, limits=limits)
        self.faults = FaultInjector()
        self.webhooks = WebhookDispatcher()
        self.requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self.events: deque[dict] = deque(maxlen=5000)
        self.accounts: dict[str, AccountData] = {}
        self.token_keys: dict[str, dict[str, str]] = {}
        self.gateway_keys: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self.used_numbers: set[str] = set()
        self.synths: dict[str, seeding.Synth] = {}
        self.call_seq = 0
        self._default_limits = limits
        self._default_time_scale = time_scale
        self.reset(
            seed=seed,
            profile=profile,
            calls_per_account=calls_per_account,
            history_days=history_days,
            accounts=accounts,
            first_account_calls=first_account_calls,
            anchor=anchor,
            webhook_url=webhook_url,
        )

    # lifecycle ---------------------------------------------------------------------------------------------
    def reset(
        self,
        seed: int | None = None,
        profile: str | None = None,
        *,
        calls_per_account: int | None = None,
        history_days: int | None = None,
        accounts: int | None = None,
        first_account_calls: int | None = None,
        anchor: datetime | None = None,
        webhook_url: str | None = None,
        keep_limits: bool = False,
    ) -> dict:
        """Throw everything away and seed again. Also clears usage, faults, webhook deliveries and the logs.

        ``seed`` and ``profile`` default to the current ones; the other options default to the profile's.
        Rate limits and the time scale go back to those the state was created with unless ``keep_limits``.
        """
        previous = getattr(self, "options", None)
        if seed is None:
            seed = previous.seed if previous else 1
        profile = profile or (previous.profile if previous else "demo")
        if profile not in seeding.PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(seeding.PROFILES)}")
        options = seeding.SeedOptions(
            seed=int(seed),
            profile=profile,
            calls_per_account=calls_per_account,
            history_days=history_days,
            accounts=accounts,
            first_account_calls=first_account_calls,
            anchor=anchor,
        )
        started = time.perf_counter()
        with self.lock:
            self.webhooks.clear()
            self.options = options
            self.anchor = (anchor or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)).astimezone(UTC)
            self.rng = random.Random(f"callrail-sandbox-runtime:{seed}")
            self.counters: dict[str, int] = {"tag": 7886700, "notification": 100, "integration": 1,
                                             "message": 23456, "company_numeric": 183570800,
                                             "form_numeric": 512004300, "caller_id": 12, "integration_trigger": 20}
            self.accounts.clear()
            self.used_numbers.clear()
            with self._log_lock:
                self.requests.clear()
            self.events.clear()
            self.call_seq = 0
            self.synths = seeding.populate(self, options, self.anchor)
            keys.seed(self)  # keys reaching several accounts, gateway connections (keys.py)
            self.call_seq = max((s.seq for s in self.synths.values()), default=0)
            self.faults.reset()
            if not keep_limits:
                self.ratelimiter = RateLimiter(time_scale=self._default_time_scale, limits=self._default_limits)
            else:
                self.ratelimiter.reset_usage()
            if webhook_url:
                self.configure_webhooks(webhook_url)
            self.seeded_in = time.perf_counter() - started
        return self.info()

    def close(self) -> None:
        self.webhooks.stop()

    # ids and numbers ----------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def new_id(self, prefix: str) -> str:
        return prefix + self.new_hex(32)

    def next_int(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1 + (self.rng.randint(0, 4) if kind == "tag" else 0)
        return self.counters[kind]

    def new_short_id(self, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        alphabet = string.ascii_letters + string.digits
        while True:
            candidate = "".join(rng.choice(alphabet) for _ in range(5))
            if not any(candidate in acc.text_conversations for acc in self.accounts.values()):
                return candidate

    def allocate_number(self, area_code: str | None, toll_free: bool = False) -> str:
        area = area_code or ("888" if toll_free else "404")
        for _ in range(10000):
            number = f"+1{area}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}"
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number
        raise RuntimeError("no numbers left")  # pragma: no cover - 8 million per area code

    # contexts -------------------------------------------------------------------------------------------------
    def system_ctx(self, acc: AccountData, now: datetime | None = None) -> Ctx:
        """A context for work that does not come from a request (seeding, activity, webhooks)."""
        base = self.base_url
        return Ctx(
            state=self,
            acc=acc,
            now=now or self.now(),
            base_url=base,
            api_root=f"{base}/v3",
            request_url=f"{base}/v3/a/{acc.id}",
        )

    # records created by API calls and by activity --------------------------------------------------------------
    def new_call(self, acc: AccountData, *, start: datetime, **fields: Any) -> Call:
        self.call_seq += 1
        call = Call(
            id=self.new_id("CAL"),
            seq=self.call_seq,
            start=start,
            start_ts=round(start.timestamp(), 3),
            created=start,
            customer_country="US",
            spam=False,
            in_progress=fields.get("direction") == "outbound",
            voicemail=False,
            person_id=self.new_id("PER"),
            **fields,
        )
        key = (call.company_id, call.customer_phone_number)
        call.prior_calls = acc.caller_counts[key]
        call.first_call = call.prior_calls == 0
        acc.caller_counts[key] += 1
        acc.calls.add(call)
        return call

    def add_call(self, acc: AccountData, call: Call) -> Call:
        self.call_seq += 1
        call.seq = self.call_seq
        key = (call.company_id, call.customer_phone_number)
        call.prior_calls = acc.caller_counts[key]
        call.first_call = call.prior_calls == 0
        acc.caller_counts[key] += 1
        acc.calls.add(call)
        return call

    def new_form_submission(
        self,
        acc: AccountData,
        company_id: str,
        form_data: dict,
        *,
        submitted: datetime,
        rng: random.Random | None = None,
        **values: Any,
    ) -> dict:
        rng = rng or self.rng
        ignored = acc.ignored_form_fields.get(company_id) or ()
        form_data = {k: v for k, v in form_data.items() if k not in ignored}
        phone = None
        for value in form_data.values():
            if isinstance(value, str | int):
                from .fmt import e164

                phone = e164(value)
                if phone:
                    break
        name = form_data.get("name") or " ".join(
            str(form_data[k]) for k in ("first_name", "last_name") if form_data.get(k)
        )
        email = next((v for k, v in form_data.items() if isinstance(v, str) and "@" in v and "mail" in k.lower()),
                     None)
        existing = acc.form_people.get((company_id, phone)) if phone else None
        person_id = "anonymous"
        if phone:
            person_id = existing or f"PER{rng.getrandbits(128):032x}"
            acc.form_people[(company_id, phone)] = person_id
        form = {
            "id": f"FOR{rng.getrandbits(128):032x}",
            "_numeric_id": self.next_int("form_numeric"),  # the legacy id its webhook carries
            "company_id": company_id,
            "person_id": person_id,
            "form_data": dict(form_data),
            "form_url": values.get("form_url"),
            "landing_page_url": values.get("landing_page_url"),
            "referrer": values.get("referrer"),
            "referring_url": values.get("referring_url"),
            "submitted": submitted,
            "first_form": not existing,
            "customer_phone_number": phone,
            "customer_name": name or None,
            "customer_email": email,
            "source": values.get("source") or "Direct",
            "keywords": values.get("keywords"),
            "campaign": values.get("campaign"),
            "medium": values.get("medium") or "direct",
            "lead_status": None,
            "value": None,
            "note": None,
            "tag_ids": [],
            "utm_source": None,
            "utm_medium": None,
            "utm_campaign": values.get("campaign"),
            "form_name": values.get("form_name"),
        }
        acc.form_submissions[form["id"]] = form
        return form

    def add_text_message(
        self,
        acc: AccountData,
        company_id: str,
        tracker: dict,
        number: str,
        customer: str,
        content: str,
        direction: str,
        when: datetime,
        *,
        user_id: str | None = None,
        customer_name: str | None = None,
        rng: random.Random | None = None,
    ) -> dict:
        rng = rng or self.rng
        conv = next(
            (c for c in acc.text_conversations.values()
             if c["company_id"] == company_id and c["customer_phone_number"] == customer),
            None,
        )
        if conv is None:
            conv = {
                "id": self.new_short_id(rng),
                "company_id": company_id,
                "initial_tracker_id": tracker["id"],
                "current_tracker_id": tracker["id"],
                "customer_name": customer_name,
                "customer_phone_number": customer,
                "initial_tracking_number": number,
                "current_tracking_number": number,
                "state": "active",
                "lead_status": None,
                "person_id": f"PER{rng.getrandbits(128):032x}",
                "messages": [],
            }
            acc.text_conversations[conv["id"]] = conv
        newest = not conv["messages"] or when >= conv["messages"][-1]["created"]
        if newest:  # the conversation's current tracker is the one its latest message used
            conv["current_tracker_id"] = tracker["id"]
            conv["current_tracking_number"] = number
        conv["state"] = "active"
        self.counters["message"] += 1 + rng.randint(0, 40)
        message = {
            "id": self.counters["message"],
            "resource_id": f"SCI{rng.getrandbits(128):032x}",
            "content": content,
            "created": when,
            "status": "sent" if direction == "outgoing" else None,
            "direction": direction,
            "user_id": user_id,
        }
        # kept oldest first: the API lists them newest first and last_message_at is the newest one's time
        times = [m["created"] for m in conv["messages"]]
        conv["messages"].insert(bisect.bisect_right(times, when), message)
        return conv

    # webhooks -------------------------------------------------------------------------------------------------
    def emit(self, acc: AccountData, company_id: str, event: str, payload: dict, call: Call | None = None) -> int:
        """Send ``event`` to every URL the company's active Webhooks integration lists for it (for a ``call``
        event, only if the integration's trigger lets that call through)."""
        from .resources import trigger_allows

        company = acc.companies.get(company_id)
        self.events.append({"event": event, "account_id": acc.id, "company_id": company_id,
                            "id": payload.get("id"), "at": time.time()})
        if company is None:
            return 0
        sent = 0
        body = None
        for integration in acc.integrations.values():
            if (integration["_company_id"] != company_id or integration["type"] != "Webhooks"
                    or integration["state"] != "active"):
                continue
            if call is not None and not trigger_allows(acc, integration, call):
                continue
            for url in integration["config"].get(event, []):
                body = body or encode(payload)
                self.webhooks.enqueue(event, url, acc.id, company_id, body, company["_signing_key"])
                sent += 1
        return sent

    def configure_webhooks(
        self, url: str, account_id: str | None = None, company_id: str | None = None,
        events: list[str] | None = None,
    ) -> list[dict]:
        """Create (or update) the Webhooks integration of each chosen company to post ``events`` to ``url``.

        The same as a client creating the integration through the API; returns the integrations with their
        signing keys.
        """
        from .fmt import is_url
        from .resources import WEBHOOK_KEYS

        if not is_url(url):
            raise ValueError("url must be an http(s) URL")
        events = list(events or WEBHOOK_KEYS)
        unknown = [e for e in events if e not in WEBHOOK_KEYS]
        if unknown:
            raise ValueError(f"unknown webhook events: {', '.join(unknown)}")
        out = []
        with self.lock:
            for acc in self.accounts.values():
                if account_id and acc.id != account_id:
                    continue
                for company in acc.companies.values():
                    if company_id and company["id"] != company_id:
                        continue
                    integration = next((i for i in acc.integrations.values()
                                        if i["_company_id"] == company["id"] and i["type"] == "Webhooks"), None)
                    if integration is None:
                        integration = {"id": self.next_int("integration"), "type": "Webhooks", "state": "active",
                                       "config": {}, "_company_id": company["id"]}
                        acc.integrations[integration["id"]] = integration
                    integration["state"] = "active"
                    for event in events:
                        urls = integration["config"].setdefault(event, [])
                        if url not in urls:
                            urls.append(url)
                    out.append({"account_id": acc.id, "company_id": company["id"], "integration_id": integration["id"],
                                "signing_key": company["_signing_key"]})
        return out

    # rate limits and the request log ----------------------------------------------------------------------------
    def record_request(self, account_id: str | None, method: str, path: str, status: int,
                       rate_class: str | None, counted: bool) -> None:
        record = RequestRecord(time.time(), self.ratelimiter.clock(), account_id, method, path, status, rate_class,
                               counted)
        with self._log_lock:
            self.requests.append(record)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self.requests.clear()

    def _log_snapshot(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self.requests)

    def usage(self, account_id: str | None = None) -> dict:
        """Per account and rate class: requests in the current hour/day window, limits, accepted and refused."""
        ids = [account_id] if account_id else list(self.accounts)
        log = self._log_snapshot()
        out = {}
        for acc_id in ids:
            usage = self.ratelimiter.usage(acc_id)
            for rate_class in CLASSES:
                times = [r.clock for r in log if r.account_id == acc_id and r.counted
                         and r.rate_class == rate_class]
                usage[rate_class]["max_per_hour"] = max_in_window(times, 3600.0)
                usage[rate_class]["max_per_day"] = max_in_window(times, 86400.0)
            out[acc_id] = usage
        return out

    def request_log(self, account_id: str | None = None, since: float | None = None, limit: int | None = None):
        records = [r for r in self._log_snapshot()
                   if (account_id is None or r.account_id == account_id) and (since is None or r.at >= since)]
        if limit is not None:
            records = records[-limit:]
        return [r.describe() for r in records]

    # reading state for assertions ------------------------------------------------------------------------------
    def account(self, account_id: str) -> AccountData:
        return self.accounts[account_id]

    def info(self) -> dict:
        with self.lock:
            return {
                "seed": self.options.seed,
                "profile": self.options.profile,
                "anchor": self.anchor.isoformat(),
                "seeded_in_seconds": round(getattr(self, "seeded_in", 0.0), 4),
                "accounts": [
                    {
                        "id": acc.id,
                        "numeric_id": acc.numeric_id,
                        "name": acc.name,
                        "time_zone": acc.time_zone,
                        "counts": self.counts(acc.id),
                    }
                    for acc in self.accounts.values()
                ],
                "keys": {
                    "token": {key: list(grants) for key, grants in self.token_keys.items()},
                    "gateway": {key: [{"connection_id": c, "accounts": list(g)} for c, g in conns]
                                for key, conns in self.gateway_keys.items()},
                },
                "rate_limits": self.ratelimiter.describe(),
                "faults": self.faults.describe(),
            }

    def counts(self, account_id: str) -> dict[str, int]:
        acc = self.accounts[account_id]
        return {
            "companies": len(acc.companies),
            "trackers": len(acc.trackers),
            "users": len(acc.users),
            "tags": len(acc.tags),
            "notifications": len(acc.notifications),
            "summary_emails": len(acc.summary_emails),
            "integrations": len(acc.integrations),
            "caller_ids": len(acc.caller_ids),
            "integration_triggers": len(acc.integration_triggers),
            "calls": len(acc.calls),
            "calls_including_spam": len(acc.calls.by_id),
            "form_submissions": len(acc.form_submissions),
            "text_conversations": len(acc.text_conversations),
            "deleted_calls": len(acc.deleted_call_ids),
        }

    def generate_activity(self, **kwargs: Any) -> dict:
        from .activity import generate

        with self.lock:
            return generate(self, **kwargs)
