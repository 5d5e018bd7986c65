"""The generic pages of every mirrored resource: list (filter, search, sort, pages, columns), CSV export, detail.

One set of views for all resources, driven by the declarations in ``catalog.py``. Every query goes
through the account looked up in the user's scope (another tenant's account is a 404) and the mirror's
``visible_to`` scope, so lists, counts, filter choices, searches and exports hold only visible rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views import View
from django.views.generic import TemplateView

from apps.calls.selectors import zone_of
from apps.sync.selectors import mirror_list
from apps.tenancy.policy import Can, allows

from .catalog import BY_NAME, PORTAL_RESOURCES
from .exports import csv_response
from .listing import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    FilterContext,
    Listing,
    PortalResource,
    build_listing,
    clean_query,
    page_size_from,
    paginate,
)
from .mixins import PortalView
from .models import ListPreference, SavedView
from .templatetags.portal_tables import detail_fields, redact_payload, render_cell, row_cells

EXPORT_CHUNK = 2000
CHOICES_CACHE_SECONDS = 300  # distinct values offered in filters (sources): a scan of the account's rows


class ResourceMixin(PortalView):
    """The resource named in the URL, and its scoped records inside the URL's account.

    Calls, form submissions, text conversations and companies are everyone's (clients included); the
    agency's CallRail set-up (trackers, tags, CallRail users, notifications, summary emails, integrations) is
    for those who change CallRail records — the agency's staff."""

    @classmethod
    def permission_for(cls, method: str, kwargs: dict[str, Any]) -> Can:
        resource = BY_NAME.get(kwargs.get("resource", ""))
        return Can.EDIT_RECORDS if resource is not None and resource.staff_only else cls.permission

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        resource = BY_NAME.get(kwargs.get("resource", ""))
        if (
            request.user.is_authenticated
            and resource is not None
            and resource.staff_only
            and not allows(request.user, Can.EDIT_RECORDS, request.agency or None)
        ):
            raise PermissionDenied(f"{resource.label} are the agency's CallRail set-up, which its staff manage.")
        return super().dispatch(request, *args, **kwargs)

    def get_resource(self) -> PortalResource:
        try:
            return BY_NAME[self.kwargs["resource"]]
        except KeyError:
            raise Http404("No such list") from None

    def records(self, resource: PortalResource, account: Any) -> QuerySet:
        rows = mirror_list(resource.model, user=self.request.user, agency=self.request.agency or None)
        return rows.filter(client_account=account).select_related(*resource.related)

    def preference(self, resource: PortalResource) -> ListPreference | None:
        return ListPreference.objects.filter(user=self.request.user, resource=resource.name).first()

    def listing(self, resource: PortalResource, account: Any) -> Listing:
        records = self.records(resource, account)
        memo: dict[str, list] = {}

        def choices(name: str, load) -> list:
            if name not in memo:
                memo[name] = load()
            return memo[name]

        def cached_choices(name: str, load) -> list:
            # per user: what a company-limited client may see differs from what staff see
            stamp = f"{account.pk}:{account.created_at.timestamp():.0f}:{self.request.user.pk}"
            key = f"portal:choices:{stamp}:{resource.name}:{name}"
            return cache.get_or_set(key, load, CHOICES_CACHE_SECONDS)

        def scoped(model) -> QuerySet:
            rows = mirror_list(model, user=self.request.user, agency=self.request.agency or None)
            return rows.filter(client_account=account)

        ctx = FilterContext(
            account=account, queryset=records, scoped=scoped, choices=choices, cached_choices=cached_choices
        )
        return build_listing(resource, queryset=records, params=self.request.GET, ctx=ctx)


def account_tabs(account: Any) -> list[dict[str, Any]]:
    """The account's sub-navigation: the overview, then every resource page (``staff_only``: the template
    shows those to people who may change CallRail records; the staff pages follow, each by its capability)."""
    tabs = [{"name": "overview", "label": "Overview", "url": reverse("portal:account_detail", args=[account.pk])}]
    tabs += [
        {
            "name": r.name,
            "label": r.label,
            "url": reverse("portal:resource_list", args=[account.pk, r.name]),
            "staff_only": r.staff_only,
        }
        for r in PORTAL_RESOURCES
    ]
    return tabs


