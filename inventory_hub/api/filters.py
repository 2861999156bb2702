"""Query filters every list shares.

A filter value the API cannot read is a 400 naming the parameter, never silently ignored:
django-filter's own BooleanFilter treats `?is_active=maybe` as "no filter", and DRF's
OrderingFilter drops an unknown `?ordering=`. An empty boolean or moment (`?since=`) is
refused too, as the schema (a boolean, a date-time) says: leave the parameter out instead.
"""

from datetime import UTC

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


class _StrictBooleanField(forms.TypedChoiceField):
    def clean(self, value):
        if value == "":
            raise forms.ValidationError("Give true or false, or leave the parameter out.")
        return super().clean(value)


# Documented as the boolean it is (`true`/`false` in the query), not a string enum.
@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400 naming the parameter."""

    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class _NonEmptyCSVField(django_filters.fields.BaseCSVField):
    def clean(self, value):
        # `?ordering=` arrives as an empty list, `?ordering=,` as empty names; absent, None.
        if value == [] or (value and any(name == "" for name in value)):
            raise forms.ValidationError("Give a field to order by, or leave the parameter out.")
        return super().clean(value)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering by the given fields, then by primary key so that pages never overlap."""

    base_field_class = _NonEmptyCSVField

    def filter(self, qs, value):
        ordered = super().filter(qs, value)
        if value:
            ordered = ordered.order_by(*ordered.query.order_by, "pk")
        return ordered


class _UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 turned to UTC: Python accepts offsets up to ±23:59, PostgreSQL only ±15:59."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError("Give an ISO 8601 moment, or leave the parameter out.")
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment with any offset Python reads, compared in UTC (never a 500)."""

    field_class = _UtcIsoDateTimeField


class StrictFilterSet(django_filters.FilterSet):
    """A filterset that refuses an empty value (`?kind=`) for every filter but free text,
    naming it: django-filter reads it as "no filter", where the schema documents a choice,
    a number or a moment."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, value in self.data.items():
            free_text = isinstance(self.filters.get(name), django_filters.CharFilter)
            if value == "" and name in self.form.fields and not free_text:
                if name not in self.form.errors:
                    self.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        return valid
