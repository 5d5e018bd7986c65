"""Reads of tenancy data. Tenant rows always come through the scoping mechanism."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Agency, ClientAccount, Membership, Role, User


def agencies_for_user(*, user: User) -> QuerySet[Agency]:
    if not user.is_authenticated or not user.is_active:
        return Agency.objects.none()
    if user.is_superuser:
        return Agency.objects.filter(is_active=True)
    return Agency.objects.filter(is_active=True, memberships__user=user, memberships__is_active=True).distinct()


def membership_for(*, user: User, agency: Agency | None) -> Membership | None:
    if agency is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, agency=agency, is_active=True).first()


def client_account_list(*, user: User, agency: Agency | None) -> QuerySet[ClientAccount]:
    return ClientAccount.objects.visible_to(user, agency).select_related("agency", "credential", "gateway_connection")


def user_can_sync(*, user: User, agency: Agency | None) -> bool:
    """Everyone but clients may spend the interactive budget on a sync."""
    if agency is None:
        return False
    if user.is_superuser:
        return True
    membership = membership_for(user=user, agency=agency)
    return membership is not None and membership.role != Role.CLIENT


def user_can_manage_agency(*, user: User, agency: Agency | None) -> bool:
    """Owners and admins (and operators) may connect accounts and change their settings."""
    if agency is None:
        return False
    if user.is_superuser:
        return True
    membership = membership_for(user=user, agency=agency)
    return membership is not None and membership.role in (Role.OWNER, Role.ADMIN)


@dataclass(frozen=True)
class TwoFactorState:
    has_device: bool
    required: bool

    @property
    def needs_verification(self) -> bool:
        return self.has_device or self.required


def two_factor_state(*, user: User) -> TwoFactorState:
    """Two-factor is optional for everyone, and required for owners/admins where the agency says so."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    required = Membership.objects.filter(
        user=user, is_active=True, role__in=[Role.OWNER, Role.ADMIN], agency__require_two_factor=True
    ).exists()
    return TwoFactorState(has_device=has_device, required=required)


def membership_list(*, agency: Agency) -> QuerySet[Membership]:
    return (
        agency.memberships.select_related("user")
        .prefetch_related("client_accounts", "companies")
        .order_by("-is_active", "role", "user__email")
    )
