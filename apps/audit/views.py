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


def readable(value: Any) -> str:
    """A recorded value as people read it: yes/no, lists joined, "none" for an empty list."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def changes(event: AuditEvent) -> list[tuple[str, str | None, str]]:
    """(label, before, after) of every field that differs, as readable text (before None: newly set)."""
    keys = sorted(set(event.before) | set(event.after))
    return [
        (
            FIELD_LABELS.get(k) or (k if " " in k else k.replace("_", " ").capitalize()),  # "API base URL" as written
            readable(event.before[k]) if k in event.before else None,
            readable(event.after.get(k)),
        )
        for k in keys
        if event.before.get(k) != event.after.get(k)
    ]


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
        return super().get_context_data(
            account=account,
            tabs=account_tabs(account) if account is not None else None,
            active_tab="audit",
            form=form,
            page=page,
            rows=[(event, changes(event)) for event in page.object_list],
            query=query.urlencode(),
            **kwargs,
        )
