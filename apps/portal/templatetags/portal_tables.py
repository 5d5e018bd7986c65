"""Cells, sort links and page links of the generic resource tables."""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.calls.reports import format_duration
from apps.portal.formatting import format_phone, title_case_name, when_html
from apps.portal.labels import label as label_of

register = template.Library()

DASH = mark_safe('<span class="muted dash">—</span>')  # constants, no input
YES = mark_safe('<span class="yes">Yes</span>')
NO = mark_safe('<span class="muted">No</span>')
SELECTED = mark_safe(" selected")
INVALID = mark_safe(' aria-invalid="true"')
EMPTY = mark_safe("")
LEAD_LABELS = {
    "good_lead": ("Good lead", "ok"),
    "not_a_lead": ("Not a lead", "muted"),
    "previously_marked_good_lead": ("Previously good", "warn"),
}
STATUS_BADGES = {"Answered": "ok", "Missed": "danger", "Voicemail": "warn", "Outbound": "muted"}


@functools.lru_cache(maxsize=1024)
def _list_url(account_pk: int, name: str) -> str:
    """The list URL; a record's detail URL is this plus its id (one reverse per list, not per row)."""
    return reverse("portal:resource_list", args=[account_pk, name])


def _when(value: datetime, account: Any) -> str:
    """The portal's one time format, in the account's zone, labelled (``formatting.py``)."""
    return when_html(value, account)


def format_clock(seconds: Any) -> str:
    """``2:05``: a recording's length as players show it."""
    try:
        total = int(seconds)
    except (TypeError, ValueError):
        return ""
    return f"{total // 60}:{total % 60:02d}"


@register.simple_tag
def cell(obj: Any, column: Any, account: Any, resource: Any) -> str:
    return render_cell(obj, column, account, resource)


def render_cell(obj: Any, column: Any, account: Any, resource: Any) -> str:
    """One table cell as safe HTML (the list view renders its rows with this directly, not per template tag)."""
    value = column.value(obj)
    kind = column.kind
    if column.labels and kind != "keys" and kind != "list":
        value = label_of(column.labels, value) if not isinstance(value, list) else value
    if kind in ("link", "link_datetime", "tag"):
        url = f"{_list_url(account.pk, resource.name)}{obj.pk}/"
        if kind == "link_datetime":
            text = _when(value, account) if value else "(no time)"
        elif kind == "tag":
            color = getattr(obj, "color", None) or ""
            color = color if re.fullmatch(r"#?[\w-]{1,20}", color) else "#6b7280"  # a colour name, nothing else
            return format_html('<a class="tag" style="border-color: {}" href="{}">{}</a>', color, url, value)
        else:
            text = value or obj.callrail_id
        return format_html('<a href="{}">{}</a>', url, text)
    if kind == "recording":
        if not obj.has_recording:
            return EMPTY
        url = f"{_list_url(account.pk, resource.name)}{obj.pk}/recording.mp3"
        length = format_clock(value) if value else ""
        return format_html(
            '<span class="row-player" data-player><a class="play" href="{}" aria-label="Play the recording{}">▶</a>'
            '<span class="player-time" data-length="{}">{}</span><span class="recording-error" role="status" hidden>'
            "</span></span>",
            url, f" ({length})" if length else "", length, length,
        )  # fmt: skip
    if kind == "source":  # the source, and the tracker that counted it
        tracker = getattr(obj, "tracker", None)
        if not value and tracker is None:
            return DASH
        return format_html('{}<br><small class="muted">{}</small>', value or "—", tracker.name if tracker else "")
    if kind == "caller":
        return format_html(
            '<span class="caller">{}</span><br><small class="muted">{}</small>',
            title_case_name(value) or "Unknown caller",
            format_phone(obj.customer_phone_number),
        )
    if value is None or value == "" or value == [] or value == {}:
        return DASH
    if kind == "datetime":
        return _when(value, account)
    if kind == "bool":
        return YES if value else NO
    if kind == "duration":
        return format_duration(value)
    if kind == "money":
        return f"${Decimal(value):,.2f}"
    if kind == "tags":
        return format_html_join(" ", '<span class="tag">{}</span>', ((t,) for t in value))
    if kind == "list":
        return ", ".join(label_of(column.labels, v) if column.labels else str(v) for v in value)
    if kind == "phone":
        return format_phone(value)
    if kind == "phones":
        return ", ".join(format_phone(v) for v in value)
    if kind == "name":
        return title_case_name(value)
    if kind == "count":
        return str(len(value))
    if kind == "keys":
        if not isinstance(value, dict):
            return str(value)
        return ", ".join(label_of(column.labels, k) if column.labels else k for k, v in value.items() if v)
    if kind == "code":
        return format_html("<code>{}</code>", value)
    if kind == "badge":
        raw = column.value(obj)
        tone = "ok" if raw in ("active", "enabled", "admin") else "muted"
        shown = value if column.labels else label_of("status", raw)
        return format_html('<span class="badge {}">{}</span>', tone, shown)
    if kind == "call_status":
        return format_html('<span class="badge {}">{}</span>', STATUS_BADGES.get(value, "muted"), value)
    if kind == "lead":
        text, tone = LEAD_LABELS.get(value, (label_of("lead_status", value), "muted"))
        return format_html('<span class="badge {}">{}</span>', tone, text)
    if kind == "json":
        return format_html("<code>{}</code>", json.dumps(value)[:120])
    return str(value)


