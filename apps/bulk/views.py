"""Bulk action pages: choose the action and its parameters, the dry-run preview, confirm, the job's progress
(HTMX polls a partial) and its report. Staff roles only; another agency's account is a 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.portal.catalog import BY_NAME
from apps.portal.mixins import PortalView
from apps.tenancy.policy import Can

from .actions import NOT_POSSIBLE, BulkAction, actions_for, get_action
from .selectors import (
    bulk_filter_summary,
    bulk_job_get,
    bulk_job_list,
    bulk_query_clean,
    bulk_target_accounts,
)
from .services import BulkRefused, bulk_job_create, bulk_preview, bulk_token_make, bulk_token_read

MAX_IDS = 1000  # explicit ids in one selection (a page holds at most 200; "all matching" has no limit)


class BulkMixin(PortalView):
    """Staff of the current agency; the account looked up in the person's scope."""

    permission = Can.BULK

    @property
    def agency(self) -> Any:
        return self.request.agency or None

    def get_resource_name(self) -> str:
        name = self.kwargs["resource"]
        if name not in BY_NAME or not actions_for(name):
            raise Http404("No bulk actions on this list")
        return name


def _selection_from(data: QueryDict) -> tuple[list[int], bool, str, str | None]:
    """(ids, all matching, the list's query string, a problem) from the list's form or the start form."""
    query = bulk_query_clean(data.get("query", "")[:4000])
    scope = data.get("scope", "selected")
    if scope == "all":
        return [], True, query, None
    raw = data.getlist("page_ids") if scope == "page" else data.getlist("ids")
    ids = []
    for value in raw[: MAX_IDS + 1]:
        if not str(value).isdigit():
            return [], False, query, "The selection holds an id that is not a number."
        ids.append(int(value))
    if len(ids) > MAX_IDS:
        return [], False, query, f"Select at most {MAX_IDS} rows, or choose “all matching this filter”."
    if not ids:
        return [], False, query, "Select at least one row (or choose all on this page, or all matching)."
    return sorted(set(ids)), False, query, None


