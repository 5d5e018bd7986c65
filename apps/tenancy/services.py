"""The only writers of tenancy data. Keyword-only, validated, idempotent where operators script them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from .models import Agency, AuthMode, ClientAccount, Membership, Role, User


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
    membership, _ = Membership.objects.get_or_create(user=user, agency=agency, defaults={"role": Role.OWNER})
    if membership.role != Role.OWNER or not membership.is_active:
        membership.role, membership.is_active = Role.OWNER, True
        membership.save(update_fields=["role", "is_active"])
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


@transaction.atomic
def client_account_save(
    *,
    agency: Agency,
    callrail_account_id: str,
    name: str,
    auth_mode: str,
    api_key: str | None,
    base_url: str = "",
    connection_id: str = "",
    time_zone: str | None = None,
    instance: ClientAccount | None = None,
) -> tuple[ClientAccount, bool]:
    """Create a client account (instance=None) or update `instance`.

    `api_key=None` (or "") on an existing account keeps the stored key. Raises ValidationError with
    per-field messages (including "this agency already has that CallRail account"); nothing is
    written then.
    """
    callrail_account_id = callrail_account_id.strip()
    created = instance is None
    account = instance or ClientAccount(agency=agency)
    account.callrail_account_id = callrail_account_id
    account.name = name.strip()
    account.auth_mode = auth_mode
    account.base_url = (base_url or "").strip()
    account.connection_id = (connection_id or "").strip() if auth_mode == AuthMode.GATEWAY else ""
    if time_zone:
        account.time_zone = time_zone
    if api_key:
        account.api_key = api_key.strip()
    if not account.api_key:
        raise ValidationError({"api_key": "Enter the API key: CallRail cannot be reached without one."})
    account.full_clean()
    account.save()
    return account, created
