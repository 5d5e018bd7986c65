"""In-memory containers: one ``AccountData`` per CallRail account, calls kept sorted by start time."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Call:
    """One call. A slotted object rather than a dict so that 100,000 of them stay small and fast to build."""

    __slots__ = (
        "agent_id",
        "answered",
        "business_phone_number",
        "call_summary",
        "campaign",
        "company_id",
        "created",
        "customer_city",
        "customer_country",
        "customer_name",
        "customer_phone_number",
        "customer_state",
        "device_type",
        "direction",
        "duration",
        "first_call",
        "id",
        "in_progress",
        "keywords",
        "landing_page_url",
        "lead_status",
        "medium",
        "note",
        "person_id",
        "prior_calls",
        "recording_duration",
        "recording_key",
        "referring_url",
        "sentiment",
        "seq",
        "source",
        "spam",
        "start",
        "start_ts",
        "tag_ids",
        "tracker_id",
        "tracking_phone_number",
        "transcription",
        "value",
        "voicemail",
    )

    def __init__(
        self,
        *,
        agent_id: Any = None,
        answered: Any = None,
        business_phone_number: Any = None,
        call_summary: Any = None,
        campaign: Any = None,
        company_id: Any = None,
        created: Any = None,
        customer_city: Any = None,
        customer_country: Any = None,
        customer_name: Any = None,
        customer_phone_number: Any = None,
        customer_state: Any = None,
        device_type: Any = None,
        direction: Any = None,
        duration: Any = None,
        first_call: Any = None,
        id: Any = None,
        in_progress: Any = None,
        keywords: Any = None,
        landing_page_url: Any = None,
        lead_status: Any = None,
        medium: Any = None,
        note: Any = None,
        person_id: Any = None,
        prior_calls: Any = None,
        recording_duration: Any = None,
        recording_key: Any = None,
        referring_url: Any = None,
        sentiment: Any = None,
        seq: Any = None,
        source: Any = None,
        spam: Any = None,
        start: Any = None,
        start_ts: Any = None,
        tag_ids: Any = None,
        tracker_id: Any = None,
        tracking_phone_number: Any = None,
        transcription: Any = None,
        value: Any = None,
        voicemail: Any = None,
    ):
        self.agent_id = agent_id
        self.answered = answered
        self.business_phone_number = business_phone_number
        self.call_summary = call_summary
        self.campaign = campaign
        self.company_id = company_id
        self.created = created
        self.customer_city = customer_city
        self.customer_country = customer_country
        self.customer_name = customer_name
        self.customer_phone_number = customer_phone_number
        self.customer_state = customer_state
        self.device_type = device_type
        self.direction = direction
        self.duration = duration
        self.first_call = first_call
        self.id = id
        self.in_progress = in_progress
        self.keywords = keywords
        self.landing_page_url = landing_page_url
        self.lead_status = lead_status
        self.medium = medium
        self.note = note
        self.person_id = person_id
        self.prior_calls = prior_calls
        self.recording_duration = recording_duration
        self.recording_key = recording_key
        self.referring_url = referring_url
        self.sentiment = sentiment
        self.seq = seq
        self.source = source
        self.spam = spam
        self.start = start
        self.start_ts = start_ts
        self.tag_ids = tag_ids if tag_ids is not None else []
        self.tracker_id = tracker_id
        self.tracking_phone_number = tracking_phone_number
        self.transcription = transcription
        self.value = value
        self.voicemail = voicemail

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


#: Legacy numeric ids: CallRail's webhooks (and the recording URLs of the API) name a call by a numeric id
#: besides its ``CAL…`` id. Each account's calls get ``LEGACY_CALL_STRIDE * (account index + 1) + seq``:
#: nine digits as in the docs, unique across the sandbox (the public recording assets are found by it).
LEGACY_CALL_STRIDE = 100_000_000


def legacy_number(ident: str, low: int = 100_000_000) -> int:
    """A stable nine-digit numeric id derived from a hex id (trackers' legacy ids in webhook payloads)."""
    digits = "".join(ch for ch in ident if ch in "0123456789abcdef")[:8] or "0"
    return low + int(digits, 16) % 900_000_000


class CallStore:
    """Calls of one account: by id, and (non-spam) in ascending start-time order for bisecting date ranges."""

    def __init__(self) -> None:
        self.by_id: dict[str, Call] = {}
        self.by_seq: dict[int, Call] = {}
        self.ordered: list[Call] = []
        self.keys: list[tuple[float, int]] = []
        self.legacy_base = 0  # set by the seeder: legacy id = legacy_base + seq

    def __len__(self) -> int:
        return len(self.ordered)

    def load_sorted(self, calls: list[Call]) -> None:
        """Bulk load (seeding): ``calls`` must already be in ascending (start_ts, seq) order."""
        self.ordered = list(calls)
        self.keys = [(c.start_ts, c.seq) for c in calls]
        self.by_id = {c.id: c for c in calls}
        self.by_seq = {c.seq: c for c in calls}

    def add(self, call: Call) -> None:
        key = (call.start_ts, call.seq)
        index = bisect.bisect_right(self.keys, key)
        self.keys.insert(index, key)
        self.ordered.insert(index, call)
        self.by_id[call.id] = call
        self.by_seq[call.seq] = call

    def _index(self, call: Call) -> int | None:
        key = (call.start_ts, call.seq)
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.ordered) and self.ordered[index] is call:
            return index
        return None

    def hide(self, call: Call) -> None:
        """Take a call out of the call log (spam) while keeping it reachable by id."""
        index = self._index(call)
        if index is not None:
            del self.ordered[index]
            del self.keys[index]

    def remove(self, call: Call) -> None:
        self.hide(call)
        self.by_id.pop(call.id, None)
        self.by_seq.pop(call.seq, None)

    def legacy_id(self, call: Call) -> int:
        """The call's numeric (legacy) id, as webhooks and recording URLs carry it."""
        return self.legacy_base + call.seq

    def find(self, ident: str) -> Call | None:
        """A call by its ``CAL…`` id or by its numeric legacy id (the API accepts both, as the docs' examples
        ``GET …/calls/444941612.json`` show)."""
        call = self.by_id.get(ident)
        if call is None and ident.isdigit() and self.legacy_base:
            call = self.by_seq.get(int(ident) - self.legacy_base)
        return call

    def between(self, start_ts: float, end_ts: float) -> list[Call]:
        lo = bisect.bisect_left(self.keys, (start_ts, -1))
        hi = bisect.bisect_right(self.keys, (end_ts, float("inf")))
        return self.ordered[lo:hi]

    def __iter__(self) -> Iterator[Call]:
        return iter(self.ordered)


