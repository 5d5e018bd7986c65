"""The generic pages of every mirrored resource: list (filter, search, sort, pages, columns), CSV export, detail.

One set of views for all resources, driven by the declarations in ``catalog.py``. Every query goes
through the account looked up in the user's scope (another tenant's account is a 404) and the mirror's
``visible_to`` scope, so lists, counts, filter choices, searches and exports hold only visible rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views import View
from django.views.generic import TemplateView

from apps.calls.selectors import zone_of
from apps.sync.selectors import mirror_list

from .catalog import BY_NAME, PORTAL_RESOURCES
from .exports import csv_response
from .listing import PAGE_SIZES, FilterContext, Listing, PortalResource, build_listing, page_size_from, paginate
from .mixins import PortalView
from .models import ListPreference
from .templatetags.portal_tables import render_cell

EXPORT_CHUNK = 2000
CHOICES_CACHE_SECONDS = 300  # distinct values offered in filters (sources): a scan of the account's rows


class ResourceMixin(PortalView):
    """The resource named in the URL, and its scoped records inside the URL's account."""

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
    """The account's sub-navigation: the overview, then every resource page."""
    tabs = [{"name": "overview", "label": "Overview", "url": reverse("portal:account_detail", args=[account.pk])}]
    tabs += [
        {"name": r.name, "label": r.label, "url": reverse("portal:resource_list", args=[account.pk, r.name])}
        for r in PORTAL_RESOURCES
    ]
    return tabs


class ResourceListView(ResourceMixin, TemplateView):
    template_name = "portal/resource_list.html"
    partial_template = "portal/_list_region.html"

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
        columns = resource.chosen_columns(pref.columns if pref else None)
        table = [
            [(column.key, render_cell(row, column, account, resource)) for column in columns]
            for row in listing.page.rows
        ]
        self.add_badges(table, resource, account, listing.page.rows)
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(
            account=account,
            resource=resource,
            listing=listing,
            page=listing.page,
            columns=columns,
            table=table,
            chosen=[c.key for c in columns],
            page_sizes=PAGE_SIZES,
            page_size=size,
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
            key, value = cells[0]
            cells[0] = (key, format_html("{} {}", value, html))  # both parts are already safe HTML

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
        columns = list(res.columns)
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
        fields = []
        skip = {"id", "client_account", "payload", "payload_hash"}
        first = [f for f in resource.detail_fields]
        model_fields = [f for f in obj._meta.concrete_fields if f.name not in skip]
        model_fields.sort(key=lambda f: (f.name not in first, first.index(f.name) if f.name in first else 0))
        seen_by = _presenter(resource.name, self.request)
        for f in model_fields:
            value = seen_by(getattr(obj, f.name))
            kind = "json" if f.get_internal_type() == "JSONField" else "value"
            if kind == "json" and isinstance(value, list) and all(isinstance(v, str | int) for v in value):
                value, kind = ", ".join(map(str, value)), "value"  # tags, tracking numbers: plain text
            fields.append({"name": f.name, "label": f.verbose_name, "value": value, "kind": kind})
        return super().get_context_data(
            account=account,
            resource=resource,
            object=obj,
            fields=fields,
            payload=seen_by(obj.payload),
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
        if resource.name == "calls":
            out["form"] = CallForm(account=account, instance=obj, only=only) if can_edit else None
            out["history"] = call_history(call=obj, user=self.request.user, agency=self.request.agency)
        return out


def _presenter(resource: str, request: Any) -> Any:
    """How a record's values are shown to this person (integrations: webhook tokens for staff only)."""
    if resource != "integrations":
        return lambda value: value
    from apps.integrations.selectors import integration_seen_by

    return lambda value: integration_seen_by(value, user=request.user, agency=request.agency or None)
