"""Write services of CallRail trackers through the push outbox.

Hazard: updating a tracker's call flow replaces the whole call flow upstream, so the services always build
and store the complete call flow (an edit of the destination merges into the current flow) and the push
sends it whole, never a fragment.
"""

from __future__ import annotations

import re
from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import Tracker

_BASIC_KEYS = ("recording_enabled", "destination_number", "greeting_text", "greeting_recording_url")


def complete_call_flow(fragment: dict[str, Any] | None, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The complete call flow after applying ``fragment`` to ``current`` (validated as CallRail does)."""
    fragment = dict(fragment or {})
    current = dict(current or {})
    flow_type = fragment.get("type") or current.get("type") or "basic"
    if flow_type == "advanced":
        uuid = fragment.get("uuid") or current.get("uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            raise PushRefused("An advanced call flow needs the uuid of an existing call flow.", field="call_flow")
        return {"type": "advanced", "uuid": uuid.strip()}
    if flow_type != "basic":
        raise PushRefused("Call flow type must be basic or advanced.", field="call_flow")
    base = current if current.get("type") == "basic" else {}
    flow = {"type": "basic", **{k: base.get(k) for k in _BASIC_KEYS}}
    flow["recording_enabled"] = bool(flow["recording_enabled"])
    for key in _BASIC_KEYS:
        if key in fragment:
            flow[key] = fragment[key]
    unknown = set(fragment) - {"type", "uuid", *_BASIC_KEYS}
    if unknown:
        raise PushRefused(f"Unknown call flow setting(s): {', '.join(sorted(unknown))}.", field="call_flow")
    if not flow["destination_number"]:
        raise PushRefused("A basic call flow needs a destination number.", field="destination_number")
    flow["destination_number"] = v.phone(flow["destination_number"], "destination_number")
    flow["recording_enabled"] = bool(flow["recording_enabled"])
    if flow["greeting_recording_url"]:
        flow["greeting_recording_url"] = v.url(flow["greeting_recording_url"], "greeting_recording_url")
    return flow


def validate_source(kind: str, source: Any) -> dict[str, Any]:
    if kind == "session":
        if source == "all" or source == {"type": "all"}:
            return {"type": "all"}
        if not isinstance(source, dict) or not source:
            raise PushRefused('A session tracker source is "all" or an object of sources.', field="source")
        return dict(source)
    if isinstance(source, str):
        source = {"type": source}
    if not isinstance(source, dict):
        raise PushRefused("Source must be an object with a type.", field="source")
    source_type = v.choice(source.get("type"), v.SOURCE_TYPES, "source")
    if source_type == "search":
        v.choice(source.get("search_engine"), ("google", "yahoo", "bing", "all"), "search_engine")
        v.choice(source.get("search_type"), ("paid", "organic", "all"), "search_type")
    if source_type in ("landing_url", "landing_params"):
        v.required_text(source.get("landing"), "landing", max_length=1000)
    if source_type == "web_referrer":
        v.required_text(source.get("referrer"), "referrer", max_length=1000)
    return dict(source)


def tracker_create(
    *, account: Any, company: Any, name: str, type: str = "source", source: Any, call_flow: dict | None = None,
    destination_number: str | None = None, area_code: str | None = None, toll_free: bool = False,
    pool_size: int | None = None, whisper_message: str | None = None, sms_enabled: bool = False, actor: Any = None,
) -> Tracker:  # fmt: skip
    """A source tracker (one number) or a session tracker (a pool of ``pool_size`` numbers, 4-50)."""
    name = v.required_text(name, "name")
    v.choice(type, ("source", "session"), "type")
    if company is None:
        raise PushRefused("A tracker needs a company.", field="company")
    v.same_account(account, company, "company")
    if company.status == "disabled":
        raise PushRefused("Trackers cannot be created in a disabled company.", field="company")
    fragment = dict(call_flow or {})
    if destination_number:
        fragment["destination_number"] = destination_number
    flow = complete_call_flow(fragment)
    source = validate_source(type, source)
    if area_code and not re.fullmatch(r"[2-9]\d\d", str(area_code)):
        raise PushRefused(f"{area_code!r} is not an area code.", field="area_code")
    if not area_code and not toll_free:
        raise PushRefused("Choose an area code or a toll-free number.", field="area_code")
    if toll_free and area_code and area_code not in v.TOLL_FREE:
        raise PushRefused(f"{area_code} is not a toll-free area code.", field="area_code")
    if sms_enabled and (toll_free or (area_code in v.TOLL_FREE)):
        raise PushRefused("Text messaging is not supported for toll-free numbers.", field="sms_enabled")
    options: dict[str, Any] = {"number": {k: val for k, val in (("area_code", area_code), ("toll_free", toll_free))
                                          if val}}  # fmt: skip
    if type == "session":
        if not isinstance(pool_size, int) or not 4 <= pool_size <= 50:
            raise PushRefused("A session tracker's pool size is 4 to 50 numbers.", field="pool_size")
        options["pool_size"] = pool_size
    if whisper_message and len(whisper_message) > 500:
        raise PushRefused("The whisper message is longer than 500 characters.", field="whisper_message")
    tracker = Tracker(
        client_account=account, company=company, name=name, type=type, status="active", call_flow=flow,
        destination_number=flow.get("destination_number"), recording_enabled=flow.get("recording_enabled"),
        source=source, source_type=source.get("type"), whisper_message=whisper_message or None,
        sms_enabled=bool(sms_enabled), tracking_numbers=[],
    )  # fmt: skip
    return mirror_row_create(row=tracker, resource="trackers", actor=actor, options=options)


def tracker_update(
    *, tracker: Tracker, name: str | None = None, destination_number: str | None = None,
    call_flow: dict | None = None, source: Any = None, whisper_message: str | None = None,
    sms_enabled: bool | None = None, actor: Any = None,
) -> Tracker:  # fmt: skip
    """Update name, destination / call flow (always stored and sent complete), source, whisper, texting."""
    tracker = Tracker.objects.for_account(tracker.client_account_id).get(pk=tracker.pk)  # merge into the stored flow
    if tracker.status != "active":
        raise PushRefused("Disabled trackers cannot be updated.")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = v.required_text(name, "name")
    if call_flow is not None or destination_number is not None:
        fragment = dict(call_flow or {})
        if destination_number is not None:
            fragment["destination_number"] = destination_number
        values["call_flow"] = complete_call_flow(fragment, tracker.call_flow)
    if source is not None:
        values["source"] = validate_source(tracker.type, source)
    if whisper_message is not None:
        if len(whisper_message) > 500:
            raise PushRefused("The whisper message is longer than 500 characters.", field="whisper_message")
        values["whisper_message"] = whisper_message or None
    if sms_enabled is not None:
        numbers = tracker.tracking_numbers or []
        if sms_enabled and any(str(n)[2:5] in v.TOLL_FREE for n in numbers):
            raise PushRefused("Text messaging is not supported for toll-free numbers.", field="sms_enabled")
        values["sms_enabled"] = bool(sms_enabled)
    row = mirror_row_update(row=tracker, resource="trackers", values=values, actor=actor)
    if "call_flow" in values or "source" in values:  # derived display columns follow the stored whole
        Tracker.objects.for_account(row.client_account_id).filter(pk=row.pk).update(
            destination_number=row.call_flow.get("destination_number"),
            recording_enabled=row.call_flow.get("recording_enabled"), source_type=(row.source or {}).get("type"),
        )  # fmt: skip
        row.refresh_from_db()
    return row


def tracker_disable(*, tracker: Tracker, actor: Any = None) -> Tracker | None:
    return mirror_row_delete(row=tracker, resource="trackers", actor=actor)
