"""Portal pages: dashboard, agency switcher, client account pages. Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.tenancy.forms import ClientAccountForm
from apps.tenancy.middleware import SESSION_KEY
from apps.tenancy.models import ClientAccount
from apps.tenancy.selectors import agencies_for_user, client_account_list, user_can_manage_agency
from apps.tenancy.services import client_account_save


class PortalView(LoginRequiredMixin):
    """Base of every portal page: signed in, inside the agency chosen in the switcher."""

    def accounts(self):
        return client_account_list(user=self.request.user, agency=self.request.agency or None)

    def get_account(self) -> ClientAccount:
        """The account in the URL, looked up through the user's scope: another tenant's id is a 404."""
        return get_object_or_404(self.accounts(), pk=self.kwargs["account_pk"])


class ManagerRequiredMixin(PortalView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated and not user_can_manage_agency(
            user=request.user, agency=request.agency or None
        ):
            raise PermissionDenied("Only the agency's owners and admins can change client accounts.")
        return super().dispatch(request, *args, **kwargs)


class DashboardView(PortalView, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(accounts=self.accounts(), **kwargs)


class AgencySwitchView(PortalView, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        agency = agencies_for_user(user=request.user).filter(pk=request.POST.get("agency")).first()
        if agency is None:
            messages.error(request, "You are not a member of that agency.")
        else:
            request.session[SESSION_KEY] = agency.pk
            messages.success(request, f"Now working in {agency.name}.")
        target = request.POST.get("next") or reverse("portal:dashboard")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("portal:dashboard")
        return HttpResponseRedirect(target)


class AccountDetailView(PortalView, TemplateView):
    template_name = "portal/account_detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(account=self.get_account(), **kwargs)


class AccountFormView(ManagerRequiredMixin, FormView):
    """Connect a new client account, or edit one (account_pk in the URL)."""

    form_class = ClientAccountForm
    template_name = "portal/account_form.html"

    def get_instance(self) -> ClientAccount | None:
        return self.get_account() if "account_pk" in self.kwargs else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.request.agency, "instance": self.get_instance()}

    def form_valid(self, form: ClientAccountForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            account, created = client_account_save(
                agency=self.request.agency,
                instance=self.get_instance(),
                callrail_account_id=data["callrail_account_id"],
                name=data["name"],
                auth_mode=data["auth_mode"],
                api_key=data.get("api_key"),
                base_url=data["base_url"],
                connection_id=data["connection_id"],
                time_zone=data["time_zone"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"{account.name} {'connected' if created else 'saved'}.")
        return redirect("portal:account_detail", account_pk=account.pk)
