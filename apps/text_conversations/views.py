"""A conversation's thread on its page: shown at once from the mirror, then completed from CallRail.

The conversation page renders what the mirror holds; when the thread is behind (a message newer than the last
read), the thread region asks ``…/thread/`` (HTMX, on load), which reads the conversation from CallRail on the
interactive lane and answers the updated region. Without JavaScript the page offers the same as a link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from apps.callrail import errors
from apps.portal.mixins import PortalView
from apps.sync.selectors import mirror_list
from apps.tenancy.policy import Can

from .models import OutgoingText, TextConversation
from .selectors import conversation_thread
from .sending import (
    MAX_TEXT_LENGTH,
    TextRefused,
    budget_reason,
    opt_out_of,
    sms_budget_wait,
    sms_senders,
    text_send,
    text_state,
    unsent_texts,
)
from .services import conversation_thread_refresh


def thread_context(
    *, conversation: TextConversation, account: Any, refresh: bool = False, draft: str | None = None,
    composer_error: str = "", composer_field: str | None = None, sender: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The thread region's context; with ``refresh`` the conversation is first read from CallRail."""
    problem = ""
    if refresh and conversation.thread_is_stale:
        try:
            conversation_thread_refresh(conversation=conversation, account=account)
        except (errors.BudgetExhausted, errors.RateLimited) as exc:
            minutes = max(1, round((exc.retry_after or 60) / 60))
            problem = (f"{account.name} has used its CallRail allowance for now: older messages load in about "
                       f"{minutes} minute{'s' if minutes != 1 else ''}.")  # fmt: skip
        except errors.NotFound:
            problem = "CallRail no longer has this conversation; these are the messages the portal kept."
        except errors.CallRailError:
            problem = "CallRail did not answer; the older messages could not be loaded. Try again in a minute."
    url = reverse("portal:conversation_thread", args=[account.pk, conversation.pk])
    from apps.portal.catalog import conversation_title

    return {
        "conversation": conversation,
        "conversation_title": conversation_title(conversation),
        "thread": conversation_thread(conversation=conversation, account=account),
        "thread_problem": problem,
        "thread_url": url,
        "thread_load": conversation.thread_is_stale and not refresh,
        **composer_context(
            conversation=conversation,
            account=account,
            draft=draft,
            error=composer_error,
            field=composer_field,
            sender=sender,
        ),
    }


