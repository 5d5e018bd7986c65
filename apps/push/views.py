"""The per-account outbox page: every edit pushed (or waiting) to CallRail, with retry and discard."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from apps.portal.mixins import PortalView
from apps.portal.resource_views import account_tabs
from apps.tenancy.policy import Can

from .models import EntryStatus
from .selectors import outbox_counts, outbox_entry_list
from .services import outbox_entry_discard, outbox_entry_retry

FILTERS = (("", "All"), ("open", "Waiting"), ("attention", "Needs attention"), ("done", "Synced"))


class _OutboxMixin(PortalView):
    permission = Can.SYNC  # the agency's machinery: clients never see the outbox


class OutboxView(_OutboxMixin, TemplateView):
    template_name = "push/outbox.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        status = self.request.GET.get("status") or ""
        if status not in dict(FILTERS):
            status = ""
        page = Paginator(outbox_entry_list(account=account, status=status or None), 50).get_page(
            self.request.GET.get("page")
        )
        return super().get_context_data(
            account=account, page=page, entries=page.object_list, counts=outbox_counts(account), filters=FILTERS,
            status=status, stuck=(EntryStatus.FAILED, EntryStatus.CONFLICT), tabs=account_tabs(account),
            active_tab="outbox", **kwargs,
        )  # fmt: skip


class _EntryAction(_OutboxMixin, View):
    def entry(self):
        account = self.get_account()
        return get_object_or_404(outbox_entry_list(account=account), pk=self.kwargs["entry_pk"])

    def done(self) -> HttpResponse:
        return redirect("push:outbox", account_pk=self.kwargs["account_pk"])


class OutboxRetryView(_EntryAction):
    def post(self, request: HttpRequest, **kwargs) -> HttpResponse:
        entry = outbox_entry_retry(entry=self.entry(), actor=request.user)
        messages.success(request, f"#{entry.pk} will be sent to CallRail again.")
        return self.done()


class OutboxDiscardView(_EntryAction):
    def post(self, request: HttpRequest, **kwargs) -> HttpResponse:
        entry = outbox_entry_discard(entry=self.entry(), actor=request.user)
        messages.success(request, f"#{entry.pk} discarded; the portal shows CallRail's value again.")
        return self.done()
