"""Per-resource logic: what each CallRail v3 resource looks like and how it is created, changed and removed.

Each resource is an :class:`Endpoint`: a :class:`~apps.sandbox.query.ResourceSpec` (documented fields, filters,
sorting, search) plus the handful of functions that differ per resource (create, update, delete).
The routing, authentication and the list machinery are shared (see ``app.py`` and ``query.py``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from . import timeutil as tu
from .body import Body
from .context import Ctx
from .errors import ApiError, bad_request, forbidden, not_found, unprocessable
from .fmt import (
    TAG_COLORS,
    domain_of,
    e164,
    is_url,
    money,
    parse_money,
    pretty_duration,
    pretty_name,
    pretty_phone,
    require_phone,
)
from .query import Filter, ResourceSpec, multi_values, paginate, parse_bool, parse_int, select
from .store import Call, legacy_number

# --------------------------------------------------------------------------------------------------------------
# shared helpers


def _attr(name: str) -> Callable[[Ctx, Any], Any]:
    return lambda ctx, rec: getattr(rec, name)


def _key(name: str) -> Callable[[Ctx, Any], Any]:
    return lambda ctx, rec: rec[name]


def _company(ctx: Ctx, company_id: str, *, what: str = "Company") -> dict:
    company = ctx.acc.companies.get(company_id) if isinstance(company_id, str) else None
    if company is None and company_id is not None:
        # the docs' examples sometimes pass legacy numeric company ids
        text = str(company_id)
        for candidate in ctx.acc.companies.values():
            if str(candidate["_numeric_id"]) == text:
                company = candidate
                break
    if company is None or not ctx.visible(company):
        raise not_found(what)
    return company


def _user(ctx: Ctx, user_id: Any) -> dict:
    user = ctx.acc.users.get(user_id) if isinstance(user_id, str) else None
    if user is None:
        raise not_found("User")
    return user


def _tracker(ctx: Ctx, tracker_id: Any) -> dict:
    tracker = ctx.acc.trackers.get(tracker_id) if isinstance(tracker_id, str) else None
    if tracker is None or not ctx.visible(tracker):
        raise not_found("Tracker")
    return tracker


def _company_name(ctx: Ctx, company_id: str | None) -> str | None:
    company = ctx.acc.companies.get(company_id) if company_id else None
    return company["name"] if company else None


def _own_or_admin(ctx: Ctx, user_id: str | None) -> None:
    if ctx.is_admin:
        return
    if user_id is None or ctx.key_user is None or user_id != ctx.key_user["id"]:
        raise forbidden()


def _user_brief(ctx: Ctx, user_id: str | None) -> dict | None:
    user = ctx.acc.users.get(user_id) if user_id else None
    if user is None:
        return None
    return {"id": user["id"], "name": f"{user['first_name']} {user['last_name']}", "email": user["email"]}


# --------------------------------------------------------------------------------------------------------------
# the endpoint registry


@dataclass
class Endpoint:
    spec: ResourceSpec
    candidates: Callable[[Ctx], list]
    lookup: Callable[[Ctx, str], Any]
    create: Callable[[Ctx, Body], tuple[int, dict]] | None = None
    update: Callable[[Ctx, Any, Body], dict] | None = None
    delete: Callable[[Ctx, Any], None] | None = None
    show: Callable[[Ctx, Any], dict] | None = None
    rate_class: str = "general"  # the rate-limit class of creating one (POST to the collection)


def _dict_lookup(collection: str, label: str, *, int_ids: bool = False):
    def lookup(ctx: Ctx, raw_id: str) -> Any:
        key: Any = raw_id
        if int_ids:
            try:
                key = int(raw_id)
            except ValueError:
                raise not_found(label) from None
        record = ctx.acc.collection(collection).get(key)
        if record is None or not ctx.visible(record):
            raise not_found(label)
        return record

    return lookup


# --------------------------------------------------------------------------------------------------------------
# accounts

ACCOUNTS = ResourceSpec(
    path="a",
    list_key="accounts",
    default_fields=("id", "name", "outbound_recording_enabled", "hipaa_account"),
    extra_fields=("numeric_id",),
    computed={
        name: _attr(name) for name in ("id", "name", "outbound_recording_enabled", "hipaa_account", "numeric_id")
    },
    sort_fields={"name": (_attr("name"), "asc")},
    filters={"hipaa_account": Filter(lambda ctx, acc, v: acc.hipaa_account == v, boolean=True)},
    label="Account",
)

# --------------------------------------------------------------------------------------------------------------
# companies

COMPANY_FIELDS = (
    "id",
    "name",
    "status",
    "time_zone",
    "created_at",
    "disabled_at",
    "dni_active",
    "script_url",
    "callscribe_enabled",
    "lead_scoring_enabled",
    "swap_exclude_jquery",
    "swap_ppc_override",
    "swap_landing_override",
    "swap_cookie_duration",
    "swap_cookie_duration_unit",
    "callscore_enabled",
    "keyword_spotting_enabled",
    "form_capture",
)

COMPANIES = ResourceSpec(
    path="companies",
    list_key="companies",
    default_fields=COMPANY_FIELDS,
    extra_fields=("verified_caller_ids",),
    computed={
        "created_at": lambda ctx, c: tu.utc_ms(c["created"]),
        "disabled_at": lambda ctx, c: tu.utc_ms(c["disabled"]),
        "verified_caller_ids": lambda ctx, c: [
            {"name": v["name"], "phone_number": v["phone_number"]}
            for v in ctx.acc.caller_ids.values() if v["_company_id"] == c["id"] and v["verified"]
        ],
    },
    sort_fields={"name": (_key("name"), "asc")},
    search_fields=("name",),
    filters={"status": Filter(lambda ctx, c, v: c["status"] == v, choices=("active", "disabled"))},
    label="Company",
)

COOKIE_UNITS = ("months", "weeks", "days")
_COOKIE_MAX = {"months": 6, "weeks": 26, "days": 183}


def new_company(ctx: Ctx, name: str, time_zone: str) -> dict:
    state = ctx.state
    numeric = state.next_int("company_numeric")
    company_id = state.new_id("COM")
    return {
        "id": company_id,
        "name": name,
        "status": "active",
        "time_zone": time_zone,
        "created": ctx.now,
        "disabled": None,
        "dni_active": None,
        "script_url": f"//cdn.callrail.com/companies/{numeric}/{state.new_hex(20)}/12/swap.js",
        "callscribe_enabled": False,
        "lead_scoring_enabled": True,
        "swap_exclude_jquery": None,
        "swap_ppc_override": None,
        "swap_landing_override": None,
        "swap_cookie_duration": 6,
        "swap_cookie_duration_unit": "months",
        "callscore_enabled": False,
        "keyword_spotting_enabled": False,
        "form_capture": False,
        "_numeric_id": numeric,
        "_signing_key": state.new_hex(32),
    }


def create_company(ctx: Ctx, body: Body) -> tuple[int, dict]:
    ctx.require_role("admin")
    name = body.string("name", required=True)
    time_zone = body.string("time_zone") or ctx.acc.time_zone
    if not tu.is_time_zone(time_zone):
        raise bad_request(f"Invalid value for time_zone: {time_zone!r}")
    company = new_company(ctx, name, time_zone)
    company["lead_scoring_enabled"] = False
    ctx.acc.companies[company["id"]] = company
    return 201, COMPANIES.render(ctx, company)


def _apply_company_settings(company: dict, body: Body) -> None:
    for key in ("callscore_enabled", "keyword_spotting_enabled", "callscribe_enabled", "swap_exclude_jquery",
                "swap_ppc_override"):
        if body.has(key):
            company[key] = body.boolean(key)
    if body.has("external_form_capture"):
        company["form_capture"] = bool(body.boolean("external_form_capture", False))
    if body.has("swap_landing_override"):
        company["swap_landing_override"] = body.string("swap_landing_override", blank_to_none=True)


def update_company(ctx: Ctx, company: dict, body: Body) -> dict:
    ctx.require_role("admin", "manager")
    if body.has("name"):
        company["name"] = body.string("name", required=True)
    if body.has("time_zone"):
        time_zone = body.string("time_zone", required=True)
        if not tu.is_time_zone(time_zone):
            raise bad_request(f"Invalid value for time_zone: {time_zone!r}")
        company["time_zone"] = time_zone
    duration = body.integer("swap_cookie_duration", minimum=1) if body.has("swap_cookie_duration") else None
    unit = body.choice("swap_cookie_duration_unit", COOKIE_UNITS)
    new_duration = duration or company["swap_cookie_duration"]
    new_unit = unit or company["swap_cookie_duration_unit"]
    if new_duration > _COOKIE_MAX[new_unit]:
        raise unprocessable("swap_cookie_duration: a maximum duration of 6 months is allowed")
    _apply_company_settings(company, body)
    company["swap_cookie_duration"] = new_duration
    company["swap_cookie_duration_unit"] = new_unit
    return COMPANIES.render(ctx, company)


def disable_company(ctx: Ctx, company: dict) -> None:
    ctx.require_role("admin")
    if company["status"] == "disabled":
        return
    active = [c for c in ctx.acc.companies.values() if c["status"] == "active"]
    if len(active) <= 1:
        raise unprocessable("You must have at least one active company.")
    company["status"] = "disabled"
    company["disabled"] = ctx.now
    for tracker in ctx.acc.trackers.values():
        if tracker["_company_id"] == company["id"] and tracker["status"] == "active":
            tracker["status"] = "disabled"
            tracker["disabled"] = ctx.now


def bulk_update_companies(ctx: Ctx, body: Body) -> dict:
    ctx.require_role("admin")
    ids = body.string_list("company_ids", required=True)
    if ids == ["all"]:
        targets = [c for c in ctx.acc.companies.values() if ctx.visible(c)]
    else:
        targets = [_company(ctx, company_id) for company_id in ids]
    capture = body.boolean("external_form_capture")
    if capture is not None:
        for company in targets:
            company["form_capture"] = capture
    return {"updated_records": len(targets)}


# --------------------------------------------------------------------------------------------------------------
# trackers

TRACKER_FIELDS = (
    "id",
    "name",
    "type",
    "status",
    "destination_number",
    "tracking_numbers",
    "whisper_message",
    "sms_enabled",
    "sms_supported",
    "company",
    "call_flow",
    "source",
    "created_at",
    "disabled_at",
)

TRACKERS = ResourceSpec(
    path="trackers",
    list_key="trackers",
    default_fields=TRACKER_FIELDS,
    extra_fields=("campaign_name", "swap_targets"),
    computed={
        "destination_number": lambda ctx, t: t["call_flow"].get("destination_number"),
        "tracking_numbers": lambda ctx, t: list(t["tracking_numbers"]),
        "company": lambda ctx, t: {"id": t["_company_id"], "name": _company_name(ctx, t["_company_id"])},
        "call_flow": lambda ctx, t: dict(t["call_flow"]),
        "source": lambda ctx, t: dict(t["source"]),
        "created_at": lambda ctx, t: tu.utc_s(t["created"]),
        "disabled_at": lambda ctx, t: tu.utc_s(t["disabled"]),
        "swap_targets": lambda ctx, t: list(t["swap_targets"]),
    },
    sort_fields={"name": (_key("name"), "asc")},
    search_fields=("name",),
    filters={
        "company_id": Filter(lambda ctx, t, v: t["_company_id"] == v),
        "type": Filter(lambda ctx, t, v: t["type"] == v, choices=("session", "source")),
        "status": Filter(lambda ctx, t, v: t["status"] == v, choices=("active", "disabled")),
    },
    label="Tracker",
)

SOURCE_TYPES = (
    "all",
    "landing_url",
    "landing_params",
    "offline",
    "web_referrer",
    "direct",
    "search",
    "google_ad_extension",
    "mobile_ad_extension",
    "google_my_business",
)
TOLL_FREE = ("888", "877", "866", "855", "844", "833", "800")


def _call_flow(raw: Any, existing: dict | None = None) -> dict:
    if not isinstance(raw, dict):
        raise bad_request("Invalid value for call_flow: expected an object")
    flow_type = raw.get("type", existing.get("type") if existing else None)
    if flow_type == "advanced":
        uuid = raw.get("uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            raise bad_request("call_flow.uuid is required to assign an existing advanced call flow")
        return {"type": "advanced", "uuid": uuid.strip()}
    if flow_type != "basic":
        raise bad_request("Invalid value for call_flow.type: must be basic or advanced")
    base = dict(existing) if existing and existing.get("type") == "basic" else {}
    flow = {
        "type": "basic",
        "recording_enabled": base.get("recording_enabled", False),
        "destination_number": base.get("destination_number"),
        "greeting_text": base.get("greeting_text"),
        "greeting_recording_url": base.get("greeting_recording_url"),
    }
    body = Body(raw)
    if body.has("recording_enabled"):
        flow["recording_enabled"] = bool(body.boolean("recording_enabled", False))
    if body.has("destination_number"):
        flow["destination_number"] = require_phone(raw["destination_number"], "call_flow.destination_number")
    if flow["destination_number"] is None:
        raise bad_request("Missing required parameter: call_flow.destination_number")
    for key in ("greeting_text", "greeting_recording_url"):
        if body.has(key):
            flow[key] = body.string(key, max_length=1000, blank_to_none=True)
    if flow["greeting_recording_url"] and not is_url(flow["greeting_recording_url"]):
        raise bad_request("Invalid value for call_flow.greeting_recording_url: expected a URL")
    return flow


def _search_source(body: Body) -> dict:
    engine = body.choice("search_engine", ("google", "yahoo", "bing", "all"), required=True)
    kind = body.choice("search_type", ("paid", "organic", "all"), required=True)
    return {"type": "search", "search_engine": engine, "search_type": kind}


def _source_tracker_source(raw: Any) -> dict:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise bad_request("Invalid value for source: expected an object")
    body = Body(raw)
    kind = body.choice("type", SOURCE_TYPES, required=True)
    if kind == "search":
        return _search_source(body)
    if kind in ("landing_url", "landing_params"):
        return {"type": kind, "landing": body.string("landing", required=True, max_length=1000)}
    if kind == "web_referrer":
        return {"type": kind, "referrer": body.string("referrer", required=True, max_length=1000)}
    return {"type": kind}


def _session_source(raw: Any) -> dict:
    if raw == "all":
        return {"type": "all"}
    if not isinstance(raw, dict) or not raw:
        raise bad_request('Invalid value for source: expected "all" or an object')
    source: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "type":
            if value not in ("direct", "all"):
                raise bad_request('Invalid value for source.type: must be "direct"')
            source["type"] = value
        elif key in ("google", "bing", "yahoo"):
            items = value if isinstance(value, list) else [value]
            if not items or any(i not in ("paid", "organic", "local") for i in items):
                raise bad_request(f"Invalid value for source.{key}: use paid and/or organic")
            source[key] = list(items)
        elif key in ("landing", "referrer"):
            items = value if isinstance(value, list) else [value]
            if any(not isinstance(i, str) or not i for i in items):
                raise bad_request(f"Invalid value for source.{key}: expected an array of strings")
            source[key] = list(items)
        elif key == "inverted":
            source[key] = Body(raw).boolean("inverted", False)
        else:
            raise bad_request(f"Unknown key in source: {key}")
    return source


def _number_request(ctx: Ctx, raw: Any, name: str) -> tuple[str | None, bool]:
    if not isinstance(raw, dict):
        raise bad_request(f"Missing required parameter: {name}")
    body = Body(raw)
    area_code = body.string("area_code", max_length=3)
    local = raw.get("local")
    toll_free = bool(body.boolean("toll_free", False))
    if not area_code and local in (None, "") and not toll_free:
        raise bad_request(f"{name}: at least one of area_code, local or toll_free must be provided")
    if area_code and not re.fullmatch(r"[2-9]\d\d", area_code):
        raise bad_request(f"Invalid value for {name}.area_code")
    if local not in (None, ""):
        local_number = require_phone(local, f"{name}.local")
        area_code = area_code or local_number[2:5]
    if toll_free:
        if area_code and area_code not in TOLL_FREE:
            raise unprocessable(f"No toll free numbers are available in area code {area_code}")
        area_code = area_code or "888"
    elif area_code in TOLL_FREE:
        toll_free = True
    return area_code, toll_free


def create_tracker(ctx: Ctx, body: Body) -> tuple[int, dict]:
    ctx.require_role("admin", "manager")
    kind = body.choice("type", ("source", "session"), required=True)
    name = body.string("name", required=True)
    company = _company(ctx, body.string("company_id", required=True))
    if company["status"] != "active":
        raise unprocessable("Trackers cannot be created in a disabled company")
    flow_raw = body.obj("call_flow", required=True)
    flow = _call_flow(flow_raw)
    if "source" not in body.data:
        raise bad_request("Missing required parameter: source")
    if kind == "source":
        source = _source_tracker_source(body.raw("source"))
        area_code, toll_free = _number_request(ctx, body.raw("tracking_number"), "tracking_number")
        count = 1
    else:
        source = _session_source(body.raw("source"))
        count = body.integer("pool_size", required=True)
        if not 4 <= count <= 50:
            raise bad_request("pool_size must be between 4 and 50")
        area_code, toll_free = _number_request(ctx, body.raw("pool_numbers"), "pool_numbers")
        if body.has("campaign_name"):
            raise unprocessable("campaign_name can only be set for source trackers")
    sms_enabled = bool(body.boolean("sms_enabled", False))
    if sms_enabled and toll_free:
        raise unprocessable("Text messaging is not supported for toll free numbers")
    tracker = {
        "id": ctx.state.new_id("TRK"),
        "name": name,
        "type": kind,
        "status": "active",
        "tracking_numbers": [ctx.state.allocate_number(area_code, toll_free) for _ in range(count)],
        "whisper_message": body.string("whisper_message", max_length=500, blank_to_none=True),
        "sms_enabled": sms_enabled,
        "sms_supported": not toll_free,
        "_company_id": company["id"],
        "call_flow": flow,
        "source": source,
        "created": ctx.now,
        "disabled": None,
        "campaign_name": body.string("campaign_name", blank_to_none=True) if kind == "source" else None,
        "swap_targets": body.string_list("swap_targets") or [],
        "_outbound_form_number": False,
    }
    ctx.acc.trackers[tracker["id"]] = tracker
    return 201, TRACKERS.render(ctx, tracker)


def update_tracker(ctx: Ctx, tracker: dict, body: Body) -> dict:
    ctx.require_role("admin", "manager")
    if tracker["status"] != "active":
        raise unprocessable("Disabled trackers cannot be updated")
    if body.has("name"):
        tracker["name"] = body.string("name", required=True)
    if body.has("whisper_message"):
        tracker["whisper_message"] = body.string("whisper_message", max_length=500, blank_to_none=True)
    if body.has("swap_targets"):
        tracker["swap_targets"] = body.string_list("swap_targets") or []
    if body.has("sms_enabled"):
        enabled = bool(body.boolean("sms_enabled", False))
        if enabled and not tracker["sms_supported"]:
            raise unprocessable("Text messaging is not supported for this tracker")
        tracker["sms_enabled"] = enabled
    if body.has("call_flow"):
        tracker["call_flow"] = _call_flow(body.raw("call_flow"), tracker["call_flow"])
    if body.has("source"):
        raw = body.raw("source")
        tracker["source"] = _source_tracker_source(raw) if tracker["type"] == "source" else _session_source(raw)
    if body.has("campaign_name"):
        if tracker["type"] != "source":
            raise unprocessable("campaign_name can only be set for source trackers")
        tracker["campaign_name"] = body.string("campaign_name", blank_to_none=True)
    if body.has("pool_size") and tracker["type"] == "session":
        size = body.integer("pool_size", required=True)
        current = len(tracker["tracking_numbers"])
        if size < current:
            raise unprocessable("pool_size can only be increased")
        if size > 50:
            raise bad_request("pool_size must be between 4 and 50")
        area_code = tracker["tracking_numbers"][0][2:5]
        tracker["tracking_numbers"] += [ctx.state.allocate_number(area_code, False) for _ in range(size - current)]
    if body.has("replace_tracking_number"):
        old = e164(body.raw("replace_tracking_number"))
        if old is None or old not in tracker["tracking_numbers"]:
            raise unprocessable("replace_tracking_number must be one of this tracker's tracking numbers")
        index = tracker["tracking_numbers"].index(old)
        toll_free = old[2:5] in TOLL_FREE
        tracker["tracking_numbers"][index] = ctx.state.allocate_number(old[2:5], toll_free)
    return TRACKERS.render(ctx, tracker)


def disable_tracker(ctx: Ctx, tracker: dict) -> None:
    ctx.require_role("admin", "manager")
    if tracker["_outbound_form_number"]:
        raise bad_request(
            "You must select a different number for outbound Form Submission calls before disabling this tracker."
        )
    if tracker["status"] == "active":
        tracker["status"] = "disabled"
        tracker["disabled"] = ctx.now


# --------------------------------------------------------------------------------------------------------------
# users

USER_FIELDS = ("email", "id", "created_at", "role", "first_name", "last_name", "name", "accepted", "companies")
ROLES = ("admin", "reporting", "manager")


def _user_companies(ctx: Ctx, user: dict) -> list[dict]:
    if user["role"] == "admin":
        ids = list(ctx.acc.companies)
    else:
        ids = [c for c in user["_company_ids"] if c in ctx.acc.companies]
    return [{"id": cid, "name": ctx.acc.companies[cid]["name"]} for cid in ids]


def _user_has_company(ctx: Ctx, user: dict, company_id: str) -> bool:
    return company_id in ctx.acc.companies if user["role"] == "admin" else company_id in user["_company_ids"]


USERS = ResourceSpec(
    path="users",
    list_key="users",
    default_fields=USER_FIELDS,
    computed={
        "created_at": lambda ctx, u: tu.local_ms(u["created"], ctx.account_tz()),
        "name": lambda ctx, u: f"{u['first_name']} {u['last_name']}",
        "companies": _user_companies,
    },
    sort_fields={"email": (_key("email"), "asc"), "created_at": (_key("created"), "desc")},
    search_fields=("first_name", "last_name", "email"),
    filters={"company_id": Filter(lambda ctx, u, v: _user_has_company(ctx, u, v))},
    label="User",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _company_ids(ctx: Ctx, raw: list[str]) -> list[str]:
    return [_company(ctx, company_id)["id"] for company_id in raw]


def create_user(ctx: Ctx, body: Body) -> tuple[int, dict]:
    ctx.require_role("admin")
    first = body.string("first_name", required=True)
    last = body.string("last_name", required=True)
    email = body.string("email", required=True)
    role = body.choice("role", ROLES, required=True)
    if not _EMAIL.match(email):
        raise bad_request("Invalid value for email")
    if any(u["email"].lower() == email.lower() for u in ctx.acc.users.values()):
        raise unprocessable("Email has already been taken")
    companies = body.string_list("companies")
    if role != "admin" and not companies:
        raise bad_request("Missing required parameter: companies")
    user = {
        "id": ctx.state.new_id("USR"),
        "email": email,
        "first_name": first,
        "last_name": last,
        "role": role,
        "accepted": False,
        "created": ctx.now,
        "_company_ids": _company_ids(ctx, companies or []) if role != "admin" else [],
    }
    ctx.acc.users[user["id"]] = user
    # the docs give 200 OK for this endpoint
    return 200, USERS.render(ctx, user)


def update_user(ctx: Ctx, user: dict, body: Body) -> dict:
    is_self = ctx.key_user is not None and ctx.key_user["id"] == user["id"]
    if not user["accepted"]:
        raise unprocessable("Updates can only be made for users that have accepted their invitation.")
    if body.has("password") or body.has("password_confirmation"):
        raise unprocessable("Passwords can no longer be managed via the API.")
    personal = [k for k in ("first_name", "last_name", "email") if body.has(k)]
    if personal and not is_self:
        raise forbidden()
    if not is_self:
        ctx.require_role("admin")
    if body.has("first_name"):
        user["first_name"] = body.string("first_name", required=True)
    if body.has("last_name"):
        user["last_name"] = body.string("last_name", required=True)
    if body.has("email"):
        email = body.string("email", required=True)
        if not _EMAIL.match(email):
            raise bad_request("Invalid value for email")
        if not body.string("current_password"):
            raise bad_request("current_password is required to change the email address")
        if any(u["email"].lower() == email.lower() and u is not user for u in ctx.acc.users.values()):
            raise unprocessable("Email has already been taken")
        user["email"] = email
    if body.has("companies"):
        ctx.require_role("admin")
        if user["role"] == "admin":
            raise unprocessable("Administrators have access to all companies; company access cannot be changed")
        user["_company_ids"] = _company_ids(ctx, body.string_list("companies") or [])
    return USERS.render(ctx, user)


def delete_user(ctx: Ctx, user: dict) -> None:
    ctx.require_role("admin")
    if ctx.key_user is not None and ctx.key_user["id"] == user["id"]:
        raise unprocessable("You cannot delete your own user")
    del ctx.acc.users[user["id"]]
    for note_id in [n for n, rec in ctx.acc.notifications.items() if rec["user_id"] == user["id"]]:
        del ctx.acc.notifications[note_id]
    for css_id in [s for s, rec in ctx.acc.summary_emails.items() if rec["user_id"] == user["id"]]:
        del ctx.acc.summary_emails[css_id]


# --------------------------------------------------------------------------------------------------------------
# tags

TAG_FIELDS = ("id", "name", "tag_level", "color", "background_color", "company_id", "status", "created_at")


def _tag_filter_company(ctx: Ctx, tag: dict, value: str) -> bool:
    if ctx.params.get("tag_level") == "account":
        raise bad_request("You cannot use a filter of tag_level=account and a company_id filter in the same request")
    return tag["company_id"] == value


TAGS = ResourceSpec(
    path="tags",
    list_key="tags",
    default_fields=TAG_FIELDS,
    computed={"created_at": lambda ctx, t: tu.local_ms(t["created"], ctx.account_tz())},
    sort_fields={"name": (_key("name"), "asc")},
    filters={
        "company_id": Filter(_tag_filter_company),
        "status": Filter(lambda ctx, t, v: t["status"] == v, choices=("enabled", "disabled")),
        "tag_level": Filter(lambda ctx, t, v: t["tag_level"] == v, choices=("company", "account")),
    },
    id_kind=int,
    label="Tag",
)


def _check_tag_name(ctx: Ctx, name: str, company_id: str | None, exclude: dict | None = None) -> None:
    for tag in ctx.acc.tags.values():
        if tag is exclude:
            continue
        if tag["company_id"] == company_id and tag["name"].lower() == name.lower():
            raise unprocessable("Name has already been taken")


def new_tag(ctx: Ctx, name: str, company_id: str | None, color: str = "gray1") -> dict:
    tag = {
        "id": ctx.state.next_int("tag"),
        "name": name,
        "tag_level": "company" if company_id else "account",
        "color": color,
        "background_color": color,
        "company_id": company_id,
        "status": "enabled",
        "created": ctx.now,
    }
    ctx.acc.tags[tag["id"]] = tag
    return tag


def _color(body: Body) -> str | None:
    color = body.string("color")
    if color is None or color == "":
        return None
    if color not in TAG_COLORS:
        raise bad_request(f"Invalid value for color: {color!r}. See Available Colors.")
    return color


def create_tag(ctx: Ctx, body: Body) -> tuple[int, dict]:
    name = body.string("name", required=True)
    level = body.choice("tag_level", ("account", "company"))
    color = _color(body) or "gray1"
    if level == "account":
        ctx.require_role("admin")
        company_id = None
    else:
        company_id = _company(ctx, body.string("company_id", required=True))["id"]
    _check_tag_name(ctx, name, company_id)
    tag = new_tag(ctx, name, company_id, color)
    return 201, TAGS.render(ctx, tag)


def update_tag(ctx: Ctx, tag: dict, body: Body) -> dict:
    if tag["tag_level"] == "account":
        ctx.require_role("admin")
    if body.has("name"):
        name = body.string("name", required=True)
        _check_tag_name(ctx, name, tag["company_id"], exclude=tag)
        tag["name"] = name
    color = _color(body)
    if color:
        tag["color"] = color
        tag["background_color"] = color
    if body.has("disabled"):
        tag["status"] = "disabled" if body.boolean("disabled", False) else "enabled"
    return TAGS.render(ctx, tag)


def delete_tag(ctx: Ctx, tag: dict) -> None:
    if tag["tag_level"] == "account":
        ctx.require_role("admin")
    del ctx.acc.tags[tag["id"]]
    for call in ctx.acc.calls.by_id.values():
        if tag["id"] in call.tag_ids:
            call.tag_ids = [t for t in call.tag_ids if t != tag["id"]]
    for form in ctx.acc.form_submissions.values():
        if tag["id"] in form["tag_ids"]:
            form["tag_ids"] = [t for t in form["tag_ids"] if t != tag["id"]]


def resolve_tags(ctx: Ctx, company_id: str, names: list[str]) -> list[int]:
    """Tag ids for names applied to an interaction of ``company_id``; unknown names become company tags."""
    ids = []
    for name in names:
        found = None
        for tag in ctx.acc.tags.values():
            if tag["name"].lower() == name.lower() and tag["company_id"] in (company_id, None):
                found = tag
                if tag["company_id"] == company_id:
                    break
        if found is None:
            found = new_tag(ctx, name, company_id)
        elif found["status"] != "enabled":
            raise unprocessable(f"The tag {found['name']!r} is disabled and cannot be applied")
        if found["id"] not in ids:
            ids.append(found["id"])
    return ids


def render_tags(ctx: Ctx, tag_ids: list[int]) -> list[dict]:
    out = []
    for tag_id in tag_ids:
        tag = ctx.acc.tags.get(tag_id)
        if tag is not None:
            out.append({"name": tag["name"], "color": tag["color"]})
    return out


# --------------------------------------------------------------------------------------------------------------
# notifications

NOTIFICATION_LIST_FIELDS = (
    "id",
    "user_id",
    "email",
    "alert_type",
    "call_enabled",
    "company_id",
    "name",
    "send_desktop",
    "send_email",
    "send_push",
    "sms_enabled",
    "tracker_id",
)
NOTIFICATION_FIELDS = (
    "id",
    "user_id",
    "email",
    "agent_id",
    "agent_name",
    "alert_type",
    "call_enabled",
    "company_id",
    "company_name",
    "name",
    "send_desktop",
    "send_email",
    "send_push",
    "sms_enabled",
    "tracker_id",
    "tracker_name",
)
ALERT_TYPES = ("all", "first_call", "missed_and_vm", "vm_only")
_ALERT_WORDS = {
    "all": "All Calls",
    "first_call": "First-Time Calls",
    "missed_and_vm": "Missed Calls and Voicemails",
    "vm_only": "Voicemails",
}


def notification_name(ctx: Ctx, n: dict) -> str:
    parts = []
    if n["call_enabled"]:
        parts.append(_ALERT_WORDS.get(n["alert_type"] or "all", "All Calls"))
    if n["sms_enabled"]:
        parts.append("All Texts")
    what = " and ".join(parts) or "No Alerts"
    if n["tracker_id"] and n["tracker_id"] in ctx.acc.trackers:
        scope = ctx.acc.trackers[n["tracker_id"]]["name"]
    elif n["company_id"]:
        scope = _company_name(ctx, n["company_id"]) or "a company"
    else:
        scope = ctx.acc.name
    return f"{what} for {scope}"


def _tracker_name(ctx: Ctx, tracker_id: str | None) -> str | None:
    tracker = ctx.acc.trackers.get(tracker_id) if tracker_id else None
    return tracker["name"] if tracker else None


def _agent_name(ctx: Ctx, n: dict) -> str | None:
    user = ctx.acc.users.get(n["agent_id"]) if n["agent_id"] else None
    return f"{user['first_name']} {user['last_name']}" if user else None


def _notification_visible(ctx: Ctx, n: dict) -> bool:
    return ctx.is_admin or (ctx.key_user is not None and n["user_id"] == ctx.key_user["id"])


def _from_query_or_body(ctx: Ctx, name: str) -> str | None:
    value = ctx.params.get(name)
    if value:
        return value
    raw = ctx.body_data.get(name) if ctx.body_data else None
    return raw if isinstance(raw, str) and raw else None


NOTIFICATIONS = ResourceSpec(
    path="notifications",
    list_key="notifications",
    default_fields=NOTIFICATION_LIST_FIELDS,
    computed={
        "name": notification_name,
        "company_name": lambda ctx, n: _company_name(ctx, n["company_id"]),
        "tracker_name": lambda ctx, n: _tracker_name(ctx, n["tracker_id"]),
        "agent_name": _agent_name,
    },
    filters={
        "notification_type": Filter(
            lambda ctx, n, v: bool(n[v]), choices=("send_desktop", "send_email", "send_push")
        ),
    },
    id_kind=int,
    label="Notification",
)


def notification_candidates(ctx: Ctx) -> list:
    records = [n for n in ctx.acc.notifications.values() if _notification_visible(ctx, n)]
    user_id = _from_query_or_body(ctx, "user_id")
    email = _from_query_or_body(ctx, "email")
    if user_id:
        records = [n for n in records if n["user_id"] == user_id]
    if email:
        records = [n for n in records if (n["email"] or "").lower() == email.lower()]
    return records


def _notification_scope(ctx: Ctx, body: Body, n: dict) -> None:
    if body.has("tracker_id"):
        tracker_id = body.string("tracker_id", blank_to_none=True)
        n["tracker_id"] = _tracker(ctx, tracker_id)["id"] if tracker_id else None
    if body.has("company_id"):
        company_id = body.string("company_id", blank_to_none=True)
        n["company_id"] = _company(ctx, company_id)["id"] if company_id else None
    if n["tracker_id"]:
        tracker_company = ctx.acc.trackers[n["tracker_id"]]["_company_id"]
        if n["company_id"] and n["company_id"] != tracker_company:
            raise unprocessable("tracker_id does not belong to company_id")
        n["company_id"] = tracker_company


def _notification_settings(body: Body, n: dict) -> None:
    for key in ("call_enabled", "sms_enabled", "send_desktop", "send_email", "send_push"):
        if body.has(key):
            n[key] = bool(body.boolean(key, False))
    if body.has("alert_type"):
        n["alert_type"] = body.choice("alert_type", ALERT_TYPES)
    if n["call_enabled"] and not n["alert_type"]:
        raise bad_request("alert_type is required when call_enabled is true")
    if n["email"] and (n["send_push"] or n["send_desktop"]):
        raise bad_request("Only send_email is allowed for email-only users")


def create_notification(ctx: Ctx, body: Body) -> tuple[int, dict]:
    user_id = body.string("user_id", blank_to_none=True)
    email = body.string("email", blank_to_none=True)
    if user_id:
        user_id = _user(ctx, user_id)["id"]
    elif not email:
        user_id = ctx.key_user["id"] if ctx.key_user else None
    if email and not _EMAIL.match(email):
        raise bad_request("Invalid value for email")
    _own_or_admin(ctx, user_id)
    agent_id = body.string("agent_id", blank_to_none=True)
    n = {
        "id": ctx.state.next_int("notification"),
        "user_id": user_id,
        "email": email if not user_id else None,
        "agent_id": _user(ctx, agent_id)["id"] if agent_id else None,
        "alert_type": None,
        "call_enabled": False,
        "company_id": None,
        "tracker_id": None,
        "send_desktop": False,
        "send_email": False,
        "send_push": False,
        "sms_enabled": False,
    }
    _notification_scope(ctx, body, n)
    if n["email"] and not (n["company_id"] or n["tracker_id"]):
        raise bad_request("A company_id or tracker_id is required for email-only users")
    _notification_settings(body, n)
    ctx.acc.notifications[n["id"]] = n
    return 201, NOTIFICATIONS.render(ctx, n, NOTIFICATION_FIELDS)


def update_notification(ctx: Ctx, n: dict, body: Body) -> dict:
    if not _notification_visible(ctx, n):
        raise forbidden()
    _notification_scope(ctx, body, n)
    _notification_settings(body, n)
    return NOTIFICATIONS.render(ctx, n, NOTIFICATION_FIELDS)


def delete_notification(ctx: Ctx, n: dict) -> None:
    if not _notification_visible(ctx, n):
        raise forbidden()
    del ctx.acc.notifications[n["id"]]


# --------------------------------------------------------------------------------------------------------------
# summary emails

FREQUENCIES = ("daily", "weekly", "monthly")
CONFIG_KEYS = ("summary_statistics", "top_sources", "top_keywords", "call_log")
LEAD_FILTERS = ("Lead", "Not a Lead", "Not Scored", "All")


def _scope(ctx: Ctx, s: dict) -> dict:
    if s["_company_id"]:
        return {"id": s["_company_id"], "type": "Company", "name": _company_name(ctx, s["_company_id"])}
    return {"id": ctx.acc.id, "type": "Account", "name": ctx.acc.name}


def _summary_render(ctx: Ctx, s: dict, fields: tuple[str, ...] | None = None) -> dict:
    out = {"id": s["id"], "scope": _scope(ctx, s), "frequency": list(s["frequency"])}
    if s["filters"]:
        out["filters"] = dict(s["filters"])
    out["config"] = dict(s["config"])
    out["user"] = _user_brief(ctx, s["user_id"])
    if s["email"]:
        out["email"] = s["email"]
    return out


SUMMARY_EMAILS = ResourceSpec(
    path="summary_emails",
    list_key="summary_emails",
    default_fields=("id", "scope", "frequency", "config", "user"),
    filters={
        "company_id": Filter(lambda ctx, s, v: s["_company_id"] == v),
        "user_id": Filter(lambda ctx, s, v: s["user_id"] == v),
        "email": Filter(lambda ctx, s, v: (s["email"] or "").lower() == v.lower()),
        "frequency": Filter(lambda ctx, s, values: any(v in s["frequency"] for v in values), multi=True),
    },
    renderer=_summary_render,
    label="Summary email",
)


def _summary_visible(ctx: Ctx, s: dict) -> bool:
    return ctx.is_admin or (ctx.key_user is not None and s["user_id"] == ctx.key_user["id"])


def _frequency(body: Body, *, required: bool) -> list[str] | None:
    values = body.string_list("frequency", required=required)
    if values is None:
        return None
    if not values or any(v not in FREQUENCIES for v in values):
        raise bad_request("Invalid value for frequency: use daily, weekly and/or monthly")
    return list(dict.fromkeys(values))


def _config(body: Body, base: dict | None) -> dict:
    raw = body.obj("config", required=True)
    known = {k: v for k, v in raw.items() if k in CONFIG_KEYS}
    if not known:
        raise bad_request(f"config must include at least one of {', '.join(CONFIG_KEYS)}")
    config = dict(base) if base else dict.fromkeys(CONFIG_KEYS, False)
    for key in known:
        config[key] = Body(known).boolean(key, False)
    return config


def _filters(body: Body) -> dict | None:
    raw = body.obj("filters")
    if raw is None:
        return None
    status = raw.get("lead_status")
    if status is not None and status not in LEAD_FILTERS:
        raise bad_request(f"Invalid value for filters.lead_status: must be one of {', '.join(LEAD_FILTERS)}")
    return {"lead_status": status} if status is not None else {}


def create_summary_email(ctx: Ctx, body: Body) -> tuple[int, dict]:
    frequency = _frequency(body, required=True)
    config = _config(body, None)
    user_id = body.string("user_id", blank_to_none=True)
    email = body.string("email", blank_to_none=True)
    if not user_id and not email:
        raise bad_request("Either an email or user_id is required")
    if user_id:
        user_id = _user(ctx, user_id)["id"]
    elif not _EMAIL.match(email):
        raise bad_request("Invalid value for email")
    _own_or_admin(ctx, user_id)
    company_id = body.string("company_id", blank_to_none=True)
    if company_id:
        company_id = _company(ctx, company_id)["id"]
    elif not user_id:
        raise bad_request("A company_id is required for email-only users")
    record = {
        "id": ctx.state.new_id("CSS"),
        "_company_id": company_id,
        "frequency": frequency,
        "config": config,
        "filters": _filters(body),
        "user_id": user_id,
        "email": None if user_id else email,
    }
    ctx.acc.summary_emails[record["id"]] = record
    return 201, _summary_render(ctx, record)


def update_summary_email(ctx: Ctx, record: dict, body: Body) -> dict:
    if not _summary_visible(ctx, record):
        raise forbidden()
    frequency = _frequency(body, required=False)
    record["config"] = _config(body, record["config"])
    if frequency is not None:
        record["frequency"] = frequency
    if body.has("filters"):
        record["filters"] = _filters(body)
    return _summary_render(ctx, record)


def delete_summary_email(ctx: Ctx, record: dict) -> None:
    if not _summary_visible(ctx, record):
        raise forbidden()
    del ctx.acc.summary_emails[record["id"]]


# --------------------------------------------------------------------------------------------------------------
# integrations

WEBHOOK_KEYS = (
    "pre_call_webhook",
    "answered_call_webhook",
    "post_call_webhook",
    "updated_call_webhook",
    "sms_received_webhook",
    "sms_sent_webhook",
    "form_captured_webhook",
    "post_outbound_call_webhook",
    "updated_outbound_call_webhook",
)


def _signing_key(ctx: Ctx, integration: dict) -> str | None:
    company = ctx.acc.companies.get(integration["_company_id"])
    return company["_signing_key"] if company else None


def _integration_render(ctx: Ctx, integration: dict, fields: tuple[str, ...] | None = None) -> dict:
    fields = fields or INTEGRATIONS.fields_for(ctx)
    out = {
        "id": integration["id"],
        "config": {k: list(v) if isinstance(v, list) else v for k, v in integration["config"].items()},
        "state": integration["state"],
        "type": integration["type"],
    }
    if "signing_key" in fields and integration["type"] == "Webhooks":
        out["signing_key"] = _signing_key(ctx, integration)
    return out


INTEGRATIONS = ResourceSpec(
    path="integrations",
    list_key="integrations",
    default_fields=("id", "config", "state", "type"),
    extra_fields=("signing_key",),
    renderer=_integration_render,
    id_kind=int,
    label="Integration",
)


def integration_candidates(ctx: Ctx) -> list:
    company_id = ctx.params.get("company_id")
    if not company_id:
        raise bad_request("Missing required parameter: company_id")
    company = _company(ctx, company_id)
    return [i for i in ctx.acc.integrations.values() if i["_company_id"] == company["id"]]


def _integration_config(kind: str, raw: Any, base: dict | None = None) -> dict:
    if not isinstance(raw, dict):
        raise bad_request("Invalid value for config: expected an object")
    config = dict(base or {})
    if kind == "Webhooks":
        for key, value in raw.items():
            if key not in WEBHOOK_KEYS:
                raise bad_request(f"Unknown webhook event in config: {key}")
            urls = [value] if isinstance(value, str) else value
            if urls is None:
                urls = []
            if not isinstance(urls, list) or not all(is_url(u) for u in urls):
                raise bad_request(f"config.{key} must be an array of valid URLs")
            config[key] = list(urls)
        return config
    cookies = raw.get("grab_cookies")
    if isinstance(cookies, str):
        cookies = [cookies]
    if not isinstance(cookies, list) or not cookies or not all(isinstance(c, str) and c for c in cookies):
        raise bad_request("config.grab_cookies must be an array of cookie names")
    return {"grab_cookies": list(cookies)}


def create_integration(ctx: Ctx, body: Body) -> tuple[int, dict]:
    ctx.require_role("admin", "manager")
    company = _company(ctx, body.string("company_id", required=True))
    kind = body.string("type", required=True)
    if kind not in ("Webhooks", "Custom"):
        raise bad_request("Invalid value for type: only 'Webhooks' and 'Custom' integrations can be created")
    if any(i["_company_id"] == company["id"] and i["type"] == kind for i in ctx.acc.integrations.values()):
        raise unprocessable("A company may only have a single integration of a given type")
    config = _integration_config(kind, body.raw("config") if body.has("config") else None)
    integration = {
        "id": ctx.state.next_int("integration"),
        "type": kind,
        "state": "active",
        "config": config,
        "_company_id": company["id"],
    }
    ctx.acc.integrations[integration["id"]] = integration
    fields = ("id", "type", "state", "config", "signing_key")
    return 201, _integration_render(ctx, integration, fields)


def update_integration(ctx: Ctx, integration: dict, body: Body) -> dict:
    ctx.require_role("admin", "manager")
    if body.has("state"):
        integration["state"] = body.choice("state", ("active", "disabled"), required=True)
    if body.has("config"):
        if integration["type"] not in ("Webhooks", "Custom"):
            raise unprocessable(f"{integration['type']} integrations can only be configured in the CallRail app")
        integration["config"] = _integration_config(integration["type"], body.raw("config"), integration["config"])
    return _integration_render(ctx, integration)


def disable_integration(ctx: Ctx, integration: dict) -> None:
    ctx.require_role("admin", "manager")
    integration["state"] = "disabled"


# --------------------------------------------------------------------------------------------------------------
# calls

CALL_FIELDS = (
    "answered",
    "business_phone_number",
    "customer_city",
    "customer_country",
    "customer_name",
    "customer_phone_number",
    "customer_state",
    "direction",
    "duration",
    "id",
    "recording",
    "recording_duration",
    "recording_player",
    "start_time",
    "tracking_phone_number",
    "voicemail",
)
CALL_EXTRA_FIELDS = (
    "call_type",
    "company_id",
    "company_name",
    "company_time_zone",
    "created_at",
    "device_type",
    "first_call",
    "formatted_call_type",
    "formatted_customer_location",
    "formatted_business_phone_number",
    "formatted_customer_name",
    "prior_calls",
    "formatted_customer_name_or_phone_number",
    "formatted_customer_phone_number",
    "formatted_duration",
    "formatted_tracking_phone_number",
    "formatted_tracking_source",
    "formatted_value",
    "good_lead_call_id",
    "good_lead_call_time",
    "lead_status",
    "note",
    "source",
    "source_name",
    "tags",
    "total_calls",
    "value",
    "waveforms",
    "tracker_id",
    "speaker_percent",
    "keywords",
    "medium",
    "campaign",
    "referring_url",
    "landing_page_url",
    "last_requested_url",
    "referrer_domain",
    "utm_source",
    "utm_medium",
    "utm_term",
    "utm_content",
    "utm_campaign",
    "utma",
    "utmb",
    "utmc",
    "utmv",
    "utmz",
    "ga",
    "gclid",
    "fbclid",
    "msclkid",
    "milestones",
    "timeline_url",
    "person_id",
    "integration_data",
    "keywords_spotted",
    "call_highlights",
    "call_summary",
    "sentiment",
    "transcription",
    "conversational_transcript",
    "agent_email",
    "keypad_entries",
    "zip_code",
)
_CALL_TYPE_LABELS = {
    "answered": "Answered Call",
    "missed": "Missed Call",
    "voicemail": "Voicemail",
    "outbound": "Outbound Call",
    "in_progress": "In Progress",
}
# utm values a source tracker would be configured with, keyed by the call's source
_UTM = {
    "Google Ads": ("google", "cpc"),
    "Google Organic": ("google", "organic"),
    "Google My Business": ("google", "organic"),
    "Bing Ads": ("bing", "cpc"),
    "Bing Organic": ("bing", "organic"),
    "Facebook": ("facebook", "social"),
    "Facebook Ads": ("facebook", "cpc"),
    "Yelp": ("yelp", "referral"),
}


def call_type(call: Call) -> str:
    if call.direction == "outbound":
        return "outbound"
    if call.in_progress:
        return "in_progress"
    if call.voicemail:
        return "voicemail"
    if call.answered:
        return "answered"
    return "missed"


def _call_tz(ctx: Ctx, call: Call):
    return ctx.tz_for(call.company_id)


def _recording_url(ctx: Ctx, call: Call) -> str | None:
    """As the docs show it: the numeric account and call ids (``…/v3/a/227799611/calls/111222333/recording.json``)."""
    if not call.recording_key:
        return None
    return f"{ctx.api_root}/a/{ctx.acc.numeric_id}/calls/{call_legacy_id(ctx, call)}/recording.json"


def _player_url(ctx: Ctx, call: Call) -> str | None:
    """``https://app.callrail.com/calls/111222333/recording?access_key=…`` in the docs: the numeric id again."""
    if not call.recording_key:
        return None
    return f"{ctx.base_url}/_sandbox/calls/{call_legacy_id(ctx, call)}/recording?access_key={call.recording_key}"


