"""Portal pages: dashboard, agency switcher, client account pages. Thin: selectors read, services write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from django.views.generic import FormView, TemplateView

from apps.callrail.budget import budget_status_for_account
from apps.calls.selectors import (
    DATE_RANGES,
    DEFAULT_RANGE,
    SUMMARY_FIELDS,
    account_call_overview,
    agency_call_totals,
)
from apps.credentials.forms import ClientAccountConnectForm, ClientAccountForm
from apps.credentials.services import (
    ImportChoice,
    accounts_import,
    client_account_check_connection,
    client_account_update,
)
from apps.credentials.views import add_errors
from apps.operations.selectors import budget_statuses
from apps.portal.catalog import RESOURCE_LABELS
from apps.portal.forms import SyncScheduleForm
from apps.portal.mixins import ManagerRequiredMixin, PortalView
from apps.portal.resource_views import account_tabs
from apps.portal.selectors import (
    account_machinery,
    outbox_attention_count,
)
from apps.sync.models import SyncKind, SyncTrigger
from apps.sync.reread import reread_plan
from apps.sync.resources import resource_names
from apps.sync.selectors import sync_run_list
from apps.sync.services import sync_request, sync_schedule_for, sync_schedule_update
from apps.tenancy.middleware import SESSION_KEY
from apps.tenancy.policy import Can, allows
from apps.tenancy.selectors import agencies_for_user, user_can_sync


class DashboardView(PortalView, TemplateView):
    """The agency's staff: the agency's calls, then its client accounts a page at a time, each with its calls,
    sync, outbox, webhooks and CallRail budget. Everyone else (clients): a clean report of their own calls —
    figures, the accounts and, for one account, its chart, sources and companies — and nothing of the
    machinery behind it. The figures cover every visible account; per-account machinery is read for the
    page's accounts only, so the page costs the same queries for 20 accounts or 1,000."""

    template_name = "portal/dashboard.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        agency = self.request.agency or None
        staff = allows(self.request.user, Can.SYNC, agency)
        preset = self.request.GET.get("range") or DEFAULT_RANGE
        range_error = None
        if preset not in dict(DATE_RANGES):
            range_error = f"Unknown date range {preset!r}; showing {dict(DATE_RANGES)[DEFAULT_RANGE].lower()}."
            preset = DEFAULT_RANGE
        search = (self.request.GET.get("q") or "").strip()[:100]
        every = self.accounts()
        listed = every.filter(Q(name__icontains=search) | Q(callrail_account_id__iexact=search)) if search else every
        page = Paginator(listed.order_by("name", "pk"), self.paginate_by).get_page(self.request.GET.get("page"))
        accounts = list(page.object_list)
        total = page.paginator.count if not search else every.count()
        totals = agency_call_totals(user=self.request.user, agency=agency, preset=preset) if total else {}
        for account in accounts:
            account.calls = totals.get(account.pk)
        if staff and accounts:
            self.add_machinery(accounts, agency)
        grand = {
            key: sum((t.get(key) or 0) for t in totals.values()) for key in SUMMARY_FIELDS if key != "average_duration"
        }
        grand["answered_rate"] = (
            round(100 * grand["answered_calls"] / grand["total_calls"]) if grand.get("total_calls") else None
        )
        attention = outbox_attention_count(user=self.request.user, agency=agency) if staff and total else 0
        overview = None
        if not staff and total == 1 and len(accounts) == 1:
            overview = account_call_overview(user=self.request.user, agency=agency, account=accounts[0])
        query = urlencode({k: v for k, v in (("range", self.request.GET.get("range")), ("q", search)) if v})
        return super().get_context_data(
            attention=attention,
            accounts=accounts,
            any_accounts=bool(total),
            account_total=total,
            page=page,
            query=query,
            search=search,
            date_ranges=DATE_RANGES,
            range=preset,
            range_label=dict(DATE_RANGES)[preset],
            range_error=range_error,
            grand=grand,
            overview=overview,
            account=accounts[0] if overview else None,
            **kwargs,
        )

    def add_machinery(self, accounts: list, agency: Any) -> None:
        """Sync, outbox, webhooks and budget of each account of the page (for the agency's staff only)."""
        machinery = account_machinery(user=self.request.user, agency=agency, account_ids=[a.pk for a in accounts])
        budgets = budget_statuses(accounts)  # one Redis pipeline for the page's accounts and their keys
        for account in accounts:
            figures = machinery.get(account.pk) or {}
            account.sync_failures = figures.get("sync_failures", 0)
            account.outbox = figures.get("outbox")  # None: "empty" in the template
            account.webhooks = figures.get("webhooks")
            account.budget = budgets.get(account.pk)
            account.last_sync = figures.get("last_sync")


class AgencySwitchView(PortalView, View):
    permission = Can.SWITCH_AGENCY

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
    """The account's overview (everyone who sees the account); its sync, connection and budget for the staff."""

    template_name = "portal/account_detail.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        agency = self.request.agency or None
        context = {
            "account": account,
            "overview": account_call_overview(user=self.request.user, agency=agency, account=account),
            "tabs": account_tabs(account),
            "active_tab": "overview",
        }
        if allows(self.request.user, Can.SYNC, agency):
            kwargs.setdefault("schedule_form", SyncScheduleForm(instance=sync_schedule_for(account=account)))
            context.update(
                budget=budget_status_for_account(account),
                reread=reread_plan(account, now=timezone.now()),
                runs=sync_run_list(user=self.request.user, account=account)[:5],
                poll_url=reverse("portal:account_sync_runs", args=[account.pk]) + "?compact=1",
                resources=[(name, RESOURCE_LABELS.get(name, name.replace("_", " ").capitalize()))
                           for name in resource_names()],
                can_sync=user_can_sync(user=self.request.user, agency=agency),
            )  # fmt: skip
        return super().get_context_data(**context, **kwargs)


