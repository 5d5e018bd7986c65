"""The generic list machinery: filtering, searching, sorting, field selection and both pagination styles.

Every collection endpoint is described by a :class:`ResourceSpec`; :func:`list_response` turns a spec, the
request context and the candidate records into the documented JSON page (and the ``Link`` header).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .errors import bad_request

if TYPE_CHECKING:
    from .context import Ctx

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 250
TRUE_WORDS = ("true", "1", "yes", "on", "t", "y")
FALSE_WORDS = ("false", "0", "no", "off", "f", "n")
_DIGITS = re.compile(r"\D")

Getter = Callable[["Ctx", Any], Any]


@dataclass
class Filter:
    """A query-string filter. ``choices`` (when given) are validated, anything else is a 400."""

    predicate: Callable[[Ctx, Any, Any], bool]
    choices: tuple[str, ...] | None = None
    multi: bool = False  # accepts ``tags=A`` as well as ``tags[]=A&tags[]=B``
    boolean: bool = False


@dataclass
class ResourceSpec:
    path: str
    list_key: str
    default_fields: tuple[str, ...]
    extra_fields: tuple[str, ...] = ()
    computed: dict[str, Getter] = field(default_factory=dict)
    sort_fields: dict[str, tuple[Getter, str]] = field(default_factory=dict)
    default_sort: tuple[str, str] | None = None
    search_fields: tuple[str, ...] = ()
    filters: dict[str, Filter] = field(default_factory=dict)
    relative_pagination: bool = False
    presorted: str | None = None  # candidates arrive in ascending order of this sort field
    renderer: Callable[[Ctx, Any, tuple[str, ...] | None], dict] | None = None
    id_kind: type = str
    label: str = "Record"

    def value(self, ctx: Ctx, record: Any, name: str) -> Any:
        getter = self.computed.get(name)
        if getter is not None:
            return getter(ctx, record)
        return record[name]

    def fields_for(self, ctx: Ctx, base: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The default fields plus any documented extras requested with ``fields=``."""
        fields = list(base or self.default_fields)
        requested = ctx.params.get("fields")
        if requested:
            allowed = set(self.default_fields) | set(self.extra_fields)
            for name in requested.split(","):
                name = name.strip()
                if name in allowed and name not in fields:
                    fields.append(name)
        return tuple(fields)

    def render(self, ctx: Ctx, record: Any, fields: tuple[str, ...] | None = None) -> dict:
        if self.renderer is not None:
            return self.renderer(ctx, record, fields)
        fields = fields or self.fields_for(ctx)
        return {name: self.value(ctx, record, name) for name in fields}


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
    raise bad_request(f"Invalid value for {name}: expected true or false")


def parse_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except ValueError:
        raise bad_request(f"Invalid value for {name}: expected an integer") from None
    if minimum is not None and number < minimum:
        raise bad_request(f"Invalid value for {name}: must be at least {minimum}")
    return number


def digits(value: Any) -> str:
    return _DIGITS.sub("", str(value or ""))


def multi_values(ctx: Ctx, name: str) -> list[str]:
    """``name=A,B`` or ``name[]=A&name[]=B`` (the array form wins when both are given)."""
    values = [v for v in ctx.args.getlist(f"{name}[]") if v != ""]
    if values:
        return values
    single = ctx.params.get(name)
    if single is None or single == "":
        return []
    return [single]


def _apply_filters(spec: ResourceSpec, ctx: Ctx, records: list) -> list:
    for name, flt in spec.filters.items():
        if flt.multi:
            values = multi_values(ctx, name)
            if not values:
                continue
            records = [r for r in records if flt.predicate(ctx, r, values)]
            continue
        raw = ctx.params.get(name)
        if raw is None or raw == "":
            continue
        value: Any = raw
        if flt.boolean:
            value = parse_bool(raw, name)
        elif flt.choices is not None:
            value = raw.strip().lower()
            if value not in flt.choices:
                raise bad_request(f"Invalid value for {name}: must be one of {', '.join(flt.choices)}")
        records = [r for r in records if flt.predicate(ctx, r, value)]
    return records


def _search(spec: ResourceSpec, ctx: Ctx, records: list) -> list:
    term = (ctx.params.get("search") or "").strip()
    if not term or not spec.search_fields:
        return records
    lowered = term.lower()
    term_digits = digits(term)
    phone_fields = [f for f in spec.search_fields if "phone" in f or "number" in f]
    text_fields = [f for f in spec.search_fields if f not in phone_fields]

    def matches(record: Any) -> bool:
        for name in text_fields:
            value = spec.value(ctx, record, name)
            if value and lowered in str(value).lower():
                return True
        if len(term_digits) >= 3:
            for name in phone_fields:
                value = spec.value(ctx, record, name)
                if value and term_digits in digits(value):
                    return True
        return False

    return [r for r in records if matches(r)]