def _formatted_location(ctx: Ctx, call: Call) -> str | None:
    if call.customer_city and call.customer_state:
        return f"{call.customer_city}, {call.customer_state}"
    return call.customer_state or call.customer_city


def _milestone(ctx: Ctx, call: Call, event_time) -> dict:
    landing = call.landing_page_url
    params: dict[str, str] = {}
    if landing and "?" in landing:
        for pair in landing.split("?", 1)[1].split("&"):
            key, _, value = pair.partition("=")
            if key:
                params[key] = value.replace("%20", " ")
    return {
        "event_date": tu.local_ms(event_time, _call_tz(ctx, call)),
        "ad_position": None,
        "campaign": call.campaign,
        "device": call.device_type or "desktop",
        "keywords": call.keywords,
        "landing": landing,
        "landing_page_url_params": params,
        "match_type": None,
        "medium": (call.medium or "").lower() or None,
        "referrer": call.referring_url,
        "referrer_url_params": {},
        "session_browser": "Chrome" if call.device_type != "mobile" else "Mobile Safari",
        "url_utm_params": {},
        "source": call.source,
    }


def _milestones(ctx: Ctx, call: Call) -> dict:
    first = _milestone(ctx, call, call.start - timedelta(days=2, minutes=13))
    lead = _milestone(ctx, call, call.start - timedelta(minutes=7))
    qualified = _milestone(ctx, call, call.start) if call.lead_status == "good_lead" else {
        key: ({} if key.endswith("params") else None) for key in first
    }
    last = _milestone(ctx, call, call.start)
    return {"first_touch": first, "lead_created": lead, "qualified": qualified, "last_touch": last}


