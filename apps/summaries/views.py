"""Staff pages of portal summaries (list, create/edit, preview, test send, send log) and the public
unsubscribe page. Thin: selectors read, services write."""

from __future__ import annotations

from csp.constants import SELF
from csp.decorators import csp_replace
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import FormView, TemplateView

from apps.portal.mixins import PortalView
from apps.tenancy.policy import Can, allows

from .emails import summary_build
from .forms import PortalSummaryForm
from .models import DeliveryStatus, PortalSummary
from .schedule import latest_occurrence, next_occurrence, summary_time_zone
from .selectors import delivery_list, my_summaries, summary_get, summary_list
from .services import (
    recipient_for_token,
    recipient_unsubscribe,
    summary_delete,
    summary_save,
    summary_self_subscription_set,
    summary_send_test,
    unsubscribe_url,
)

PREVIEW_TOKEN = "preview"  # the placeholder unsubscribe link of previews and tests  # noqa: S105


class SummaryStaffView(PortalView):
    """Agency staff (every role but client) inside an account they may see."""

    permission = Can.SUMMARIES

    def get_summary(self, account) -> PortalSummary:
        summary = summary_get(
            user=self.request.user, agency=self.request.agency or None, account=account, pk=self.kwargs["summary_pk"]
        )
        if summary is None:
            raise Http404("No such summary.")
        return summary


class SummaryListView(SummaryStaffView, TemplateView):
    template_name = "summaries/list.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        now = timezone.now()
        summaries = list(summary_list(user=self.request.user, agency=self.request.agency or None, account=account))
        for summary in summaries:
            summary.time_zone = summary_time_zone(summary)
            summary.next_send = next_occurrence(summary, now) if summary.is_active else None
        recent = delivery_list(user=self.request.user, agency=self.request.agency or None, account=account)[:10]
        return super().get_context_data(account=account, summaries=summaries, recent=recent, **kwargs)


