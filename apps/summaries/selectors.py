"""Reads of portal summaries; tenant rows come through the scoping mechanism."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.companies.models import Company
from apps.tenancy.models import ClientAccount, Membership, Role, User

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
