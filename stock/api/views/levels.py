"""Stock levels: every named quantity and status, filtered in the database; one SKU in full."""

from dataclasses import dataclass

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_hub.api.errors import ApiError
from inventory_hub.api.filters import StableOrderingFilter, StrictBooleanFilter, StrictFilterSet
from inventory_hub.api.schema import LIST_ERRORS, READ_ERRORS, error_response
from inventory_hub.api.serializers import is_storable_text
from stock.api.serializers.common import LevelOutput
from stock.api.serializers.levels import StockForSkuOutput
from stock.errors import UnknownSku
from stock.models import StockLevel, StockStatus
from stock.selectors import (
    channel_salable_many,
    get_variant_by_sku,
    levels_below_threshold,
    levels_with_status,
    stock_levels,
)
from warehouses.models import SalesChannel, Warehouse


class StockLevelFilter(StrictFilterSet):
    sku = django_filters.CharFilter(field_name="variant__sku", help_text="Exact SKU.")
    warehouse = django_filters.ModelChoiceFilter(
        queryset=Warehouse.objects.all(), to_field_name="code", help_text="Warehouse code."
    )
    # One link per (channel, warehouse), so the join adds no duplicate rows.
    channel = django_filters.ModelChoiceFilter(
        field_name="warehouse__links__channel",
        queryset=SalesChannel.objects.all(),
        to_field_name="code",
        help_text="Channel code: levels at the warehouses it sells from.",
    )
    status = django_filters.ChoiceFilter(
        choices=StockStatus.choices,
        method="filter_status",
        help_text="Low: 0 < available ≤ threshold; out of stock and backorder: available ≤ 0.",
    )
    below_threshold = StrictBooleanFilter(
        method="filter_below_threshold",
        help_text="true: available at or below the level's threshold (or its variant's).",
    )
    ordering = StableOrderingFilter(
        fields=[
            ("variant__sku", "sku"),
            ("warehouse__code", "warehouse"),
            ("available", "available"),
            ("on_hand", "on_hand"),
            ("updated_at", "updated_at"),
        ]
    )

    class Meta:
        model = StockLevel
        fields = ["sku", "warehouse", "channel", "status", "below_threshold"]

    def filter_status(self, queryset, name, value: str):
        return levels_with_status(queryset, value)

    def filter_below_threshold(self, queryset, name, value: bool):
        if value:
            return levels_below_threshold(queryset)
        # Above the threshold is exactly what in stock means (thresholds are never negative).
        return levels_with_status(queryset, StockStatus.IN_STOCK)


class StockLevelListView(generics.ListAPIView):
    serializer_class = LevelOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = StockLevelFilter

    def get_queryset(self) -> QuerySet[StockLevel]:
        return stock_levels().order_by("variant__sku", "warehouse__code", "pk")

    @extend_schema(
        operation_id="stock_levels_list",
        summary="List stock levels with every named quantity and status",
        responses={200: LevelOutput(many=True), **LIST_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class LevelTotals:
    on_hand: int
    reserved: int
    unsellable: int
    safety_stock: int
    inbound: int
    available: int

    @classmethod
    def of(cls, levels: list[StockLevel]) -> "LevelTotals":
        return cls(
            **{
                name: sum(getattr(level, name) for level in levels)
                for name in ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")
            },
            available=sum(level.available for level in levels),
        )


class StockForSkuView(APIView):
    @extend_schema(
        operation_id="stock_retrieve",
        summary="One SKU across warehouses, with each active channel's salable quantity",
        description="Each channel's salable quantity comes with its breakdown warehouse by "
        "warehouse, the status the stock alone gives and any forced status beside it.",
        responses={200: StockForSkuOutput, **READ_ERRORS, 404: error_response("unknown_sku")},
    )
    def get(self, request, sku: str):
        try:
            if not is_storable_text(sku):
                raise UnknownSku(f"No variant has SKU {sku!r}.", {"sku": sku})
            variant = get_variant_by_sku(sku)
        except UnknownSku as error:
            raise ApiError(
                status_code=status.HTTP_404_NOT_FOUND,
                code=error.code,
                message=error.message,
                details=error.details,
            ) from None
        levels = list(stock_levels().filter(variant=variant).order_by("warehouse__code"))
        # Few channels: one salable computation each, over the channel's own links.
        channels = SalesChannel.objects.filter(is_active=True).order_by("code")
        salable = [channel_salable_many(channel, [variant])[variant.pk] for channel in channels]
        body = {
            "sku": variant.sku,
            "product": variant.product_id,
            "product_name": variant.product.name,
            "manage_stock": variant.manage_stock,
            "backorders": variant.backorders,
            "is_active": variant.is_active,
            "totals": LevelTotals.of(levels),
            "levels": levels,
            "channels": salable,
        }
        return Response(StockForSkuOutput(body).data)
