"""Puts the agency the user is working in on the request (`request.agency`, `request.membership`)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from .selectors import agencies_for_user, membership_for

SESSION_KEY = "current_agency_id"


def current_agency(request: HttpRequest):
    """The agency chosen in the switcher, if the user still belongs to it; else their first one."""
    user = request.user
    if not user.is_authenticated:
        return None
    agencies = agencies_for_user(user=user)
    chosen = request.session.get(SESSION_KEY)
    agency = agencies.filter(pk=chosen).first() if chosen else None
    return agency or agencies.first()


class CurrentAgencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.agency = SimpleLazyObject(lambda: current_agency(request))
        request.membership = SimpleLazyObject(lambda: membership_for(user=request.user, agency=request.agency or None))
        return self.get_response(request)


TWO_FACTOR_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/invitations/", "/admin/logout/")


class TwoFactorMiddleware:
    """Users with a TOTP device, and owners/admins of agencies that require it, confirm a code first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.shortcuts import redirect

        from .selectors import two_factor_state

        user = request.user
        if getattr(request, "impersonator", None) is not None:
            return self.get_response(request)  # the real person already passed their own checks
        if user.is_authenticated and not request.path.startswith(TWO_FACTOR_EXEMPT_PREFIXES):
            state = two_factor_state(user=user)
            if state.needs_verification and not user.is_verified():
                target = "two_factor_verify" if state.has_device else "two_factor_setup"
                return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        return self.get_response(request)


IMPERSONATION_BLOCKED_PREFIXES = ("/me/", "/admin/", "/api/", "/agency/")


class ImpersonationMiddleware:
    """While an owner/admin views as a client, `request.user` is the client and `request.impersonator`
    the real person; the client's own settings, tokens, the API and agency management stay out of reach."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.core.exceptions import PermissionDenied

        from .services import IMPERSONATION_SESSION_KEY, impersonation_target

        request.impersonator = None
        membership_id = request.session.get(IMPERSONATION_SESSION_KEY) if hasattr(request, "session") else None
        if membership_id:
            target = impersonation_target(actor=request.user, membership_id=membership_id)
            if target is None:
                request.session.pop(IMPERSONATION_SESSION_KEY, None)
            elif not request.path.startswith("/impersonation/"):
                if request.path.startswith(IMPERSONATION_BLOCKED_PREFIXES):
                    raise PermissionDenied("Not available while viewing as a client: stop viewing as the client first.")
                target.is_verified = lambda: True  # the real person passed their own sign-in checks
                request.impersonator, request.user = request.user, target
        return self.get_response(request)
