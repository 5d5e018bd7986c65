"""Portal pages: dashboard, agency switcher, client account pages. Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.callrail.budget import budget_status_for_account
from apps.portal.mixins import ManagerRequiredMixin, PortalView
from apps.tenancy.forms import ClientAccountForm
from apps.tenancy.middleware import SESSION_KEY
from apps.tenancy.models import ClientAccount
from apps.tenancy.selectors import agencies_for_user
from apps.tenancy.services import client_account_check_connection, client_account_save


class DashboardView(PortalView, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        accounts = list(self.accounts())
        for account in accounts:
            account.budget = budget_status_for_account(account)
        return super().get_context_data(accounts=accounts, **kwargs)


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
        account = self.get_account()
        return super().get_context_data(account=account, budget=budget_status_for_account(account), **kwargs)


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


class AccountConnectionCheckView(ManagerRequiredMixin, View):
    """"Test connection": one interactive request to CallRail with the stored key."""

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        problem = client_account_check_connection(account=account, actor=request.user)
        if problem:
            messages.error(request, problem)
        else:
            messages.success(request, f"CallRail accepted the key for {account.name}.")
        return redirect("portal:account_detail", account_pk=account.pk)
