"""Connecting a company's CallRail Webhooks integration to the portal (a button on the account's Webhooks page)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from apps.companies.models import Company
from apps.push.services import PushRefused
from apps.webhooks.views import WebhookStaffMixin

from .services import webhooks_connect


class WebhooksConnectView(WebhookStaffMixin, View):
    """ "Connect webhooks": create or update the company's CallRail Webhooks integration via the outbox."""

    def post(self, request: HttpRequest, account_pk: int, company_pk: int) -> HttpResponse:
        account = self.get_account()
        company = get_object_or_404(Company.objects.visible_to(request.user).filter(client_account=account),
                                    pk=company_pk)  # fmt: skip
        try:
            webhooks_connect(company=company, actor=request.user)
        except PushRefused as exc:
            messages.error(request, f"Webhooks of {company.name} not connected: {exc}")
        else:
            messages.success(
                request,
                f"Connecting {company.name} to the portal's webhooks: the change is queued for CallRail "
                "(see the outbox); its signing key is stored when CallRail answers.",
            )
        return redirect("webhooks:log", account_pk=account.pk)
