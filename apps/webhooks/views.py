"""The public receiver of CallRail webhooks, and the staff pages (event log, raw payload, signing keys)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from apps.companies.models import Company
from apps.portal.mixins import PortalView
from apps.tenancy.policy import Can

from .events import BY_SLUG
from .forms import SigningKeyForm
from .models import EventStatus
from .selectors import webhook_event_get, webhook_event_list, webhook_health, webhook_signing_keys
from .services import webhook_event_urls, webhook_receive, webhook_signing_key_set


def client_address(request: HttpRequest) -> str | None:
    """The sender's address; behind ``AXES_PROXY_COUNT`` trusted proxies, from X-Forwarded-For."""
    proxies = int(getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0)
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


@method_decorator(csrf_exempt, name="dispatch")
class WebhookReceiveView(View):
    """``POST /hooks/<token>/<event>/``: verify, store, enqueue; 2xx fast. Answers never say whether the
    token belongs to an account."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, token: str, event_type: str) -> HttpResponse:
        if event_type not in BY_SLUG:
            raise Http404
        limit = int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 256 * 1024))
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
        body = request.read(limit + 1)
        if len(body) > limit:
            return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
        receipt = webhook_receive(
            token=token, event_type=event_type, body=body,
            signature=request.headers.get("Signature"), source_address=client_address(request),
        )  # fmt: skip
        return JsonResponse(receipt.body, status=receipt.status)


class WebhookStaffMixin(PortalView):
    """Agency people working in the account (not clients): the log shows raw payloads."""

    permission = Can.SYNC


class WebhookLogView(WebhookStaffMixin, TemplateView):
    template_name = "webhooks/event_log.html"
    page_size = 100

    def get_context_data(self, **kwargs):
        account = self.get_account()
        status = self.request.GET.get("status") or None
        if status not in EventStatus.values:
            status = None
        companies = list(Company.objects.for_account(account).live().order_by("name"))
        keys = webhook_signing_keys(account=account)
        for company in companies:
            company.webhook_key = keys.get(company.pk)
            company.key_form = kwargs.get("forms", {}).get(company.pk) or SigningKeyForm(prefix=f"c{company.pk}")
        return super().get_context_data(
            account=account,
            events=webhook_event_list(user=self.request.user, account=account, status=status)[: self.page_size],
            status=status,
            statuses=EventStatus.choices,
            health=webhook_health(account),
            urls=webhook_event_urls(account),
            companies=companies,
            **kwargs,
        )


class WebhookEventView(WebhookStaffMixin, TemplateView):
    template_name = "webhooks/event_detail.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        event = webhook_event_get(user=self.request.user, account=account, pk=self.kwargs["event_pk"])
        if event is None:
            raise Http404
        return super().get_context_data(account=account, event=event, **kwargs)


class WebhookSigningKeyView(WebhookStaffMixin, View):
    """Enter or replace one company's signing key (as CallRail shows it in its Webhooks settings)."""

    def post(self, request: HttpRequest, account_pk: int, company_pk: int) -> HttpResponse:
        account = self.get_account()
        company = get_object_or_404(Company.objects.visible_to(request.user).filter(client_account=account),
                                    pk=company_pk)  # fmt: skip
        form = SigningKeyForm(request.POST, prefix=f"c{company.pk}")
        if form.is_valid():
            webhook_signing_key_set(company=company, signing_key=form.cleaned_data["signing_key"], actor=request.user)
            messages.success(request, f"Signing key of {company.name or company.callrail_id} saved.")
            return redirect("webhooks:log", account_pk=account.pk)
        view = WebhookLogView(request=request, kwargs=self.kwargs)
        return view.render_to_response(view.get_context_data(forms={company.pk: form}), status=400)

