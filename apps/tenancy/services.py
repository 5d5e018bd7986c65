"""The only writers of tenancy data. Keyword-only, validated, idempotent where operators script them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from apps.audit.services import audit_record

from .models import Agency, ApiToken, ClientAccount, Invitation, Membership, Role, User


@transaction.atomic
def agency_create(*, name: str, owner_email: str, send_invite: bool = True) -> tuple[Agency, User, bool]:
    """Create an agency and its owner, or confirm both exist. Returns (agency, owner, created)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "The agency needs a name."})
    slug = slugify(name)
    if not slug:
        raise ValidationError({"name": "The name must contain letters or digits."})
    owner_email = User.objects.normalize_email(owner_email.strip()).lower()
    user = User.objects.filter(email__iexact=owner_email).first()
    new_user = user is None
    if new_user:
        user = User(email=owner_email)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    agency, created = Agency.objects.get_or_create(slug=slug, defaults={"name": name})
    membership, new_member = Membership.objects.get_or_create(
        user=user, agency=agency, defaults={"role": Role.OWNER}
    )
    before = {} if new_member else {**membership_state(membership), "active": membership.is_active}
    if membership.role != Role.OWNER or not membership.is_active:
        membership.role, membership.is_active = Role.OWNER, True
        membership.save(update_fields=["role", "is_active"])
    after = {**membership_state(membership), "active": True}
    if before != after:
        audit_record(agency=agency, action="membership.create" if new_member else "membership.update",
                     obj=membership, before=before, after=after)  # fmt: skip
    if new_user and send_invite:
        transaction.on_commit(lambda: user_send_password_setup(email=owner_email))
    return agency, user, created


