"""Members, invitations, agency settings and the user's own security page. Thin: services write."""

from __future__ import annotations

from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.portal.mixins import PolicyMixin, PortalView

from . import services
from .forms import AgencySettingsForm, InvitationAcceptForm, InvitationForm, MembershipForm, TwoFactorCodeForm
from .models import Agency, Membership, Role
from .policy import Can, may_manage_member
from .selectors import account_access_list, membership_list, two_factor_state


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else default


class MembersView(PortalView, TemplateView):
    permission = Can.MANAGE_MEMBERS
    template_name = "tenancy/members.html"

    def get_context_data(self, **kwargs):
        agency = self.request.agency
        kwargs.setdefault("form", InvitationForm(agency=agency, user=self.request.user))
        memberships = list(membership_list(agency=agency))
        invitations = list(agency.invitations.filter(accepted_at=None).prefetch_related("client_accounts")[:50])
        for row in memberships + invitations:  # those of a higher role than one's own are shown, not editable
            row.editable = may_manage_member(self.request.user, agency, row.role)
        return super().get_context_data(
            memberships=memberships,
            invitations=invitations,
            **kwargs,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InvitationForm(request.POST, agency=request.agency, user=request.user)
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    agency=request.agency,
                    invited_by=request.user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    client_accounts=form.cleaned_data["client_accounts"],
                    companies=form.cleaned_data["companies"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("tenancy:members")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class MembershipActionView(PortalView, View):
    """POST actions on one member of the current agency: update, deactivate, activate."""

    permission = Can.MANAGE_MEMBERS

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        membership = get_object_or_404(request.agency.memberships.select_related("user"), pk=pk)
        try:
            if action == "update":
                form = MembershipForm(request.POST, agency=request.agency, user=request.user)
                if not form.is_valid():
                    raise ValidationError(form.errors.as_text())
                services.membership_update(membership=membership, actor=request.user, **form.cleaned_data)
                messages.success(request, f"{membership.user} updated.")
            elif action in ("deactivate", "activate"):
                services.membership_set_active(membership=membership, active=action == "activate", actor=request.user)
                messages.success(request, f"{membership.user} {action}d.")
            else:
                raise Http404
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("tenancy:members")


class InvitationActionView(PortalView, View):
    permission = Can.MANAGE_MEMBERS

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        invitation = get_object_or_404(request.agency.invitations, pk=pk)
        try:
            if action == "resend":
                services.invitation_resend(invitation=invitation, actor=request.user)
                messages.success(request, f"Invitation sent again to {invitation.email}.")
            elif action == "revoke":
                services.invitation_revoke(invitation=invitation, actor=request.user)
                messages.success(request, f"Invitation of {invitation.email} revoked.")
            else:
                raise Http404
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("tenancy:members")


class InvitationAcceptView(View):
    """Public: the link from the invitation email. Unknown, used, revoked and expired links look alike."""

    template_name = "tenancy/invitation_accept.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = services.invitation_for_token(token=token)
        return render(request, self.template_name, self._context(invitation, InvitationAcceptForm()))

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = services.invitation_for_token(token=token)
        existing = invitation is not None and services.User.objects.filter(email__iexact=invitation.email).exists()
        form = InvitationAcceptForm(request.POST)
        if existing or form.is_valid():
            try:
                services.invitation_accept(
                    token=token, full_name=form.data.get("full_name", ""), password=form.data.get("password1")
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"You joined {invitation.agency.name}. Sign in to start.")
                return redirect("login")
        return render(request, self.template_name, self._context(invitation, form), status=400)

    @staticmethod
    def _context(invitation, form) -> dict:
        existing = invitation is not None and services.User.objects.filter(email__iexact=invitation.email).exists()
        return {"invitation": invitation, "form": form, "existing_user": existing}


class AgencySettingsView(PortalView, TemplateView):
    permission = Can.AGENCY_SETTINGS
    template_name = "tenancy/agency_settings.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", AgencySettingsForm(instance=self.request.agency))
        return super().get_context_data(**kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        agency = Agency.objects.get(pk=request.agency.pk)
        form = AgencySettingsForm(request.POST, request.FILES, instance=agency)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in AgencySettingsForm.Meta.fields}
            try:
                services.agency_update_settings(
                    agency=agency,
                    actor=request.user,
                    logo=form.cleaned_data.get("logo_upload"),
                    remove_logo=form.cleaned_data.get("remove_logo", False),
                    **data,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "Agency settings saved.")
                return redirect("tenancy:agency_settings")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class AgencyLogoView(PortalView, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        agency = request.agency
        if agency is None or not agency.logo:
            raise Http404
        response = HttpResponse(bytes(agency.logo), content_type=agency.logo_content_type)
        response["Cache-Control"] = "private, max-age=300"
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"  # SVG may not script
        return response


class SecurityView(PolicyMixin, TemplateView):
    permission = Can.OWN_SECURITY
    template_name = "tenancy/security.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            two_factor=two_factor_state(user=self.request.user),
            api_tokens=self.request.user.api_tokens.filter(revoked_at=None),
            **kwargs,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action")
        if action == "create_token":
            try:
                token, key = services.api_token_create(user=request.user, name=request.POST.get("name", ""))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Token “{token.name}” created. Copy it now, it is shown only once: {key}")
        elif action == "revoke_token":
            token = get_object_or_404(request.user.api_tokens, pk=request.POST.get("token"))
            services.api_token_revoke(token=token)
            messages.success(request, f"Token “{token.name}” revoked.")
        elif action == "logout_everywhere":
            services.user_logout_everywhere(user=request.user)
            update_session_auth_hash(request, request.user)  # keep this browser signed in
            messages.success(request, "Signed out of every other browser and device.")
        elif action == "disable_two_factor":
            if two_factor_state(user=request.user).required:
                messages.error(request, "Your agency requires two-factor sign-in for your role.")
            else:
                TOTPDevice.objects.filter(user=request.user).delete()
                messages.success(request, "Two-factor sign-in turned off.")
        return redirect("tenancy:security")


def _qr_svg(url: str) -> str:
    buffer = BytesIO()
    qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    return buffer.getvalue().decode()


class TwoFactorSetupView(PolicyMixin, View):
    permission = Can.OWN_SECURITY
    template_name = "tenancy/two_factor_setup.html"

    def _device(self, request: HttpRequest) -> TOTPDevice:
        device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
        return device or TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False)

    def get(self, request: HttpRequest, form=None, status=200) -> HttpResponse:
        device = self._device(request)
        context = {
            "form": form or TwoFactorCodeForm(),
            "qr": _qr_svg(device.config_url),
            "secret": device.key,
            "next": _safe_next(request, reverse("portal:dashboard")),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        device = self._device(request)
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid() and device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is on.")
            return redirect(_safe_next(request, reverse("tenancy:security")))
        if form.is_valid():
            form.add_error("code", "That code is not right (or has expired): try the next one.")
        return self.get(request, form=form, status=400)


class TwoFactorVerifyView(PolicyMixin, View):
    permission = Can.OWN_SECURITY
    template_name = "tenancy/two_factor_verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": TwoFactorCodeForm(), "next": _safe_next(request, "/")})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid():
            for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
                if device.verify_token(form.cleaned_data["code"]):
                    otp_login(request, device)
                    return redirect(_safe_next(request, reverse("portal:dashboard")))
            form.add_error("code", "That code is not right (or has expired): try the next one.")
        context = {"form": form, "next": _safe_next(request, "/")}
        return render(request, self.template_name, context, status=400)