def _agent_email(ctx: Ctx, call: Call) -> str | None:
    user = ctx.acc.users.get(call.agent_id) if call.agent_id else None
    return user["email"] if user else None


def _click_id(call: Call, source: str) -> str | None:
    if call.source == source and call.device_type:
        return f"{call.id[3:15]}{call.id[-10:]}"
    return None


CALL_COMPUTED: dict[str, Callable[[Ctx, Call], Any]] = {
    "recording": _recording_url,
    "recording_duration": lambda ctx, c: str(c.recording_duration) if c.recording_key else None,
    "recording_player": _player_url,
    "start_time": lambda ctx, c: tu.local_ms(c.start, _call_tz(ctx, c)),
    "call_type": lambda ctx, c: call_type(c),
    "company_name": lambda ctx, c: _company_name(ctx, c.company_id),
    "company_time_zone": lambda ctx, c: ctx.acc.companies[c.company_id]["time_zone"]
    if c.company_id in ctx.acc.companies
    else None,
    "created_at": lambda ctx, c: tu.local_ms(c.created, _call_tz(ctx, c)),
    "formatted_call_type": lambda ctx, c: _CALL_TYPE_LABELS[call_type(c)],
    "formatted_customer_location": _formatted_location,
    "formatted_business_phone_number": lambda ctx, c: pretty_phone(c.business_phone_number),
    "formatted_customer_name": lambda ctx, c: pretty_name(c.customer_name) or pretty_phone(c.customer_phone_number),
    "formatted_customer_name_or_phone_number": lambda ctx, c: pretty_name(c.customer_name)
    or pretty_phone(c.customer_phone_number),
    "formatted_customer_phone_number": lambda ctx, c: pretty_phone(c.customer_phone_number),
    "formatted_duration": lambda ctx, c: pretty_duration(c.duration),
    "formatted_tracking_phone_number": lambda ctx, c: pretty_phone(c.tracking_phone_number),
    "formatted_tracking_source": lambda ctx, c: c.source,
    "formatted_value": lambda ctx, c: money(c.value),
    "good_lead_call_id": lambda ctx, c: None,
    "good_lead_call_time": lambda ctx, c: None,
    "source_name": lambda ctx, c: _tracker_name(ctx, c.tracker_id),
    "tags": lambda ctx, c: render_tags(ctx, c.tag_ids),
    "total_calls": lambda ctx, c: ctx.acc.caller_counts.get((c.company_id, c.customer_phone_number), 1),
    "waveforms": lambda ctx, c: [
        f"{ctx.base_url}/_sandbox/calls/{call_legacy_id(ctx, c)}/waveform.png?channel=agent",
        f"{ctx.base_url}/_sandbox/calls/{call_legacy_id(ctx, c)}/waveform.png?channel=customer",
    ]
    if c.recording_key
    else None,
    "speaker_percent": lambda ctx, c: {"agent": 46.3, "customer": 53.7} if c.recording_key and c.answered else None,
    "last_requested_url": lambda ctx, c: c.landing_page_url,
    "referrer_domain": lambda ctx, c: domain_of(c.referring_url),
    "utm_source": lambda ctx, c: _UTM.get(c.source, (None, None))[0],
    "utm_medium": lambda ctx, c: _UTM.get(c.source, (None, None))[1],
    "utm_term": lambda ctx, c: c.keywords,
    "utm_content": lambda ctx, c: None,
    "utm_campaign": lambda ctx, c: c.campaign,
    "utma": lambda ctx, c: None,
    "utmb": lambda ctx, c: None,
    "utmc": lambda ctx, c: None,
    "utmv": lambda ctx, c: None,
    "utmz": lambda ctx, c: None,
    "ga": lambda ctx, c: None,
    "gclid": lambda ctx, c: _click_id(c, "Google Ads"),
    "fbclid": lambda ctx, c: _click_id(c, "Facebook Ads"),
    "msclkid": lambda ctx, c: _click_id(c, "Bing Ads"),
    "milestones": _milestones,
    "timeline_url": lambda ctx, c: f"{ctx.base_url}/_sandbox/people/{c.person_id}/timeline",
    "integration_data": lambda ctx, c: [],
    "keywords_spotted": lambda ctx, c: [],
    "call_highlights": lambda ctx, c: [],
    "conversational_transcript": lambda ctx, c: None,
    "agent_email": _agent_email,
    "keypad_entries": lambda ctx, c: [],
    "zip_code": lambda ctx, c: [],
    "customer_number": lambda ctx, c: c.customer_phone_number,
}