def _sort(spec: ResourceSpec, ctx: Ctx, records: list) -> list:
    sort = (ctx.params.get("sort") or "").strip()
    order = (ctx.params.get("order") or "").strip().lower()
    if order and order not in ("asc", "desc"):
        raise bad_request("Invalid value for order: must be asc or desc")
    if sort:
        if sort not in spec.sort_fields:
            allowed = ", ".join(spec.sort_fields) or "none"
            raise bad_request(f"Invalid sort field: {sort!r}. Sorting is available for: {allowed}")
        getter, default_order = spec.sort_fields[sort]
    elif spec.default_sort:
        sort, default_order = spec.default_sort
        getter = spec.sort_fields[sort][0] if sort in spec.sort_fields else None
        if getter is None:
            return records[::-1] if (order or default_order) == "desc" else records
    else:
        return records[::-1] if order == "desc" else records
    descending = (order or default_order) == "desc"
    if sort == spec.presorted:
        return records[::-1] if descending else records

    def key(record: Any) -> tuple:
        value = getter(ctx, record)
        if isinstance(value, str):
            value = value.lower()
        # missing values sort last in either direction
        return (value is None) != descending, value if value is not None else 0

    try:
        return sorted(records, key=key, reverse=descending)
    except TypeError:
        return sorted(records, key=lambda r: str(key(r)), reverse=descending)


def select(spec: ResourceSpec, ctx: Ctx, records: Iterable) -> list:
    """Scope, filter, search and sort the candidate records of a list request."""
    records = [r for r in records if ctx.visible(r)] if ctx.scoped else records
    if not isinstance(records, list):
        records = list(records)
    records = _apply_filters(spec, ctx, records)
    records = _search(spec, ctx, records)
    return _sort(spec, ctx, records)


def _page_url(ctx: Ctx, replace: dict[str, str]) -> str:
    pairs = [(k, v) for k, v in ctx.args.items(multi=True) if k not in replace]
    pairs.extend(replace.items())
    return f"{ctx.request_url}?{urlencode(pairs)}"


def per_page_of(ctx: Ctx) -> int:
    raw = ctx.params.get("per_page")
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    return min(parse_int(raw, "per_page", minimum=1), MAX_PER_PAGE)


def paginate(
    spec: ResourceSpec, ctx: Ctx, records: list, fields: tuple[str, ...] | None = None
) -> tuple[dict, dict[str, str]]:
    """The documented page (offset or, where supported, relative pagination) and a ``Link`` header."""
    per_page = per_page_of(ctx)
    fields = fields or spec.fields_for(ctx)
    headers: dict[str, str] = {}
    relative = spec.relative_pagination and parse_bool(
        ctx.params.get("relative_pagination") or "false", "relative_pagination"
    )
    if relative:
        raw_offset = ctx.params.get("offset")
        offset = parse_int(raw_offset, "offset", minimum=0) if raw_offset not in (None, "") else 0
        start = offset * per_page
        chunk = records[start : start + per_page]
        has_next = start + per_page < len(records)
        next_url = _page_url(ctx, {"relative_pagination": "true", "offset": str(offset + 1)}) if has_next else None
        if next_url:
            headers["Link"] = f'<{next_url}>; rel="next"'
        body = {
            "next_page": next_url,
            "has_next_page": has_next,
            spec.list_key: [spec.render(ctx, r, fields) for r in chunk],
        }
        return body, headers
    raw_page = ctx.params.get("page")
    page = parse_int(raw_page, "page", minimum=1) if raw_page not in (None, "") else 1
    total = len(records)
    # at least one (empty) page: clients that loop "until page == total_pages" must stop on empty lists
    total_pages = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    chunk = records[start : start + per_page]
    links = []
    if page < total_pages:
        links.append(f'<{_page_url(ctx, {"page": str(page + 1)})}>; rel="next"')
    if 1 < page <= total_pages:
        links.append(f'<{_page_url(ctx, {"page": str(page - 1)})}>; rel="prev"')
    if links:
        headers["Link"] = ", ".join(links)
    body = {
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "total_records": total,
        spec.list_key: [spec.render(ctx, r, fields) for r in chunk],
    }
    return body, headers
