"""The base of every REST API viewset over tenant data: it alone decides the queryset."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import permissions, serializers, viewsets
from rest_framework.validators import UniqueTogetherValidator

from apps.tenancy.policy import Can, allows, allows_somewhere, refusal
from apps.tenancy.scoping import TenantQuerySet


def _agency_of(obj: Any) -> Any:
    agency = getattr(obj, "agency", None)
    return agency if agency is not None else obj.client_account.agency


class PolicyPermission(permissions.BasePermission):
    """The API's checks, from the same policy table as the web pages (`apps/tenancy/policy.py`).

    Every request needs the API capability; a write needs the viewset's `write_permission` — first
    somewhere (so a role that may never write is refused before anything is looked up), then in the
    agency of the very record written. Which records exist for the person is the scope's job (404).
    """

    def _need(self, request, view) -> Can | None:
        return None if request.method in permissions.SAFE_METHODS else getattr(view, "write_permission", None)

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated) or not allows_somewhere(user, Can.API):
            return False
        if request.method in permissions.SAFE_METHODS or request.method.lower() not in view.http_method_names:
            return True  # reads; a method the endpoint does not offer is answered 405 by the view
        need = self._need(request, view)
        self.message = refusal(need) if need else "This endpoint is read-only."
        return need is not None and allows_somewhere(user, need)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        need = self._need(request, view)
        return need is not None and allows(request.user, need, _agency_of(obj))


class TenantModelViewSet(viewsets.ModelViewSet):
    """Scoped through `visible_to(request.user)`; another tenant's id is a 404, like a missing row.

    Subclasses declare `queryset` (never evaluated unscoped) and may narrow it in `scope_queryset`;
    overriding `get_queryset` is refused at class creation, so no viewset can skip the scope. What a
    person may do is `PolicyPermission`'s: reads need the API capability, writes `write_permission`.
    """

    permission_classes: ClassVar = [PolicyPermission]
    write_permission: ClassVar[Can | None] = None  # None: read-only

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; override scope_queryset instead.")

    def get_queryset(self):
        return self.scope_queryset(self.queryset.visible_to(self.request.user))

    def scope_queryset(self, queryset):
        return queryset


class AgencyField(serializers.SlugRelatedField):
    """An agency named by its slug, among the querysets' agencies; text a slug cannot be (a NUL byte, which
    PostgreSQL refuses in a query) is "does not exist", never a database error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\0"))
        return super().to_internal_value(data)


class TenantModelSerializer(serializers.ModelSerializer):
    """Base serializer of tenant models.

    Uniqueness is validated by the services (the model's full_clean), so DRF's own unique validators,
    which would query the fail-closed manager without a scope, are left out; tenant-owned related
    fields offer only rows the requesting user may see.
    """

    def get_validators(self):
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def to_representation(self, instance):
        return hide_recording_links(super().to_representation(instance), instance, self.context.get("request"))

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        for field in fields.values():
            queryset = getattr(field, "queryset", None)
            if request is not None and isinstance(queryset, TenantQuerySet):
                field.queryset = queryset.visible_to(request.user)
        return fields


def hide_recording_links(data: dict, instance: Any, request: Any) -> dict:
    """A call as the API shows it: CallRail's recording links carry an access key, so ``recording_url`` and
    ``recording_player`` name the portal's recording route instead (same permissions as the call), and the
    payload's copies are hidden. Other records pass unchanged."""
    from django.urls import reverse

    from apps.calls.models import Call
    from apps.portal.templatetags.portal_tables import redact_payload

    if not isinstance(instance, Call):
        return data
    url = None
    if instance.has_recording:
        url = reverse("portal:call_recording", args=[instance.client_account_id, instance.pk])
        url = request.build_absolute_uri(url) if request is not None else url
    for key in ("recording_url", "recording_player"):
        if key in data:
            data[key] = url
    if "payload" in data:
        data["payload"] = redact_payload(data["payload"])
    return data