def _tag_names(ctx: Ctx, call: Any) -> list[str]:
    ids = call.tag_ids if isinstance(call, Call) else call["tag_ids"]
    return [ctx.acc.tags[t]["name"].lower() for t in ids if t in ctx.acc.tags]


def _has_tag(ctx: Ctx, record: Any, values: list[str]) -> bool:
    wanted = {v.lower() for value in values for v in value.split(",") if v}
    return any(name in wanted for name in _tag_names(ctx, record))


def _call_type_filter(ctx: Ctx, c: Call, value: str) -> bool:
    if value == "first_call":
        return bool(c.first_call)
    if value == "missed":
        return c.direction == "inbound" and not c.answered and not c.voicemail
    if value == "voicemails":
        return bool(c.voicemail)
    return c.direction == value


def _answer_status(c: Call, value: str) -> bool:
    if value == "answered":
        return bool(c.answered)
    if value == "voicemail":
        return bool(c.voicemail)
    return not c.answered and not c.voicemail


def _lead_status_filter(record: Any, value: str) -> bool:
    status = record.lead_status if isinstance(record, Call) else record["lead_status"]
    return status is None if value == "not_scored" else status == value


CALLS = ResourceSpec(
    path="calls",
    list_key="calls",
    default_fields=CALL_FIELDS,
    extra_fields=CALL_EXTRA_FIELDS,
    computed=CALL_COMPUTED,
    sort_fields={
        "customer_name": (_attr("customer_name"), "asc"),
        "customer_phone_number": (_attr("customer_phone_number"), "asc"),
        "duration": (_attr("duration"), "asc"),
        "start_time": (_attr("start_ts"), "desc"),
        "source": (_attr("source"), "asc"),
        "customer_city": (_attr("customer_city"), "asc"),
        "customer_country": (_attr("customer_country"), "asc"),
        "landing_page_url": (_attr("landing_page_url"), "asc"),
        "device_type": (_attr("device_type"), "asc"),
        "answered": (_attr("answered"), "asc"),
        "first_call": (_attr("first_call"), "asc"),
        "source_name": (lambda ctx, c: _tracker_name(ctx, c.tracker_id), "asc"),
        "lead_status": (_attr("lead_status"), "asc"),
        "tags": (lambda ctx, c: ",".join(sorted(_tag_names(ctx, c))), "asc"),
    },
    default_sort=("start_time", "desc"),
    search_fields=(
        "business_phone_number",
        "customer_name",
        "customer_number",
        "note",
        "source",
        "tracking_phone_number",
    ),
    filters={
        "company_id": Filter(lambda ctx, c, v: c.company_id == v),
        "tracker_id": Filter(lambda ctx, c, v: c.tracker_id == v),
        "call_type": Filter(
            _call_type_filter, choices=("first_call", "missed", "voicemails", "inbound", "outbound")
        ),
        "answer_status": Filter(lambda ctx, c, v: _answer_status(c, v), choices=("answered", "missed", "voicemail")),
        "device": Filter(lambda ctx, c, v: c.device_type == v, choices=("desktop", "mobile")),
        "direction": Filter(lambda ctx, c, v: c.direction == v, choices=("inbound", "outbound")),
        "lead_status": Filter(
            lambda ctx, c, v: _lead_status_filter(c, v), choices=("good_lead", "not_a_lead", "not_scored")
        ),
        "tags": Filter(_has_tag, multi=True),
    },
    relative_pagination=True,
    presorted="start_time",
    label="Call",
)


