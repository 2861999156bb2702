"""Output shapes shared by several stock endpoints."""

from rest_framework import serializers

from stock.models import StockLevel, StockMovement


class LevelOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    status = serializers.CharField()
    threshold = serializers.IntegerField()

    class Meta:
        model = StockLevel
        fields = [
            "sku",
            "warehouse",
            "on_hand",
            "reserved",
            "unsellable",
            "safety_stock",
            "inbound",
            "available",
            "status",
            "threshold",
            "version",
            "updated_at",
        ]


class MovementOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    available_after = serializers.IntegerField()

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "sku",
            "warehouse",
            "kind",
            "reason",
            "note",
            "delta_on_hand",
            "delta_reserved",
            "delta_unsellable",
            "delta_safety_stock",
            "delta_inbound",
            "on_hand_after",
            "reserved_after",
            "unsellable_after",
            "safety_stock_after",
            "inbound_after",
            "available_after",
            "actor_kind",
            "actor_label",
            "source",
            "document",
            "reference",
            "occurred_at",
            "recorded_at",
        ]