def composer_context(
    *, conversation: TextConversation, account: Any, draft: str | None = None, error: str = "",
    field: str | None = None, sender: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The reply box: the numbers that can send, the portal's texts CallRail has not taken yet (pending, or
    failed with CallRail's message), an opt-out, and the draft (a refused text's, else the last failed one's)."""
    unsent = unsent_texts(account=account, conversation=conversation)
    failed = [t for t in unsent if text_state(t) == "failed"]
    senders = sms_senders(account=account, company=conversation.company) if conversation.company_id else []
    opted = opt_out_of(account=account, number=conversation.customer_phone_number or "")
    return {
        "composer_url": reverse("portal:conversation_reply", args=[account.pk, conversation.pk]),
        "composer_senders": senders,
        "composer_sender": sender or conversation.current_tracking_number,
        "composer_unsent": [(t, text_state(t)) for t in unsent],
        "composer_draft": draft if draft is not None else (failed[-1].content if failed else ""),
        "composer_error": error,
        "composer_field": field,
        "composer_opt_out": opted.reason(conversation.customer_phone_number, account) if opted else "",
        "composer_max": MAX_TEXT_LENGTH,
    }


class ConversationThreadView(PortalView, View):
    def get(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        conversation = (
            mirror_list(TextConversation, user=request.user, agency=request.agency or None)
            .filter(client_account=account, pk=pk)
            .first()
        )
        if conversation is None:
            raise Http404("No such conversation")
        context = {"account": account, **thread_context(conversation=conversation, account=account, refresh=True)}
        return render(request, "text_conversations/_thread.html", context)


def _conversation(request: HttpRequest, account: Any, pk: int) -> TextConversation:
    conversation = (
        mirror_list(TextConversation, user=request.user, agency=request.agency or None)
        .filter(client_account=account, pk=pk)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


class ConversationReplyView(PortalView, View):
    """POST a reply in a conversation: queued through ``text_send`` (the thread region is answered again, with
    the text pending, or with the reason it was refused and the draft kept)."""

    permission = Can.ANSWER_LEADS

    def post(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        conversation = _conversation(request, account, pk)
        content = request.POST.get("content", "")
        sender = request.POST.get("tracking_number") or None
        context: dict[str, Any] = {"account": account}
        try:
            text_send(account=account, conversation=conversation, content=content, tracking_number=sender,
                      customer_phone_number=conversation.customer_phone_number or "", actor=request.user)  # fmt: skip
        except TextRefused as exc:
            context.update(thread_context(
                conversation=conversation, account=account, draft=content, composer_error=exc.message,
                composer_field=exc.field, sender=sender,
            ))  # fmt: skip
            status = 200 if request.htmx else 422
            return render(request, "text_conversations/_thread.html" if request.htmx else
                          "text_conversations/reply.html", context, status=status)  # fmt: skip
        if not request.htmx:
            messages.success(request, "Text queued: it shows as pending until CallRail has sent it.")
            return redirect("portal:resource_detail", account_pk=account.pk, resource="text_conversations",
                            pk=conversation.pk)  # fmt: skip
        context.update(thread_context(conversation=conversation, account=account, draft=""))
        return render(request, "text_conversations/_thread.html", context)


class TextBackView(PortalView, View):
    """ "Text back" to a call's or a form submission's lead: choose the tracking number to send from, write the
    text; the texts sent from here are listed with their state (pending, sent, failed with CallRail's reason)."""

    permission = Can.ANSWER_LEADS
    source: str = "calls"

    def lead(self, account: Any) -> Any:
        from apps.calls.models import Call
        from apps.form_submissions.models import FormSubmission

        model = Call if self.source == "calls" else FormSubmission
        row = (
            mirror_list(model, user=self.request.user, agency=self.request.agency or None)
            .filter(client_account=account, pk=self.kwargs["pk"])
            .first()
        )
        if row is None:
            raise Http404("No such record")
        return row

    def context(self, account: Any, lead: Any, **extra: Any) -> dict[str, Any]:
        senders = sms_senders(account=account, company=lead.company) if lead.company_id else []
        number = lead.customer_phone_number or ""
        opted = opt_out_of(account=account, number=number) if number else None
        wait = sms_budget_wait(account=account)
        kind = {"calls": "source_call", "form_submissions": "source_form"}[self.source]
        sent = (
            OutgoingText.objects.for_account(account)
            .filter(**{kind: lead})
            .select_related("entry", "conversation")
            .order_by("-created_at", "-pk")
        )
        default = getattr(lead, "tracking_phone_number", None)
        return {
            "account": account,
            "lead": lead,
            "source": self.source,
            "senders": senders,
            "sender": extra.pop("sender", None) or (default if any(s.number == default for s in senders) else ""),
            "opt_out": opted.reason(number, account) if opted else "",
            "budget_problem": budget_reason(account, wait) if wait is not None else "",
            "sent": [(t, text_state(t)) for t in sent],
            "max_length": MAX_TEXT_LENGTH,
            "list_url": reverse("portal:resource_list", args=[account.pk, self.source]),
            "lead_url": reverse("portal:resource_detail", args=[account.pk, self.source, lead.pk]),
            **extra,
        }

    def get(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        lead = self.lead(account)
        return render(request, "text_conversations/text_back.html", self.context(account, lead))

    def post(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        account = self.get_account()
        lead = self.lead(account)
        content = request.POST.get("content", "")
        sender = request.POST.get("tracking_number") or ""
        source = {"source_call": lead} if self.source == "calls" else {"source_form": lead}
        try:
            text_send(
                account=account,
                content=content,
                tracking_number=sender,
                actor=request.user,
                customer_phone_number=lead.customer_phone_number or "",
                company=lead.company,
                **source,
            )
        except TextRefused as exc:
            context = self.context(account, lead, draft=content, error=exc.message, field=exc.field, sender=sender)
            return render(request, "text_conversations/text_back.html", context, status=422)
        messages.success(request, "Text queued: it shows as pending until CallRail has sent it.")
        return redirect(request.path)


class CallBackView(PortalView, View):
    """ "Call back" a call's, a form submission's or a conversation's lead: CallRail rings the person's own phone
    first, then the customer, showing the chosen caller ID (``apps/calls/callbacks.py``)."""

    permission = Can.ANSWER_LEADS
    source: str = "calls"
    SESSION_KEY = "call_back_phone"

    def lead(self, account: Any) -> Any:
        from apps.calls.models import Call
        from apps.form_submissions.models import FormSubmission

        model = {"calls": Call, "form_submissions": FormSubmission, "text_conversations": TextConversation}
        row = (
            mirror_list(model[self.source], user=self.request.user, agency=self.request.agency or None)
            .filter(client_account=account, pk=self.kwargs["pk"])
            .first()
        )
        if row is None:
            raise Http404("No such record")
        return row

    def context(self, account: Any, lead: Any, choices: list, problem: str, **extra: Any) -> dict[str, Any]:
        from apps.calls.callbacks import call_back_state, outbound_budget_wait
        from apps.calls.models import CallBack
        from apps.portal.formatting import format_when

        kind = {"calls": "source_call", "form_submissions": "source_form", "text_conversations": "source_conversation"}
        wait = outbound_budget_wait(account=account)
        frees = timezone.now() + timedelta(seconds=wait) if wait is not None else None
        placed = (
            CallBack.objects.for_account(account)
            .filter(**{kind[self.source]: lead})
            .select_related("entry", "call")
            .order_by("-created_at", "-pk")
        )
        default = getattr(lead, "tracking_phone_number", None) or getattr(lead, "current_tracking_number", None)
        return {
            "account": account,
            "lead": lead,
            "source": self.source,
            "caller_ids": choices,
            "caller_ids_problem": problem,
            "caller_id": extra.pop("caller_id", None) or (default if any(c.number == default for c in choices) else ""),
            "business_phone": extra.pop("business_phone", None) or self.request.session.get(self.SESSION_KEY, ""),
            "budget_problem": (
                f"{account.name} has used its CallRail outbound-call allowance for now: the next call "
                f"can be placed at {format_when(frees, account)}."
            )
            if frees
            else "",
            "placed": [(c, call_back_state(c)) for c in placed],
            "lead_url": reverse("portal:resource_detail", args=[account.pk, self.source, lead.pk]),
            **extra,
        }

    def get(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        from apps.calls.callbacks import caller_ids

        account = self.get_account()
        lead = self.lead(account)
        choices, problem = caller_ids(account=account, company=lead.company) if lead.company_id else ([], "")
        return render(request, "calls/call_back.html", self.context(account, lead, choices, problem))

    def post(self, request: HttpRequest, account_pk: int, pk: int) -> HttpResponse:
        from apps.calls.callbacks import CallBackRefused, call_back_start, caller_ids

        account = self.get_account()
        lead = self.lead(account)
        choices, problem = caller_ids(account=account, company=lead.company) if lead.company_id else ([], "")
        caller_id = request.POST.get("caller_id", "")
        business = request.POST.get("business_phone_number", "")
        key = {"calls": "source_call", "form_submissions": "source_form", "text_conversations": "source_conversation"}
        try:
            call_back_start(
                account=account,
                customer_phone_number=lead.customer_phone_number or "",
                business_phone_number=business,
                caller_id=caller_id,
                company=lead.company,
                actor=request.user,
                allowed_caller_ids=choices,
                **{key[self.source]: lead},
            )
        except CallBackRefused as exc:
            context = self.context(account, lead, choices, problem, error=exc.message, field=exc.field,
                                   caller_id=caller_id, business_phone=business)  # fmt: skip
            return render(request, "calls/call_back.html", context, status=422)
        request.session[self.SESSION_KEY] = business
        messages.success(request, "Calling: CallRail rings your phone first, then connects the customer.")
        return redirect(request.path)