def call_window(ctx: Ctx) -> tu.Window:
    return tu.resolve_window(ctx.params, ctx.now, ctx.acc.time_zone)


def call_candidates(ctx: Ctx) -> list:
    window = call_window(ctx)
    return ctx.acc.calls.between(window.start.timestamp(), window.end.timestamp())


def call_lookup(ctx: Ctx, call_id: str) -> Call:
    call = ctx.acc.calls.find(call_id)  # its CAL… id, or its numeric (legacy) id as the docs' examples use
    if call is None or not ctx.visible(call):
        raise not_found("Call")
    return call


WEBHOOK_CALL_FIELDS = CALL_FIELDS + tuple(f for f in CALL_EXTRA_FIELDS if f != "milestones")

#: The key order of the docs' only call webhook body (the signature test vector under "Webhooks →
#: Security"): the call object with legacy types (numeric ``id``/``company_id``/``tracker_id``, ``duration``
#: as text, empty strings for missing text), then the legacy fields, then ``timestamp``.
WEBHOOK_CALL_ORDER = (
    "answered", "business_phone_number", "call_type", "company_id", "company_name", "company_time_zone",
    "created_at", "customer_city", "customer_country", "customer_name", "customer_phone_number", "customer_state",
    "device_type", "direction", "duration", "first_call", "formatted_call_type", "formatted_customer_location",
    "formatted_business_phone_number", "formatted_customer_name", "prior_calls",
    "formatted_customer_name_or_phone_number", "formatted_customer_phone_number", "formatted_duration",
    "formatted_tracking_phone_number", "formatted_tracking_source", "formatted_value", "good_lead_call_id",
    "good_lead_call_time", "id", "lead_status", "note", "recording", "recording_duration", "source_name",
    "start_time", "tags", "total_calls", "tracking_phone_number", "transcription", "value", "voicemail",
    "tracker_id", "keywords", "medium", "referring_url", "landing_page_url", "last_requested_url",
    "referrer_domain", "conversational_transcript", "utm_source", "utm_medium", "utm_term", "utm_content",
    "utm_campaign", "utma", "utmb", "utmc", "utmv", "utmz", "ga", "gclid", "integration_data", "keywords_spotted",
    "recording_player", "speaker_percent", "call_highlights",
)  # fmt: skip
WEBHOOK_LEGACY_ORDER = (
    "callercity", "callercountry", "callername", "callernum", "callerstate", "callsource", "campaign", "custom",
    "datetime", "destinationnum", "ip", "kissmetrics_id", "landingpage", "referrer", "referrermedium", "score",
    "tag", "trackingnum",
)  # fmt: skip
#: Keys the test vector shows as "" where the API answers null.
WEBHOOK_BLANK_TEXT = frozenset((
    "business_phone_number", "device_type", "formatted_business_phone_number", "note", "transcription", "value",
    "keywords", "medium", "referring_url", "landing_page_url", "last_requested_url", "referrer_domain",
    "conversational_transcript", "utm_source", "utm_medium", "utm_term", "utm_content", "utm_campaign", "utma",
    "utmb", "utmc", "utmv", "utmz", "ga", "gclid", "keywords_spotted", "speaker_percent", "campaign",
))  # fmt: skip
_CALLSOURCE = {"Google Ads": "google_paid", "Google Organic": "google_organic", "Bing Ads": "bing_paid",
               "Bing Organic": "bing_organic", "Facebook Ads": "facebook_paid"}  # fmt: skip


def call_legacy_id(ctx: Ctx, call: Call) -> int:
    return ctx.acc.calls.legacy_id(call)


