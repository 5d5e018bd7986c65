"""Base classes of every portal page: sign-in, the current agency, scoped account lookup."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from apps.tenancy.models import ClientAccount
from apps.tenancy.selectors import client_account_list, user_can_manage_agency


class PortalView(LoginRequiredMixin):
    """Signed in, inside the agency chosen in the switcher."""

    def accounts(self):
        return client_account_list(user=self.request.user, agency=self.request.agency or None)

    def get_account(self) -> ClientAccount:
        """The account in the URL, looked up through the user's scope: another tenant's id is a 404."""
        return get_object_or_404(self.accounts(), pk=self.kwargs["account_pk"])


class ManagerRequiredMixin(PortalView):
    """Owners and admins of the current agency (and operators)."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not user_can_manage_agency(
            user=request.user, agency=request.agency or None
        ):
            raise PermissionDenied("Only the agency's owners and admins can do this.")
        return super().dispatch(request, *args, **kwargs)
