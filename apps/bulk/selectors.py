"""Reads of bulk actions: the selection a job acts on (always through the person's scope), and the jobs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict

from apps.portal.catalog import BY_NAME
from apps.portal.listing import FilterContext, PortalResource, build_listing
from apps.sync.selectors import mirror_list
from apps.tenancy.policy import Can, allows
from apps.tenancy.selectors import client_account_list

from .models import BulkJob

BATCH = 500


def user_can_bulk(*, user: Any, agency: Any) -> bool:
    """Staff roles only (owner, admin, staff; superusers): clients never get bulk actions (the policy table)."""
    return agency is not None and allows(user, Can.BULK, agency)


@dataclass
class Selection:
    """The records a bulk action acts on: ``queryset`` is scoped (and filtered for "all matching");
    ``ignored_ids`` are explicit ids outside the scope (another tenant's, or gone)."""

    resource: PortalResource
    queryset: QuerySet
    ignored_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def count(self) -> int:
        return self.queryset.count()

    def batches(self, size: int = BATCH) -> Iterator[list[Any]]:
        """The rows in primary-key order, one batch at a time (keyset: a row the action changes so that it
        leaves the filter is not skipped over or seen twice, and any N keeps memory constant)."""
        last = 0
        while True:
            pks = list(self.queryset.order_by("pk").filter(pk__gt=last).values_list("pk", flat=True)[:size])
            if not pks:
                return
            by_pk = {row.pk: row for row in self.queryset.order_by().filter(pk__in=pks)}
            yield [by_pk[pk] for pk in pks if pk in by_pk]
            last = pks[-1]


def bulk_scoped_rows(*, user: Any, agency: Any, account: Any, resource: PortalResource) -> QuerySet:
    rows = mirror_list(resource.model, user=user, agency=agency)
    return rows.filter(client_account=account).select_related(*resource.related)


def bulk_selection(
    *, user: Any, agency: Any, account: Any, resource_name: str, ids: list[int] | None = None, query: str = "",
    all_matching: bool = False,
) -> Selection:  # fmt: skip
    """The selection, re-evaluated now through ``visible_to``: the list's filter (the same mechanism as the
    list page, ``apps.portal.listing``) for "all matching", else the explicit ids that are in scope."""
    resource = BY_NAME[resource_name]
    base = bulk_scoped_rows(user=user, agency=agency, account=account, resource=resource)
    if all_matching:
        memo: dict[str, list] = {}

        def choices(name: str, load) -> list:
            if name not in memo:
                memo[name] = load()
            return memo[name]

        def scoped(model) -> QuerySet:
            return mirror_list(model, user=user, agency=agency).filter(client_account=account)

        ctx = FilterContext(account=account, queryset=base, scoped=scoped, choices=choices, cached_choices=choices)
        listing = build_listing(resource, queryset=base, params=QueryDict(query or ""), ctx=ctx)
        return Selection(resource=resource, queryset=listing.queryset, problems=listing.problems)
    wanted = sorted({int(i) for i in ids or []})
    found = set(base.filter(pk__in=wanted).values_list("pk", flat=True))
    return Selection(
        resource=resource, queryset=base.filter(pk__in=sorted(found)), ignored_ids=[i for i in wanted if i not in found]
    )


def bulk_query_clean(query: str) -> str:
    """The list's query string without empty values and the page number (what the filter means)."""
    data = QueryDict(query or "")
    clean = QueryDict(mutable=True)
    for key, values in data.lists():
        kept = [v for v in values if v not in ("", None)]
        if key not in ("page", "per_page") and kept:
            clean.setlist(key, kept)
    return clean.urlencode()


def bulk_filter_summary(*, user: Any, agency: Any, account: Any, resource_name: str, query: str) -> list[str]:
    """The filter as a person reads it ("Company: Summit Dental"), from the list's own filter form."""
    resource = BY_NAME[resource_name]
    base = bulk_scoped_rows(user=user, agency=agency, account=account, resource=resource)

    def load(name: str, loader) -> list:
        return loader()

    def scoped(model) -> QuerySet:
        return mirror_list(model, user=user, agency=agency).filter(client_account=account)

    ctx = FilterContext(account=account, queryset=base, scoped=scoped, choices=load, cached_choices=load)
    listing = build_listing(resource, queryset=base, params=QueryDict(query or ""), ctx=ctx)
    out = [f"Date range: {listing.default_window}"] if listing.default_window else []  # the list's default range
    for name, value in (getattr(listing.form, "cleaned_data", None) or {}).items():
        if value in (None, "", []) or name not in listing.form.fields:
            continue
        field = listing.form.fields[name]
        shown = dict((str(k), v) for k, v in getattr(field, "choices", []) or []).get(str(value), value)
        out.append(f"{field.label}: {shown}")
    if listing.sort != resource.default_sort:
        out.append(f"sorted by {listing.sort}")
    return out


def bulk_target_accounts(*, user: Any, agency: Any, exclude: Any = None) -> QuerySet:
    """Client accounts of the agency the person may see (the targets of a "copy set-up" action)."""
    rows = client_account_list(user=user, agency=agency).filter(agency=agency).order_by("name")
    return rows.exclude(pk=exclude.pk) if exclude is not None else rows


def bulk_job_list(*, user: Any, agency: Any, account: Any) -> QuerySet[BulkJob]:
    return BulkJob.objects.visible_to(user, agency).filter(client_account=account).select_related("requested_by")


def bulk_job_get(*, user: Any, agency: Any, account: Any, pk: int) -> BulkJob | None:
    return bulk_job_list(user=user, agency=agency, account=account).filter(pk=pk).first()