def call_webhook_payload(ctx: Ctx, call: Call, changes: list[str] | None = None) -> dict:
    """A call webhook body as the docs show it: the call object with its legacy numeric ids and types, the
    legacy fields, ``timestamp`` taken from the data (the call's start, as in the docs' example), and for
    Call Modified the ``changes``. It carries no ``CAL…`` id."""
    api = CALLS.render(ctx, call, WEBHOOK_CALL_FIELDS)
    legacy = call_legacy_id(ctx, call)
    company = ctx.acc.companies.get(call.company_id)
    recorded = bool(call.recording_key)
    api.update(
        id=legacy,
        company_id=company["_numeric_id"] if company else None,
        tracker_id=legacy_number(call.tracker_id) if call.tracker_id else None,
        duration=str(call.duration) if call.duration is not None else None,
        recording=(f"{ctx.base_url}/_sandbox/calls/{legacy}/recording/redirect?access_key={call.recording_key}"
                   if recorded else None),
        recording_duration=call.recording_duration if recorded else None,
        integration_data=[{"integration": "Webhooks", "data": None}],
        keywords_spotted=None,
        speaker_percent=None,
    )  # fmt: skip
    for key in WEBHOOK_BLANK_TEXT:
        if api.get(key) is None:
            api[key] = ""
    names = [t["name"] for t in api.get("tags") or []]
    legacy_fields = {
        "callercity": call.customer_city or "", "callercountry": call.customer_country or "",
        "callername": call.customer_name or "", "callernum": call.customer_phone_number or "",
        "callerstate": call.customer_state or "",
        "callsource": _CALLSOURCE.get(call.source or "", (call.source or "").lower().replace(" ", "_")),
        "campaign": api.get("campaign") or "", "custom": "",
        "datetime": call.start.astimezone(tu.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "destinationnum": call.business_phone_number or "", "ip": "", "kissmetrics_id": "",
        "landingpage": call.landing_page_url or "", "referrer": call.referring_url or "",
        "referrermedium": call.medium or "",
        "score": 1 if call.lead_status in ("good_lead", "previously_marked_good_lead") else 0,
        "tag": ",".join(names), "trackingnum": call.tracking_phone_number or "",
    }  # fmt: skip
    payload = {key: api[key] for key in WEBHOOK_CALL_ORDER if key in api}
    payload.update((key, value) for key, value in api.items() if key not in payload and key != "campaign")
    payload.update((key, legacy_fields[key]) for key in WEBHOOK_LEGACY_ORDER)
    payload["timestamp"] = api["start_time"]
    if changes is not None:
        payload["changes"] = changes
    return payload


def _apply_interaction_edits(ctx: Ctx, record: Any, company_id: str, body: Body) -> list[str]:
    """The shared part of updating a call or a form submission: tags, note, value, lead status."""
    get = (lambda k: getattr(record, k)) if isinstance(record, Call) else record.__getitem__
    put = (lambda k, v: setattr(record, k, v)) if isinstance(record, Call) else record.__setitem__
    changes = []
    tag_key = "tags" if body.has("tags") else ("tag_list" if body.has("tag_list") else None)
    if tag_key:
        names = body.string_list(tag_key) or []
        ids = resolve_tags(ctx, company_id, names)
        if body.boolean("append_tags", False):
            ids = get("tag_ids") + [t for t in ids if t not in get("tag_ids")]
        put("tag_ids", ids)
        changes.append("tags")
    if body.has("note"):
        put("note", body.string("note", max_length=10000, blank_to_none=True))
        changes.append("note")
    if body.has("value"):
        put("value", parse_money(body.raw("value")))
        changes.append("value")
    if body.has("lead_status"):
        status = body.raw("lead_status")
        if status in (None, ""):
            status = None
        elif status not in ("good_lead", "not_a_lead"):
            raise bad_request("Invalid value for lead_status: must be good_lead, not_a_lead or null")
        if status == "good_lead" and get("lead_status") == "previously_marked_good_lead":
            raise bad_request("This lead was previously marked as a good lead and cannot be marked good_lead again")
        put("lead_status", status)
        changes.append("lead_status")
    return changes


def update_call(ctx: Ctx, call: Call, body: Body) -> dict:
    changes = _apply_interaction_edits(ctx, call, call.company_id, body)
    if body.has("customer_name"):
        call.customer_name = body.string("customer_name", blank_to_none=True)
        changes.append("customer_name")
    if body.has("spam"):
        spam = body.boolean("spam", False)
        if spam and not call.spam:
            call.spam = True
            ctx.acc.calls.hide(call)
            changes.append("spam")
        elif not spam and call.spam:
            raise unprocessable("Spam status cannot be removed via the API")
    if changes:
        event = "updated_outbound_call_webhook" if call.direction == "outbound" else "updated_call_webhook"
        ctx.state.emit(ctx.acc, call.company_id, event, call_webhook_payload(ctx, call, changes), call=call)
    return CALLS.render(ctx, call)


def _caller_id_owner(ctx: Ctx, number: str) -> tuple[str, str | None] | None:
    for tracker in ctx.acc.trackers.values():
        if tracker["status"] == "active" and number in tracker["tracking_numbers"]:
            return tracker["_company_id"], tracker["id"]
    for caller_id in ctx.acc.caller_ids.values():
        if caller_id["verified"] and caller_id["phone_number"] == number:
            return caller_id["_company_id"], None
    return None


def create_outbound_call(ctx: Ctx, body: Body) -> tuple[int, dict]:
    for key in ("caller_id", "customer_phone_number", "business_phone_number"):
        if body.raw(key) in (None, ""):
            raise bad_request(f"Missing required parameter: {key}")
    caller_id = require_phone(body.raw("caller_id"), "caller_id")
    customer = require_phone(body.raw("customer_phone_number"), "customer_phone_number")
    business = require_phone(body.raw("business_phone_number"), "business_phone_number")
    body.boolean("recording_enabled", False)
    for key in ("outbound_greeting_recording_url", "outbound_greeting_text"):
        body.string(key, max_length=1000)
    agent_id = body.string("agent_id", blank_to_none=True)
    owner = _caller_id_owner(ctx, caller_id)
    if owner is None:
        raise unprocessable("caller_id must be an active tracking number or a verified outbound caller ID")
    company_id, tracker_id = owner
    if not ctx.visible({"company_id": company_id}):
        raise not_found("Company")
    call = ctx.state.new_call(
        ctx.acc,
        company_id=company_id,
        tracker_id=tracker_id,
        direction="outbound",
        customer_phone_number=customer,
        business_phone_number=business,
        tracking_phone_number=caller_id,
        agent_id=_user(ctx, agent_id)["id"] if agent_id else None,
        start=ctx.now,
    )
    return 201, CALLS.render(ctx, call, tuple(f for f in CALL_FIELDS if f != "recording_player"))


# --------------------------------------------------------------------------------------------------------------
# form submissions

FORM_FIELDS = (
    "id",
    "company_id",
    "person_id",
    "form_data",
    "form_url",
    "landing_page_url",
    "referrer",
    "referring_url",
    "submitted_at",
    "first_form",
    "customer_phone_number",
    "customer_name",
    "customer_email",
    "formatted_customer_phone_number",
    "formatted_customer_name",
    "source",
    "keywords",
    "campaign",
    "medium",
)
FORM_CREATE_FIELDS = FORM_FIELDS[:10]
FORM_EXTRA_FIELDS = (
    "company_name",
    "lead_status",
    "value",
    "note",
    "tags",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "form_name",
    "timeline_url",
    "milestones",
)


def _form_milestones(ctx: Ctx, form: dict) -> dict:
    tz = ctx.tz_for(form["company_id"])

    def touch(when) -> dict:
        return {
            "event_date": tu.local_ms(when, tz),
            "ad_position": None,
            "campaign": form["campaign"],
            "device": "desktop",
            "keywords": form["keywords"],
            "landing": form["landing_page_url"],
            "landing_page_url_params": {},
            "match_type": None,
            "medium": (form["medium"] or "").lower() or None,
            "referrer": form["referring_url"],
            "referrer_url_params": {},
            "session_browser": "Chrome",
            "url_utm_params": {},
            "source": form["source"],
        }

    first = touch(form["submitted"] - timedelta(days=1, hours=3))
    qualified = touch(form["submitted"]) if form["lead_status"] == "good_lead" else {
        key: ({} if key.endswith("params") else None) for key in first
    }
    return {
        "first_touch": first,
        "lead_created": touch(form["submitted"] - timedelta(minutes=4)),
        "qualified": qualified,
        "last_touch": touch(form["submitted"]),
    }


FORM_SUBMISSIONS = ResourceSpec(
    path="form_submissions",
    list_key="form_submissions",
    default_fields=FORM_FIELDS,
    extra_fields=FORM_EXTRA_FIELDS,
    computed={
        "form_data": lambda ctx, f: dict(f["form_data"]),
        "submitted_at": lambda ctx, f: tu.utc_ms(f["submitted"]),
        "created_at": lambda ctx, f: tu.utc_ms(f["submitted"]),
        "formatted_customer_phone_number": lambda ctx, f: pretty_phone(f["customer_phone_number"]),
        "formatted_customer_name": lambda ctx, f: pretty_name(f["customer_name"]),
        "company_name": lambda ctx, f: _company_name(ctx, f["company_id"]),
        "tags": lambda ctx, f: render_tags(ctx, f["tag_ids"]),
        "timeline_url": lambda ctx, f: f"{ctx.base_url}/_sandbox/people/{f['person_id']}/timeline",
        "milestones": _form_milestones,
    },
    sort_fields={
        "created_at": (_key("submitted"), "desc"),
        "submitted_at": (_key("submitted"), "desc"),
        "form_url": (_key("form_url"), "asc"),
    },
    default_sort=("submitted_at", "desc"),
    filters={
        "company_id": Filter(lambda ctx, f, v: f["company_id"] == v),
        "person_lead": Filter(lambda ctx, f, v: (f["person_id"] != "anonymous") == v, boolean=True),
        "lead_status": Filter(
            lambda ctx, f, v: _lead_status_filter(f, v), choices=("good_lead", "not_a_lead", "not_scored")
        ),
        "tags": Filter(_has_tag, multi=True),
    },
    label="Form submission",
)


def form_candidates(ctx: Ctx) -> list:
    window = call_window(ctx)
    return [f for f in ctx.acc.form_submissions.values() if window.start <= f["submitted"] <= window.end]


def form_webhook_payload(ctx: Ctx, form: dict) -> dict:
    """As the docs show it: numeric ``id`` and ``company_id``, no ``FOR…``/``COM…`` id and no ``timestamp`` (the
    docs' example has none; ``submitted_at`` is the time the data gives)."""
    company = ctx.acc.companies.get(form["company_id"])
    return {
        "id": form["_numeric_id"],
        "company_id": company["_numeric_id"] if company else None,
        "form_data": dict(form["form_data"]),
        "form_url": form["form_url"],
        "landing_page_url": form["landing_page_url"],
        "referrer": form["referrer"],
        "referring_url": form["referring_url"],
        "submitted_at": tu.local_ms(form["submitted"], ctx.tz_for(form["company_id"])),
        "first_form": form["first_form"],
        "source": form["source"],
        "keywords": form["keywords"],
        "campaign": form["campaign"],
        "medium": form["medium"],
        "utm_source": form["utm_source"],
        "utm_medium": form["utm_medium"],
        "utm_campaign": form["utm_campaign"],
    }


def create_form_submission(ctx: Ctx, body: Body) -> tuple[int, dict]:
    if isinstance(body.raw("form_submission"), dict):
        body = Body(body.raw("form_submission"))
    company = _company(ctx, body.string("company_id", required=True))
    values = {key: body.string(key, required=True, max_length=2000) for key in
              ("referrer", "referring_url", "landing_page_url", "form_url")}
    form_data = body.obj("form_data", required=True)
    form = ctx.state.new_form_submission(ctx.acc, company["id"], form_data, submitted=ctx.now, **values)
    ctx.state.emit(ctx.acc, company["id"], "form_captured_webhook", form_webhook_payload(ctx, form))
    return 201, FORM_SUBMISSIONS.render(ctx, form, FORM_CREATE_FIELDS)


def update_form_submission(ctx: Ctx, form: dict, body: Body) -> dict:
    _apply_interaction_edits(ctx, form, form["company_id"], body)
    return FORM_SUBMISSIONS.render(ctx, form, FORM_FIELDS)


# --------------------------------------------------------------------------------------------------------------
# text messages (conversations)

CONVERSATION_FIELDS = (
    "id",
    "company_id",
    "initial_tracker_id",
    "current_tracker_id",
    "customer_name",
    "customer_phone_number",
    "initial_tracking_number",
    "current_tracking_number",
    "last_message_at",
    "state",
    "company_time_zone",
    "formatted_customer_phone_number",
    "formatted_initial_tracking_number",
    "formatted_current_tracking_number",
    "formatted_customer_name",
)


def _last_message(conv: dict):
    return conv["messages"][-1]["created"] if conv["messages"] else None


TEXT_MESSAGES = ResourceSpec(
    path="text-messages",
    list_key="conversations",
    default_fields=(*CONVERSATION_FIELDS, "recent_messages"),
    extra_fields=("lead_status",),
    computed={
        "last_message_at": lambda ctx, c: tu.utc_ms(_last_message(c)),
        "company_time_zone": lambda ctx, c: ctx.acc.companies[c["company_id"]]["time_zone"],
        "formatted_customer_phone_number": lambda ctx, c: pretty_phone(c["customer_phone_number"]),
        "formatted_initial_tracking_number": lambda ctx, c: pretty_phone(c["initial_tracking_number"]),
        "formatted_current_tracking_number": lambda ctx, c: pretty_phone(c["current_tracking_number"]),
        "formatted_customer_name": lambda ctx, c: pretty_name(c["customer_name"]),
        "recent_messages": lambda ctx, c: [
            {"direction": m["direction"], "content": m["content"], "created_at": tu.utc_ms(m["created"])}
            for m in reversed(c["messages"][-2:])
        ],
    },
    search_fields=("customer_phone_number", "customer_name"),
    filters={"company_id": Filter(lambda ctx, c, v: c["company_id"] == v)},
    label="Conversation",
)


def conversation_candidates(ctx: Ctx) -> list:
    window = call_window(ctx)
    records = [
        c for c in ctx.acc.text_conversations.values()
        if c["messages"] and window.start <= c["messages"][-1]["created"] <= window.end
    ]
    records.sort(key=lambda c: c["messages"][-1]["created"], reverse=True)
    return records


def show_conversation(ctx: Ctx, conv: dict) -> dict:
    fields = TEXT_MESSAGES.fields_for(ctx, CONVERSATION_FIELDS)
    out = TEXT_MESSAGES.render(ctx, conv, fields)
    page, _ = paginate(MESSAGES, ctx, list(reversed(conv["messages"])))
    out.update(page)
    return out


MESSAGES = ResourceSpec(
    path="messages",
    list_key="messages",
    default_fields=("id", "content", "created_at", "status", "direction", "user"),
    computed={
        "created_at": lambda ctx, m: tu.utc_ms(m["created"]),
        "user": lambda ctx, m: (
            {"id": u["id"], "name": f"{u['first_name']} {u['last_name']}"}
            if (u := ctx.acc.users.get(m["user_id"] or "")) else None
        ),
    },
)


def send_text(ctx: Ctx, body: Body) -> tuple[int, dict]:
    company = _company(ctx, body.string("company_id", required=True))
    if body.raw("customer_phone_number") in (None, ""):
        raise bad_request("Missing required parameter: customer_phone_number")
    customer = require_phone(body.raw("customer_phone_number"), "customer_phone_number")
    content = body.string("content", required=True, max_length=100000)
    if len(content) > 140:
        raise bad_request("content must be limited to 140 characters")
    existing = next(
        (c for c in ctx.acc.text_conversations.values()
         if c["company_id"] == company["id"] and c["customer_phone_number"] == customer),
        None,
    )
    raw_number = body.raw("tracking_number")
    if raw_number in (None, ""):
        if existing is None:
            raise bad_request("Missing required parameter: tracking_number")
        tracker = ctx.acc.trackers.get(existing["current_tracker_id"])
        number = existing["current_tracking_number"]
    else:
        number = require_phone(raw_number, "tracking_number")
        tracker = next(
            (t for t in ctx.acc.trackers.values()
             if t["_company_id"] == company["id"] and number in t["tracking_numbers"]),
            None,
        )
    if tracker is None or tracker["status"] != "active" or not tracker["sms_enabled"]:
        raise unprocessable("tracking_number must be an active, SMS-enabled tracking number of this company")
    user_id = ctx.key_user["id"] if ctx.key_user else None
    conv = ctx.state.add_text_message(
        ctx.acc, company["id"], tracker, number, customer, content, "outgoing", ctx.now, user_id=user_id
    )
    ctx.state.emit(ctx.acc, company["id"], "sms_sent_webhook", text_webhook_payload(ctx, conv, outgoing=True))
    return 201, TEXT_MESSAGES.render(ctx, conv)


def text_webhook_payload(ctx: Ctx, conv: dict, *, outgoing: bool) -> dict:
    message = conv["messages"][-1]
    payload = {"id": message["id"], "resource_id": message["resource_id"]}
    if outgoing:
        user = ctx.acc.users.get(message["user_id"] or "")
        payload["agent"] = f"{user['first_name']} {user['last_name']}" if user else None
        source, destination = conv["current_tracking_number"], conv["customer_phone_number"]
    else:
        source, destination = conv["customer_phone_number"], conv["current_tracking_number"]
    payload.update(
        {
            "source_number": pretty_phone(source),
            "destination_number": pretty_phone(destination),
            "content": message["content"],
            "timestamp": tu.local_ms(message["created"], ctx.tz_for(conv["company_id"])),
            "lead_status": conv["lead_status"],
            "conversation_id": conv["id"],
            "company_resource_id": conv["company_id"],
            "person_resource_id": conv["person_id"],
        }
    )
    return payload


# --------------------------------------------------------------------------------------------------------------
# page views of a call (session trackers)

PAGE_VIEWS = ResourceSpec(
    path="page_views",
    list_key="page_views",
    default_fields=("referrer_url", "page_url", "created_at"),
)


def page_views(ctx: Ctx, call: Call) -> list[dict]:
    if not call.landing_page_url:
        return []
    site = call.landing_page_url.split("?", 1)[0].rstrip("/")
    paths = ["", "/services", "/about", "/reviews", "/contact"]
    count = 1 + int(call.id[-2:], 16) % len(paths)
    tz = ctx.tz_for(call.company_id)
    views = []
    referrer = call.referring_url
    for index in range(count):
        page = call.landing_page_url if index == 0 else f"{site}{paths[index]}/"
        when = call.start - timedelta(seconds=40 * (count - index))
        views.append({"referrer_url": referrer, "page_url": page, "created_at": tu.local_ms(when, tz)})
        referrer = page
    return list(reversed(views))


PAGE_VIEWS.computed = {name: _key(name) for name in PAGE_VIEWS.default_fields}


# --------------------------------------------------------------------------------------------------------------
# integration triggers (docs: "Integration Triggers"; listed under the key "integration_criteria")

TRIGGER_FIELDS = ("id", "company_id", "integration_id", "tracker_ids", "call_type", "min_duration", "max_duration",
                  "lead_status", "integration")  # fmt: skip
TRIGGER_CALL_TYPES = ("first_call", "vm", "missed_and_vm")
DEFAULT_TRIGGER_TYPE = "All (Default Integration Trigger)"


def _trigger_integration(ctx: Ctx, trigger: dict) -> dict:
    integration = ctx.acc.integrations.get(trigger["integration_id"]) if trigger["integration_id"] else None
    if integration is None:
        return {"id": None, "type": DEFAULT_TRIGGER_TYPE}
    return {"id": integration["id"], "type": integration["type"]}


INTEGRATION_TRIGGERS = ResourceSpec(
    path="integration_triggers",
    list_key="integration_criteria",
    default_fields=TRIGGER_FIELDS,
    computed={
        "company_id": lambda ctx, t: t["_company_id"],
        "tracker_ids": lambda ctx, t: list(t["tracker_ids"]),
        "integration": _trigger_integration,
    },
    id_kind=int,
    label="Integration trigger",
)


def trigger_candidates(ctx: Ctx) -> list:
    company_id = ctx.params.get("company_id")
    if not company_id:
        raise bad_request("Missing required parameter: company_id")
    company = _company(ctx, company_id)
    return sorted((t for t in ctx.acc.integration_triggers.values() if t["_company_id"] == company["id"]),
                  key=lambda t: t["id"])  # fmt: skip


def _trigger_settings(ctx: Ctx, company_id: str, body: Body, trigger: dict) -> None:
    if body.has("tracker_ids"):
        ids = body.string_list("tracker_ids") or []
        for tracker_id in ids:
            tracker = ctx.acc.trackers.get(tracker_id)
            if tracker is None or tracker["_company_id"] != company_id:
                raise bad_request(f"Invalid value for tracker_ids: {tracker_id} is not a tracker of this company")
        trigger["tracker_ids"] = list(ids)
    if body.has("call_type"):
        value = body.raw("call_type")
        if value not in (None, "", *TRIGGER_CALL_TYPES):
            raise bad_request("Invalid value for call_type: must be null, first_call, vm or missed_and_vm")
        trigger["call_type"] = value or None
    for key in ("min_duration", "max_duration"):
        if body.has(key):
            value = body.raw(key)
            trigger[key] = None if value in (None, "") else parse_int(value, key, minimum=0)
    if trigger["min_duration"] is not None and trigger["max_duration"] is not None \
            and trigger["min_duration"] > trigger["max_duration"]:
        raise bad_request("min_duration must not be greater than max_duration")
    if body.has("lead_status"):
        value = body.raw("lead_status")
        if value not in (None, "", "good_lead", "not_a_lead"):
            raise bad_request("Invalid value for lead_status: must be good_lead, not_a_lead or null")
        trigger["lead_status"] = value or None


def create_integration_trigger(ctx: Ctx, body: Body) -> tuple[int, dict]:
    ctx.require_role("admin", "manager")
    company = _company(ctx, body.string("company_id", required=True))
    raw_integration = body.raw("integration_id")
    integration = None
    if raw_integration not in (None, ""):
        integration = ctx.acc.integrations.get(parse_int(raw_integration, "integration_id"))
        if integration is None or integration["_company_id"] != company["id"]:
            raise not_found("Integration")
        if integration["state"] != "active":
            raise bad_request("An integration trigger can only be added to an active integration")
        if integration["type"] not in ("Webhooks", "Custom"):
            raise bad_request(f"{integration['type']} integrations cannot be configured with an integration trigger")
    integration_id = integration["id"] if integration else None
    if any(t["_company_id"] == company["id"] and t["integration_id"] == integration_id
           for t in ctx.acc.integration_triggers.values()):  # fmt: skip
        what = "this integration" if integration_id else "this company (default trigger)"
        raise bad_request(f"An integration trigger already exists for {what}")
    trigger = {"id": ctx.state.next_int("integration_trigger"), "_company_id": company["id"],
               "integration_id": integration_id, "tracker_ids": [], "call_type": None, "min_duration": None,
               "max_duration": None, "lead_status": None}  # fmt: skip
    _trigger_settings(ctx, company["id"], body, trigger)
    ctx.acc.integration_triggers[trigger["id"]] = trigger
    return 201, INTEGRATION_TRIGGERS.render(ctx, trigger)


def update_integration_trigger(ctx: Ctx, trigger: dict, body: Body) -> dict:
    ctx.require_role("admin", "manager")
    _trigger_settings(ctx, trigger["_company_id"], body, trigger)
    return INTEGRATION_TRIGGERS.render(ctx, trigger)


def delete_integration_trigger(ctx: Ctx, trigger: dict) -> None:
    ctx.require_role("admin", "manager")
    del ctx.acc.integration_triggers[trigger["id"]]


def trigger_allows(acc: Any, integration: dict, call: Call) -> bool:
    """Whether the integration's trigger (or the company's default one) lets a call event through: every
    attribute set must match (they are additive); none set, or no trigger, lets everything through."""
    triggers = [t for t in acc.integration_triggers.values() if t["_company_id"] == integration["_company_id"]]
    trigger = next((t for t in triggers if t["integration_id"] == integration["id"]), None)
    trigger = trigger or next((t for t in triggers if t["integration_id"] is None), None)
    if trigger is None:
        return True
    if trigger["tracker_ids"] and call.tracker_id not in trigger["tracker_ids"]:
        return False
    kind = trigger["call_type"]
    if (kind == "first_call" and not call.first_call) or (kind == "vm" and not call.voicemail) \
            or (kind == "missed_and_vm" and call.answered):
        return False
    duration = call.duration or 0
    if trigger["min_duration"] is not None and duration < trigger["min_duration"]:
        return False
    if trigger["max_duration"] is not None and duration > trigger["max_duration"]:
        return False
    return not (trigger["lead_status"] and call.lead_status != trigger["lead_status"])


# --------------------------------------------------------------------------------------------------------------
# outbound caller IDs (docs: "Outbound Caller IDs"; the list needs company_id)

CALLER_IDS = ResourceSpec(
    path="caller_ids",
    list_key="caller_ids",
    default_fields=("id", "phone_number", "name", "verified", "created_at", "validation_code"),
    computed={"created_at": lambda ctx, c: tu.local_ms(c["created"], ctx.tz_for(c["_company_id"]))},
    id_kind=int,
    label="Outbound caller ID",
)


def caller_id_candidates(ctx: Ctx) -> list:
    company_id = ctx.params.get("company_id")
    if not company_id:
        raise bad_request("Missing required parameter: company_id")
    company = _company(ctx, company_id)
    return sorted((c for c in ctx.acc.caller_ids.values() if c["_company_id"] == company["id"]), key=lambda c: c["id"])


def create_caller_id(ctx: Ctx, body: Body) -> tuple[int, dict]:
    """Registers the number; CallRail then calls it to verify ownership, so it starts unverified."""
    ctx.require_role("admin", "manager")
    company = _company(ctx, body.string("company_id", required=True))
    if body.raw("phone_number") in (None, ""):
        raise bad_request("Missing required parameter: phone_number")
    number = require_phone(body.raw("phone_number"), "phone_number")
    name = body.string("name", required=True, max_length=255)
    if any(c["_company_id"] == company["id"] and c["phone_number"] == number for c in ctx.acc.caller_ids.values()):
        raise unprocessable("This phone number is already an outbound caller ID of this company")
    caller_id = {"id": ctx.state.next_int("caller_id"), "phone_number": number, "name": name, "verified": False,
                 "created": ctx.now, "validation_code": f"{ctx.state.rng.randint(0, 999999):06d}",
                 "_company_id": company["id"]}  # fmt: skip
    ctx.acc.caller_ids[caller_id["id"]] = caller_id
    return 201, CALLER_IDS.render(ctx, caller_id)


def delete_caller_id(ctx: Ctx, caller_id: dict) -> None:
    ctx.require_role("admin", "manager")
    del ctx.acc.caller_ids[caller_id["id"]]


# --------------------------------------------------------------------------------------------------------------
# form summary and ignored form fields

FORM_SUMMARY_FIELDS = ("total_forms", "first_forms", "leads")
FORM_GROUP_BY = ("source", "keywords", "campaign", "referrer", "landing_page", "form_name", "company")


def form_summary(ctx: Ctx) -> dict:
    """``GET forms/summary.json``: totals of the window's form submissions, optionally grouped."""
    window = call_window(ctx)
    p = ctx.params
    raw = p.get("fields")
    fields = tuple(dict.fromkeys(f.strip() for f in raw.split(",") if f.strip())) if raw else ("total_forms",)
    unknown = [f for f in fields if f not in FORM_SUMMARY_FIELDS]
    if unknown:
        raise bad_request(f"Invalid fields: {', '.join(unknown)}. Choose from {', '.join(FORM_SUMMARY_FIELDS)}")
    group_by = p.get("group_by")
    if group_by and group_by not in FORM_GROUP_BY:
        raise bad_request(f"Invalid value for group_by: must be one of {', '.join(FORM_GROUP_BY)}")
    forms = [f for f in ctx.acc.form_submissions.values()
             if window.start <= f["submitted"] <= window.end and ctx.visible(f)]  # fmt: skip
    if p.get("company_id"):
        company = _company(ctx, p["company_id"])
        forms = [f for f in forms if f["company_id"] == company["id"]]
    tags = multi_values(ctx, "tags")
    if tags:
        wanted = {t.strip().lower() for value in tags for t in value.split(",")}
        forms = [f for f in forms if wanted & {ctx.acc.tags[t]["name"].lower() for t in f["tag_ids"]
                                               if t in ctx.acc.tags}]  # fmt: skip
    if p.get("form_URL"):
        forms = [f for f in forms if f["form_url"] == p["form_URL"]]
    if p.get("lead_status"):
        status = p["lead_status"]
        if status not in ("good_lead", "not_a_lead", "not_scored"):
            raise bad_request("Invalid value for lead_status: must be good_lead, not_a_lead or not_scored")
        forms = [f for f in forms if _lead_status_filter(f, status)]

    def totals(members: list[dict]) -> dict:
        counts = {"total_forms": len(members), "first_forms": sum(1 for f in members if f["first_form"]),
                  "leads": sum(1 for f in members if f["lead_status"] == "good_lead")}  # fmt: skip
        return {name: counts[name] for name in fields}

    body: dict[str, Any] = {
        "start_date": tu.compact_offset(window.start),
        "end_date": tu.compact_offset(window.end.replace(microsecond=0)),
        "time_zone": window.tz_name,
        "total_results": totals(forms),
    }
    if group_by:
        keys = {"source": lambda f: f["source"], "keywords": lambda f: f["keywords"],
                "campaign": lambda f: f["campaign"], "referrer": lambda f: f["referrer"],
                "landing_page": lambda f: f["landing_page_url"], "form_name": lambda f: f["form_name"],
                "company": lambda f: _company_name(ctx, f["company_id"])}  # fmt: skip
        groups: dict[Any, list[dict]] = {}
        for form in forms:
            groups.setdefault(keys[group_by](form), []).append(form)
        results = [{"key": key, **totals(members)} for key, members in groups.items()]
        results.sort(key=lambda r: (-len(groups[r["key"]]), str(r["key"])))
        body["grouped_by"] = group_by
        body["grouped_results"] = results
    return body


def ignore_form_fields(ctx: Ctx, body: Body) -> dict:
    """``POST form_submissions/ignored_fields.json``: those fields are left out of future submissions and
    removed from earlier ones of the companies named (integer ids, or ``["all"]``)."""
    ctx.require_role("admin", "manager")
    raw_ids = body.raw("company_ids")
    names = body.string_list("field_names") or []
    if not isinstance(raw_ids, list) or not raw_ids:
        raise bad_request("Missing required parameter: company_ids")
    if not names:
        raise bad_request("Missing required parameter: field_names")
    if raw_ids == ["all"]:
        companies = [c for c in ctx.acc.companies.values() if ctx.visible(c)]
    else:
        companies = [_company(ctx, str(raw)) for raw in raw_ids]
    for company in companies:
        ctx.acc.ignored_form_fields.setdefault(company["id"], set()).update(names)
        for form in ctx.acc.form_submissions.values():
            if form["company_id"] == company["id"]:
                form["form_data"] = {k: v for k, v in form["form_data"].items() if k not in names}
    return {"message": "Ingored form fields created"}  # sic, as the docs answer


# --------------------------------------------------------------------------------------------------------------
# registry


ENDPOINTS: dict[str, Endpoint] = {
    "companies": Endpoint(
        COMPANIES,
        lambda ctx: list(ctx.acc.companies.values()),
        _dict_lookup("companies", "Company"),
        create_company,
        update_company,
        disable_company,
    ),
    "trackers": Endpoint(
        TRACKERS,
        lambda ctx: list(ctx.acc.trackers.values()),
        _dict_lookup("trackers", "Tracker"),
        create_tracker,
        update_tracker,
        disable_tracker,
    ),
    "users": Endpoint(
        USERS,
        lambda ctx: list(ctx.acc.users.values()),
        _dict_lookup("users", "User"),
        create_user,
        update_user,
        delete_user,
    ),
    "tags": Endpoint(
        TAGS,
        lambda ctx: list(ctx.acc.tags.values()),
        _dict_lookup("tags", "Tag", int_ids=True),
        create_tag,
        update_tag,
        delete_tag,
    ),
    "notifications": Endpoint(
        NOTIFICATIONS,
        notification_candidates,
        _dict_lookup("notifications", "Notification", int_ids=True),
        create_notification,
        update_notification,
        delete_notification,
        show=lambda ctx, n: NOTIFICATIONS.render(ctx, n, NOTIFICATION_FIELDS),
    ),
    "summary_emails": Endpoint(
        SUMMARY_EMAILS,
        lambda ctx: [s for s in ctx.acc.summary_emails.values() if _summary_visible(ctx, s)],
        _dict_lookup("summary_emails", "Summary email"),
        create_summary_email,
        update_summary_email,
        delete_summary_email,
    ),
    "integrations": Endpoint(
        INTEGRATIONS,
        integration_candidates,
        _dict_lookup("integrations", "Integration", int_ids=True),
        create_integration,
        update_integration,
        disable_integration,
    ),
    "calls": Endpoint(
        CALLS,
        call_candidates,
        call_lookup,
        create_outbound_call,
        update_call,
        None,
        rate_class="outbound",
    ),
    "form_submissions": Endpoint(
        FORM_SUBMISSIONS,
        form_candidates,
        _dict_lookup("form_submissions", "Form submission"),
        create_form_submission,
        update_form_submission,
        None,
    ),
    "integration_triggers": Endpoint(
        INTEGRATION_TRIGGERS,
        trigger_candidates,
        _dict_lookup("integration_triggers", "Integration trigger", int_ids=True),
        create_integration_trigger,
        update_integration_trigger,
        delete_integration_trigger,
    ),
    "caller_ids": Endpoint(
        CALLER_IDS,
        caller_id_candidates,
        _dict_lookup("caller_ids", "Outbound caller ID", int_ids=True),
        create_caller_id,
        None,
        delete_caller_id,
    ),
    "text-messages": Endpoint(
        TEXT_MESSAGES,
        conversation_candidates,
        _dict_lookup("text_conversations", "Conversation"),
        send_text,
        None,
        None,
        show=show_conversation,
        rate_class="sms",
    ),
}


def list_records(endpoint: Endpoint, ctx: Ctx) -> list:
    return select(endpoint.spec, ctx, endpoint.candidates(ctx))


def summary_filters(ctx: Ctx, calls: list[Call]) -> list[Call]:
    """The filters shared by the call summary and time series endpoints."""
    p = ctx.params
    if ctx.scoped:
        calls = [c for c in calls if ctx.visible(c)]
    if p.get("company_id"):
        company_id = p["company_id"]
        calls = [c for c in calls if c.company_id == company_id]
    device = (p.get("device") or "all").lower()
    if device not in ("desktop", "mobile", "all"):
        raise bad_request("Invalid value for device: must be desktop, mobile or all")
    if device != "all":
        calls = [c for c in calls if c.device_type == device]
    for name, compare in (("min_duration", lambda d, n: d >= n), ("max_duration", lambda d, n: d <= n)):
        if p.get(name) not in (None, ""):
            limit = parse_int(p[name], name, minimum=0)
            calls = [c for c in calls if compare(c.duration or 0, limit)]
    tags = multi_values(ctx, "tags")
    if tags:
        calls = [c for c in calls if _has_tag(ctx, c, tags)]
    tracker_ids = multi_values(ctx, "tracker_ids")
    if tracker_ids:
        wanted = {t for value in tracker_ids for t in value.split(",")}
        calls = [c for c in calls if c.tracker_id in wanted]
    direction = (p.get("direction") or "all").lower()
    if direction not in ("inbound", "outbound", "all"):
        raise bad_request("Invalid value for direction: must be inbound, outbound or all")
    if direction != "all":
        calls = [c for c in calls if c.direction == direction]
    answer = (p.get("answer_status") or "all").lower()
    if answer not in ("answered", "missed", "voicemail", "all"):
        raise bad_request("Invalid value for answer_status: must be answered, missed, voicemail or all")
    if answer != "all":
        calls = [c for c in calls if _answer_status(c, answer)]
    if p.get("first_time_callers") not in (None, ""):
        wanted_first = parse_bool(p["first_time_callers"], "first_time_callers")
        calls = [c for c in calls if bool(c.first_call) == wanted_first]
    if p.get("lead_status"):
        status = p["lead_status"]
        if status not in ("good_lead", "not_a_lead", "not_scored"):
            raise bad_request("Invalid value for lead_status: must be good_lead, not_a_lead or not_scored")
        calls = [c for c in calls if _lead_status_filter(c, status)]
    if p.get("agent"):
        calls = [c for c in calls if c.agent_id == p["agent"]]
    term = (p.get("search") or "").strip().lower()
    if term:
        calls = [c for c in calls if c.source and term in c.source.lower()]
    return calls


SUMMARY_FIELDS = (
    "total_calls",
    "missed_calls",
    "answered_calls",
    "first_time_callers",
    "average_duration",
    "formatted_average_duration",
    "leads",
)
GROUP_BY = ("source", "keywords", "campaign", "referrer", "landing_page", "company", "company_id")


def summary_fields(ctx: Ctx) -> tuple[str, ...]:
    raw = ctx.params.get("fields")
    if not raw:
        return ("total_calls",)
    requested = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in requested if f not in SUMMARY_FIELDS]
    if unknown:
        raise bad_request(f"Invalid fields: {', '.join(unknown)}. Choose from {', '.join(SUMMARY_FIELDS)}")
    return tuple(dict.fromkeys(requested))


