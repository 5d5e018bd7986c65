"""Small value helpers shared by the renderers and the seed."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from .errors import bad_request

_NON_DIGIT = re.compile(r"\D")

TAG_COLORS = {
    "gray1": ("#464646", "#e7e7e7"),
    "gray2": ("#ffffff", "#c2c2c2"),
    "blue1": ("#0f3778", "#b5cef7"),
    "blue2": ("#ffffff", "#4583ea"),
    "cyan1": ("#0d404a", "#96d7e5"),
    "cyan2": ("#ffffff", "#23a2bd"),
    "purple1": ("#3d0d90", "#e3d6ff"),
    "purple2": ("#ffffff", "#b997ff"),
    "pink1": ("#761e3a", "#fcd3e0"),
    "pink2": ("#9a4964", "#f890b2"),
    "pink3": ("#6b323b", "#ebdbde"),
    "pink4": ("#ffffff", "#cda6ac"),
    "red1": ("#8c1b00", "#f3b2a7"),
    "red2": ("#ffffff", "#fe4a22"),
    "orange1": ("#7f3306", "#ffc8ad"),
    "orange2": ("#ffffff", "#ff7529"),
    "orange3": ("#7d4900", "#ffdfb2"),
    "orange4": ("#ffffff", "#ffae38"),
    "yellow1": ("#594d00", "#fcea7c"),
    "yellow2": ("#694f00", "#fdeebf"),
    "green1": ("#054f2f", "#b1f0d2"),
    "green2": ("#044227", "#38d790"),
    "green3": ("#015531", "#a0ddc0"),
    "green4": ("#ffffff", "#00a863"),
}


def e164(value: Any) -> str | None:
    """A valid 10-digit US/Canadian number in E.164 form, or None."""
    if isinstance(value, bool) or value is None:
        return None
    number = _NON_DIGIT.sub("", str(value))
    if len(number) == 11 and number.startswith("1"):
        number = number[1:]
    if len(number) != 10 or number[0] in "01" or number[3] in "01":
        return None
    return "+1" + number


def require_phone(value: Any, name: str) -> str:
    number = e164(value)
    if number is None:
        raise bad_request(f"{name} must be a valid 10 digit US or Canadian number")
    return number


def pretty_phone(number: str | None) -> str | None:
    """``+13036231131`` -> ``303-623-1131``"""
    if not number:
        return number
    raw = _NON_DIGIT.sub("", number)
    if len(raw) == 11 and raw.startswith("1"):
        raw = raw[1:]
    if len(raw) != 10:
        return number
    return f"{raw[:3]}-{raw[3:6]}-{raw[6:]}"


def pretty_duration(seconds: int | float | None) -> str:
    """``179`` -> ``2m 59s``; ``45`` -> ``45s``"""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def pretty_name(name: str | None) -> str | None:
    """Caller ID names come in capitals (``RUEGSEGGER SIMO``); the formatted form is title case."""
    if not name:
        return name
    if "," in name:  # "BLUE RIDGE, GA"
        place, _, state = name.rpartition(",")
        return f"{place.strip().title()}, {state.strip().upper()}"
    return " ".join(part.capitalize() for part in name.split())


def money(value: float | None) -> str:
    if value is None:
        return "--"
    return f"${value:,.2f}"


def parse_money(value: Any, name: str = "value") -> float | None:
    """``"$1.00"``, ``"1.00"``, ``1`` -> ``1.0``; null or blank clears."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise bad_request(f"Invalid value for {name}: expected a number")
    if isinstance(value, int | float):
        return round(float(value), 2)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.startswith("$"):
            text = text[1:]
        try:
            number = float(text)
        except ValueError:
            raise bad_request(f"Invalid value for {name}: expected a number such as \"$1.00\" or \"1.00\"") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise bad_request(f"Invalid value for {name}: expected a number")
        return round(number, 2)
    raise bad_request(f"Invalid value for {name}: expected a number")


def is_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def domain_of(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url if "//" in url else f"//{url}")
    return parsed.netloc or None