def user_send_password_setup(*, email: str) -> None:
    """Email a new user the link to choose a password (Django's reset form skips unusable passwords)."""
    user = User.objects.get(email__iexact=email)
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    context = {"user": user, "link": f"{settings.PORTAL_BASE_URL}{path}"}
    send_mail(
        subject="Your Agency Portal account",
        message=render_to_string("registration/set_password_email.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


# --- Members and invitations -------------------------------------------------------------------

INVITATION_LIFETIME = timedelta(days=7)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_can_grant(*, actor: User, agency: Agency, role: str, client_accounts) -> None:
    """Nobody hands out more power than they hold (the policy table's ranks), nor another agency's accounts."""
    from .policy import grantable_roles

    if role not in grantable_roles(actor, agency):
        raise ValidationError({"role": "You cannot grant this role: members are managed up to your own role."})
    if any(account.agency_id != agency.pk for account in client_accounts):
        raise ValidationError({"client_accounts": "Choose client accounts of this agency."})
    if role == Role.CLIENT and not client_accounts:
        raise ValidationError({"client_accounts": "A client must be given at least one client account."})


def _check_can_manage(*, actor: User, membership: Membership) -> None:
    """Nobody changes or (de)activates a member of a higher role than their own."""
    from .policy import may_manage_member

    if not may_manage_member(actor, membership.agency, membership.role):
        raise PermissionDenied(
            f"{membership.user} is {membership.get_role_display().lower()} of {membership.agency.name}: "
            "only someone of that role or higher can change them."
        )


def membership_state(membership: Membership) -> dict:
    """A member's role and access as the audit log shows it: labels and names, not ids."""
    return {
        "role": membership.get_role_display(),
        "accounts": sorted(a.name for a in membership.client_accounts.all()),
        "companies": sorted(c.name or c.callrail_id for c in membership.companies.all()),
    }


def _client_companies(*, role: str, client_accounts: list, companies) -> list:
    """Company limits apply to clients only, and each company must belong to one of their accounts."""
    companies = list(companies or [])
    if role != Role.CLIENT:
        return []
    account_ids = {account.pk for account in client_accounts}
    stray = [company.name for company in companies if company.client_account_id not in account_ids]
    if stray:
        raise ValidationError({"companies": f"Not in the chosen client accounts: {', '.join(sorted(stray))}."})
    return companies


@transaction.atomic
def invitation_create(
    *, agency: Agency, email: str, role: str, client_accounts, invited_by: User, companies=()
) -> Invitation:
    email = User.objects.normalize_email(email.strip()).lower()
    validate_email(email)
    client_accounts = list(client_accounts)
    _check_can_grant(actor=invited_by, agency=agency, role=role, client_accounts=client_accounts)
    companies = _client_companies(role=role, client_accounts=client_accounts, companies=companies)
    if Membership.objects.filter(agency=agency, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": f"{email} is already a member of {agency.name}."})
    agency.invitations.filter(email__iexact=email, accepted_at=None, revoked_at=None).update(revoked_at=timezone.now())
    invitation = Invitation(agency=agency, email=email, role=role, invited_by=invited_by)
    token = _issue_token(invitation)
    invitation.save()
    invitation.client_accounts.set([a for a in client_accounts if role in (Role.STAFF, Role.CLIENT)])
    invitation.companies.set(companies)
    audit_record(
        agency=agency,
        actor=invited_by,
        action="invitation.create",
        obj=invitation,
        after={
            "email": email,
            "role": Role(role).label,
            "accounts": sorted(a.name for a in client_accounts if role in (Role.STAFF, Role.CLIENT)),
            "companies": sorted(c.name or c.callrail_id for c in companies),
        },
    )
    transaction.on_commit(lambda: _send_invitation(invitation, token))
    return invitation


def _issue_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = _token_hash(token)
    invitation.expires_at = timezone.now() + INVITATION_LIFETIME
    return token


def _send_invitation(invitation: Invitation, token: str) -> None:
    link = f"{settings.PORTAL_BASE_URL}{reverse('invitation_accept', kwargs={'token': token})}"
    from apps.portal.emails import branded_message

    context = {"invitation": invitation, "link": link, "days": INVITATION_LIFETIME.days}
    branded_message(
        agency=invitation.agency,
        subject=f"You are invited to {invitation.agency.name}",
        text=render_to_string("registration/invitation_email.txt", context),
        html_template="registration/invitation_email.html",
        context=context,
        to=[invitation.email],
    ).send()


def _check_can_manage_invitation(*, actor: User, invitation: Invitation) -> None:
    from .policy import may_manage_member

    if not may_manage_member(actor, invitation.agency, invitation.role):
        raise PermissionDenied(f"Only someone who may grant the {invitation.get_role_display().lower()} role can.")


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: User) -> None:
    _check_can_manage_invitation(actor=actor, invitation=invitation)
    if invitation.status == "accepted":
        raise ValidationError("This invitation was already accepted.")
    token = _issue_token(invitation)
    invitation.revoked_at = None
    invitation.save(update_fields=["token_hash", "expires_at", "revoked_at"])
    audit_record(agency=invitation.agency, actor=actor, action="invitation.resend", obj=invitation)
    transaction.on_commit(lambda: _send_invitation(invitation, token))


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    _check_can_manage_invitation(actor=actor, invitation=invitation)
    if invitation.status != "pending":
        raise ValidationError(f"This invitation is already {invitation.status}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(agency=invitation.agency, actor=actor, action="invitation.revoke", obj=invitation)


def invitation_for_token(*, token: str) -> Invitation | None:
    """The pending invitation behind a link, or None (unknown, used, revoked or expired alike)."""
    invitation = Invitation.objects.select_related("agency").filter(token_hash=_token_hash(token)).first()
    return invitation if invitation is not None and invitation.status == "pending" else None


@transaction.atomic
def invitation_accept(*, token: str, full_name: str = "", password: str | None = None) -> User:
    """Join the agency. A new user sets a password here; an existing user keeps theirs."""
    invitation = invitation_for_token(token=token)
    if invitation is None:
        raise ValidationError("This invitation link is no longer valid: ask for a new one.")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != "pending":  # accepted concurrently
        raise ValidationError("This invitation link is no longer valid: ask for a new one.")
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is None:
        user = User(email=invitation.email, full_name=full_name.strip())
        validate_password(password or "", user)
        user.set_password(password)
        user.save()
    previous = Membership.objects.filter(user=user, agency=invitation.agency).first()
    before = {**membership_state(previous), "active": previous.is_active} if previous else {}
    membership, _ = Membership.objects.update_or_create(
        user=user, agency=invitation.agency, defaults={"role": invitation.role, "is_active": True}
    )
    membership.client_accounts.set(invitation.client_accounts.all())
    membership.companies.set(invitation.companies.all())
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        agency=invitation.agency, actor=user, action="invitation.accept", obj=membership, before=before,
        after={**membership_state(membership), "active": True},
    )  # fmt: skip
    return user


@transaction.atomic
def membership_update(*, membership: Membership, role: str, client_accounts, actor: User, companies=()) -> Membership:
    """Change a member's role, accounts and (clients only) companies: up to the actor's own role, audited."""
    client_accounts = list(client_accounts)
    _check_can_manage(actor=actor, membership=membership)
    _check_can_grant(actor=actor, agency=membership.agency, role=role, client_accounts=client_accounts)
    companies = _client_companies(role=role, client_accounts=client_accounts, companies=companies)
    _keep_an_owner(membership, new_role=role)
    before = membership_state(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    membership.client_accounts.set(client_accounts if role in (Role.STAFF, Role.CLIENT) else [])
    membership.companies.set(companies)
    after = membership_state(membership)
    if after != before:
        audit_record(
            agency=membership.agency, actor=actor, action="membership.update", obj=membership, before=before,
            after=after,
        )  # fmt: skip
    return membership


def membership_account_access_set(
    *, membership: Membership, account: ClientAccount, granted: bool, actor: User
) -> Membership:
    """Give a restricted member access to one account, or take it away (the account page's "Assign staff").

    Owners, admins and staff of every account already see it; taking the last account away from a staff
    member would mean "every account", and from a client "nothing": both are refused with the way forward.
    """
    if membership.role not in (Role.STAFF, Role.CLIENT):
        raise ValidationError(f"{membership.user} is {membership.get_role_display().lower()}: they see every account.")
    accounts = list(membership.client_accounts.all())
    if membership.role == Role.STAFF and not accounts:
        raise ValidationError(f"{membership.user} already works in every account; limit them on their member page.")
    if granted:
        accounts = [*accounts, account] if account not in accounts else accounts
    else:
        accounts = [a for a in accounts if a.pk != account.pk]
        if not accounts:
            other = "would see every account" if membership.role == Role.STAFF else "would see nothing"
            raise ValidationError(
                f"{membership.user} has only this account and {other}: deactivate them instead, or give them "
                "another account first."
            )
    companies = [c for c in membership.companies.all() if c.client_account_id in {a.pk for a in accounts}]
    return membership_update(
        membership=membership, role=membership.role, client_accounts=accounts, companies=companies, actor=actor
    )


@transaction.atomic
def membership_set_active(*, membership: Membership, active: bool, actor: User) -> None:
    """Deactivate (or bring back) a member without deleting anything they did; up to the actor's own role."""
    _check_can_manage(actor=actor, membership=membership)
    if membership.is_active == active:
        return
    if not active:
        if membership.user_id == actor.pk:
            raise ValidationError("You cannot deactivate yourself.")
        _keep_an_owner(membership, new_role=None)
    membership.is_active = active
    membership.save(update_fields=["is_active"])
    audit_record(
        agency=membership.agency,
        actor=actor,
        obj=membership,
        action="membership.activate" if active else "membership.deactivate",
        before={"active": not active},
        after={"active": active},
    )


def _keep_an_owner(membership: Membership, *, new_role: str | None) -> None:
    if membership.role == Role.OWNER and new_role != Role.OWNER:
        owners = Membership.objects.filter(agency=membership.agency, role=Role.OWNER, is_active=True)
        if not owners.exclude(pk=membership.pk).exists():
            raise ValidationError("An agency needs at least one active owner.")


def user_logout_everywhere(*, user: User) -> None:
    """Invalidate every session of the user, on every browser and machine."""
    user.session_salt = secrets.token_hex(16)
    user.save(update_fields=["session_salt"])


LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml", "image/webp"}
LOGO_MAX_BYTES = 256 * 1024


@transaction.atomic
def agency_update_settings(*, agency: Agency, actor: User, logo=None, remove_logo: bool = False, **fields) -> Agency:
    before = {name: getattr(agency, name) for name in fields}
    for name, value in fields.items():
        setattr(agency, name, value)
    if remove_logo:
        agency.logo, agency.logo_content_type = b"", ""
    elif logo is not None:
        if logo.content_type not in LOGO_TYPES:
            raise ValidationError({"logo": "Upload a PNG, JPEG, WebP or SVG image."})
        if logo.size > LOGO_MAX_BYTES:
            raise ValidationError({"logo": f"The logo must be at most {LOGO_MAX_BYTES // 1024} KB."})
        agency.logo, agency.logo_content_type = logo.read(), logo.content_type
    agency.full_clean()
    agency.save()
    audit_record(
        agency=agency,
        actor=actor,
        action="agency.update",
        obj=agency,
        before=before,
        after={name: getattr(agency, name) for name in fields},
    )
    return agency


def _audit_for_each_agency(*, user: User, action: str, obj: ApiToken, after: dict | None = None) -> None:
    """A personal token reaches every agency the person works in: each agency's log records it."""
    for membership in Membership.objects.filter(user=user, is_active=True).select_related("agency"):
        audit_record(agency=membership.agency, actor=user, action=action, obj=obj, after=after)


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the key, which is never stored and cannot be shown again. Audited (the name
    and the key's first characters, never the key)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it, e.g. 'Reporting script'."})
    key = f"ap_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=key[:8], key_hash=_token_hash(key))
    _audit_for_each_agency(user=user, action="api_token.create", obj=token,
                           after={"name": token.name, "starts with": token.prefix})  # fmt: skip
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit_for_each_agency(user=token.user, action="api_token.revoke", obj=token, after={"name": token.name})


def api_token_authenticate(*, key: str) -> ApiToken | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=_token_hash(key), revoked_at=None).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- "View as client" (impersonation) -----------------------------------------------------------

IMPERSONATION_SESSION_KEY = "impersonate_membership_id"


def view_as_membership(*, actor: User, membership_id: int | None) -> Membership | None:
    """The client membership `actor` may view the portal through, or None.

    Only where the actor may view as (owners, admins, operators) in the membership's agency, only an active
    client membership of an active user. Checked on every request, so revoking the actor's role ends the
    view-as session at once.
    """
    from .policy import Can, allows

    if not membership_id or not actor.is_authenticated or getattr(actor, "view_as", None) is not None:
        return None
    membership = (
        Membership.objects.select_related("user", "agency")
        .filter(pk=membership_id, role=Role.CLIENT, is_active=True, user__is_active=True, agency__is_active=True)
        .first()
    )
    if membership is None or membership.user_id == actor.pk:
        return None
    return membership if allows(actor, Can.VIEW_AS, membership.agency) else None


def _refuse_save(*args, **kwargs) -> None:
    raise PermissionDenied("A view-as session cannot change the person it views as.")


def view_as_user(*, membership: Membership, actor: User) -> User:
    """A stand-in for the client while `actor` views as them: only the client's access in this one agency.

    A fresh, never-saved copy of the user: not a superuser, not Django-admin staff, carrying `view_as`, which
    pins the scope (`scoping.access_scope`), the agency (`middleware.current_agency`) and the capabilities
    (`policy.principal`: "viewing as") to this membership. Whatever else the person is elsewhere (an owner
    of another agency, an operator) does not come along.
    """
    from .policy import ViewAs

    stand_in = User.objects.get(pk=membership.user_id)
    stand_in.is_superuser = stand_in.is_staff = False
    stand_in.view_as = ViewAs(membership_id=membership.pk, agency_id=membership.agency_id, viewer_id=actor.pk)
    stand_in.is_verified = lambda: True  # the real person passed their own sign-in checks
    stand_in.save = _refuse_save
    return stand_in


def impersonation_start(*, session, actor: User, membership: Membership) -> User:
    if view_as_membership(actor=actor, membership_id=membership.pk) is None:
        raise ValidationError("You can view the portal only as an active client of an agency you manage.")
    session[IMPERSONATION_SESSION_KEY] = membership.pk
    audit_record(
        agency=membership.agency, actor=membership.user, impersonator=actor, action="impersonation.start",
        obj=membership,
    )  # fmt: skip
    return membership.user


def impersonation_stop(*, session, actor: User) -> None:
    membership_id = session.pop(IMPERSONATION_SESSION_KEY, None)
    membership = Membership.objects.select_related("agency", "user").filter(pk=membership_id).first()
    if membership is not None:
        audit_record(
            agency=membership.agency,
            actor=membership.user,
            impersonator=actor,
            action="impersonation.stop",
            obj=membership,
        )


def view_as_request_record(*, membership_id: int, viewer: User, method: str, path: str, status: int) -> None:
    """Every request made while viewing as is attributable: who viewed as whom, what, and the answer."""
    membership = Membership.objects.select_related("user", "agency").filter(pk=membership_id).first()
    if membership is None:
        return
    audit_record(
        agency=membership.agency,
        actor=membership.user,
        impersonator=viewer,
        action="view_as.request",
        obj=membership,
        after={"method": method, "path": path[:500], "status": status},
    )
