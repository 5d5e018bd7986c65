"""Reading request bodies the way a Rails API does: JSON (or form fields), typed leniently, 400 when unusable."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import bad_request
from .query import parse_bool, parse_int

_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
MISSING = object()


def parse_body(raw: bytes, content_type: str, form: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body as a dict. JSON whatever the content type; form fields as a fallback.

    Some of the documentation's own examples are JavaScript object literals rather than JSON
    (``{ call_enabled: false }``) or carry trailing commas; those are accepted too.
    """
    text = raw.decode("utf-8", errors="replace").strip() if raw else ""
    if not text:
        return dict(form or {})
    try:
        data = json.loads(text)
    except ValueError:
        data = MISSING
        if text.startswith("{"):
            relaxed = _TRAILING_COMMA.sub(r"\1", _BARE_KEY.sub(r'\1"\2":', text))
            try:
                data = json.loads(relaxed)
            except ValueError:
                data = MISSING
        if data is MISSING:
            if form:
                return dict(form)
            if "application/x-www-form-urlencoded" in content_type:
                return {}
            raise bad_request("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    return data


class Body:
    """Typed access to a request body with the documented 400s for missing or malformed parameters."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def string(self, key: str, *, required: bool = False, max_length: int = 255, blank_to_none: bool = False):
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise bad_request(f"Missing required parameter: {key}")
            if value is None or blank_to_none:
                return None
            return ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise bad_request(f"Invalid value for {key}: expected a string")
        if len(value) > max_length:
            raise bad_request(f"Invalid value for {key}: must be at most {max_length} characters")
        return value.strip()

    def boolean(self, key: str, default: Any = None) -> Any:
        if key not in self.data or self.data[key] is None:
            return default
        return parse_bool(self.data[key], key)

    def integer(self, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise bad_request(f"Missing required parameter: {key}")
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return parse_int(value, key, minimum=minimum)

    def obj(self, key: str, *, required: bool = False) -> dict | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise bad_request(f"Missing required parameter: {key}")
            return None
        if not isinstance(value, dict):
            raise bad_request(f"Invalid value for {key}: expected an object")
        return value

    def string_list(self, key: str, *, required: bool = False) -> list[str] | None:
        """An array of strings; a single string (or comma-separated string) is accepted as well."""
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise bad_request(f"Missing required parameter: {key}")
            return None
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if not isinstance(value, list):
            raise bad_request(f"Invalid value for {key}: expected an array")
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise bad_request(f"Invalid value for {key}: expected an array of strings")
            text = str(item).strip()
            if len(text) > 255:
                raise bad_request(f"Invalid value for {key}: items must be at most 255 characters")
            if text:
                out.append(text)
        return out

    def choice(self, key: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise bad_request(f"Missing required parameter: {key}")
            return None
        if not isinstance(value, str) or value not in choices:
            raise bad_request(f"Invalid value for {key}: must be one of {', '.join(choices)}")
        return value
