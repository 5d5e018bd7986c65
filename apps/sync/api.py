"""REST API over every mirrored CallRail resource: one generic viewset, configured per resource.

Reads go through the one scoping mechanism (`TenantModelViewSet`), so the API shows exactly what the
portal shows a user. Records CallRail deleted are left out unless `?deleted=true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from apps.portal.api import TenantModelSerializer, TenantModelViewSet
from apps.tenancy.scoping import TenantQuerySet


@dataclass(frozen=True)
class MirrorEndpoint:
    """How one mirrored model is offered by the API."""

    url: str
    model: str  # "app_label.Model"
    basename: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    search: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ("callrail_id",)
    default_ordering: tuple[str, ...] = ("pk",)
    related: tuple[str, ...] = ()


EXACT = ["exact"]
RANGE = ["gte", "lte"]

ENDPOINTS: tuple[MirrorEndpoint, ...] = (
    MirrorEndpoint(
        "companies",
        "companies.Company",
        "company",
        {"status": EXACT, "time_zone": EXACT},
        ("name",),
        ("name", "upstream_created_at"),
        ("name",),
    ),
    MirrorEndpoint(
        "trackers",
        "trackers.Tracker",
        "tracker",
        {"company": EXACT, "type": EXACT, "status": EXACT},
        ("name", "destination_number"),
        ("name", "upstream_created_at"),
        ("name",),
        ("company",),
    ),
    MirrorEndpoint(
        "callrail-users",
        "callrail_users.CallRailUser",
        "callrail-user",
        {"role": EXACT, "accepted": EXACT},
        ("name", "email"),
        ("name", "email", "role"),
        ("name",),
    ),
    MirrorEndpoint(
        "tags",
        "tags.Tag",
        "tag",
        {"company": EXACT, "tag_level": EXACT, "status": EXACT},
        ("name",),
        ("name", "upstream_created_at"),
        ("name",),
        ("company",),
    ),
    MirrorEndpoint(
        "notifications",
        "notifications.Notification",
        "notification",
        {"company": EXACT, "user": EXACT, "tracker": EXACT, "alert_type": EXACT},
        ("name", "email"),
        ("name", "alert_type"),
        ("name",),
        ("company", "user", "tracker"),
    ),
    MirrorEndpoint(
        "summary-emails",
        "summary_emails.SummaryEmail",
        "summary-email",
        {"company": EXACT, "user": EXACT, "scope_type": EXACT},
        (),
        ("scope_type",),
        ("pk",),
        ("company", "user"),
    ),
    MirrorEndpoint(
        "integrations",
        "integrations.Integration",
        "integration",
        {"company": EXACT, "type": EXACT, "state": EXACT},
        ("type",),
        ("type", "state"),
        ("type",),
        ("company",),
    ),
    MirrorEndpoint(
        "calls",
        "calls.Call",
        "call",
        {
            "company": EXACT,
            "tracker": EXACT,
            "direction": EXACT,
            "answered": EXACT,
            "voicemail": EXACT,
            "spam": EXACT,
            "first_call": EXACT,
            "lead_status": EXACT,
            "source": EXACT,
            "start_time": RANGE,
        },
        ("customer_name", "customer_phone_number", "source", "keywords", "note"),
        ("start_time", "duration", "customer_name", "source", "value"),
        ("-start_time", "-pk"),
        ("company", "tracker"),
    ),
    MirrorEndpoint(
        "form-submissions",
        "form_submissions.FormSubmission",
        "form-submission",
        {"company": EXACT, "lead_status": EXACT, "first_form": EXACT, "submitted_at": RANGE},
        ("customer_name", "customer_email", "customer_phone_number", "form_name"),
        ("submitted_at", "customer_name"),
        ("-submitted_at", "-pk"),
        ("company",),
    ),
    MirrorEndpoint(
        "text-conversations",
        "text_conversations.TextConversation",
        "text-conversation",
        {"company": EXACT, "state": EXACT, "lead_status": EXACT, "last_message_at": RANGE},
        ("customer_name", "customer_phone_number"),
        ("last_message_at", "customer_name"),
        ("-last_message_at", "-pk"),
        ("company", "current_tracker"),
    ),
)


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 with any offset, compared in UTC (PostgreSQL refuses offsets beyond ±15:59)."""

    def to_python(self, value):
        moment = super().to_python(value)
        try:
            return moment.astimezone(UTC) if moment is not None else None
        except OverflowError:
            raise ValidationError("This moment is out of range.", code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class MirrorFilterSet(filters.FilterSet):
    deleted = filters.BooleanFilter(
        method="filter_deleted", help_text="true: only records CallRail deleted; default: only live records."
    )
    client_account = filters.NumberFilter(field_name="client_account_id")

    def __init__(self, *args, request=None, **kwargs) -> None:
        super().__init__(*args, request=request, **kwargs)
        user = getattr(request, "user", None)
        for filter_ in self.filters.values():  # choices of related rows go through the scope too
            if isinstance(getattr(filter_, "queryset", None), TenantQuerySet):
                filter_.queryset = filter_.queryset.visible_to(user)

    def filter_deleted(self, queryset, name: str, value: bool | None):
        return queryset  # applied in filter_queryset so that omitting it still hides deleted records

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.deleted() if self.form.cleaned_data.get("deleted") else queryset.live()


def _viewset(endpoint: MirrorEndpoint) -> type[TenantModelViewSet]:
    model = apps.get_model(endpoint.model)
    name = model.__name__
    meta: dict[str, Any] = {"model": model, "exclude": ["payload_hash"]}
    serializer = type(
        f"{name}Serializer",
        (TenantModelSerializer,),
        {
            "Meta": type("Meta", (), meta),
            "client_account": serializers.PrimaryKeyRelatedField(read_only=True),
        },
    )
    filterset = type(
        f"{name}FilterSet",
        (MirrorFilterSet,),
        {
            "Meta": type(
                "Meta",
                (),
                {
                    "model": model,
                    "fields": endpoint.filters,
                    "filter_overrides": {models.DateTimeField: {"filter_class": UtcDateTimeFilter}},
                },
            ),
        },
    )
    return type(
        f"{name}ViewSet",
        (TenantModelViewSet,),
        {
            "__doc__": f"{model._meta.verbose_name_plural.capitalize()} mirrored from CallRail, as you may see them.",
            "queryset": model.objects.select_related(*endpoint.related).order_by(*endpoint.default_ordering),
            "serializer_class": serializer,
            "filterset_class": filterset,
            "search_fields": list(endpoint.search),
            "ordering_fields": list(endpoint.ordering),
            "http_method_names": ["get", "head", "options"],
        },
    )


def register(router: Any) -> None:
    for endpoint in ENDPOINTS:
        router.register(endpoint.url, _viewset(endpoint), basename=endpoint.basename)
