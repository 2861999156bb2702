"""Query filters every list shares.

A filter value the API cannot read is a 400 naming the parameter, never silently ignored:
django-filter's own BooleanFilter treats `?is_active=maybe` as "no filter", and DRF's
OrderingFilter drops an unknown `?ordering=`.
"""

import django_filters


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400 naming the parameter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering by the given fields, then by primary key so that pages never overlap."""

    def filter(self, qs, value):
        ordered = super().filter(qs, value)
        if value:
            ordered = ordered.order_by(*ordered.query.order_by, "pk")
        return ordered
