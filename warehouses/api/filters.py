"""Query filters for the warehouse and channel lists, and two strict filters the API shares.

A filter value the API cannot read is a 400 naming the parameter, never silently ignored:
django-filter's own BooleanFilter treats `?is_active=maybe` as "no filter".
"""

import django_filters

from inventory_hub.api.schema import READ_ERRORS, error_response
from warehouses.models import SalesChannel, Warehouse

# The errors of every page-numbered list, for its schema.
LIST_ERRORS = {
    400: error_response("validation_error: a filter or ordering value, naming it"),
    404: error_response("not_found: no such page"),
    **READ_ERRORS,
}


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


class WarehouseFilter(django_filters.FilterSet):
    is_active = StrictBooleanFilter()
    ordering = StableOrderingFilter(fields=["code", "name", "created_at"])

    class Meta:
        model = Warehouse
        fields = ["is_active"]


class ChannelFilter(django_filters.FilterSet):
    is_active = StrictBooleanFilter()
    kind = django_filters.ChoiceFilter(choices=SalesChannel.Kind.choices)
    ordering = StableOrderingFilter(fields=["code", "name", "created_at"])

    class Meta:
        model = SalesChannel
        fields = ["is_active", "kind"]
