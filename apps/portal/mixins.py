"""Base classes of every portal page: sign-in, the capability the page needs, scoped account lookup."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from apps.tenancy.models import ClientAccount
from apps.tenancy.policy import Can, allows, refusal
from apps.tenancy.selectors import client_account_list


class PolicyMixin(LoginRequiredMixin):
    """Signed in, and holding the capability the page declares (`apps/tenancy/policy.py` decides).

    A page declares `permission`, or overrides `permission_for` when it depends on the method or the URL;
    the isolation matrix reads the same declaration for every route.
    """

    permission: ClassVar[Can] = Can.VIEW

    @classmethod
    def permission_for(cls, method: str, kwargs: dict[str, Any]) -> Can:
        return cls.permission

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            need = self.permission_for(request.method or "GET", kwargs)
            if not allows(request.user, need, request.agency or None):
                raise PermissionDenied(refusal(need))
        return super().dispatch(request, *args, **kwargs)


class PortalView(PolicyMixin):
    """Signed in, inside the agency chosen in the switcher."""

    def accounts(self):
        return client_account_list(user=self.request.user, agency=self.request.agency or None)

    def get_account(self) -> ClientAccount:
        """The account in the URL, looked up through the user's scope: another tenant's id is a 404."""
        return get_object_or_404(self.accounts(), pk=self.kwargs["account_pk"])


class ManagerRequiredMixin(PortalView):
    """Owners and admins of the current agency (and operators): client account administration."""

    permission = Can.MANAGE_ACCOUNTS
