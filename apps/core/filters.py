"""Filters of the REST API whose input is an integer: checked where the query string is parsed.

A number the database cannot hold (beyond 64 bits, or not a whole number such as ``1e30``) is a 400 naming the
field on every back-end. Unchecked, SQLite raised OverflowError (a 500) where PostgreSQL matched nothing.
``INTEGER_FILTER_OVERRIDES`` puts these filters in place of django-filter's defaults for every integer and
related-row model field; the API's filter sets (apps/sync/api.py) use them for every endpoint.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters

#: The range of a 64-bit signed integer: SQLite's INTEGER, PostgreSQL's bigint (every id of the portal).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Int64Field(forms.IntegerField):
    """A whole number within 64 bits; anything else is invalid (never a Decimal, never out of range)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(*args, **kwargs)


class IntegerFilter(filters.NumberFilter):
    field_class = Int64Field


class RowChoiceField(filter_fields.ModelChoiceField):
    """A related row chosen by its integer id: an id out of range is "not one of the choices", like any unknown
    id, rather than a query the database refuses."""

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not (self.null_label is not None and value == self.null_value):
            key = self.to_field_name or "pk"
            if isinstance(self.queryset.model._meta.get_field(key), models.IntegerField | models.AutoField):
                try:
                    Int64Field().clean(value)
                except forms.ValidationError:
                    raise forms.ValidationError(
                        self.error_messages["invalid_choice"], code="invalid_choice"
                    ) from None
        return super().to_python(value)


class RowChoiceFilter(filters.ModelChoiceFilter):
    field_class = RowChoiceField


_INTEGER = {"filter_class": IntegerFilter}
_ROW = {**filters.FilterSet.FILTER_DEFAULTS[models.ForeignKey], "filter_class": RowChoiceFilter}

#: ``Meta.filter_overrides`` of a FilterSet: integer and related-row fields get the checked filters.
INTEGER_FILTER_OVERRIDES: dict[type[models.Field], dict[str, Any]] = {
    models.AutoField: _INTEGER,
    models.BigAutoField: _INTEGER,
    models.SmallAutoField: _INTEGER,
    models.IntegerField: _INTEGER,
    models.BigIntegerField: _INTEGER,
    models.SmallIntegerField: _INTEGER,
    models.PositiveIntegerField: _INTEGER,
    models.PositiveBigIntegerField: _INTEGER,
    models.PositiveSmallIntegerField: _INTEGER,
    models.ForeignKey: _ROW,
    models.OneToOneField: {**filters.FilterSet.FILTER_DEFAULTS[models.OneToOneField], "filter_class": RowChoiceFilter},
}
