"""The one generic list/detail mechanism of the portal's resource pages.

A :class:`PortalResource` declares, per mirrored CallRail resource, its columns, filters, free-text search
fields and sort keys; :func:`build_listing` turns a request's query string into a validated filter form, a
filtered and sorted scoped queryset, and one page of rows. Nothing here knows a particular resource:
``catalog.py`` holds the declarations.

Pagination is *indexed offset*: the page's primary keys are read first (an index scan on the sort index,
no row bodies), then only those rows are fetched, so deep pages of a million-call mirror stay fast.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.apps import apps
from django.db import connection
from django.db.models import Count, F, JSONField, Q, QuerySet, Value, Window
from django.db.models.functions import Least, RowNumber
from django.http import QueryDict

from apps.calls.selectors import DATE_RANGES, DEFAULT_RANGE, date_window, zone_of

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Column:
    """One table column: ``path`` reads the value (``company__name`` follows relations), ``sort`` is the
    ORDER BY key (None: not sortable), ``kind`` picks the cell format."""

    key: str
    label: str
    path: str | None = None
    sort: str | None = None
    kind: str = "text"  # see templatetags/portal_tables.py for the formats
    default: bool = True
    getter: Callable[[Any], Any] | None = None  # a computed value (then ``path`` is unused)
    labels: str | None = None  # a family of ``labels.py``: CallRail's values shown in CallRail's words

    @property
    def value_path(self) -> str:
        return self.path or self.key

    @property
    def staff_only(self) -> bool:
        """CallRail's ids are the agency's tools: not offered to clients (lists, columns, CSV)."""
        return self.key == "callrail_id"

    def value(self, obj: Any) -> Any:
        if self.getter is not None:
            return self.getter(obj)
        value = obj
        for part in self.value_path.split("__"):
            if value is None:
                return None
            value = getattr(value, part, None)
        return value

    def csv_value(self, obj: Any) -> Any:
        """The value for the CSV export (``exports.csv_cell`` writes it safely): amounts with two decimals."""
        value = self.value(obj)
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        return value


@dataclass
class FilterContext:
    account: Any
    queryset: QuerySet  # the scoped, unfiltered list of the resource (for distinct choices)
    scoped: Callable[[Any], QuerySet]  # a model's live rows of the account that the user may see
    choices: Callable[[str, Callable[[], list]], list]  # choice loader, once per request
    cached_choices: Callable[[str, Callable[[], list]], list]  # choice loader cached for a while (costly ones)


def lazy_choices(load: Callable[[], list]) -> Callable[[], list]:
    """Choices read from the mirror only when needed: to render the form, or to check a chosen value. A list
    region swapped by HTMX (paging, sorting, most filtering) renders no form and reads none."""
    return lambda: [("", "Any"), *load()]


class OpenChoiceField(forms.ChoiceField):
    """A choice among the values present in the mirror: offered as a list, but any value is accepted (the
    list may be cached and lag behind the mirror; an unknown value simply matches nothing)."""

    def valid_value(self, value: Any) -> bool:
        return True


class Filter:
    """A filter: contributes form fields, and narrows the queryset with their cleaned values."""

    name: str
    label: str

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        raise NotImplementedError

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        raise NotImplementedError


@dataclass
class ChoiceFilter(Filter):
    """Exact match on a field, from fixed choices or (``distinct=True``) the values present in the mirror."""

    name: str
    label: str
    lookup: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    distinct: bool = False
    q: Callable[[str], Q] | None = None  # a custom condition for a value (CallRail semantics)
    labels: str | None = None  # values present in the mirror, shown in CallRail's words (``labels.py``)

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        if not self.distinct:
            choices = [("", "Any"), *self.choices]
            return {self.name: forms.ChoiceField(label=self.label, required=False, choices=choices)}
        from .labels import label

        lookup = self.lookup or self.name

        def load() -> list:
            return [
                (v, label(self.labels, v) if self.labels else v)
                for v in ctx.queryset.order_by(lookup)
                .exclude(**{f"{lookup}__isnull": True})
                .exclude(**{lookup: ""})
                .values_list(lookup, flat=True)
                .distinct()[:300]
            ]

        # loaded when the form is rendered (not for the list region HTMX swaps)
        choices = lazy_choices(lambda: ctx.cached_choices(self.name, load))
        return {self.name: OpenChoiceField(label=self.label, required=False, choices=choices)}

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        value = data.get(self.name)
        if not value:
            return queryset
        if self.q is not None:
            return queryset.filter(self.q(value))
        return queryset.filter(**{self.lookup or self.name: value})


@dataclass
class BoolFilter(Filter):
    """Yes / no / any on a boolean field."""

    name: str
    label: str
    lookup: str | None = None
    yes: str = "Yes"
    no: str = "No"

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        choices = [("", "Any"), ("yes", self.yes), ("no", self.no)]
        return {self.name: forms.ChoiceField(label=self.label, required=False, choices=choices)}

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        value = data.get(self.name)
        lookup = self.lookup or self.name
        if value == "yes":
            return queryset.filter(**{lookup: True})
        if value == "no":
            return queryset.exclude(**{lookup: True})
        return queryset


@dataclass
class RefFilter(Filter):
    """A related record of the same account (company, tracker), chosen by its portal id."""

    name: str
    label: str
    model_label: str
    lookup: str
    label_field: str = "name"
    qualify: str | None = None  # where names repeat (trackers of several companies), add this to tell them apart

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        model = apps.get_model(self.model_label)

        def load() -> list:
            rows = ctx.scoped(model).order_by(self.label_field, "pk")
            extra = (self.qualify,) if self.qualify else ()
            found = list(rows.values_list("pk", self.label_field, *extra)[:500])
            seen = Counter(row[1] for row in found)
            def shown(row: tuple) -> str:
                if extra and seen[row[1]] > 1 and row[2]:
                    return f"{row[1]} · {row[2]}"
                return row[1] or f"#{row[0]}"

            return [(str(row[0]), shown(row)) for row in found]

        choices = lazy_choices(lambda: ctx.choices(self.name, load))
        return {
            self.name: forms.TypedChoiceField(
                label=self.label, required=False, coerce=int, empty_value=None, choices=choices
            )
        }

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        value = data.get(self.name)
        return queryset if value is None else queryset.filter(**{self.lookup: value})


@dataclass
class TagFilter(Filter):
    """Records carrying a tag (the account's tags by name; records store tag names)."""

    name: str = "tag"
    label: str = "Tag"
    lookup: str = "tags"

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        model = apps.get_model("tags.Tag")

        def load() -> list:
            names = ctx.scoped(model).order_by("name").values_list("name", flat=True)
            return [(n, n) for n in dict.fromkeys(names[:500]) if n]

        choices = lazy_choices(lambda: ctx.choices(self.name, load))
        return {self.name: forms.ChoiceField(label=self.label, required=False, choices=choices)}

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        value = data.get(self.name)
        if not value:
            return queryset
        if connection.vendor == "postgresql":
            return queryset.filter(**{f"{self.lookup}__contains": [value]})  # jsonb containment
        # SQLite (the embedded default) has no JSON containment: match the quoted name in the JSON text
        return queryset.filter(**{f"{self.lookup}__icontains": json.dumps(value)})


@dataclass
class DateRangeFilter(Filter):
    """CallRail's date ranges: a preset (``date_range``) or ``start_date``/``end_date`` (inclusive days),
    in the account's time zone. With neither, ``default`` applies (the first choice, which the URL leaves out:
    the dashboard, the overview and the calls list all start on "Recent"); "all_time" shows everything."""

    field: str
    name: str = "date_range"
    label: str = "Date range"
    default: str = DEFAULT_RANGE  # "" : no limit by default

    def fields(self, ctx: FilterContext) -> dict[str, forms.Field]:
        widget = forms.DateInput(attrs={"type": "date"})
        labels = dict(DATE_RANGES)
        first = ("", labels[self.default]) if self.default else ("", "Any time")
        rest = [(value, text) for value, text in DATE_RANGES if value != self.default]
        return {
            self.name: forms.ChoiceField(
                label=self.label, required=False, choices=[first, *rest, ("custom", "Custom dates")]
            ),
            "start_date": forms.DateField(label="From", required=False, widget=widget),
            "end_date": forms.DateField(label="To", required=False, widget=widget),
        }

    def clean(self, data: dict[str, Any]) -> None:
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and start > end:
            raise forms.ValidationError("The start date must be on or before the end date.")

    def window(self, data: dict[str, Any], ctx: FilterContext) -> tuple[datetime | None, datetime | None]:
        tz = zone_of(ctx.account)
        preset = data.get(self.name)
        start: date | None = data.get("start_date")
        end: date | None = data.get("end_date")
        if start or end:
            return (
                datetime.combine(start, time(0), tz) if start else None,
                datetime.combine(end, time(23, 59, 59, 999999), tz) if end else None,
            )
        preset = preset or self.default
        if preset and preset != "custom":
            return date_window(preset, tz)
        return None, None

    def is_default(self, data: dict[str, Any]) -> bool:
        """No range chosen: the default window applies (the empty state says so)."""
        return bool(self.default) and not (data.get(self.name) or data.get("start_date") or data.get("end_date"))

    def apply(self, queryset: QuerySet, data: dict[str, Any], ctx: FilterContext) -> QuerySet:
        start, end = self.window(data, ctx)
        if start is not None:
            queryset = queryset.filter(**{f"{self.field}__gte": start})
        if end is not None:
            queryset = queryset.filter(**{f"{self.field}__lte": end})
        return queryset


@dataclass(frozen=True)
class PortalResource:
    """How the portal lists and shows one mirrored resource."""

    name: str  # the sync resource name, also the URL segment
    label: str  # plural, for tabs and headings
    singular: str
    model_label: str
    columns: tuple[Column, ...]
    default_sort: str  # a column key, "-" for descending
    filters: tuple[Filter, ...] = ()
    search: tuple[str, ...] = ()  # fields matched by the free-text search (icontains)
    related: tuple[str, ...] = ()  # select_related for list and detail
    title: Callable[[Any], str] = str
    detail_template: str = "portal/resource_detail.html"
    empty_hint: str = ""
    #: extra fields the detail page lists first (the rest follow in model order)
    detail_fields: tuple[str, ...] = ()
    #: the agency's CallRail set-up (trackers, tags, users…): tabs and pages for the agency's staff only
    staff_only: bool = False

    @property
    def model(self):
        return apps.get_model(self.model_label)

    @property
    def unlisted(self) -> list[str]:
        """What a list page never shows: the row's upstream payload, and of the ``related`` records (shown by
        name) their payloads, JSON and sync bookkeeping (loading and decoding them took most of a 200-row
        page's database time)."""
        deferred = ["payload"]
        for name in self.related:
            related = self.model._meta.get_field(name).related_model
            deferred += [
                f"{name}__{f.name}" for f in related._meta.concrete_fields
                if isinstance(f, JSONField) or f.name in ("payload_hash", "first_seen_at", "last_seen_at", "changed_at")
            ]  # fmt: skip
        return deferred

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    @property
    def default_columns(self) -> list[str]:
        return [c.key for c in self.columns if c.default]

    def columns_for(self, *, staff: bool) -> list[Column]:
        return [c for c in self.columns if staff or not c.staff_only]

    def chosen_columns(self, keys: Iterable[str] | None, *, staff: bool = True) -> list[Column]:
        known = {c.key: c for c in self.columns_for(staff=staff)}
        chosen = [known[k] for k in (keys or []) if k in known]
        return chosen or [known[k] for k in self.default_columns if k in known]

    def sort_keys(self) -> dict[str, str]:
        return {c.key: c.sort for c in self.columns if c.sort}

    def order_by(self, sort: str) -> list[str]:
        """ORDER BY for a sort key; the primary key breaks ties in the same direction (stable pages)."""
        descending = sort.startswith("-")
        expr = self.sort_keys()[sort.lstrip("-")]
        sign = "-" if descending else ""
        return [f"{sign}{expr}", f"{sign}pk"]


def filter_form_class(resource: PortalResource, ctx: FilterContext) -> type[forms.Form]:
    """The filter form of a resource: every filter's fields, plus search, sort and page size."""
    fields: dict[str, forms.Field] = {}
    if resource.search:
        fields["q"] = forms.CharField(label="Search", required=False, max_length=200)
    for flt in resource.filters:
        fields.update(flt.fields(ctx))

    def clean(self):
        data = forms.Form.clean(self)
        for flt in resource.filters:
            check = getattr(flt, "clean", None)
            if check is not None:
                try:
                    check(data)
                except forms.ValidationError as exc:
                    self.add_error(None, exc)
        return data

    return type(f"{resource.name.title()}FilterForm", (forms.Form,), {**fields, "clean": clean})


@dataclass
class Page:
    number: int
    size: int
    count: int
    rows: list

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return 0 if not self.count else (self.number - 1) * self.size + 1

    @property
    def end_index(self) -> int:
        return min(self.count, self.number * self.size)

    def window(self) -> list[int | None]:
        """Page numbers to link: first, last, and two either side of this one (None: a gap)."""
        wanted = {1, self.num_pages, *range(self.number - 2, self.number + 3)}
        out: list[int | None] = []
        previous = 0
        for n in sorted(p for p in wanted if 1 <= p <= self.num_pages):
            if n - previous > 1:
                out.append(None)
            out.append(n)
            previous = n
        return out


@dataclass
class Listing:
    resource: PortalResource
    form: forms.Form
    queryset: QuerySet  # filtered and sorted (for the page and the CSV export)
    base: QuerySet  # scoped, unfiltered: fetches the page's rows by primary key
    sort: str
    problems: list[str] = field(default_factory=list)
    page: Page | None = None

    @property
    def active_filters(self) -> bool:
        data = getattr(self.form, "cleaned_data", {}) or {}
        return any(v not in (None, "", []) for v in data.values())

    @property
    def default_window(self) -> str:
        """The label of the default date range in force (no range chosen), else ""."""
        data = getattr(self.form, "cleaned_data", {}) or {}
        for flt in self.resource.filters:
            if isinstance(flt, DateRangeFilter) and flt.is_default(data):
                return dict(DATE_RANGES)[flt.default]
        return ""


def _int(value: str | None, default: int, *, low: int, high: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def build_listing(resource: PortalResource, *, queryset: QuerySet, params: QueryDict, ctx: FilterContext) -> Listing:
    """Validate the query string and apply it. Bad input never raises: it becomes a message, and the list
    shows what the valid part of the input selects."""
    form = filter_form_class(resource, ctx)(params)
    problems: list[str] = []
    form.is_valid()
    data = {k: v for k, v in form.cleaned_data.items() if k not in form.errors}
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else "Filter"
        problems += [f"{label}: {e}" if name != "__all__" else e for e in errors]
    if "__all__" in form.errors:
        data.pop("start_date", None)
        data.pop("end_date", None)
    qs = queryset
    for flt in resource.filters:
        qs = flt.apply(qs, data, ctx)
    term = (data.get("q") or "").strip()
    if term and resource.search:
        condition = Q()
        for name in resource.search:
            condition |= Q(**{f"{name}__icontains": term})
        qs = qs.filter(condition)
    sort = params.get("sort") or resource.default_sort
    if sort.lstrip("-") not in resource.sort_keys():
        problems.append(f"Cannot sort by {sort!r}; sorted by {resource.default_sort.lstrip('-')} instead.")
        sort = resource.default_sort
    qs = qs.order_by(*resource.order_by(sort))
    return Listing(resource=resource, form=form, queryset=qs, base=queryset, sort=sort, problems=problems)


def paginate(listing: Listing, params: QueryDict, page_size: int) -> Page:
    """One page by indexed offset: the page's primary keys first (read in index order), then those rows.

    Unfiltered, the count is an index-only count and the keys stop after the page. Filtered (the filter
    reads the matching rows anyway), one query returns the page's keys with the total as a window count,
    instead of scanning the matching rows twice; a page past the end gets the last page from that same query
    (its rows are numbered: it starts after ``min(offset, the last page's offset)``), not from a second and
    a third scan.
    """
    number = _int(params.get("page"), 1, low=1, high=MAX_PAGE)
    if number is None:
        listing.problems.append("The page number must be a whole number of 1 or more; showing page 1.")
        number = 1
    queryset = listing.queryset
    offset = (number - 1) * page_size
    if listing.active_filters:
        last_page_start = (F("_total") - 1) / page_size * page_size
        found = list(
            queryset.annotate(
                _total=Window(Count("pk")), _n=Window(RowNumber(), order_by=list(queryset.query.order_by))
            )
            .filter(_n__gt=Least(Value(offset), last_page_start))
            .order_by("_n")
            .values_list("pk", "_total", "_n")[:page_size]
        )  # fmt: skip
        count = found[0][1] if found else 0  # (any matching row gives the last page at least)
        number = (found[0][2] - 1) // page_size + 1 if found else 1
        pks = [pk for pk, _, _ in found]
    else:
        count = queryset.count()
        number = min(number, max(1, -(-count // page_size)))
        offset = (number - 1) * page_size
        pks = list(queryset.values_list("pk", flat=True)[offset : offset + page_size]) if count else []
    rows: list = []
    if pks:
        rows_qs = listing.base.order_by().filter(pk__in=pks).defer(*listing.resource.unlisted)
        by_pk = {row.pk: row for row in rows_qs}
        rows = [by_pk[pk] for pk in pks if pk in by_pk]
    listing.page = Page(number=number, size=page_size, count=count, rows=rows)
    return listing.page


def page_size_from(params: QueryDict, remembered: int | None, problems: list[str]) -> int:
    raw = params.get("per_page")
    if raw in (None, ""):
        return remembered if remembered in PAGE_SIZES else DEFAULT_PAGE_SIZE
    size = _int(raw, DEFAULT_PAGE_SIZE, low=1, high=10_000)
    if size not in PAGE_SIZES:
        problems.append(f"Rows per page must be one of {', '.join(map(str, PAGE_SIZES))}; showing {DEFAULT_PAGE_SIZE}.")
        return DEFAULT_PAGE_SIZE
    return size


#: query parameters a list understands besides its filters
LIST_PARAMS = ("sort", "per_page", "page")


def clean_query(resource: PortalResource, params: QueryDict, *, keep_page: bool = False) -> QueryDict:
    """The list's query string as the URL should carry it: only parameters the list knows, only non-empty ones
    (a filter left at "Any" is no parameter), the default sort left out. Reload, bookmarks and shared links
    give the same rows; saved views store exactly this."""
    known = {"q", *LIST_PARAMS}
    for flt in resource.filters:
        known.add(flt.name)
        if isinstance(flt, DateRangeFilter):
            known |= {"start_date", "end_date"}
    out = QueryDict(mutable=True)
    for key in params:
        if key not in known or (key == "page" and not keep_page):
            continue
        values = [v.strip() for v in params.getlist(key) if v and v.strip()]
        if key == "sort" and values == [resource.default_sort]:
            continue
        if key == "page" and values == ["1"]:
            continue
        if values:
            out.setlist(key, values)
    return out
