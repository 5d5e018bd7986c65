"""The CallRail webhook events the portal receives (shared/callrail-docs/001_…txt, "Webhooks").

Each event has a slug (its place in the receiving URL: a call payload alone does not say which event sent
it), the key of the Webhooks integration config that lists its URLs, and the mirrored resource it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    slug: str
    label: str
    config_key: str | None  # None: not in the documented integration config (set up in CallRail's UI)
    resource: str | None  # the mirrored resource it updates; None: nothing is mirrored
    #: the stage of a call the event reports: routing (0) < routed (1) < finished (2). Finished deliveries
    #: (post-call, call modified) cannot be ordered by their stage: a Call Modified may be sent before the
    #: post-call, which waits up to 20 minutes for the recording.
    rank: int = 0


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("pre_call", "Pre-call", "pre_call_webhook", "calls", 0),
    EventType("answered_call", "Call routing complete", "answered_call_webhook", "calls", 1),
    EventType("post_call", "Post-call", "post_call_webhook", "calls", 2),
    EventType("updated_call", "Call modified", "updated_call_webhook", "calls", 2),
    EventType("post_outbound_call", "Outbound post-call", "post_outbound_call_webhook", "calls", 2),
    EventType("updated_outbound_call", "Outbound call modified", "updated_outbound_call_webhook", "calls", 2),
    EventType("sms_received", "Text message received", "sms_received_webhook", "text_conversations"),
    EventType("sms_sent", "Text message sent", "sms_sent_webhook", "text_conversations"),
    EventType("form_captured", "Form submission", "form_captured_webhook", "form_submissions"),
    EventType("convert_assist_complete", "Convert Assist complete", None, None),
)
BY_SLUG: dict[str, EventType] = {e.slug: e for e in EVENT_TYPES}
CALL_EVENTS = frozenset(e.slug for e in EVENT_TYPES if e.resource == "calls")
SLUG_PATTERN = "|".join(BY_SLUG)
