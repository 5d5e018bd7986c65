"""Credential pages (owners and admins): keys, gateway connections, the OAuth flow, importing accounts.

Thin: selectors read, services write. Every page looks the credential up through the current agency, so
another agency's credential is a 404; staff and clients get 403 (``ManagerRequiredMixin``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.callrail.budget import budget_status_for_scope
from apps.callrail.errors import CallRailError
from apps.portal.mixins import ManagerRequiredMixin

from . import services
from .forms import (
    ConnectionCreateForm,
    CredentialCreateForm,
    CredentialSettingsForm,
    ImportForm,
    ReplaceKeyForm,
    SendLinkForm,
)
from .models import Credential, GatewayConnection
from .selectors import connection_list, credential_accounts, credential_for, credential_list


def add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class CredentialMixin(ManagerRequiredMixin):
    def get_credential(self) -> Credential:
        credential = credential_for(user=self.request.user, agency=self.request.agency or None,
                                    pk=self.kwargs["credential_pk"])  # fmt: skip
        if credential is None:
            raise Http404("No such credential in this agency.")
        return credential

    def get_connection(self, credential: Credential) -> GatewayConnection:
        connection = credential.connections.filter(pk=self.kwargs["connection_pk"]).first()
        if connection is None:
            raise Http404("No such connection.")
        return connection


class CredentialListView(ManagerRequiredMixin, TemplateView):
    template_name = "credentials/list.html"

    def get_context_data(self, **kwargs):
        agency = self.request.agency
        credentials = list(credential_list(agency=agency)) if agency else []
        for credential in credentials:
            scope = credential.budget_scope
            credential.budget = budget_status_for_scope(scope) if scope else None
        return super().get_context_data(credentials=credentials, **kwargs)


class CredentialCreateView(ManagerRequiredMixin, View):
    template_name = "credentials/form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"auth_mode": request.GET.get("kind")} if request.GET.get("kind") else None
        return render(request, self.template_name, {"form": CredentialCreateForm(initial=initial)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CredentialCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                credential = services.credential_create(
                    agency=request.agency, actor=request.user, name=data["name"], auth_mode=data["auth_mode"],
                    api_key=data["api_key"], base_url=data["base_url"], key_limit_enabled=data["key_limit_enabled"],
                    budget_overrides=form.limits(),
                )  # fmt: skip
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                if credential.is_gateway:
                    messages.success(request, f"{credential.name} saved. Connect client accounts with CallRail below.")
                    return redirect("credentials:detail", credential_pk=credential.pk)
                messages.success(request, f"CallRail accepted {credential.name}. Choose the accounts to import.")
                return redirect("credentials:import", credential_pk=credential.pk)
        return render(request, self.template_name, {"form": form}, status=400)


class CredentialDetailView(CredentialMixin, TemplateView):
    template_name = "credentials/detail.html"

    def get_context_data(self, **kwargs):
        credential = self.get_credential()
        scope = credential.budget_scope
        kwargs.setdefault("settings_form", CredentialSettingsForm(credential=credential))
        kwargs.setdefault("key_form", ReplaceKeyForm(credential=credential))
        return super().get_context_data(
            credential=credential,
            accounts=credential_accounts(credential=credential, user=self.request.user),
            connections=connection_list(credential=credential) if credential.is_gateway else [],
            key_budget=budget_status_for_scope(scope) if scope else None,
            connect_form=ConnectionCreateForm(),
            **kwargs,
        )


class CredentialSettingsView(CredentialMixin, View):
    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        form = CredentialSettingsForm(request.POST, credential=credential)
        if form.is_valid():
            try:
                services.credential_update(
                    credential=credential, actor=request.user, name=form.cleaned_data["name"],
                    key_limit_enabled=form.cleaned_data["key_limit_enabled"], budget_overrides=form.limits(),
                )  # fmt: skip
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("credentials:detail", credential_pk=credential.pk)
        view = CredentialDetailView(request=request, kwargs=self.kwargs)
        return view.render_to_response(view.get_context_data(settings_form=form), status=400)


class CredentialKeyView(CredentialMixin, View):
    """Replace (rotate) the key; the base URL changes only together with a new key."""

    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        form = ReplaceKeyForm(request.POST, credential=credential)
        if form.is_valid():
            try:
                services.credential_replace_key(credential=credential, actor=request.user,
                                                api_key=form.cleaned_data["api_key"],
                                                base_url=form.cleaned_data["base_url"])  # fmt: skip
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Key of {credential.name} replaced; its accounts sync with the new key.")
                return redirect("credentials:detail", credential_pk=credential.pk)
        view = CredentialDetailView(request=request, kwargs=self.kwargs)
        return view.render_to_response(view.get_context_data(key_form=form), status=400)


class CredentialDeleteView(CredentialMixin, View):
    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        try:
            services.credential_delete(credential=credential, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("credentials:detail", credential_pk=credential.pk)
        messages.success(request, f"{credential.name} removed.")
        return redirect("credentials:list")


class CredentialImportView(CredentialMixin, View):
    """List the accounts a credential reaches (one request per page of ``/a.json``) and import the chosen."""

    template_name = "credentials/import.html"

    def _connection(self, credential: Credential) -> GatewayConnection | None:
        pk = self.request.GET.get("connection") or self.request.POST.get("connection")
        if not pk or not credential.is_gateway:
            return None
        connection = credential.connections.filter(pk=pk if str(pk).isdigit() else 0).first()
        if connection is None:
            raise Http404("No such connection.")
        return connection

    def _render(self, credential, connection, form=None, reachable=None, problem="", status=200) -> HttpResponse:
        context = {"credential": credential, "connection": connection, "form": form, "reachable": reachable or [],
                   "problem": problem}  # fmt: skip
        return render(self.request, self.template_name, context, status=status)

    def _reach(self, credential, connection):
        return services.credential_reachable_accounts(credential=credential, user=self.request.user,
                                                      connection=connection)  # fmt: skip

    def get(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self._connection(credential)
        if credential.error:
            return self._render(credential, connection, problem=credential.error, status=409)
        if connection is not None and not connection.is_active:
            problem = connection.error or (
                f"{connection} is not active ({connection.status_label.lower()}): nothing can be imported through "
                "it. Create a new link with “Connect with CallRail”."
            )
            return self._render(credential, connection, problem=problem, status=409)
        try:
            reachable = self._reach(credential, connection)
        except CallRailError as exc:
            return self._render(credential, connection, problem=exc.public_message, status=502)
        return self._render(credential, connection, ImportForm(reachable=reachable), reachable)

    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self._connection(credential)
        try:
            reachable = self._reach(credential, connection)
        except CallRailError as exc:
            return self._render(credential, connection, problem=exc.public_message, status=502)
        form = ImportForm(request.POST, reachable=reachable)
        if form.is_valid():
            chosen = [form.reachable[account_id] for account_id in form.cleaned_data["accounts"]]
            choices = [services.ImportChoice(a.callrail_account_id, a.name, connection=a.connection) for a in chosen]
            try:
                result = services.accounts_import(credential=credential, choices=choices, actor=request.user,
                                                  start_sync=form.cleaned_data["start_sync"])  # fmt: skip
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                count = len(result.accounts)
                synced = " Their first sync is queued." if form.cleaned_data["start_sync"] else ""
                messages.success(request, f"{count} account{'s' if count != 1 else ''} imported.{synced}")
                return redirect("portal:dashboard")
        return self._render(credential, connection, form, reachable, status=400)


# ---------------------------------------------------------------------------------------- connections
class ConnectionCreateView(CredentialMixin, View):
    """"Connect with CallRail": create a gateway connection and show its authorisation link."""

    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        form = ConnectionCreateForm(request.POST)
        label = form.cleaned_data["label"] if form.is_valid() else ""
        try:
            connection = services.connection_create(credential=credential, label=label, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("credentials:detail", credential_pk=credential.pk)
        return redirect("credentials:connection", credential_pk=credential.pk, connection_pk=connection.pk)


class ConnectionDetailView(CredentialMixin, TemplateView):
    template_name = "credentials/connection.html"

    def get_context_data(self, **kwargs):
        credential = self.get_credential()
        connection = self.get_connection(credential)
        kwargs.setdefault("send_form", SendLinkForm())
        return super().get_context_data(
            credential=credential, connection=connection,
            accounts=connection.client_accounts.visible_to(self.request.user, credential.agency).order_by("name"),
            **kwargs,
        )  # fmt: skip


class ConnectionStatusView(CredentialMixin, View):
    """The status panel, polled (HTMX) while the connection waits for authorisation. Reads the database:
    the watcher task asks the gateway."""

    def get(self, request: HttpRequest, credential_pk: int, connection_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self.get_connection(credential)
        context = {"credential": credential, "connection": connection}
        return render(request, "credentials/_connection_status.html", context)


class ConnectionCheckView(CredentialMixin, View):
    """"Check now": ask the gateway for the connection's status (one control request)."""

    def post(self, request: HttpRequest, credential_pk: int, connection_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self.get_connection(credential)
        try:
            connection = services.connection_refresh(connection=connection)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.info(request, f"The gateway says: {connection.status_label}.")
        return redirect("credentials:connection", credential_pk=credential.pk, connection_pk=connection.pk)


class ConnectionSendView(CredentialMixin, View):
    def post(self, request: HttpRequest, credential_pk: int, connection_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self.get_connection(credential)
        form = SendLinkForm(request.POST)
        if form.is_valid():
            try:
                services.connection_send_link(connection=connection, email=form.cleaned_data["email"],
                                              note=form.cleaned_data["note"], actor=request.user)  # fmt: skip
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Link sent to {form.cleaned_data['email']}.")
                return redirect("credentials:connection", credential_pk=credential.pk, connection_pk=connection.pk)
        view = ConnectionDetailView(request=request, kwargs=self.kwargs)
        return view.render_to_response(view.get_context_data(send_form=form), status=400)


class ConnectionRemoveView(CredentialMixin, View):
    """Confirm, then delete the connection at the gateway and pause the accounts that use it."""

    template_name = "credentials/connection_remove.html"

    def get(self, request: HttpRequest, credential_pk: int, connection_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self.get_connection(credential)
        accounts = connection.client_accounts.visible_to(request.user, credential.agency).order_by("name")
        return render(request, self.template_name, {"credential": credential, "connection": connection,
                                                    "accounts": accounts})  # fmt: skip

    def post(self, request: HttpRequest, credential_pk: int, connection_pk: int) -> HttpResponse:
        credential = self.get_credential()
        connection = self.get_connection(credential)
        if request.POST.get("confirm") != "yes":
            return redirect("credentials:connection_remove", credential_pk=credential.pk, connection_pk=connection.pk)
        try:
            paused = services.connection_remove(connection=connection, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("credentials:connection", credential_pk=credential.pk, connection_pk=connection.pk)
        tail = f"; {len(paused)} account{'s' if len(paused) != 1 else ''} paused" if paused else ""
        messages.success(request, f"Connection {connection} removed{tail}.")
        return redirect(reverse("credentials:detail", kwargs={"credential_pk": credential.pk}))


class ConnectionsRefreshView(CredentialMixin, View):
    """Bring the list in step with the gateway's (connections made elsewhere, ones it deleted)."""

    def post(self, request: HttpRequest, credential_pk: int) -> HttpResponse:
        credential = self.get_credential()
        try:
            services.credential_sync_connections(credential=credential, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Connections read from the gateway.")
        return redirect("credentials:detail", credential_pk=credential.pk)