@functools.lru_cache(maxsize=1024)
def _cell_start(key: str, label: str, first: bool) -> str:
    """A cell's opening tag: its column, and the label a phone shows beside it (rows become cards)."""
    title = " card-title" if first else ""
    return f'<td class="col-{escape(key)}{title}" data-label="{escape(label)}">'


def row_cells(cells: list[tuple[str, str, Any]]) -> str:
    """A table row's (key, label, html) cells as one safe HTML string: joined here, not by a template loop (a
    200-row page has 2,000 cells; rendering each through template nodes took most of that page's time)."""
    html = "".join(
        f"{_cell_start(key, str(label), index == 0)}{conditional_escape(value)}</td>"
        for index, (key, label, value) in enumerate(cells)
    )
    return mark_safe(html)  # noqa: S308 - every part is escaped (or safe HTML already) just above


@register.simple_tag
def list_rows(table: list, rows: list, selectable: bool) -> str:
    """The table body: each record's row (its cells from ``row_cells``), after a selection checkbox when bulk
    actions apply: one string built here instead of template nodes per row."""
    select = (
        '<td class="col-select"><input type="checkbox" name="ids" value="{pk}" class="bulk-row" '
        'aria-label="Select row {number}"><input type="hidden" name="page_ids" value="{pk}"></td>'
    )
    html = "".join(
        f"<tr>{select.format(pk=int(obj.pk), number=number) if selectable else ''}{conditional_escape(cells)}</tr>"
        for number, (cells, obj) in enumerate(zip(table, rows, strict=True), start=1)
    )
    return mark_safe(html)  # noqa: S308 - integers and cells escaped by row_cells (conditional_escape above)


