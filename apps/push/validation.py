"""Values CallRail accepts, from the API v3 reference (shared/callrail-docs/001_…txt), and small checks the
write services share. A refused value raises ``PushRefused`` with the reason, before anything is queued."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .models import PENDING_PREFIX
from .services import PushRefused

#: "Available Colors" of tags.
TAG_COLORS = (
    "gray1", "gray2", "blue1", "blue2", "cyan1", "cyan2", "purple1", "purple2", "pink1", "pink2", "pink3",
    "pink4", "red1", "red2", "orange1", "orange2", "orange3", "orange4", "yellow1", "yellow2", "green1",
    "green2", "green3", "green4",
)  # fmt: skip
LEAD_STATUSES = ("good_lead", "not_a_lead")  # or None (cleared)
USER_ROLES = ("admin", "reporting", "manager")
ALERT_TYPES = ("all", "first_call", "missed_and_vm", "vm_only")
FREQUENCIES = ("daily", "weekly", "monthly")
SUMMARY_CONFIG_KEYS = ("summary_statistics", "top_sources", "top_keywords", "call_log")
WEBHOOK_EVENTS = (
    "pre_call_webhook", "answered_call_webhook", "post_call_webhook", "updated_call_webhook",
    "sms_received_webhook", "sms_sent_webhook", "form_captured_webhook", "post_outbound_call_webhook",
    "updated_outbound_call_webhook",
)  # fmt: skip
SOURCE_TYPES = (
    "all", "landing_url", "landing_params", "offline", "web_referrer", "direct", "search",
    "google_ad_extension", "mobile_ad_extension", "google_my_business",
)  # fmt: skip
TOLL_FREE = ("888", "877", "866", "855", "844", "833", "800")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


def required_text(value: Any, field: str, *, max_length: int = 255) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if not text:
        raise PushRefused(f"{field.replace('_', ' ').capitalize()} is required.", field=field)
    if len(text) > max_length:
        raise PushRefused(
            f"{field.replace('_', ' ').capitalize()} is longer than {max_length} characters.", field=field
        )
    return text


def choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise PushRefused(f"{value!r} is not a valid {field.replace('_', ' ')}; one of: {', '.join(allowed)}.",
                          field=field)  # fmt: skip
    return value


def email(value: Any, field: str = "email") -> str:
    text = required_text(value, field, max_length=254)
    if not _EMAIL.match(text):
        raise PushRefused(f"{text!r} is not a valid email address.", field=field)
    return text


def phone(value: Any, field: str) -> str:
    digits = re.sub(r"[^\d+]", "", str(value or ""))
    if digits.startswith("+"):
        digits = digits[1:]
    if len(digits) == 10:
        digits = "1" + digits
    if not re.fullmatch(r"1[2-9]\d{9}", digits):
        raise PushRefused(f"{value!r} is not a valid phone number (10 digits, US/Canada).", field=field)
    return "+" + digits


def url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _URL.match(value.strip()):
        raise PushRefused(f"{value!r} is not a valid URL.", field=field)
    return value.strip()


def time_zone(value: Any, field: str = "time_zone") -> str:
    try:
        ZoneInfo(str(value))
    except (ValueError, KeyError):
        raise PushRefused(f"{value!r} is not a time zone (e.g. America/New_York).", field=field) from None
    return str(value)


def money(value: Any, field: str = "value") -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        raise PushRefused(f"{value!r} is not an amount.", field=field) from None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 10:
        raise PushRefused(f"{value!r} is out of range.", field=field)
    return amount.quantize(Decimal("0.01"))


def same_account(account: Any, obj: Any, field: str) -> None:
    """A referenced record must belong to the same client account (and still exist upstream)."""
    if obj is None:
        return
    if obj.client_account_id != getattr(account, "pk", account):
        raise PushRefused(f"That {field} belongs to another account.", field=field)
    if obj.deleted_upstream_at is not None:
        raise PushRefused(f"That {field} was deleted in CallRail.", field=field)


def in_callrail(obj: Any) -> bool:
    return obj is not None and not obj.callrail_id.startswith(PENDING_PREFIX)