def aggregate(calls: list[Call], fields: tuple[str, ...]) -> dict:
    total = len(calls)
    out: dict[str, Any] = {}
    durations = [c.duration or 0 for c in calls]
    average = int(sum(durations) / total) if total else 0
    for name in fields:
        if name == "total_calls":
            out[name] = total
        elif name == "missed_calls":
            out[name] = sum(1 for c in calls if not c.answered)
        elif name == "answered_calls":
            out[name] = sum(1 for c in calls if c.answered)
        elif name == "first_time_callers":
            out[name] = sum(1 for c in calls if c.first_call)
        elif name == "average_duration":
            out[name] = average
        elif name == "formatted_average_duration":
            out[name] = pretty_duration(average)
        elif name == "leads":
            out[name] = sum(1 for c in calls if c.lead_status == "good_lead")
    return out


def group_key(ctx: Ctx, call: Call, group_by: str) -> Any:
    if group_by == "source":
        return call.source
    if group_by == "keywords":
        return call.keywords
    if group_by == "campaign":
        return call.campaign
    if group_by == "referrer":
        return domain_of(call.referring_url) or "direct"
    if group_by == "landing_page":
        return call.landing_page_url
    if group_by == "company":
        return _company_name(ctx, call.company_id)
    return call.company_id


def call_summary(ctx: Ctx) -> dict:
    window = call_window(ctx)
    fields = summary_fields(ctx)
    group_by = ctx.params.get("group_by")
    if group_by and group_by not in GROUP_BY:
        raise bad_request(f"Invalid value for group_by: must be one of {', '.join(GROUP_BY)}")
    calls = summary_filters(ctx, ctx.acc.calls.between(window.start.timestamp(), window.end.timestamp()))
    body: dict[str, Any] = {
        "start_date": tu.compact_offset(window.start),
        "end_date": tu.compact_offset(window.end.replace(microsecond=0)),
        "time_zone": window.tz_name,
        "total_results": aggregate(calls, fields),
    }
    if group_by:
        groups: dict[Any, list[Call]] = {}
        for call in calls:
            groups.setdefault(group_key(ctx, call, group_by), []).append(call)
        results = [{"key": key, **aggregate(members, fields)} for key, members in groups.items()]
        results.sort(key=lambda r: (-len(groups[r["key"]]), str(r["key"])))
        body["grouped_by"] = group_by
        body["grouped_results"] = results
    return body


