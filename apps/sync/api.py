"""REST API over every mirrored CallRail resource: one generic viewset, configured per resource.

Reads go through the one scoping mechanism (`TenantModelViewSet`), so the API shows exactly what the
portal shows a user. Records CallRail deleted are left out unless `?deleted=true`. Writes go through the
portal's edit forms and write services, so an API edit is validated, queued to the outbox and pushed to
CallRail like one made in the browser (PUT: every field; PATCH: only those sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from apps.core.filters import INTEGER_FILTER_OVERRIDES, IntegerFilter
from apps.portal.api import TenantModelSerializer, TenantModelViewSet
from apps.push.services import PushRefused
from apps.tenancy.models import ClientAccount
from apps.tenancy.policy import Can
from apps.tenancy.scoping import TenantQuerySet


@dataclass(frozen=True)
class MirrorEndpoint:
    """How one mirrored model is offered by the API."""

    url: str
    model: str  # "app_label.Model"
    basename: str
    form: str | None  # the portal's edit form (apps/portal/forms.py RESOURCE_FORMS) for writes; None: read-only
    filters: dict[str, list[str]] = field(default_factory=dict)
    search: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ("callrail_id",)
    default_ordering: tuple[str, ...] = ("pk",)
    related: tuple[str, ...] = ()
    #: ``(data, request) -> data``: what of a record this person may see (None: everything serialized)
    present: Any = None


EXACT = ["exact"]
RANGE = ["gte", "lte"]

ENDPOINTS: tuple[MirrorEndpoint, ...] = (
    MirrorEndpoint(
        "companies",
        "companies.Company",
        "company",
        "companies",
        {"status": EXACT, "time_zone": EXACT},
        ("name",),
        ("name", "upstream_created_at"),
        ("name",),
    ),
    MirrorEndpoint(
        "trackers",
        "trackers.Tracker",
        "tracker",
        "trackers",
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
        "users",
        {"role": EXACT, "accepted": EXACT},
        ("name", "email"),
        ("name", "email", "role"),
        ("name",),
    ),
    MirrorEndpoint(
        "tags",
        "tags.Tag",
        "tag",
        "tags",
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
        "notifications",
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
        "summary_emails",
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
        "integrations",
        {"company": EXACT, "type": EXACT, "state": EXACT},
        ("type",),
        ("type", "state"),
        ("type",),
        ("company",),
        present=lambda data, request: _integration_seen_by(data, request),
    ),
    MirrorEndpoint(
        "integration-triggers",
        "integrations.IntegrationTrigger",
        "integration-trigger",
        None,
        {"company": EXACT, "integration_type": EXACT, "call_type": EXACT, "lead_status": EXACT},
        ("integration_type",),
        ("integration_type", "min_duration", "max_duration"),
        ("integration_type",),
        ("company",),
    ),
    MirrorEndpoint(
        "outbound-caller-ids",
        "calls.OutboundCallerId",
        "outbound-caller-id",
        None,
        {"company": EXACT, "verified": EXACT},
        ("name", "phone_number"),
        ("name", "phone_number", "upstream_created_at"),
        ("name",),
        ("company",),
        present=lambda data, request: _without_validation_code(data),
    ),
    MirrorEndpoint(
        "calls",
        "calls.Call",
        "call",
        "calls",
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
        None,
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
        None,
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
    client_account = IntegerFilter(field_name="client_account_id")

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


def _errors(form: Any) -> dict[str, list[str]]:
    """A form's errors as the API's 400 body: field -> messages, the form's own under non_field_errors."""
    return {("non_field_errors" if k == "__all__" else k): [str(m) for m in v] for k, v in form.errors.items()}


