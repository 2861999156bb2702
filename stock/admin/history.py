"""The ledger and the daily snapshots: read-only."""

from django.contrib import admin

from stock.admin.common import ReadOnlyAdmin
from stock.admin.filters import ChannelListFilter, SnapshotChannelListFilter
from stock.models import DailyStockSnapshot, StockMovement


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    """The ledger. The database refuses UPDATE and DELETE on it too (migration 0002)."""

    list_display = [
        "id",
        "recorded_at",
        "sku",
        "warehouse_code",
        "kind",
        "reason",
        "delta_on_hand",
        "on_hand_after",
        "delta_reserved",
        "delta_unsellable",
        "delta_safety_stock",
        "delta_inbound",
        "available_after",
        "actor_label",
        "source",
        "document",
    ]
    list_select_related = ["variant", "warehouse"]
    list_filter = [
        "kind",
        "reason",
        "source",
        "warehouse",
        ChannelListFilter,
        "actor_kind",
        "recorded_at",
    ]
    search_fields = ["variant__sku", "variant__product__name", "document", "=reference"]
    show_full_result_count = False

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, movement: StockMovement) -> str:
        return movement.variant.sku

    @admin.display(description="warehouse", ordering="warehouse__code")
    def warehouse_code(self, movement: StockMovement) -> str:
        return movement.warehouse.code

    @admin.display(description="available after")
    def available_after(self, movement: StockMovement) -> int:
        return movement.available_after


@admin.register(DailyStockSnapshot)
class DailyStockSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "sku",
        "warehouse_code",
        "on_hand",
        "reserved",
        "unsellable",
        "safety_stock",
        "inbound",
        "available",
    ]
    list_select_related = ["level__variant", "level__warehouse"]
    list_filter = ["level__warehouse", SnapshotChannelListFilter, "day"]
    search_fields = ["level__variant__sku", "level__variant__product__name"]
    show_full_result_count = False

    @admin.display(description="SKU", ordering="level__variant__sku")
    def sku(self, snapshot: DailyStockSnapshot) -> str:
        return snapshot.level.variant.sku

    @admin.display(description="warehouse", ordering="level__warehouse__code")
    def warehouse_code(self, snapshot: DailyStockSnapshot) -> str:
        return snapshot.level.warehouse.code

    @admin.display(description="available")
    def available(self, snapshot: DailyStockSnapshot) -> int:
        return snapshot.available