@register.simple_tag
def field_value(value: Any, kind: str, account: Any) -> str:
    """A value on a detail page."""
    if value is None or value == "":
        return DASH
    if kind == "json":
        return format_html('<pre class="json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return _when(value, account)
    return str(value)


#: a record's fields whose values are CallRail's enum values, by the label family that words them
FIELD_LABELS = {
    "alert_type": "alert_type", "tag_level": "tag_level", "scope_type": "scope_type", "status": "status",
    "state": "state", "direction": "direction", "device_type": "device_type", "medium": "medium", "role": "role",
    "lead_status": "lead_status", "call_type": "call_type", "source_type": "source_type",
}  # fmt: skip
#: CallRail's links that carry an access key: played through the portal, never shown
HIDDEN_FIELDS = {"recording_url": "recording", "recording_player": "recording_player"}
HIDDEN = mark_safe('<span class="muted">hidden — plays in the portal</span>')  # constant, no input
_SKIP = {"id", "client_account", "payload", "payload_hash"}


def detail_fields(resource: Any, obj: Any, account: Any, present: Any = None) -> list[tuple[str, str]]:
    """Every mirrored field of a record as (label, safe HTML), formatted like the rest of the portal;
    ``present`` filters a value for the viewer first (integrations: webhook tokens for staff only)."""
    rows = []
    for f in obj._meta.concrete_fields:
        if f.name in _SKIP:
            continue
        name = f.name
        value = getattr(obj, name, None)
        if present is not None:
            value = present(value)
        if name in HIDDEN_FIELDS:
            html = HIDDEN if value else DASH
        elif value is None or value == "" or value == [] or value == {}:
            html = DASH
        elif isinstance(value, bool):
            html = "Yes" if value else "No"
        elif isinstance(value, datetime):
            html = _when(value, account)
        elif name in FIELD_LABELS or (name == "type" and resource.name in ("trackers", "integrations")):
            family = FIELD_LABELS.get(name) or ("tracker_type" if resource.name == "trackers" else "integration_type")
            html = label_of(family, value)
        elif name.endswith(("phone_number", "tracking_number", "destination_number")):
            html = format_phone(value)
        elif name == "tracking_numbers" and isinstance(value, list):
            html = ", ".join(format_phone(v) for v in value)
        elif name == "customer_name":
            html = title_case_name(value)
        elif isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            html = ", ".join(map(str, value))
        elif isinstance(value, dict | list):
            html = format_html('<pre class="json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))
        elif isinstance(value, Decimal):
            html = f"{value:,.2f}"
        else:
            html = str(value)
        rows.append((str(f.verbose_name[:1].upper() + f.verbose_name[1:]), html))
    return rows


def redact_payload(payload: Any) -> Any:
    """CallRail's record as JSON for the agency's staff, without the recording links' access keys."""
    if not isinstance(payload, dict) or not any(payload.get(key) for key in HIDDEN_FIELDS.values()):
        return payload
    hidden = set(HIDDEN_FIELDS.values())
    return {k: "(hidden: plays in the portal)" if k in hidden and v else v for k, v in payload.items()}


@register.simple_tag
def with_query(query: str, **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    params = QueryDict(query, mutable=True)
    for key, value in changes.items():
        if value is None or (key == "page" and str(value) == "1"):  # page 1 is no parameter
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@register.simple_tag
def sort_query(query: str, column: Any, current: str, default: str = "") -> str:
    """The query string that sorts by ``column``: ascending first, or flipped when already sorted by it (the
    list's default sort is no parameter)."""
    key = column.key
    new = f"-{key}" if current == key else key
    if current.lstrip("-") != key and column.kind in ("datetime", "link_datetime", "money", "duration"):
        new = f"-{key}"  # newest / biggest first is what people want first
    params = QueryDict(query, mutable=True)
    params["sort"] = new
    if new == default:
        params.pop("sort")
    params.pop("page", None)
    return params.urlencode()


@register.filter
def sort_state(column: Any, current: str) -> str:
    if current == column.key:
        return "ascending"
    if current == f"-{column.key}":
        return "descending"
    return "none"


@register.simple_tag
def filter_input(bound_field: Any) -> str:
    """One filter control, rendered directly (Django's widget templates cost a template render per option,
    which is most of a list page's time with a few hundred options)."""
    field = bound_field.field
    name = bound_field.html_name
    ident = bound_field.id_for_label
    value = bound_field.value()
    invalid = INVALID if bound_field.errors else EMPTY
    choices = getattr(field, "choices", None)
    if choices is not None:
        current = "" if value in (None, "") else str(value)
        choices = list(choices)
        if current and not any(str(k) == current for k, _ in choices) and field.valid_value(current):
            choices.append((current, current))  # an open choice typed in the URL: keep it visible
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(k), SELECTED if str(k) == current else EMPTY, label) for k, label in choices),
        )
        return format_html('<select name="{}" id="{}"{}>{}</select>', name, ident, invalid, options)
    kind = getattr(field.widget, "input_type", "text")
    return format_html(
        '<input type="{}" name="{}" id="{}" value="{}"{}>',
        kind,
        name,
        ident,
        "" if value is None else value,
        invalid,
    )
