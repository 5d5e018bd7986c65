"""Reads of portal summaries; tenant rows come through the scoping mechanism."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.companies.models import Company
from apps.tenancy.models import ClientAccount, Membership, Role, User
from apps.tenancy.scoping import access_scope

from .models import DeliveryStatus, PortalSummary, SummaryDelivery, SummaryRecipient


def summary_list(*, user: Any, agency: Any, account: ClientAccount) -> QuerySet[PortalSummary]:
    recipients = SummaryRecipient.objects.for_account(account).select_related("user").order_by("email")
    return (
        PortalSummary.objects.visible_to(user, agency)
        .filter(client_account=account)
        .select_related("company", "client_account")
        .prefetch_related(Prefetch("recipients", queryset=recipients))
        .annotate(sent_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)))
        .order_by("company__name", "frequency", "pk")
    )


def summary_get(*, user: Any, agency: Any, account: ClientAccount, pk: int) -> PortalSummary | None:
    return (
        PortalSummary.objects.visible_to(user, agency)
        .filter(client_account=account, pk=pk)
        .select_related("company", "client_account__agency")
        .first()
    )


def delivery_list(*, user: Any, agency: Any, account: ClientAccount, summary: PortalSummary | None = None):
    qs = (
        SummaryDelivery.objects.visible_to(user, agency)
        .filter(client_account=account)
        .select_related("summary__company", "recipient", "requested_by")
        .order_by("-created_at", "-pk")
    )
    return qs.filter(summary=summary) if summary is not None else qs


def account_client_users(*, account: ClientAccount) -> QuerySet[User]:
    """Active client users of the account: the people a summary can be addressed to by name."""
    memberships = Membership.objects.filter(
        agency_id=account.agency_id, role=Role.CLIENT, is_active=True, client_accounts=account
    )
    return User.objects.filter(is_active=True, memberships__in=memberships).distinct().order_by("email")


def account_client_company_limits(*, account: ClientAccount) -> dict[int, list[str]]:
    """User id -> the only companies of `account` that client sees (clients who see it whole are left out)."""
    memberships = Membership.objects.filter(
        agency_id=account.agency_id, role=Role.CLIENT, is_active=True, client_accounts=account
    ).prefetch_related("companies")
    limits = {}
    for membership in memberships:
        names = sorted(c.name or c.callrail_id for c in membership.companies.all() if c.client_account_id == account.pk)
        if names:
            limits[membership.user_id] = names
    return limits


def account_companies(*, account: ClientAccount) -> QuerySet[Company]:
    return Company.objects.for_account(account).live().order_by("name")


def my_summaries(*, user: Any, agency: Any) -> list[tuple[PortalSummary, SummaryRecipient | None]]:
    """The active summaries of the accounts the user sees, each with the user's own recipient row (if any)."""
    summaries = list(
        PortalSummary.objects.visible_to(user, agency)
        .filter(is_active=True)
        .select_related("company", "client_account")
        .order_by("client_account__name", "company__name", "frequency", "pk")
    )
    mine: dict[int, SummaryRecipient] = {}
    for account_id in {s.client_account_id for s in summaries}:
        for recipient in SummaryRecipient.objects.for_account(account_id).filter(email__iexact=user.email):
            mine[recipient.summary_id] = recipient
    return [(summary, mine.get(summary.pk)) for summary in summaries]


def summary_reader_problem(*, user: Any, summary: PortalSummary) -> str | None:
    """Why `user` may not receive `summary` (None: they may).

    The email carries the same data as the pages, so the same scope decides: a person receives a summary
    only while they could open it. A client limited to some companies therefore receives summaries of
    those companies only, never a whole-account one (README, "Roles").
    """
    account = summary.client_account
    if user is None or not user.is_active:
        return "The person no longer signs in."
    if PortalSummary.objects.visible_to(user, account.agency_id).filter(pk=summary.pk).exists():
        return None
    limits = access_scope(user, account.agency_id).company_limits.get(account.pk)
    if limits is None:
        return f"{user.email} no longer has {account.name}."
    names = sorted(
        Company.objects.for_account(account).filter(pk__in=limits).values_list("name", flat=True)
    )
    return (
        f"{user.email} only sees {', '.join(names)} of {account.name}: add them to a summary of one of "
        f"those companies instead."
    )


def portal_user_for_address(*, email: str, account: ClientAccount) -> User | None:
    """The agency's member behind a typed address, if any (their limits apply however they were added)."""
    return (
        User.objects.filter(
            email__iexact=email.strip(), memberships__agency_id=account.agency_id, memberships__is_active=True
        )
        .distinct()
        .first()
    )
