"""Sentences for CallRail's structured values: a tracker's source and its call flow drawn as steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .formatting import format_phone
from .labels import label

_ENGINES = {"google": "Google", "bing": "Bing", "yahoo": "Yahoo"}
_SEARCH = {"paid": "paid", "organic": "organic", "all": "paid and organic"}


def source_description(source: Any) -> str:
    """What calls a tracker counts, as CallRail's tracker settings put it."""
    if isinstance(source, str):
        source = {"type": source}
    if not isinstance(source, dict) or not source:
        return "—"
    kind = source.get("type")
    if kind == "search":
        engine = _ENGINES.get(str(source.get("search_engine") or ""), "Any search engine")
        return f"{engine} {_SEARCH.get(str(source.get('search_type') or 'all'), 'search')} search"
    if kind == "web_referrer":
        return f"Visitors referred by {source.get('referrer') or 'another website'}"
    if kind == "landing_url":
        return f"Visitors landing on {source.get('landing') or 'a page'}"
    if kind == "landing_params":
        return f"Visitors whose landing page has {source.get('landing') or 'certain parameters'}"
    if kind:
        return label("source_type", kind)
    # session trackers of old: {"google": ["paid", "organic"], "bing": [...]}
    parts = [f"{_ENGINES.get(k, k.title())} ({', '.join(v)})" for k, v in source.items() if isinstance(v, list)]
    return "Search: " + "; ".join(parts) if parts else "—"


@dataclass
class Step:
    title: str
    details: list[str] = field(default_factory=list)


def call_flow_steps(tracker: Any) -> tuple[list[Step], str]:
    """The tracker's call flow as the steps a caller goes through, and a note for flows built in CallRail."""
    flow = tracker.call_flow if isinstance(tracker.call_flow, dict) else {}
    numbers = [format_phone(n) for n in tracker.tracking_numbers or []]
    dialled = Step("The caller dials a tracking number", [", ".join(numbers)] if numbers else ["(no number yet)"])
    if tracker.type == "session" and numbers:
        dialled.details.append(f"A pool of {len(numbers)} numbers shown to {source_description(tracker.source)}")
    else:
        dialled.details.append(f"Counted as: {source_description(tracker.source)}")
    steps = [dialled]
    if flow.get("type") == "advanced":
        return steps, "This tracker routes calls with an advanced call flow built in CallRail; change it there."
    greeting = flow.get("greeting_text") or ("a recorded greeting" if flow.get("greeting_recording_url") else "")
    if greeting:
        steps.append(Step("The caller hears a greeting", [f"“{greeting}”" if flow.get("greeting_text") else greeting]))
    if flow.get("recording_enabled"):
        steps.append(Step("The call is recorded", ["Recordings play on each call's page"]))
    if tracker.whisper_message:
        steps.append(Step("Whoever answers hears a whisper first", [f"“{tracker.whisper_message}”"]))
    destination = flow.get("destination_number") or tracker.destination_number
    steps.append(Step("The call rings", [format_phone(destination) if destination else "(no destination number)"]))
    if tracker.sms_enabled:
        steps.append(Step("Text messages to these numbers", ["appear under Text conversations"]))
    return steps, ""
