"""The Prometheus endpoint and the system page."""

from __future__ import annotations

import hmac
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView
from prometheus_client import CONTENT_TYPE_LATEST

from apps.portal.mixins import ManagerRequiredMixin, PortalView
from apps.tenancy.models import ClientAccount
from apps.tenancy.policy import Can, allows, requires
from apps.tenancy.selectors import client_account_list

from .metrics import render_metrics
from .selectors import account_figures, cached_worker_ping, last_heartbeat, queue_depths, worker_ping
from .services import client_account_cancel_deletion, client_account_schedule_deletion


def _bearer_token_ok(request: HttpRequest) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), expected.encode())


@requires(Can.OPERATE)
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape: ``Authorization: Bearer $METRICS_TOKEN``, or a signed-in superuser. Every account
    of the installation, so never an agency's member: 401 without credentials, 403 for anyone else."""
    if not (_bearer_token_ok(request) or allows(request.user, Can.OPERATE)):
        if request.user.is_authenticated:
            raise PermissionDenied("Metrics are for operators (superusers) and the Prometheus token.")
        response = HttpResponse("Metrics need a bearer token.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


class SystemView(PortalView, TemplateView):
    """Owners (and operators): Celery queues, workers, beat, and each account's sync lag and budget, a page of
    accounts at a time (the figures of the page's accounts only: the same queries for 20 accounts or 1,000)."""

    permission = Can.SYSTEM
    template_name = "operations/system.html"
    paginate_by = 25

    def get_context_data(self, **kwargs):
        user, agency = self.request.user, self.request.agency or None
        beat = last_heartbeat()
        stale = beat is None or timezone.now() - beat > timezone.timedelta(minutes=3)
        # An operator without a chosen agency sees no tenant's accounts here (Prometheus has them all).
        figures, page, summary = [], None, {}
        if agency is not None:
            visible = ClientAccount.objects.visible_to(user, agency)
            summary = visible.aggregate(
                total=Count("pk"),
                sync_off=Count("pk", filter=Q(sync_enabled=False, deletion_due_at__isnull=True)),
                pending_deletion=Count("pk", filter=Q(deletion_due_at__isnull=False)),
                key_refused=Count("pk", filter=~Q(connection_error="")),
            )
            listed = client_account_list(user=user, agency=agency).defer("credential__api_key").order_by("name", "pk")
            paginator = Paginator(listed, self.paginate_by)
            paginator.count = summary["total"]  # counted above (a cached property of the paginator)
            page = paginator.get_page(self.request.GET.get("page"))
            figures = account_figures(lambda model: model.objects.visible_to(user, agency), accounts=list(page))
        # A ping waits up to a second for workers to answer: the page shows a recent answer, or loads it
        # afterwards (SystemWorkersView) instead of keeping the whole page waiting.
        ping = cached_worker_ping()
        return super().get_context_data(
            figures=figures,
            page=page,
            summary=summary,
            queues=queue_depths(),
            ping=ping,
            heartbeat=beat,
            heartbeat_stale=stale,
            agency=agency,
            **kwargs,
        )


class SystemWorkersView(SystemView):
    """The system page's workers and scheduler, loaded after the page: pings the workers (cached briefly)."""

    template_name = "operations/_workers.html"

    def get_context_data(self, **kwargs):
        beat = last_heartbeat()
        stale = beat is None or timezone.now() - beat > timezone.timedelta(minutes=3)
        return TemplateView.get_context_data(self, ping=worker_ping(), heartbeat=beat, heartbeat_stale=stale, **kwargs)


class DeletionConfirmForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the account's name to confirm",
        max_length=200,
        help_text="Exactly as shown above.",
    )

    def __init__(self, *args, account: ClientAccount, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.account.name:
            raise forms.ValidationError(f"That is not the account's name; type “{self.account.name}” to confirm.")
        return value


class AccountDeletionView(ManagerRequiredMixin, TemplateView):
    """Owners and admins: schedule a client account's deletion (export first, grace period) or cancel it."""

    template_name = "operations/account_deletion.html"

    def get_context_data(self, **kwargs):
        account = kwargs.get("account") or self.get_account()
        return super().get_context_data(
            account=account,
            form=kwargs.get("form") or DeletionConfirmForm(account=account),
            grace_days=settings.ACCOUNT_DELETION_GRACE_DAYS,
            export_name=Path(account.deletion_export_path).name if account.deletion_export_path else "",
            **{k: v for k, v in kwargs.items() if k not in ("account", "form")},
        )

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        if request.POST.get("action") == "cancel":
            try:
                client_account_cancel_deletion(account=account, actor=request.user)
            except ValidationError as exc:
                messages.error(request, exc.messages[0])
            else:
                messages.success(request, f"{account.name} will be kept. Its sync switch is as it was before.")
            return redirect("operations:account_deletion", account_pk=account.pk)
        form = DeletionConfirmForm(request.POST, account=account)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(account=account, form=form), status=400)
        try:
            account = client_account_schedule_deletion(account=account, actor=request.user)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(
                request,
                f"{account.name} was exported and will be deleted on {account.deletion_due_at:%Y-%m-%d %H:%M} UTC "
                "unless you cancel before then.",
            )
        return redirect("operations:account_deletion", account_pk=account.pk)
