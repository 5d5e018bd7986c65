"""Puts the agency the user is working in on the request (`request.agency`, `request.membership`)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from .selectors import agency_choices, membership_for

SESSION_KEY = "current_agency_id"


def current_agency(request: HttpRequest):
    """The agency chosen in the switcher, if the user still belongs to it; else their first one.
    While viewing as a client: the viewer's agency, and nothing else."""
    user = request.user
    if not user.is_authenticated:
        return None
    agencies = agency_choices(user=user)  # only the viewer's agency while viewing as a client
    chosen = request.session.get(SESSION_KEY)
    agency = next((agency for agency in agencies if agency.pk == chosen), None) if chosen else None
    return agency or (agencies[0] if agencies else None)


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
        if (
            user.is_authenticated
            and not request.path.startswith(TWO_FACTOR_EXEMPT_PREFIXES)
            and not user.is_verified()  # confirmed a code this session: nothing to look up
        ):
            state = two_factor_state(user=user)
            if state.needs_verification:
                target = "two_factor_verify" if state.has_device else "two_factor_setup"
                return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        return self.get_response(request)


class ImpersonationMiddleware:
    """While an owner/admin views as a client, `request.user` is a stand-in carrying only that client's access
    in the viewer's agency (`services.view_as_user`) and `request.impersonator` is the real person.

    Fail-closed: during view-as only views that declare a capability the "viewing as" principal holds are
    served (`policy.declared_permission`); Django admin, sign-in machinery, the client's personal pages and
    the API declare none it holds, so they answer 403. Every request is recorded in the audit log.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from .services import IMPERSONATION_SESSION_KEY, view_as_membership, view_as_request_record, view_as_user

        request.impersonator = None
        membership_id = request.session.get(IMPERSONATION_SESSION_KEY) if hasattr(request, "session") else None
        membership = view_as_membership(actor=request.user, membership_id=membership_id) if membership_id else None
        if membership_id and membership is None:
            request.session.pop(IMPERSONATION_SESSION_KEY, None)
        if membership is not None:
            request.impersonator, request.user = request.user, view_as_user(membership=membership, actor=request.user)
        response = self.get_response(request)
        if membership is not None:
            view_as_request_record(
                membership_id=membership.pk, viewer=request.impersonator, method=request.method or "",
                path=request.path, status=response.status_code,
            )  # fmt: skip
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        from django.core.exceptions import PermissionDenied

        from .policy import allows, declared_permission

        if getattr(request, "impersonator", None) is None:
            return None
        need = declared_permission(view_func, request.method or "GET", view_kwargs)
        if need is None or not allows(request.user, need, request.agency or request.user.view_as.agency_id):
            raise PermissionDenied("Not available while viewing as a client: stop viewing as the client first.")
        return None