class ResourceListView(ResourceMixin, TemplateView):
    """A resource's list. Its filters live in the URL (only non-empty ones): a plain GET with empty or unknown
    parameters is redirected to the clean URL, HTMX requests are cleaned before they leave (portal.js)."""

    template_name = "portal/resource_list.html"
    partial_template = "portal/_list_region.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(request, "htmx", False) and request.GET:
            clean = clean_query(self.get_resource(), request.GET, keep_page=True)
            if clean.urlencode() != request.GET.urlencode():
                return HttpResponseRedirect(f"{request.path}?{clean.urlencode()}" if clean else request.path)
        return super().get(request, *args, **kwargs)

    def get_template_names(self) -> list[str]:
        htmx = getattr(self.request, "htmx", None)
        if htmx and htmx.target == "list-region":
            return [self.partial_template]
        return [self.template_name]

    def render_to_response(self, context, **kwargs) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))  # one URL, a page or its list region
        return response

    def get_context_data(self, **kwargs):
        kwargs.pop("resource", None)
        resource = self.get_resource()
        account = self.get_account()
        pref = self.preference(resource)
        listing = self.listing(resource, account)
        size = page_size_from(self.request.GET, pref.page_size if pref else None, listing.problems)
        paginate(listing, self.request.GET, size)
        staff = allows(self.request.user, Can.SYNC, self.request.agency or None)
        columns = resource.chosen_columns(pref.columns if pref else None, staff=staff)
        table = [
            [(column.key, column.label, render_cell(row, column, account, resource)) for column in columns]
            for row in listing.page.rows
        ]
        self.add_badges(table, resource, account, listing.page.rows)
        table = [row_cells(cells) for cells in table]
        # an empty default date range: say whether the account has none at all, or only none recently
        older_rows = bool(not listing.page.count and listing.default_window and listing.base.exists())
        query = clean_query(resource, self.request.GET)
        views = list(
            SavedView.objects.for_account(account).filter(user=self.request.user, resource=resource.name)
        )
        current_query = query.urlencode()
        return super().get_context_data(
            older_rows=older_rows,
            saved_views=views,
            current_view=next((v for v in views if v.query == current_query), None),
            account=account,
            resource=resource,
            listing=listing,
            page=listing.page,
            columns=columns,
            table=table,
            chosen=[c.key for c in columns],
            offered_columns=resource.columns_for(staff=staff),
            page_sizes=PAGE_SIZES,
            page_size=size,
            default_page_size=pref.page_size if pref and pref.page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
            query=query.urlencode(),
            tabs=account_tabs(account),
            active_tab=resource.name,
            list_url=reverse("portal:resource_list", args=[account.pk, resource.name]),
            export_url=reverse("portal:resource_export", args=[account.pk, resource.name]),
            create_url=self.create_url(resource, account),
            **kwargs,
        )

    def add_badges(self, table: list, resource: PortalResource, account: Any, rows: list) -> None:
        """Append each edited row's push badge to its first cell (one outbox query for the page)."""
        from django.template.loader import render_to_string
        from django.utils.html import format_html

        from apps.push.selectors import _RESOURCE_OF, push_status_map

        write = _RESOURCE_OF.get(resource.model._meta.label_lower)
        if write is None or not table:
            return
        badges = push_status_map(account=account, resource=write, object_pks=[r.pk for r in rows])
        for cells, row in zip(table, rows, strict=True):
            badge = badges.get(row.pk)
            if badge is None or not badge.state or not cells:
                continue
            html = render_to_string(
                "portal/_record_badge.html",
                {"account": account, "resource": resource, "object": row, "badge": badge, "no_poll": True},
            )
            key, label, value = cells[0]
            cells[0] = (key, label, format_html("{} {}", value, html))  # both parts are already safe HTML

    def create_url(self, resource: PortalResource, account: Any) -> str:
        from .edit_views import edit_permission
        from .forms import RESOURCE_FORMS

        if resource.name not in RESOURCE_FORMS or resource.name == "calls":
            return ""
        allowed, only = edit_permission(user=self.request.user, agency=self.request.agency, resource=resource.name)
        return reverse("portal:resource_create", args=[account.pk, resource.name]) if allowed and only is None else ""


