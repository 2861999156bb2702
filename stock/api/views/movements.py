"""The ledger over HTTP: read-only, newest first, paged by cursor (it grows without bound).

Nothing here writes: a mistake in the ledger is fixed by a reversing movement made
through a stock service (an adjustment), never by editing a row.
"""

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics

from inventory_hub.api.filters import StrictFilterSet, UtcIsoDateTimeFilter
from inventory_hub.api.pagination import LedgerCursorPagination
from inventory_hub.api.schema import READ_ERRORS, error_response
from stock.api.serializers.common import MovementOutput
from stock.models import MovementKind, MovementSource, ReasonCode, StockMovement
from warehouses.models import Warehouse


class MovementFilter(StrictFilterSet):
    sku = django_filters.CharFilter(field_name="variant__sku", help_text="Exact SKU.")
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.all(), to_field_name="code", help_text="Warehouse code."
    )
    kind = django_filters.ChoiceFilter(choices=MovementKind.choices)
    reason = django_filters.ChoiceFilter(choices=ReasonCode.choices)
    source = django_filters.ChoiceFilter(choices=MovementSource.choices)
    document = django_filters.CharFilter(
        help_text="The source document exactly: an order, transfer, file, your reference."
    )
    reference = django_filters.CharFilter(
        help_text="The unique reference exactly, as the movement shows it."
    )
    recorded_after = UtcIsoDateTimeFilter(
        field_name="recorded_at", lookup_expr="gte", help_text="Recorded at or after (ISO 8601)."
    )
    recorded_before = UtcIsoDateTimeFilter(
        field_name="recorded_at", lookup_expr="lt", help_text="Recorded before (ISO 8601)."
    )
    occurred_after = UtcIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", help_text="Happened at or after (ISO 8601)."
    )
    occurred_before = UtcIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", help_text="Happened before (ISO 8601)."
    )

    class Meta:
        model = StockMovement
        fields = [
            "sku",
            "warehouse",
            "kind",
            "reason",
            "source",
            "document",
            "reference",
            "recorded_after",
            "recorded_before",
            "occurred_after",
            "occurred_before",
        ]


class MovementListView(generics.ListAPIView):
    serializer_class = MovementOutput
    pagination_class = LedgerCursorPagination
    # No ordering parameter: the cursor walks the ledger by id, newest first.
    filter_backends = [DjangoFilterBackend]
    filterset_class = MovementFilter

    def get_queryset(self) -> QuerySet[StockMovement]:
        return StockMovement.objects.select_related("variant", "warehouse")

    @extend_schema(
        operation_id="movements_list",
        summary="The stock ledger, newest first, paged by cursor",
        description="Read-only: movements are never changed or deleted; a mistake is "
        "fixed by a reversing adjustment. Follow `next` for older movements.",
        responses={
            200: MovementOutput(many=True),
            400: error_response("validation_error: a filter value (e.g. a bad date), naming it"),
            404: error_response("not_found: the cursor is not one this API gave out"),
            **READ_ERRORS,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
