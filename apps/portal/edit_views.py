"""Create, edit and delete pages of every mirrored resource, the call's inline edits, the live push badge.

Every save goes through the resource's write service (``forms.RESOURCE_FORMS``), which updates the mirror
and queues the push in one transaction. Staff roles edit everything in their accounts; clients may only
annotate calls (note, tags, lead status, value) and only when their agency allows it; anything else is 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.push.selectors import push_status_for
from apps.tenancy.policy import Can, allows

from .forms import RESOURCE_FORMS, CallForm, ResourceForm
from .resource_views import ResourceMixin, account_tabs


def edit_permission(*, user: Any, agency: Any, resource: str) -> tuple[bool, tuple[str, ...] | None]:
    """(may edit, only these fields), from the policy table: who may change records edits every field;
    who may only annotate calls (clients, where their agency allows it) edits a call's annotations."""
    if allows(user, Can.EDIT_RECORDS, agency):
        return True, None
    if resource == "calls" and allows(user, Can.ANNOTATE_CALLS, agency):
        return True, CallForm.ANNOTATE
    return False, None


def edit_capability(resource: str | None, *, creating: bool = False, deleting: bool = False) -> Can:
    """What a record's edit page needs: annotating for a call's page, changing records for everything else."""
    return Can.ANNOTATE_CALLS if resource == "calls" and not (creating or deleting) else Can.EDIT_RECORDS


class EditMixin(ResourceMixin):
    @classmethod
    def permission_for(cls, method: str, kwargs: dict) -> Can:
        return edit_capability(kwargs.get("resource"), creating="pk" not in kwargs)
    def form_class(self) -> type[ResourceForm]:
        name = self.kwargs["resource"]
        if name not in RESOURCE_FORMS:
            raise Http404("This resource cannot be edited in the portal.")
        return RESOURCE_FORMS[name]

    def allowed_fields(self) -> tuple[str, ...] | None:
        allowed, only = edit_permission(
            user=self.request.user, agency=self.request.agency, resource=self.kwargs["resource"]
        )
        if not allowed:
            raise PermissionDenied("You may not change this.")
        return only

    def record(self, resource, account) -> Any:
        obj = self.records(resource, account).filter(pk=self.kwargs["pk"]).first()
        if obj is None:
            raise Http404(f"No such {resource.singular}")
        if getattr(obj, "is_deleted_upstream", False):
            raise Http404(f"CallRail deleted this {resource.singular}; the portal only keeps its last copy.")
        return obj

    def make_form(self, account: Any, instance: Any, data: Any = None) -> ResourceForm:
        cls = self.form_class()
        kwargs: dict[str, Any] = {"account": account, "instance": instance}
        only = self.allowed_fields()
        if cls is CallForm:
            kwargs["only"] = only
        elif only is not None:
            raise PermissionDenied("You may not change this.")
        return cls(data, **kwargs)

    def detail_url(self, account: Any, resource: Any, obj: Any) -> str:
        return reverse("portal:resource_detail", args=[account.pk, resource.name, obj.pk])


class ResourceEditView(EditMixin, View):
    """One view for every resource: ``pk`` in the URL edits that record, none creates one."""

    template_name = "portal/resource_form.html"
    call_partial = "portal/_call_edit.html"

    def _context(self, account, resource, obj, form) -> dict[str, Any]:
        return {
            "account": account, "resource": resource, "object": obj, "form": form,
            "tabs": account_tabs(account), "active_tab": resource.name,
            "list_url": reverse("portal:resource_list", args=[account.pk, resource.name]),
            "badge": push_status_for(obj) if obj is not None else None,
            "col": {c.key: c for c in resource.columns},
        }  # fmt: skip

    def _htmx_call(self, request: HttpRequest) -> bool:
        htmx = getattr(request, "htmx", None)
        return bool(htmx) and self.kwargs["resource"] == "calls"

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        resource, account = self.get_resource(), self.get_account()
        obj = self.record(resource, account) if "pk" in self.kwargs else None
        if obj is None and resource.name == "calls":
            raise Http404("Calls cannot be created in the portal.")
        form = self.make_form(account, obj)
        template = self.call_partial if self._htmx_call(request) else self.template_name
        return render(request, template, self._context(account, resource, obj, form))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        resource, account = self.get_resource(), self.get_account()
        obj = self.record(resource, account) if "pk" in self.kwargs else None
        if obj is None and resource.name == "calls":
            raise Http404("Calls cannot be created in the portal.")
        form = self.make_form(account, obj, request.POST)
        saved = form.save(actor=request.user) if form.is_valid() else None
        htmx_call = self._htmx_call(request)
        if saved is None:  # 200 even for HTMX: htmx does not swap 4xx answers, and the errors must show
            template = self.call_partial if htmx_call else self.template_name
            return render(request, template, self._context(account, resource, obj, form))
        if htmx_call:
            saved.refresh_from_db()
            fresh = self.make_form(account, saved)
            ctx = self._context(account, resource, saved, fresh)
            ctx["saved"] = True
            return render(request, self.call_partial, ctx)
        messages.success(request, f"Saved. The change is on its way to CallRail ({resource.singular}).")
        return HttpResponseRedirect(self.detail_url(account, resource, saved))


class ResourceDeleteView(EditMixin, View):
    """A confirm page, then the delete (or disable) through the service."""

    template_name = "portal/resource_confirm_delete.html"

    @classmethod
    def permission_for(cls, method: str, kwargs: dict) -> Can:
        return edit_capability(kwargs.get("resource"), deleting=True)

    def _page(self, request, account, resource, obj, form, error: str = "") -> HttpResponse:
        return render(request, self.template_name, {
            "account": account, "resource": resource, "object": obj, "verb": form.delete_label, "error": error,
            "tabs": account_tabs(account), "active_tab": resource.name,
            "detail_url": self.detail_url(account, resource, obj),
        })  # fmt: skip

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        resource, account = self.get_resource(), self.get_account()
        obj = self.record(resource, account)
        form = self.make_form(account, obj)
        if resource.name == "calls":
            raise Http404("Calls cannot be deleted.")
        return self._page(request, account, resource, obj, form)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        from apps.push.services import PushRefused

        resource, account = self.get_resource(), self.get_account()
        obj = self.record(resource, account)
        form = self.make_form(account, obj)
        if resource.name == "calls":
            raise Http404("Calls cannot be deleted.")
        try:
            form.delete(actor=request.user)
        except PushRefused as exc:
            return self._page(request, account, resource, obj, form, error=exc.message)
        messages.success(request, f"{form.delete_label} queued for CallRail: {obj}.")
        return HttpResponseRedirect(reverse("portal:resource_list", args=[account.pk, resource.name]))


class RecordBadgeView(ResourceMixin, View):
    """A record's push badge as a fragment; it polls itself while the push is pending."""

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        resource, account = self.get_resource(), self.get_account()
        obj = self.records(resource, account).filter(pk=self.kwargs["pk"]).first()
        if obj is None:
            raise Http404("No such record")
        return render(request, "portal/_record_badge.html", {
            "account": account, "resource": resource, "object": obj, "badge": push_status_for(obj),
        })  # fmt: skip
