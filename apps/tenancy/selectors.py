"""Reads of tenancy data. Tenant rows always come through the scoping mechanism."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Agency, ClientAccount, Membership, Role, User


def agencies_for_user(*, user: User) -> QuerySet[Agency]:
    if user.is_superuser:
        return Agency.objects.filter(is_active=True)
    return Agency.objects.filter(is_active=True, memberships__user=user, memberships__is_active=True).distinct()


def membership_for(*, user: User, agency: Agency | None) -> Membership | None:
    if agency is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, agency=agency, is_active=True).first()


def client_account_list(*, user: User, agency: Agency | None) -> QuerySet[ClientAccount]:
    return ClientAccount.objects.visible_to(user, agency).select_related("agency")


def user_can_manage_agency(*, user: User, agency: Agency | None) -> bool:
    """Owners and admins (and operators) may connect accounts and change their settings."""
    if agency is None:
        return False
    if user.is_superuser:
        return True
    membership = membership_for(user=user, agency=agency)
    return membership is not None and membership.role in (Role.OWNER, Role.ADMIN)
