"""How the portal shows values — one place for each rule, used by templates, table cells, emails and CSV.

* **Times**: in the account's time zone (a company's page: the company's), labelled with the zone's
  abbreviation, in one format: ``Dec 5, 2026, 7:46 PM MST``. Where no account applies (agency-wide pages
  about no account), UTC, labelled ``UTC``. CSV files carry ISO 8601 with the offset (``exports.py``).
* **Phone numbers**: formatted for their country by ``phonenumbers`` (national format for North American
  numbers, as CallRail shows them: ``(720) 828-7304``; international for the rest: ``+44 20 7946 0958``).
* **CallRail's values** (``vm_only``, ``google_my_business``…): in CallRail's own words (``labels.py``).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

UTC = ZoneInfo("UTC")
TIME_FORMAT = "%b %-d, %Y, %-I:%M %p"  # Dec 5, 2026, 7:46 PM
DATE_FORMAT = "%b %-d, %Y"  # Dec 5, 2026
DEFAULT_REGION = "US"  # CallRail numbers are North American; others are shown internationally


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ValueError, KeyError):
        return UTC


def zone_for(where: Any) -> tzinfo:
    """The time zone of an account or company (its ``time_zone``), a zone (or its name); UTC otherwise."""
    if where is None:
        return UTC
    if isinstance(where, tzinfo):
        return where
    if isinstance(where, str):
        return _zone(where)
    return _zone(getattr(where, "time_zone", "") or "")


def zone_name(where: Any) -> str:
    zone = zone_for(where)
    return getattr(zone, "key", None) or str(zone)


def local(value: datetime, where: Any) -> datetime:
    return timezone.localtime(value, zone_for(where)) if timezone.is_aware(value) else value


def format_when(value: datetime | date | None, where: Any = None) -> str:
    """``Dec 5, 2026, 7:46 PM MST`` in the zone of ``where`` (a date: ``Dec 5, 2026``); "" for None."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime(DATE_FORMAT)
    moment = local(value, where)
    return f"{moment.strftime(TIME_FORMAT)} {moment.tzname() or 'UTC'}"


def when_html(value: datetime | date | None, where: Any = None) -> SafeString | str:
    """A ``<time>`` element: the formatted time, the zone's full name on hover, ISO 8601 for machines."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.strftime(DATE_FORMAT))
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        f"Time in {zone_name(where)}",
        format_when(value, where),
    )


@functools.lru_cache(maxsize=4096)
def format_phone(number: str | None, region: str = DEFAULT_REGION) -> str:
    """A phone number as people of its country write it; anything unparsable is returned unchanged."""
    if not number:
        return ""
    text = str(number).strip()
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    home = phonenumbers.country_code_for_region(region)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == home else (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


def title_case_name(name: str | None) -> str:
    """Caller ID names arrive in capitals (``MARTINEZ ASHLEY``): shown in title case, as CallRail does."""
    if not name:
        return ""
    if not name.isupper():
        return name
    place = re.fullmatch(r"(.+), ([A-Z]{2})", name)  # a caller ID that is a place: "LAFAYETTE, CO"
    return f"{place[1].title()}, {place[2]}" if place else name.title()


def _rgb(colour: str) -> tuple[int, int, int] | None:
    text = (colour or "").strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return None


def luminance(rgb: tuple[int, ...]) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink_on(colour: str) -> str:
    """Dark or white text, whichever reads on ``colour`` (the agency's brand colour in bars and emails)."""
    rgb = _rgb(colour)
    return "#111827" if rgb is not None and luminance(rgb) > 0.4 else "#ffffff"


def brand_style(colour: str) -> str:
    """CSS custom properties of the agency's colour: the top bar in it with readable text on it, and the
    accent (buttons, links, tabs) in it where it is dark enough to read on white, else darkened."""
    rgb = _rgb(colour)
    if rgb is None:
        return ""
    accent: tuple[int, ...] = rgb
    while luminance(accent) > 0.18:  # WCAG AA (4.5:1) against white needs a luminance of at most ~0.18
        accent = tuple(int(c * 0.85) for c in accent)
    dark = tuple(int(c * 0.75) for c in accent)
    hexed = "#{:02x}{:02x}{:02x}".format
    ink = ink_on(colour)
    return f"--bar: {hexed(*rgb)}; --bar-ink: {ink}; --brand: {hexed(*accent)}; --brand-dark: {hexed(*dark)};"
