"""Reads of credentials. Credentials are agency data for owners and admins: always read through the agency."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.tenancy.models import Agency, ClientAccount, User
from apps.tenancy.selectors import user_can_manage_agency

from .models import Credential, GatewayConnection


def credential_list(*, agency: Agency) -> QuerySet[Credential]:
    return agency.credentials.annotate(
        account_count=Count("client_accounts", distinct=True),
        connection_count=Count("connections", filter=~Q(connections__status="REMOVED"), distinct=True),
    ).order_by("name")


def credential_for(*, user: User, agency: Agency | None, pk: object) -> Credential | None:
    """The agency's credential ``pk`` when ``user`` may manage the agency; None otherwise (a 404)."""
    if agency is None or not user_can_manage_agency(user=user, agency=agency):
        return None
    try:
        return agency.credentials.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def credentials_for_user(*, user: User) -> QuerySet[Credential]:
    """Every credential of every agency the user manages (the REST API)."""
    from apps.tenancy.models import Membership, Role

    if not user.is_authenticated or not user.is_active:
        return Credential.objects.none()
    if user.is_superuser:
        return Credential.objects.all()
    managed = Membership.objects.filter(
        user=user, is_active=True, agency__is_active=True, role__in=[Role.OWNER, Role.ADMIN]
    ).values("agency_id")
    return Credential.objects.filter(agency_id__in=managed)


def credential_accounts(*, credential: Credential, user: User) -> QuerySet[ClientAccount]:
    """The accounts a credential serves, as the user may see them."""
    return ClientAccount.objects.visible_to(user, credential.agency).filter(credential=credential).order_by("name")


def connection_list(*, credential: Credential) -> QuerySet[GatewayConnection]:
    return credential.connections.annotate(account_count=Count("client_accounts")).order_by("-created_at")