class SummaryFormView(SummaryStaffView, FormView):
    template_name = "summaries/form.html"
    form_class = PortalSummaryForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.account = self.instance = None
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.load()
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.load()
        return super().post(request, *args, **kwargs)

    def load(self) -> None:
        self.account = self.get_account()
        self.instance = self.get_summary(self.account) if "summary_pk" in self.kwargs else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "account": self.account, "instance": self.instance}

    def get_context_data(self, **kwargs):
        return super().get_context_data(account=self.account, summary=self.instance, **kwargs)

    def form_valid(self, form: PortalSummaryForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            summary = summary_save(
                account=self.account,
                actor=self.request.user,
                instance=self.instance,
                company=data["company"],
                frequency=data["frequency"],
                weekday=data["weekday"],
                hour=data["hour"],
                send_when_empty=data["send_when_empty"],
                is_active=data["is_active"],
                users=list(data["users"]),
                emails=data["emails"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"{summary} {'saved' if self.instance else 'created'}.")
        return redirect("summaries:list", account_pk=self.account.pk)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SummaryDeleteView(SummaryStaffView, View):
    def post(self, request: HttpRequest, account_pk: int, summary_pk: int) -> HttpResponse:
        account = self.get_account()
        summary = self.get_summary(account)
        label = str(summary)
        summary_delete(summary=summary, actor=request.user)
        messages.success(request, f"{label} deleted; its send log is kept.")
        return redirect("summaries:list", account_pk=account.pk)


def _preview(view: SummaryStaffView, *, for_browser: bool = True):
    account = view.get_account()
    summary = view.get_summary(account)
    _instant, period = latest_occurrence(summary, timezone.now())
    recipient = summary.recipients.filter(unsubscribed_at__isnull=True).first()
    built = summary_build(
        summary=summary, period=period, unsubscribe_url=unsubscribe_url(None), for_browser=for_browser
    )
    return account, summary, period, recipient, built


class SummaryPreviewView(SummaryStaffView, TemplateView):
    """The summary as the latest period's recipients get it: subject, HTML (framed) and plain text."""

    template_name = "summaries/preview.html"

    def get_context_data(self, **kwargs):
        account, summary, period, _recipient, built = _preview(self)
        return super().get_context_data(account=account, summary=summary, period=period, built=built, **kwargs)


@method_decorator(xframe_options_sameorigin, name="dispatch")
@method_decorator(csp_replace({"frame-ancestors": [SELF]}), name="dispatch")  # the one page the portal frames
class SummaryPreviewEmailView(SummaryStaffView, View):
    """The email's HTML part alone (shown in the preview page's frame, which only the portal's own pages may
    frame: ``frame-ancestors 'self'`` here, ``'none'`` everywhere else)."""

    def get(self, request: HttpRequest, account_pk: int, summary_pk: int) -> HttpResponse:
        _account, _summary, _period, _recipient, built = _preview(self)
        if request.GET.get("format") == "text":
            return HttpResponse(built.text, content_type="text/plain; charset=utf-8")
        return HttpResponse(built.html)


class SummaryTestSendView(SummaryStaffView, View):
    def post(self, request: HttpRequest, account_pk: int, summary_pk: int) -> HttpResponse:
        account = self.get_account()
        summary = self.get_summary(account)
        delivery = summary_send_test(summary=summary, user=request.user)
        messages.success(
            request,
            f"A test of {summary} for {delivery.period_start:%b %-d}–{delivery.period_end:%b %-d, %Y} is on its way "
            f"to {delivery.email}; the send log shows when it left.",
        )
        return redirect("summaries:log", account_pk=account.pk)


class DeliveryLogView(SummaryStaffView, TemplateView):
    template_name = "summaries/log.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        deliveries = delivery_list(user=self.request.user, agency=self.request.agency or None, account=account)
        status = self.request.GET.get("status") or ""
        if status:
            deliveries = deliveries.filter(status=status)
        page = Paginator(deliveries, 50).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            account=account, page=page, status=status, statuses=DeliveryStatus.choices, **kwargs
        )


@method_decorator(csrf_exempt, name="dispatch")  # mail clients POST here (RFC 8058); the signed token authorises
class UnsubscribeView(View):
    """GET: confirm; POST (the button, or a mail client's one-click): unsubscribe. No sign-in needed."""

    def _recipient(self, token: str):
        return recipient_for_token(token=token)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        recipient = self._recipient(token)
        if recipient is None:
            return render(
                request, "summaries/unsubscribe.html", {"invalid": True, "preview": token == PREVIEW_TOKEN}, status=400
            )
        return render(request, "summaries/unsubscribe.html", {"recipient": recipient, "token": token})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        recipient = self._recipient(token)
        if recipient is None:
            return render(
                request, "summaries/unsubscribe.html", {"invalid": True, "preview": token == PREVIEW_TOKEN}, status=400
            )
        recipient_unsubscribe(recipient=recipient)
        return render(request, "summaries/unsubscribe.html", {"recipient": recipient, "done": True})


class MySummariesView(PortalView, TemplateView):
    """Summary emails I receive, and (where my agency allows clients to) subscribing or leaving them."""

    template_name = "summaries/mine.html"

    @classmethod
    def permission_for(cls, method: str, kwargs: dict) -> Can:
        return Can.OWN_SUMMARIES if method == "POST" else Can.VIEW

    def get_context_data(self, **kwargs):
        agency = self.request.agency or None
        may_manage = agency is not None and allows(self.request.user, Can.OWN_SUMMARIES, agency)
        rows = [
            (summary, recipient is not None and recipient.unsubscribed_at is None)
            for summary, recipient in my_summaries(user=self.request.user, agency=agency)
        ]
        return super().get_context_data(rows=rows, may_manage=may_manage, **kwargs)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        summary = (
            PortalSummary.objects.visible_to(request.user, request.agency or None)
            .filter(pk=request.POST.get("summary") or 0)
            .first()
        )
        if summary is None:
            raise Http404
        subscribed = request.POST.get("action") == "subscribe"
        summary_self_subscription_set(summary=summary, user=request.user, subscribed=subscribed)
        messages.success(request, f"{'Subscribed to' if subscribed else 'Unsubscribed from'} {summary}.")
        return redirect("summaries:mine")