class BulkStartView(BulkMixin, TemplateView):
    """GET: the action chooser and parameters for a selection. POST: validate, then the dry-run preview."""

    template_name = "bulk/start.html"

    def form_for(self, action: BulkAction, account: Any, data: QueryDict | None = None):
        form = action.form_class(account)(data)
        if "targets" in form.fields:
            targets = bulk_target_accounts(user=self.request.user, agency=self.agency, exclude=account)
            form.fields["targets"].choices = [(str(a.pk), a.name) for a in targets]
        return form

    def context(self, *, account, resource_name, data: QueryDict, action: BulkAction | None, form=None, error=None):
        ids, all_matching, query, problem = _selection_from(data)
        list_url = reverse("portal:resource_list", args=[account.pk, resource_name])
        return {
            "account": account,
            "resource": BY_NAME[resource_name],
            "actions": actions_for(resource_name),
            "action": action,
            "form": form,
            "ids": ids,
            "all_matching": all_matching,
            "query": query,
            "scope": "all" if all_matching else "selected",
            "filter_summary": bulk_filter_summary(
                user=self.request.user, agency=self.agency, account=account, resource_name=resource_name, query=query
            )
            if all_matching
            else [],
            "problem": problem or error,
            "not_possible": NOT_POSSIBLE.get(resource_name),
            "list_url": f"{list_url}?{query}" if query else list_url,
            "jobs_url": reverse("bulk:jobs", args=[account.pk]),
        }

    def get(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        account = self.get_account()
        name = self.get_resource_name()
        action = get_action(name, request.GET.get("action", ""))
        form = self.form_for(action, account) if action else None
        ctx = self.context(account=account, resource_name=name, data=request.GET, action=action, form=form)
        return self.render_to_response(ctx)

    def post(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        account = self.get_account()
        name = self.get_resource_name()
        action = get_action(name, request.POST.get("action", ""))
        if request.POST.get("step") == "choose":
            # from the list (or the chooser): the selection travels in the body, never in the URL
            form = self.form_for(action, account) if action else None
            ctx = self.context(account=account, resource_name=name, data=request.POST, action=action, form=form)
            return self.render_to_response(ctx)
        if action is None:
            ctx = self.context(account=account, resource_name=name, data=request.POST, action=None,
                               error="Choose an action.")  # fmt: skip
            return self.render_to_response(ctx, status=400)
        form = self.form_for(action, account, request.POST)
        ids, all_matching, query, problem = _selection_from(request.POST)
        if problem or not form.is_valid():
            ctx = self.context(account=account, resource_name=name, data=request.POST, action=action, form=form)
            return self.render_to_response(ctx, status=400)
        params = dict(form.cleaned_data)
        target_ids = [int(t) for t in params.pop("targets", [])]
        targets = list(bulk_target_accounts(user=request.user, agency=self.agency, exclude=account).filter(
            pk__in=target_ids
        ))  # fmt: skip
        return render_preview(
            request, account=account, resource_name=name, action=action, params=params, ids=ids, query=query,
            all_matching=all_matching, targets=targets,
        )  # fmt: skip


def render_preview(
    request: HttpRequest, *, account: Any, resource_name: str, action: BulkAction, params: dict, ids: list[int],
    query: str, all_matching: bool, targets: list[Any], error: str | None = None,
) -> HttpResponse:  # fmt: skip
    preview = bulk_preview(
        user=request.user, agency=request.agency or None, account=account, resource_name=resource_name,
        action=action, params=params, ids=ids, query=query, all_matching=all_matching, targets=targets,
    )  # fmt: skip
    token = bulk_token_make(
        user=request.user, account=account, resource_name=resource_name, action=action, params=params, ids=ids,
        query=query, all_matching=all_matching, targets=targets, preview=preview,
    )  # fmt: skip
    list_url = reverse("portal:resource_list", args=[account.pk, resource_name])
    context = {
        "account": account,
        "resource": BY_NAME[resource_name],
        "action": action,
        "params": params,
        "preview": preview,
        "token": token,
        "all_matching": all_matching,
        "query": query,
        "ids": ids,
        "error": error,
        "filter_summary": bulk_filter_summary(
            user=request.user,
            agency=request.agency or None,
            account=account,
            resource_name=resource_name,
            query=query,
        )
        if all_matching
        else [],
        "list_url": f"{list_url}?{query}" if query else list_url,
        "confirm_url": reverse("bulk:confirm", args=[account.pk, resource_name]),
    }
    return render(request, "bulk/preview.html", context, status=400 if error else 200)


class BulkConfirmView(BulkMixin, View):
    """The confirm POST: the signed preview, and for destructive actions the explicit confirmation."""

    def post(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        account = self.get_account()
        name = self.get_resource_name()
        try:
            data = bulk_token_read(token=request.POST.get("token", ""), user=request.user, account=account,
                                   resource_name=name)  # fmt: skip
        except BulkRefused as exc:
            list_url = reverse("portal:resource_list", args=[account.pk, name])
            context = {"account": account, "reason": str(exc), "list_url": list_url}
            return render(request, "bulk/refused.html", context, status=400)
        action = get_action(name, data["x"])
        if action.destructive and request.POST.get("confirm") != "yes":
            targets = list(bulk_target_accounts(user=request.user, agency=self.agency).filter(pk__in=data["t"]))
            return render_preview(
                request, account=account, resource_name=name, action=action, params=data["p"], ids=data["i"],
                query=data["q"], all_matching=data["all"], targets=targets,
                error="Tick the confirmation box: this action cannot be undone.",
            )  # fmt: skip
        job = bulk_job_create(user=request.user, agency=self.agency, account=account, data=data)
        return HttpResponseRedirect(reverse("bulk:job", args=[account.pk, job.pk]))


class BulkJobView(BulkMixin, TemplateView):
    template_name = "bulk/job.html"
    partial_template = "bulk/_progress.html"

    def get_template_names(self) -> list[str]:
        if self.request.headers.get("HX-Request") or self.kwargs.get("partial"):
            return [self.partial_template]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        account = self.get_account()
        job = bulk_job_get(user=self.request.user, agency=self.agency, account=account, pk=self.kwargs["job_pk"])
        if job is None:
            raise Http404("No such bulk job")
        action = get_action(job.resource, job.action)
        resource = BY_NAME.get(job.resource)
        return {
            "account": account,
            "job": job,
            "action": action,
            "resource": resource,
            "progress_url": reverse("bulk:job_progress", args=[account.pk, job.pk]),
            "outbox_url": reverse("push:outbox", args=[account.pk]),
            "list_url": reverse("portal:resource_list", args=[account.pk, job.resource]),
            "skipped": max(0, job.total - job.done) if job.finished else 0,
            "filter_summary": bulk_filter_summary(
                user=self.request.user,
                agency=self.agency,
                account=account,
                resource_name=job.resource,
                query=job.selection_query,
            )
            if job.all_matching and resource is not None and not self.kwargs.get("partial")
            else [],
        }


class BulkJobListView(BulkMixin, TemplateView):
    template_name = "bulk/jobs.html"

    def get_context_data(self, **kwargs):
        account = self.get_account()
        jobs = list(bulk_job_list(user=self.request.user, agency=self.agency, account=account)[:100])
        for job in jobs:
            job.action_obj = get_action(job.resource, job.action)
        return {"account": account, "jobs": jobs}