INTERVALS = ("hour", "day", "week", "month", "year")
MAX_POINTS = 200


def _bucket_starts(window: tu.Window, interval: str) -> list:
    start_local = window.start.astimezone(window.tz)
    end_local = window.end.astimezone(window.tz)
    points = []
    if interval == "hour":
        cursor = start_local.replace(minute=0, second=0, microsecond=0)
        while cursor <= end_local:
            points.append(cursor)
            # step in UTC so that DST changes neither skip nor repeat an hour
            cursor = (cursor.astimezone(tu.UTC) + timedelta(hours=1)).astimezone(window.tz)
            if len(points) > MAX_POINTS:
                break
        return points
    day = start_local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    elif interval == "year":
        day = day.replace(month=1, day=1)
    while day <= end_local.date() and len(points) <= MAX_POINTS:
        points.append(datetime.combine(day, time(0), window.tz))
        if interval == "day":
            day += timedelta(days=1)
        elif interval == "week":
            day += timedelta(days=7)
        elif interval == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day = day.replace(year=day.year + 1)
    return points


def call_timeseries(ctx: Ctx) -> dict:
    window = call_window(ctx)
    fields = summary_fields(ctx)
    interval = (ctx.params.get("interval") or "day").lower()
    if interval not in INTERVALS:
        raise bad_request(f"Invalid value for interval: must be one of {', '.join(INTERVALS)}")
    starts = _bucket_starts(window, interval)
    if len(starts) > MAX_POINTS:
        raise bad_request(
            "Time series data is limited to 200 data points. Choose a larger interval or a shorter date range."
        )
    calls = summary_filters(ctx, ctx.acc.calls.between(window.start.timestamp(), window.end.timestamp()))
    edges = [s.timestamp() for s in starts]
    buckets: list[list[Call]] = [[] for _ in starts]
    for call in calls:
        index = bisect.bisect_right(edges, call.start_ts) - 1
        if index >= 0:
            buckets[index].append(call)
    data = []
    for start, members in zip(starts, buckets, strict=True):
        label = tu.compact_offset(start) if interval == "hour" else start.date().isoformat()
        data.append({"date": label, **aggregate(members, fields)})
    return {
        "start_date": tu.compact_offset(window.start),
        "end_date": tu.compact_offset(window.end.replace(microsecond=0)),
        "time_zone": window.tz_name,
        "total_results": aggregate(calls, fields),
        "data": data,
    }


def recording(ctx: Ctx, call: Call) -> dict:
    if not call.recording_key:
        raise ApiError(404, "Recording not found")
    if ctx.acc.hipaa_account:
        return {"url": f"{ctx.base_url}/_sandbox/recordings/{call.id}.mp3?expires={int(ctx.now.timestamp()) + 86400}"}
    legacy = call_legacy_id(ctx, call)
    return {"url": f"{ctx.base_url}/_sandbox/calls/{legacy}/recording/redirect?access_key={call.recording_key}"}