class MirrorWriteMixin:
    """Writes through the portal's edit forms (apps/portal/forms.py), hence the same validation, the same
    write services and the outbox, and the same rule of who may change what (clients: annotate calls)."""

    endpoint: MirrorEndpoint

    def _form(self, account: Any, instance: Any, data: Any) -> Any:
        from apps.portal.edit_views import edit_permission
        from apps.portal.forms import RESOURCE_FORMS, CallForm

        allowed, only = edit_permission(user=self.request.user, agency=account.agency, resource=self.endpoint.form)
        cls = RESOURCE_FORMS[self.endpoint.form]
        if not allowed or (only is not None and cls is not CallForm):
            raise PermissionDenied("You may not change this.")
        kwargs = {"account": account, "instance": instance, **({"only": only} if cls is CallForm else {})}
        return cls(data, **kwargs)

    def _saved(self, form: Any, status: int) -> Response:
        saved = form.save(actor=self.request.user) if form.is_valid() else None
        if saved is None:
            return Response(_errors(form), status=400)
        return Response(self.get_serializer(saved).data, status=status)

    def create(self, request, *args, **kwargs) -> Response:
        if not isinstance(request.data, Mapping):
            return Response(NOT_AN_OBJECT, status=400)
        account = ClientAccount.objects.visible_to(request.user).filter(pk=_int(request.data.get("client_account")))
        account = account.select_related("agency").first()
        if account is None:
            return Response({"client_account": ["Name one of your client accounts by its id."]}, status=400)
        return self._saved(self._form(account, None, request.data), 201)

    def update(self, request, *args, partial: bool = False, **kwargs) -> Response:
        instance = self.get_object()
        if not isinstance(request.data, Mapping):
            return Response(NOT_AN_OBJECT, status=400)
        if instance.is_deleted_upstream:
            raise NotFound("CallRail deleted this record; the portal only keeps its last copy.")
        account = instance.client_account
        current = self._form(account, instance, None)
        data = {name: current[name].value() for name in current.fields} if partial else {}
        data.update(request.data.items())
        return self._saved(self._form(account, instance, data), 200)

    def destroy(self, request, *args, **kwargs) -> Response:
        instance = self.get_object()
        form = self._form(instance.client_account, instance, None)
        try:
            form.delete(actor=request.user)
        except PushRefused as exc:
            return Response({"detail": exc.message}, status=400)
        return Response(status=204)


NOT_AN_OBJECT = {"non_field_errors": ["Send the fields as one JSON object."]}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _integration_seen_by(data: dict, request: Any) -> dict:
    """Integrations: the portal's webhook endpoint token in config and payload for the agency's staff only."""
    from apps.integrations.selectors import integration_seen_by

    agencies = request.__dict__.setdefault("_agency_of_account", {}) if request is not None else {}
    account_pk = data.get("client_account")
    if account_pk not in agencies:  # the record's agency decides the person's role, not the session's
        account = ClientAccount.objects.visible_to(request.user).filter(pk=account_pk).select_related("agency")
        agencies[account_pk] = getattr(account.first(), "agency", None)
    agency = agencies[account_pk]
    for key in ("config", "payload"):
        if key in data:
            data[key] = integration_seen_by(data[key], user=getattr(request, "user", None), agency=agency)
    return data


def _without_validation_code(data: dict) -> dict:
    """Outbound caller IDs: the code that completes CallRail's verification call never leaves through the API
    (staff read it on the record's page)."""
    if isinstance(data.get("payload"), dict):
        data["payload"] = {k: v for k, v in data["payload"].items() if k != "validation_code"}
    return data


def _viewset(endpoint: MirrorEndpoint) -> type[TenantModelViewSet]:
    model = apps.get_model(endpoint.model)
    name = model.__name__
    meta: dict[str, Any] = {"model": model, "exclude": ["payload_hash"]}
    body: dict[str, Any] = {
        "Meta": type("Meta", (), meta),
        "client_account": serializers.PrimaryKeyRelatedField(read_only=True),
    }
    if endpoint.present is not None:

        def to_representation(self, instance, _present=endpoint.present):
            data = super(type(self), self).to_representation(instance)
            return _present(data, self.context.get("request"))

        body["to_representation"] = to_representation
    serializer = type(f"{name}Serializer", (TenantModelSerializer,), body)
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
                    "filter_overrides": {
                        **INTEGER_FILTER_OVERRIDES,  # out-of-range numbers and ids: a 400, on every back-end
                        models.DateTimeField: {"filter_class": UtcDateTimeFilter},
                    },
                },
            ),
        },
    )
    if endpoint.form is None:
        methods = ["get", "head", "options"]
    elif endpoint.form == "calls":  # calls are annotated, never created or deleted
        methods = ["get", "put", "patch", "head", "options"]
    else:
        methods = ["get", "post", "put", "patch", "delete", "head", "options"]
    return type(
        f"{name}ViewSet",
        (MirrorWriteMixin, TenantModelViewSet),
        {
            "endpoint": endpoint,
            "__doc__": f"{model._meta.verbose_name_plural.capitalize()} mirrored from CallRail, as you may see them.",
            "queryset": model.objects.select_related(*endpoint.related).order_by(*endpoint.default_ordering),
            "serializer_class": serializer,
            "filterset_class": filterset,
            "search_fields": list(endpoint.search),
            "ordering_fields": list(endpoint.ordering),
            "http_method_names": methods,
            # the policy table decides who writes: annotating calls, or changing any other record
            "write_permission": None if endpoint.form is None else Can.ANNOTATE_CALLS if endpoint.form == "calls"
            else Can.EDIT_RECORDS,
        },
    )


def register(router: Any) -> None:
    for endpoint in ENDPOINTS:
        router.register(endpoint.url, _viewset(endpoint), basename=endpoint.basename)
