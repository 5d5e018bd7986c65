"""The base of every REST API viewset over tenant data: it alone decides the queryset."""

from __future__ import annotations

from typing import ClassVar

from rest_framework import permissions, serializers, viewsets
from rest_framework.validators import UniqueTogetherValidator

from apps.tenancy.scoping import TenantQuerySet


class TenantModelViewSet(viewsets.ModelViewSet):
    """Scoped through `visible_to(request.user)`; another tenant's id is a 404, like a missing row.

    Subclasses declare `queryset` (never evaluated unscoped) and may narrow it in `scope_queryset`;
    overriding `get_queryset` is refused at class creation, so no viewset can skip the scope.
    """

    permission_classes: ClassVar = [permissions.IsAuthenticated]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; override scope_queryset instead.")

    def get_queryset(self):
        return self.scope_queryset(self.queryset.visible_to(self.request.user))

    def scope_queryset(self, queryset):
        return queryset


class TenantModelSerializer(serializers.ModelSerializer):
    """Base serializer of tenant models.

    Uniqueness is validated by the services (the model's full_clean), so DRF's own unique validators,
    which would query the fail-closed manager without a scope, are left out; tenant-owned related
    fields offer only rows the requesting user may see.
    """

    def get_validators(self):
        return [v for v in super().get_validators() if not isinstance(v, UniqueTogetherValidator)]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        for field in fields.values():
            queryset = getattr(field, "queryset", None)
            if request is not None and isinstance(queryset, TenantQuerySet):
                field.queryset = queryset.visible_to(request.user)
        return fields
