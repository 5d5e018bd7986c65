"""The account's forms report: CallRail's form summary (everyone who sees the account; a client limited to some
companies sees one company of theirs at a time) and the "ignored fields" setting (staff who change CallRail records)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from apps.callrail import errors
from apps.companies.models import Company
from apps.portal.mixins import PortalView
from apps.push.services import PushRefused
from apps.tenancy.policy import Can, allows

from .models import IgnoredFormField
from .reports import GROUPS, form_summary, ignored_fields_add, ignored_state, summary_companies


class FormsReportView(PortalView, View):
    @classmethod
    def permission_for(cls, method: str, kwargs: dict[str, Any]) -> Can:
        return Can.VIEW if method in ("GET", "HEAD") else Can.EDIT_RECORDS

    def context(self, account: Any, **extra: Any) -> dict[str, Any]:
        request = self.request
        visible, limited, chosen = summary_companies(
            user=request.user, agency=request.agency or None, account=account, company_pk=request.GET.get("company")
        )
        group_by = request.GET.get("group_by") or "source"
        summary, problem = None, ""
        wanted = request.GET.get("summary") == "1"  # read from CallRail only when asked (the page asks on load)
        if wanted and (visible or not limited):
            try:
                summary = form_summary(account=account, company=chosen, group_by=group_by)
            except (errors.BudgetExhausted, errors.RateLimited) as exc:
                minutes = max(1, round((exc.retry_after or 60) / 60))
                problem = f"{account.name} has used its CallRail allowance for now: try again in about {minutes} min."
            except errors.CallRailError as exc:
                problem = f"CallRail did not answer the form summary: {exc.message}"
        can_edit = allows(request.user, Can.EDIT_RECORDS, request.agency or None)
        rows = IgnoredFormField.objects.for_account(account).select_related("company", "entry")
        ignored = [(r, ignored_state(r)) for r in rows] if can_edit else []
        return {
            "account": account,
            "companies": visible,
            "company": chosen,
            "limited": limited,
            "groups": GROUPS,
            "group_by": group_by,
            "group_label": GROUPS.get(summary.grouped_by) if summary else "",
            "summary": summary,
            "summary_url": f"{request.path}?{self._query(chosen, group_by)}",
            "problem": problem,
            "can_edit_fields": can_edit,
            "ignored": ignored,
            **extra,
        }

    @staticmethod
    def _query(company: Any, group_by: str) -> str:
        from urllib.parse import urlencode

        return urlencode({"summary": "1", "group_by": group_by, **({"company": company.pk} if company else {})})

    def get(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        return render(request, "form_submissions/report.html", self.context(self.get_account()))

    def post(self, request: HttpRequest, account_pk: int) -> HttpResponse:
        account = self.get_account()
        company = None
        if request.POST.get("company"):
            company = Company.objects.for_account(account).filter(pk=request.POST["company"]).first()
        names = request.POST.get("field_names", "").replace(",", "\n").splitlines()
        try:
            rows = ignored_fields_add(account=account, names=names, company=company, actor=request.user)
        except PushRefused as exc:
            context = self.context(account, error=exc.message, draft=request.POST.get("field_names", ""))
            return render(request, "form_submissions/report.html", context, status=422)
        messages.success(request, f"{len(rows)} field(s) will be ignored; CallRail also removes them from earlier "
                                  "submissions." if rows else "Those fields are ignored already.")  # fmt: skip
        return redirect(request.path)