class ImpersonationStartView(PortalView, View):
    permission = Can.VIEW_AS

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = get_object_or_404(request.agency.memberships.select_related("user"), pk=pk)
        try:
            target = services.impersonation_start(session=request.session, actor=request.user, membership=membership)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("tenancy:members")
        messages.info(request, f"You are viewing the portal as {target}. Everything you do is recorded as you.")
        return redirect("portal:dashboard")


class ImpersonationStopView(PolicyMixin, View):
    permission = Can.STOP_VIEW_AS

    def post(self, request: HttpRequest) -> HttpResponse:
        services.impersonation_stop(session=request.session, actor=request.impersonator or request.user)
        messages.info(request, "You are yourself again.")
        return redirect("tenancy:members")


class MemberEditView(PortalView, TemplateView):
    """One member's role, client accounts and (clients only) companies. Members of a higher role than one's
    own are refused (403); the role offered goes up to one's own."""

    permission = Can.MANAGE_MEMBERS
    template_name = "tenancy/member_edit.html"

    def get_membership(self) -> Membership:
        membership = get_object_or_404(
            self.request.agency.memberships.select_related("user", "agency").prefetch_related(
                "client_accounts", "companies"
            ),
            pk=self.kwargs["pk"],
        )
        if not may_manage_member(self.request.user, self.request.agency, membership.role):
            raise PermissionDenied(
                f"{membership.user} is {membership.get_role_display().lower()}: only someone of that role or "
                "higher can change them."
            )
        return membership

    def get_context_data(self, **kwargs):
        membership = kwargs.pop("membership", None) or self.get_membership()
        initial = {
            "role": membership.role,
            "client_accounts": [a.pk for a in membership.client_accounts.all()],
            "companies": [c.pk for c in membership.companies.all()],
        }
        kwargs.setdefault("form", MembershipForm(agency=self.request.agency, user=self.request.user, initial=initial))
        return super().get_context_data(
            membership=membership, next=_safe_next(self.request, reverse("tenancy:members")), **kwargs
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = self.get_membership()
        form = MembershipForm(request.POST, agency=request.agency, user=request.user)
        if form.is_valid():
            try:
                services.membership_update(membership=membership, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"{membership.user} updated.")
                return redirect(_safe_next(request, reverse("tenancy:members")))
        return self.render_to_response(self.get_context_data(membership=membership, form=form), status=400)


class AccountAccessView(PortalView, TemplateView):
    """The account page's "Assign staff": who works in this account, and giving or taking access to it."""

    permission = Can.MANAGE_MEMBERS
    template_name = "tenancy/account_access.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        rows = account_access_list(agency=self.request.agency, account=account)
        for row in rows:
            row.editable = may_manage_member(self.request.user, self.request.agency, row.membership.role)
        return super().get_context_data(account=account, rows=rows, **kwargs)

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        membership = get_object_or_404(
            request.agency.memberships.select_related("user", "agency").filter(role__in=[Role.STAFF, Role.CLIENT]),
            pk=request.POST.get("membership") or 0,
        )
        granted = request.POST.get("action") == "grant"
        try:
            services.membership_account_access_set(
                membership=membership, account=account, granted=granted, actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            verb = "can now work in" if granted else "no longer has"
            messages.success(request, f"{membership.user} {verb} {account.name}.")
        return redirect("tenancy:account_access", account_pk=account.pk)
