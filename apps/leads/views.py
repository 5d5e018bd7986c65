"""The missed-lead inbox pages: per agency (``/leads/``) and per account (``/accounts/<id>/leads/``), and assigning
a lead to a member. Answering is done from the lead's Text back / Call back pages and the conversation's reply box."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from apps.portal.mixins import PortalView
from apps.tenancy.policy import Can

from .models import LeadKind
from .selectors import assignable_members, lead_row, missed_leads
from .services import lead_assign


class LeadInboxView(PortalView, View):
    permission = Can.ANSWER_LEADS

    def get(self, request: HttpRequest, account_pk: int | None = None) -> HttpResponse:
        account = self.get_account() if account_pk is not None else None
        leads = missed_leads(user=request.user, agency=request.agency or None, account=account)
        mine = request.GET.get("assignee") == "me"
        if mine:
            leads = [lead for lead in leads if lead.assignee == request.user]
        members: dict[int, list[Any]] = {}
        for lead in leads:
            if lead.account.pk not in members:
                members[lead.account.pk] = assignable_members(agency=lead.account.agency, account=lead.account)
            lead.members = members[lead.account.pk]
        context = {"account": account, "leads": leads, "mine": mine}
        return render(request, "leads/inbox.html", context)


class LeadAssignView(PortalView, View):
    permission = Can.ANSWER_LEADS

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        kind = request.POST.get("kind", "")
        try:
            pk = int(request.POST.get("pk", ""))
        except ValueError as exc:
            raise Http404("No such lead") from exc
        row = lead_row(user=request.user, agency=request.agency or None, account=account, kind=kind, pk=pk)
        if row is None or kind not in LeadKind.values:
            raise Http404("No such lead")
        assignee = None
        if request.POST.get("assignee"):
            assignee = next((m for m in assignable_members(agency=account.agency, account=account)
                             if str(m.pk) == request.POST["assignee"]), None)  # fmt: skip
            if assignee is None:
                messages.error(request, "That person does not work in this account.")
                return redirect(request.POST.get("next") or "portal:account_leads", account_pk=account.pk)
        lead_assign(account=account, kind=kind, row=row, assignee=assignee, actor=request.user)
        messages.success(request, f"Assigned to {assignee}." if assignee else "Unassigned.")
        back = request.POST.get("next", "")
        if back.startswith("/") and not back.startswith("//"):
            return redirect(back)
        return redirect("portal:account_leads", account_pk=account.pk)
