"""The portal's display rules as template filters (``apps/portal/formatting.py`` and ``labels.py``)::

    {% load portal_format %}
    {{ call.start_time|when:account }}        <time …>Dec 5, 2026, 7:46 PM MST</time>
    {{ run.finished_at|ago:account }}          <time title="Dec 5, 2026, 7:46 PM MST">5 minutes ago</time>
    {{ call.customer_phone_number|phone }}     (720) 828-7304
    {{ notification.alert_type|label:"alert_type" }}   Voicemails only
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from apps.portal import formatting
from apps.portal.labels import label as label_of

register = template.Library()


@register.filter
def when(value: Any, where: Any = None) -> str:
    """The one time format, in the zone of ``where`` (account, company, zone name; none: UTC), labelled."""
    return formatting.when_html(value, where) if value else ""


@register.filter
def when_text(value: Any, where: Any = None) -> str:
    return formatting.format_when(value, where) if value else ""


@register.filter
def clock(value: Any, where: Any = None) -> str:
    """The time of day only (``7:46 PM MST``), the full time on hover: for lists grouped by day."""
    if not isinstance(value, datetime):
        return ""
    moment = formatting.local(value, where)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        formatting.format_when(value, where),
        f"{moment.strftime('%-I:%M %p')} {moment.tzname() or 'UTC'}",
    )


@register.filter
def ago(value: Any, where: Any = None) -> str:
    """How long ago (for freshness), the exact time on hover."""
    if not isinstance(value, datetime):
        return ""
    now = timezone.now()
    text = "just now" if (now - value).total_seconds() < 60 else f"{timesince(value, now).split(',')[0]} ago"
    if value > now:
        text = f"in {timesince(now, value).split(',')[0]}"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), formatting.format_when(value, where), text
    )


@register.filter
def phone(value: Any) -> str:
    return formatting.format_phone(value) if value else ""


@register.filter
def label(value: Any, family: str) -> str:
    return label_of(family, value)


@register.filter
def caller_name(value: Any) -> str:
    return formatting.title_case_name(value)


@register.simple_tag
def zone_label(where: Any) -> str:
    """The zone times on a page are shown in, e.g. "America/Denver"."""
    return formatting.zone_name(where)


def _rgb(colour: str) -> tuple[int, int, int] | None:
    text = (colour or "").strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return None


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@register.filter
def brand_style(colour: str) -> str:
    """CSS custom properties of the agency's colour: the top bar in that colour with readable text on it, and
    the accent (buttons, links, tabs) in it where it is dark enough to read on white, else darkened."""
    rgb = _rgb(colour)
    if rgb is None:
        return ""
    ink = "#111827" if _luminance(rgb) > 0.4 else "#ffffff"
    accent = rgb
    while _luminance(accent) > 0.18:  # WCAG AA (4.5:1) against white needs a luminance of at most ~0.18
        accent = tuple(int(c * 0.85) for c in accent)
    dark = tuple(int(c * 0.75) for c in accent)
    hexed = "#{:02x}{:02x}{:02x}".format
    return f"--bar: {hexed(*rgb)}; --bar-ink: {ink}; --brand: {hexed(*accent)}; --brand-dark: {hexed(*dark)};"


@register.filter
def duration(seconds: Any) -> str:
    """``2m 16s``, as CallRail writes durations."""
    from apps.calls.reports import format_duration

    return format_duration(seconds) if seconds not in (None, "") else ""


@register.filter
def resource_labels(names: Any) -> str:
    """Sync resource names as people read them: ``summary_emails`` -> "Summary emails"."""
    from apps.portal.catalog import RESOURCE_LABELS

    return ", ".join(RESOURCE_LABELS.get(n, label_of("", n)) for n in names or [])
