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


@register.filter
def brand_style(colour: str) -> str:
    return formatting.brand_style(colour)


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


@register.filter
def action_label(action: str) -> str:
    from apps.portal.labels import action_label as word

    return word(action)


@register.filter
def entry_changes(entry: Any) -> list:
    """An outbox entry's changes as (field, before, after), readably (before: the value it replaced)."""
    from apps.portal.labels import change_rows

    after = dict(entry.changes or {})
    if (entry.options or {}).get("append_tags"):
        after = {"tags": f"add {', '.join(entry.options.get('tags') or [])}"}
    before = {k: v for k, v in (entry.base or {}).items() if k in after}
    return change_rows(before, after)


@register.filter
def entry_record_url(entry: Any, account: Any) -> str:
    """The page of the record an outbox entry changes ("" where the portal has none)."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("portal:resource_detail", args=[account.pk, entry.resource, entry.object_pk])
    except NoReverseMatch:
        return ""


@register.filter
def resource_singular(name: str) -> str:
    from apps.portal.catalog import BY_NAME

    resource = BY_NAME.get(name)
    return resource.singular if resource else label_of("", name).lower()
