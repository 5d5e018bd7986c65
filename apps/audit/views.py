"""The audit log: agency-wide for the agency's staff, per client account on the account's pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils import timezone
from django.views.generic import TemplateView

from apps.portal.labels import change_rows
from apps.portal.mixins import PortalView
from apps.portal.resource_views import account_tabs
from apps.tenancy.policy import Can

from .models import AuditEvent
from .selectors import audit_event_list

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, label="Action", help_text="e.g. call, tag.update, membership")
    actor = forms.CharField(required=False, label="Person (email)")
    via = forms.ChoiceField(required=False, choices=[("", "Any way"), *AuditEvent.Via.choices])
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] > cleaned["end"]:
            self.add_error("end", "The end date is before the start date.")
        return cleaned

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.is_valid():
            return events
        data = self.cleaned_data
        if data["action"]:
            events = events.filter(action__istartswith=data["action"].strip())
        if data["actor"]:
            events = events.filter(actor__email__icontains=data["actor"].strip())
        if data["via"]:
            events = events.filter(via=data["via"])
        zone = timezone.get_current_timezone()
        if data["start"]:
            events = events.filter(created_at__gte=datetime.combine(data["start"], time.min, zone))
        if data["end"]:
            events = events.filter(created_at__lt=datetime.combine(data["end"] + timedelta(days=1), time.min, zone))
        return events


FIELD_LABELS = {
    "accounts": "Client accounts",
    "active": "Active",
    "companies": "Companies",
    "role": "Role",
    "sync_enabled": "Sync on",
    "incremental_every_minutes": "Incremental sync every (minutes)",
    "full_every_hours": "Full sync every (hours)",
    "full_at_hour": "Full sync at hour (account time)",
}


def record_url(event: AuditEvent) -> str:
    """A link to the record an event is about, where the portal has a page for it ("" otherwise)."""
    from django.urls import NoReverseMatch, reverse

    from apps.portal.catalog import PORTAL_RESOURCES

    kind, pk, account = event.object_type, event.object_id, event.client_account_id
    if not (kind and str(pk).isdigit()):
        return ""
    resource = next((r.name for r in PORTAL_RESOURCES if r.model_label.lower() == kind), None)
    targets = {
        "tenancy.membership": ("tenancy:member_edit", {"pk": pk}),
        "tenancy.clientaccount": ("portal:account_detail", {"account_pk": pk}),
        "summaries.portalsummary": ("summaries:edit", {"account_pk": account, "summary_pk": pk}),
        "push.outboxentry": ("push:outbox", {"account_pk": account}),
    }
    if resource and account:
        targets[kind] = ("portal:resource_detail", {"account_pk": account, "resource": resource, "pk": pk})
    if kind not in targets:
        return ""
    name, kwargs = targets[kind]
    try:
        return reverse(name, kwargs=kwargs) + (f"#entry-{pk}" if kind == "push.outboxentry" else "")
    except NoReverseMatch:
        return ""


def changes(event: AuditEvent) -> list[tuple[str, str | None, str]]:
    """(label, before, after) of every field that differs, as readable text (before None: newly set)."""
    return change_rows(event.before, event.after, FIELD_LABELS)


class AuditLogView(PortalView, TemplateView):
    """Agency-wide, or one client account's when the URL names it. Clients have no audit log."""

    permission = Can.AUDIT_LOG
    template_name = "audit/log.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        account = self.get_account() if "account_pk" in self.kwargs else None
        if not self.request.agency:
            raise PermissionDenied("Choose an agency first.")
        events = audit_event_list(user=self.request.user, agency=self.request.agency)
        if account is not None:
            events = events.filter(client_account_id=account.pk)
        form = AuditFilterForm(self.request.GET or None)
        page = Paginator(form.apply(events), PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        # each event's time in its account's zone (agency-wide events: UTC), labelled
        zones = {a.pk: a for a in self.accounts()} if account is None else {account.pk: account}
        return super().get_context_data(
            account=account,
            tabs=account_tabs(account) if account is not None else None,
            active_tab="audit",
            form=form,
            page=page,
            rows=[
                (event, changes(event), record_url(event), zones.get(event.client_account_id))
                for event in page.object_list
            ],
            query=query.urlencode(),
            **kwargs,
        )
