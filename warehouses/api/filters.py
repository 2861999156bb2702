"""Query filters for the warehouse and channel lists."""

import django_filters

from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from warehouses.models import SalesChannel, Warehouse


class WarehouseFilter(StrictFilterSet):
    is_active = StrictBooleanFilter()
    ordering = StableOrderingFilter(fields=["code", "name", "created_at"])

    class Meta:
        model = Warehouse
        fields = ["is_active"]


class ChannelFilter(StrictFilterSet):
    is_active = StrictBooleanFilter()
    kind = django_filters.ChoiceFilter(choices=SalesChannel.Kind.choices)
    ordering = StableOrderingFilter(fields=["code", "name", "created_at"])

    class Meta:
        model = SalesChannel
        fields = ["is_active", "kind"]