class ResourceColumnsView(ResourceMixin, View):
    """Save the columns (and rows per page) a user wants on one resource list."""

    def post(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        res = self.get_resource()
        account = self.get_account()
        known = {c.key for c in res.columns}
        columns = [k for k in request.POST.getlist("columns") if k in known]
        target = reverse("portal:resource_list", args=[account.pk, res.name])
        query = request.POST.get("query", "")
        if request.POST.get("reset"):
            ListPreference.objects.filter(user=request.user, resource=res.name).delete()
            messages.success(request, "Columns reset to the default.")
        elif not columns:
            messages.error(request, "Choose at least one column.")
        else:
            size = request.POST.get("per_page")
            ListPreference.objects.update_or_create(
                user=request.user,
                resource=res.name,
                defaults={
                    "columns": columns,
                    "page_size": int(size) if size and size.isdigit() and int(size) in PAGE_SIZES else None,
                },
            )
            messages.success(request, "Columns saved.")
        return HttpResponseRedirect(f"{target}?{query}" if query else target)


class ResourceExportView(ResourceMixin, View):
    """The current filtered, sorted list as CSV, streamed in chunks (any size, constant memory), written by
    the portal's one CSV writer (formula cells neutralised, times with the account's offset)."""

    def get(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        res = self.get_resource()
        account = self.get_account()
        listing = self.listing(res, account)
        columns = res.columns_for(staff=allows(request.user, Can.SYNC, request.agency or None))
        rows = (
            [c.csv_value(obj) for c in columns] for obj in listing.queryset.iterator(chunk_size=EXPORT_CHUNK)
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        return csv_response(
            filename=f"{slugify(account.name)}-{res.name}-{stamp}.csv",
            header=[c.label for c in columns],
            rows=rows,
            tz=zone_of(account),
        )


class ResourceDetailView(ResourceMixin, TemplateView):
    def get_template_names(self) -> list[str]:
        return [self.get_resource().detail_template]

    def get_context_data(self, **kwargs):
        kwargs.pop("resource", None)
        resource = self.get_resource()
        account = self.get_account()
        obj = self.records(resource, account).filter(pk=self.kwargs["pk"]).first()
        if obj is None:
            raise Http404(f"No such {resource.singular}")
        staff = allows(self.request.user, Can.SYNC, self.request.agency or None)
        seen_by = _presenter(resource.name, self.request)
        return super().get_context_data(
            account=account,
            resource=resource,
            object=obj,
            title=resource.title(obj),
            has_summary=resource.detail_template != "portal/resource_detail.html",
            # every mirrored field and CallRail's own JSON: the agency's staff only (never a client)
            fields=detail_fields(resource, obj, account, seen_by) if staff else [],
            payload=seen_by(redact_payload(obj.payload)) if staff else None,
            col={c.key: c for c in resource.columns},
            tabs=account_tabs(account),
            active_tab=resource.name,
            list_url=reverse("portal:resource_list", args=[account.pk, resource.name]),
            **self.edit_context(resource, account, obj),
            **kwargs,
        )

    def edit_context(self, resource: PortalResource, account: Any, obj: Any) -> dict[str, Any]:
        """The push badge, whether the user may edit, the call's inline form and history."""
        from apps.push.selectors import push_status_for

        from .edit_views import edit_permission
        from .forms import RESOURCE_FORMS, CallForm
        from .selectors import call_history

        form_class = RESOURCE_FORMS.get(resource.name)
        allowed, only = edit_permission(user=self.request.user, agency=self.request.agency, resource=resource.name)
        can_edit = bool(form_class) and allowed and not getattr(obj, "is_deleted_upstream", False)
        out: dict[str, Any] = {
            "badge": push_status_for(obj) if form_class else None,
            "can_edit": can_edit,
            "delete_label": form_class.delete_label if form_class and resource.name != "calls" else "",
        }
        if resource.name == "trackers":
            from .describe import call_flow_steps, source_description

            out["flow_steps"], out["flow_note"] = call_flow_steps(obj)
            out["source_text"] = source_description(obj.source)
        if resource.name == "text_conversations":
            from apps.text_conversations.views import thread_context

            refresh = self.request.GET.get("refresh") == "1"  # the no-JavaScript way to load the whole thread
            out.update(thread_context(conversation=obj, account=account, refresh=refresh))
        if resource.name == "calls":
            payload = obj.payload or {}
            out["form"] = CallForm(account=account, instance=obj, only=only) if can_edit else None
            out["payload_summary"] = payload.get("call_summary")
            out["payload_sentiment"] = payload.get("sentiment")
            out["transcript"] = payload.get("transcription")
            if allows(self.request.user, Can.SYNC, self.request.agency or None):  # pulls, webhooks, edits: staff
                out["history"] = call_history(call=obj, user=self.request.user, agency=self.request.agency)
        return out


def _presenter(resource: str, request: Any) -> Any:
    """How a record's values are shown to this person (integrations: webhook tokens for staff only)."""
    if resource != "integrations":
        return lambda value: value
    from apps.integrations.selectors import integration_seen_by

    return lambda value: integration_seen_by(value, user=request.user, agency=request.agency or None)


class SavedViewCreateView(ResourceMixin, View):
    """Save the list's current filter under a name (the same name again replaces it): one's own, per account."""

    def post(self, request: HttpRequest, account_pk: int, resource: str) -> HttpResponse:
        res = self.get_resource()
        account = self.get_account()
        query = clean_query(res, QueryDict(request.POST.get("query", "")[:2000]))
        name = " ".join(request.POST.get("name", "").split())[:80]
        target = reverse("portal:resource_list", args=[account.pk, res.name])
        if not name:
            messages.error(request, "Name the view to save it.")
        else:
            SavedView.objects.for_account(account).update_or_create(
                client_account=account, user=request.user, resource=res.name, name=name,
                defaults={"query": query.urlencode()},
            )  # fmt: skip
            messages.success(request, f"Saved the view “{name}”.")
        return HttpResponseRedirect(f"{target}?{query.urlencode()}" if query else target)


class SavedViewDeleteView(ResourceMixin, View):
    def post(self, request: HttpRequest, account_pk: int, resource: str, pk: int) -> HttpResponse:
        res = self.get_resource()
        account = self.get_account()
        view = SavedView.objects.for_account(account).filter(user=request.user, resource=res.name, pk=pk).first()
        if view is None:
            raise Http404("No such saved view")
        view.delete()
        messages.success(request, f"Removed the view “{view.name}”.")
        return HttpResponseRedirect(reverse("portal:resource_list", args=[account.pk, res.name]))
