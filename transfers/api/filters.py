"""Query filters for the transfer and lane lists."""

import django_filters
from django.db.models import QuerySet

from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from transfers.models import Lane, Transfer, TransferLine, TransferState
from transfers.selectors import late_q


class LaneFilter(StrictFilterSet):
    source = django_filters.CharFilter(field_name="source__code", help_text="Warehouse code.")
    destination = django_filters.CharFilter(
        field_name="destination__code", help_text="Warehouse code."
    )
    is_active = StrictBooleanFilter()

    class Meta:
        model = Lane
        fields = ["source", "destination", "is_active"]


class TransferFilter(StrictFilterSet):
    state = django_filters.MultipleChoiceFilter(
        choices=TransferState.choices, help_text="Repeat to match any of several."
    )
    source = django_filters.CharFilter(field_name="source__code", help_text="Warehouse code.")
    destination = django_filters.CharFilter(
        field_name="destination__code", help_text="Warehouse code."
    )
    overdue = StrictBooleanFilter(
        method="filter_overdue",
        help_text="true: only those on the road past their due time; false: none of those.",
    )
    sku = django_filters.CharFilter(method="filter_sku", help_text="Has a line of this SKU.")
    ordering = StableOrderingFilter(fields=["created_at", "due_at", "id"])

    class Meta:
        model = Transfer
        fields = ["state", "source", "destination", "overdue", "sku"]

    def filter_overdue(self, queryset: QuerySet[Transfer], name: str, value: bool) -> QuerySet:
        return queryset.filter(late_q()) if value else queryset.exclude(late_q())

    def filter_sku(self, queryset: QuerySet[Transfer], name: str, value: str) -> QuerySet:
        lines = TransferLine.objects.filter(variant__sku=value).values("transfer_id")
        return queryset.filter(pk__in=lines)
