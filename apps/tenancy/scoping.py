"""The one scoping mechanism for tenant data.

Every tenant-owned queryset must pass through exactly one of three entry points before it is
evaluated, or it raises `UnscopedTenantQuery` (fail-closed):

- `visible_to(user, agency=None)`: for requests; what the user's memberships allow.
- `for_account(account)`: for tasks, webhooks and sync, which act for one ClientAccount.
- `unscoped(reason=...)`: for operators (Django admin, management commands); the reasons are
  listed in UNSCOPED_REASONS so a reviewer can grep every bypass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce, JSONObject

if TYPE_CHECKING:
    from .models import ClientAccount

UNSCOPED_REASONS = frozenset(
    {"admin", "operator-command", "demo-data", "beat-dispatch", "system-check", "webhook-token", "metrics",
     "credential"}
)  # webhook-token: the webhook receiver finds the account by its endpoint token; metrics: the /metrics scrape;
# credential: the accounts a credential serves (always of the credential's own agency), flagged or charged together


class UnscopedTenantQuery(RuntimeError):
    """A tenant queryset was evaluated without visible_to / for_account / unscoped."""

    def __init__(self, model: type[models.Model]) -> None:
        super().__init__(
            f"{model.__name__} queryset evaluated without a tenant scope: "
            "use .visible_to(user), .for_account(account) or .unscoped(reason=...)"
        )


@dataclass(frozen=True)
class AccessScope:
    """What one user may see: whole agencies, single client accounts, and within some of those accounts
    only some companies (clients limited to their companies)."""

    all_agencies: bool = False
    agency_ids: frozenset[int] = field(default_factory=frozenset)
    account_ids: frozenset[int] = field(default_factory=frozenset)
    # account id -> the only company ids visible in it; accounts not listed here are seen whole.
    company_limits: dict[int, frozenset[int]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.all_agencies or self.agency_ids or self.account_ids)

    def q(self, model: type[models.Model]) -> Q:
        """A filter on `model` selecting exactly the rows in this scope."""
        path = model.tenant_account_path  # "" for ClientAccount itself, else the FK to it
        agency = f"{path}__agency_id" if path else "agency_id"
        account = f"{path}_id" if path else "pk"
        if self.all_agencies:
            return Q()
        condition = Q(pk__in=[])  # matches nothing: the fail-safe start
        if self.agency_ids:
            condition |= Q(**{f"{agency}__in": sorted(self.agency_ids)})
        whole = self.account_ids - self.company_limits.keys()
        if whole:
            condition |= Q(**{f"{account}__in": sorted(whole)})
        company = getattr(model, "tenancy_company_field", None)
        for account_id, company_ids in sorted(self.company_limits.items()):
            if account_id not in self.account_ids:
                continue
            if not path:  # the client account itself
                condition |= Q(pk=account_id)
            elif company == "pk":  # the company itself
                condition |= Q(**{account: account_id, "pk__in": sorted(company_ids)})
            elif company:  # rows of those companies, and account-level rows (no company) unless they cover all
                mine = Q(**{f"{company}__in": sorted(company_ids)})
                if not getattr(model, "tenancy_companyless_covers_all", False):
                    mine |= Q(**{f"{company}__isnull": True})
                condition |= Q(**{account: account_id}) & mine
            # rows that belong to no company (users, sync runs, ...) stay hidden from company-limited users
        return condition


def access_scope(user: Any, agency: Any = None) -> AccessScope:
    """Resolve the user's scope from their active memberships, optionally within one agency.

    Cached on the user object for the request, like NetBox's object-permission cache.
    """
    agency_id = getattr(agency, "pk", agency)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return AccessScope()
    cache = user.__dict__.setdefault("_access_scope_cache", {})
    if agency_id in cache:
        return cache[agency_id]
    view_as = getattr(user, "view_as", None)
    if view_as is not None:  # viewing as a client: that client's access in the viewer's agency, nothing more
        inside = agency_id in (None, view_as.agency_id)
        scope = _scope_from_memberships(user, view_as.agency_id) if inside else AccessScope()
    elif user.is_superuser and agency_id is None:
        scope = AccessScope(all_agencies=True)
    elif user.is_superuser:
        scope = AccessScope(agency_ids=frozenset({agency_id}))
    else:
        scope = _scope_from_memberships(user, agency_id)
    cache[agency_id] = scope
    return scope


def _scope_from_memberships(user: Any, agency_id: int | None) -> AccessScope:
    from .models import Membership, Role
    from .policy import active_membership

    if agency_id is not None:  # the membership ``principal`` reads too (one query for both)
        found = active_membership(user, agency_id)
        memberships = [found] if found is not None else []
    else:
        memberships = list(Membership.objects.filter(user=user, is_active=True, agency__is_active=True).order_by())
    agency_ids: set[int] = set()
    account_ids: set[int] = set()
    company_limits: dict[int, set[int]] = {}
    # Owners and admins reach the whole agency: only the others' account and company limits are read.
    limited = [m for m in memberships if m.role not in (Role.OWNER, Role.ADMIN)]
    prefetch_related_objects(limited, "client_accounts")
    prefetch_related_objects([m for m in limited if m.role == Role.CLIENT], "companies")
    for membership in memberships:
        if membership.role in (Role.OWNER, Role.ADMIN):
            agency_ids.add(membership.agency_id)
            continue
        restricted = {account.pk for account in membership.client_accounts.all()}
        if membership.role == Role.STAFF and not restricted:
            agency_ids.add(membership.agency_id)
            continue
        # restricted staff, and clients (a client with no accounts sees nothing)
        mine = {pk for pk, owner in _account_agencies(restricted).items() if owner == membership.agency_id}
        account_ids |= mine
        if membership.role == Role.CLIENT:
            for company in membership.companies.all():
                if company.client_account_id in mine:
                    company_limits.setdefault(company.client_account_id, set()).add(company.pk)
    return AccessScope(
        agency_ids=frozenset(agency_ids),
        account_ids=frozenset(account_ids),
        company_limits={account: frozenset(ids) for account, ids in company_limits.items()},
    )


def _account_agencies(account_ids: set[int]) -> dict[int, int]:
    """Account -> agency, so a membership can never reach an account of another agency."""
    from .models import ClientAccount

    if not account_ids:
        return {}
    rows = ClientAccount.objects.unscoped(reason="system-check").filter(pk__in=account_ids)
    return dict(rows.values_list("pk", "agency_id"))


# Django's own uniqueness validation (Model.full_clean, UniqueConstraint.validate) queries through the
# default manager; those existence checks return no rows to anyone, so they may run unscoped.
_uniqueness_validation: ContextVar[bool] = ContextVar("uniqueness_validation", default=False)


@contextmanager
def uniqueness_validation() -> Iterator[None]:
    token = _uniqueness_validation.set(True)
    try:
        yield
    finally:
        _uniqueness_validation.reset(token)


class TenantQuerySet(models.QuerySet):
    """A queryset that refuses to run until it has been scoped."""

    _tenant_scoped = False

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def _mark_scoped(self) -> TenantQuerySet:
        self._tenant_scoped = True
        return self

    def visible_to(self, user: Any, agency: Any = None) -> TenantQuerySet:
        return self.filter(access_scope(user, agency).q(self.model))._mark_scoped()

    def for_account(self, account: ClientAccount | int) -> TenantQuerySet:
        account_id = getattr(account, "pk", account)
        path = self.model.tenant_account_path
        return self.filter(**{f"{path}_id" if path else "pk": account_id})._mark_scoped()

    def unscoped(self, *, reason: str) -> TenantQuerySet:
        if reason not in UNSCOPED_REASONS:
            raise ValueError(f"unscoped(reason={reason!r}) is not an allowed reason: {sorted(UNSCOPED_REASONS)}")
        return self.all()._mark_scoped()

    def count_per_account(self) -> Coalesce:
        """For a query of client accounts: how many of these rows belong to each (0 for none). A subquery, so it
        is refused unscoped like any read; with an index starting at the account it reads only the counted rows."""
        return Coalesce(Subquery(self._per_account(n=Count("pk")), output_field=models.IntegerField()), 0)

    def figures_per_account(self, **aggregates: Any) -> Subquery:
        """For a query of client accounts: these aggregates of each account's rows, read once, as one JSON object
        (``{"name": value}``; None for an account without rows). Scoped like ``count_per_account``."""
        figures = self._per_account(figures=JSONObject(**aggregates))
        return Subquery(figures, output_field=models.JSONField())

    def _per_account(self, **aggregate: Any) -> TenantQuerySet:
        """The one aggregate column of this queryset's rows of the outer query's account, grouped by account."""
        self._check_scoped()
        path = self.model.tenant_account_path
        (name,) = aggregate
        return self.filter(**{path: OuterRef("pk")}).order_by().values(path).annotate(**aggregate).values(name)

    def _check_scoped(self) -> None:
        if not self._tenant_scoped and not _uniqueness_validation.get():
            raise UnscopedTenantQuery(self.model)

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._check_scoped()
        super()._fetch_all()

    def count(self) -> int:
        self._check_scoped()
        return super().count()

    def exists(self) -> bool:
        self._check_scoped()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scoped()
        return super().aggregate(*args, **kwargs)

    def iterator(self, *args, **kwargs):
        self._check_scoped()
        return super().iterator(*args, **kwargs)

    def update(self, **kwargs) -> int:
        self._check_scoped()
        return super().update(**kwargs)

    def delete(self):
        self._check_scoped()
        return super().delete()

    def in_bulk(self, *args, **kwargs):
        self._check_scoped()
        return super().in_bulk(*args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Fail-closed manager. Related managers (`account.calls.all()`) are scoped by their parent row."""

    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        if getattr(self, "instance", None) is not None:
            queryset._tenant_scoped = True
        return queryset
