"""Reads of tenancy data. Tenant rows always come through the scoping mechanism."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from .models import Agency, ClientAccount, Membership, Role, User
from .policy import Can, active_membership, allows


def agencies_for_user(*, user: User) -> QuerySet[Agency]:
    """The agencies the user works in (only the viewer's agency while viewing as a client)."""
    if not user.is_authenticated or not user.is_active:
        return Agency.objects.none()
    view_as = getattr(user, "view_as", None)
    if view_as is not None:
        return Agency.objects.filter(is_active=True, pk=view_as.agency_id)
    if user.is_superuser:
        return Agency.objects.filter(is_active=True).defer("logo")
    return (
        Agency.objects.filter(is_active=True, memberships__user=user, memberships__is_active=True)
        .defer("logo")  # up to 256 KB each, read by the logo's own view only
        .distinct()
    )


def agency_choices(*, user: User) -> list[Agency]:
    """``agencies_for_user`` read once a request (cached on the user object): the agency the request works in
    is picked from it, and the switcher lists it."""
    if "_agency_choices" not in user.__dict__:
        user.__dict__["_agency_choices"] = list(agencies_for_user(user=user))
    return user.__dict__["_agency_choices"]


def membership_for(*, user: User, agency: Agency | None) -> Membership | None:
    if agency is None or not user.is_authenticated:
        return None
    view_as = getattr(user, "view_as", None)
    if view_as is not None and getattr(agency, "pk", agency) != view_as.agency_id:
        return None
    if view_as is not None:
        return Membership.objects.filter(user=user, agency=agency, is_active=True).first()
    return active_membership(user, getattr(agency, "pk", agency))


def client_account_list(*, user: User, agency: Agency | None) -> QuerySet[ClientAccount]:
    return (
        ClientAccount.objects.visible_to(user, agency)
        .select_related("agency", "credential", "gateway_connection")
        .defer("agency__logo")  # the agency's logo bytes, once for every account listed
    )


def user_can_sync(*, user: User, agency: Agency | None) -> bool:
    """The agency's staff (not clients) drive the CallRail machinery: sync, outbox, webhooks (the policy table)."""
    return agency is not None and allows(user, Can.SYNC, agency)


def user_can_manage_agency(*, user: User, agency: Agency | None) -> bool:
    """Owners and admins (and operators) may connect accounts and change their settings (the policy table)."""
    return agency is not None and allows(user, Can.MANAGE_ACCOUNTS, agency)


@dataclass(frozen=True)
class TwoFactorState:
    has_device: bool
    required: bool

    @property
    def needs_verification(self) -> bool:
        return self.has_device or self.required


def two_factor_state(*, user: User) -> TwoFactorState:
    """Two-factor is optional for everyone, and required for owners/admins where the agency says so (one query:
    the two-factor check runs on every page)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    devices = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    requiring = Membership.objects.filter(
        user=OuterRef("pk"), is_active=True, role__in=[Role.OWNER, Role.ADMIN], agency__require_two_factor=True
    )
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(has_device=Exists(devices), required=Exists(requiring))
        .values_list("has_device", "required")
        .first()
    )
    has_device, required = row or (False, False)
    return TwoFactorState(has_device=has_device, required=required)


def membership_list(*, agency: Agency) -> QuerySet[Membership]:
    return (
        agency.memberships.select_related("user")
        .prefetch_related("client_accounts", "companies")
        .order_by("-is_active", "role", "user__email")
    )


@dataclass
class AccountAccess:
    """One member and their access to one client account (the account's "Assign staff" page)."""

    membership: Membership
    access: str  # "agency": sees every account by role; "assigned"; "none"
    companies: list[str]
    editable: bool = False

    @property
    def can_grant(self) -> bool:
        return self.access == "none" and self.membership.role in (Role.STAFF, Role.CLIENT)

    @property
    def can_revoke(self) -> bool:
        return self.access == "assigned"


def account_access_list(*, agency: Agency, account: ClientAccount) -> list[AccountAccess]:
    """Every active member of the agency with their access to `account`: those who see it first."""
    rows = []
    for membership in membership_list(agency=agency).filter(is_active=True):
        assigned = {a.pk for a in membership.client_accounts.all()}
        if membership.role in (Role.OWNER, Role.ADMIN) or (membership.role == Role.STAFF and not assigned):
            access = "agency"
        else:
            access = "assigned" if account.pk in assigned else "none"
        companies = sorted(
            c.name or c.callrail_id for c in membership.companies.all() if c.client_account_id == account.pk
        )
        rows.append(AccountAccess(membership=membership, access=access, companies=companies))
    order = {"assigned": 0, "agency": 1, "none": 2}
    return sorted(rows, key=lambda r: (order[r.access], r.membership.user.email))