@dataclass
class AccountData:
    """Everything one CallRail account holds."""

    id: str
    numeric_id: int
    name: str
    time_zone: str
    outbound_recording_enabled: bool = True
    hipaa_account: bool = False
    created: datetime | None = None
    companies: dict[str, dict] = field(default_factory=dict)
    trackers: dict[str, dict] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    tags: dict[int, dict] = field(default_factory=dict)
    notifications: dict[int, dict] = field(default_factory=dict)
    summary_emails: dict[str, dict] = field(default_factory=dict)
    integrations: dict[int, dict] = field(default_factory=dict)
    form_submissions: dict[str, dict] = field(default_factory=dict)
    text_conversations: dict[str, dict] = field(default_factory=dict)
    calls: CallStore = field(default_factory=CallStore)
    # (company_id, customer phone) -> number of calls seen, for first_call / prior_calls / total_calls
    caller_counts: Counter = field(default_factory=Counter)
    deleted_call_ids: list[str] = field(default_factory=list)
    caller_ids: dict[int, dict] = field(default_factory=dict)  # outbound caller IDs (``_company_id`` each)
    integration_triggers: dict[int, dict] = field(default_factory=dict)
    ignored_form_fields: dict[str, set] = field(default_factory=dict)  # company id -> field names
    # (company_id, customer phone) -> person id of earlier form submissions
    form_people: dict = field(default_factory=dict)

    def collection(self, name: str) -> dict:
        return getattr(self, name)