class AccountSyncStatusView(PortalView, TemplateView):
    """The account's sync-run history, a page at a time; HTMX polls its first rows while a run is active."""

    permission = Can.SYNC
    template_name = "portal/sync_runs.html"
    partial_template = "portal/_sync_runs.html"
    page_size = 50

    def get_template_names(self) -> list[str]:
        htmx = getattr(self.request, "htmx", None)
        return [self.partial_template if htmx and htmx.target == "sync-runs" else self.template_name]

    def get_context_data(self, **kwargs):
        account = self.get_account()
        runs = sync_run_list(user=self.request.user, account=account)
        compact = self.request.GET.get("compact") == "1"  # the account page's latest runs
        page = Paginator(runs, 5 if compact else self.page_size).get_page(self.request.GET.get("page"))
        url = reverse("portal:account_sync_runs", args=[account.pk])
        return super().get_context_data(
            account=account,
            runs=page.object_list,
            page=page,
            compact=compact,
            poll_url=(f"{url}?compact=1" if compact else url) if page.number == 1 else "",
            tabs=account_tabs(account),
            active_tab="sync_runs",
            **kwargs,
        )

    def render_to_response(self, context, **kwargs) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response


class AccountSyncNowView(PortalView, View):
    """ "Sync now" for the whole account or one resource, on the interactive budget lane."""

    permission = Can.SYNC

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        kind = request.POST.get("kind", SyncKind.INCREMENTAL)
        resource = request.POST.get("resource") or None
        if kind not in SyncKind.values or (resource and resource not in resource_names()):
            messages.error(request, "Choose a known kind of sync and resource.")
        elif not account.sync_enabled or account.connection_error:
            messages.error(request, f"Sync is off for {account.name}: {account.connection_error or 'paused'}.")
        else:
            run, created = sync_request(
                account=account,
                kind=kind,
                resources=[resource] if resource else None,
                trigger=SyncTrigger.MANUAL,
                lane="interactive",
            )
            if created:
                messages.success(request, f"{run.get_kind_display()} sync of {account.name} queued.")
            else:
                messages.info(request, f"A sync of {account.name} is already {run.get_status_display().lower()}.")
        return redirect("portal:account_detail", account_pk=account.pk)


class AccountScheduleView(ManagerRequiredMixin, View):
    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        form = SyncScheduleForm(request.POST, instance=sync_schedule_for(account=account))
        if form.is_valid():
            sync_schedule_update(account=account, actor=request.user, **form.cleaned_data)
            messages.success(request, "Sync schedule saved.")
            return redirect("portal:account_detail", account_pk=account.pk)
        view = AccountDetailView(request=request, kwargs=self.kwargs)
        return view.render_to_response(view.get_context_data(schedule_form=form), status=400)


class AccountConnectView(ManagerRequiredMixin, FormView):
    """Connect one account by its id through one of the agency's credentials (``credentials:import`` lists
    every account a credential reaches and imports many at once)."""

    form_class = ClientAccountConnectForm
    template_name = "portal/account_connect.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.request.agency}

    def get_context_data(self, **kwargs):
        agency = self.request.agency
        return super().get_context_data(credentials=agency.credentials.all() if agency else [], **kwargs)

    def form_valid(self, form: ClientAccountConnectForm) -> HttpResponse:
        data = form.cleaned_data
        choice = ImportChoice(data["callrail_account_id"], data["name"], data["time_zone"], data["gateway_connection"])
        try:
            result = accounts_import(credential=data["credential"], choices=[choice], actor=self.request.user)
        except ValidationError as exc:
            add_errors(form, exc)
            return self.form_invalid(form)
        account = result.accounts[0]
        messages.success(self.request, f"{account.name} connected; its first sync is queued.")
        return redirect("portal:account_detail", account_pk=account.pk)


class AccountFormView(ManagerRequiredMixin, FormView):
    """A client account's settings: name, time zone, account limits, and the credential that reaches it."""

    form_class = ClientAccountForm
    template_name = "portal/account_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.get_account()}

    def form_valid(self, form: ClientAccountForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            account = client_account_update(
                account=form.instance, actor=self.request.user, name=data["name"], time_zone=data["time_zone"],
                credential=data["credential"], gateway_connection=data["gateway_connection"],
                budget_overrides=form.limits(),
            )  # fmt: skip
        except ValidationError as exc:
            add_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"{account.name} saved.")
        return redirect("portal:account_detail", account_pk=account.pk)


class AccountConnectionCheckView(ManagerRequiredMixin, View):
    """ "Test connection": one interactive request to CallRail through the account's credential."""

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        problem = client_account_check_connection(account=account, actor=request.user)
        if problem:
            messages.error(request, problem)
        else:
            messages.success(request, f"CallRail accepted the key for {account.name}.")
        return redirect("portal:account_detail", account_pk=account.pk)


class AccountSyncPauseView(ManagerRequiredMixin, View):
    """Pause or resume an account's scheduled sync (owners and admins; audited)."""

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        from apps.portal.services import client_account_sync_set

        account = self.get_account()
        enabled = request.POST.get("enabled") == "1"
        client_account_sync_set(account=account, enabled=enabled, actor=request.user)
        messages.success(request, f"Sync {'resumed' if enabled else 'paused'} for {account.name}.")
        return redirect("portal:account_detail", account_pk=account.pk)
