from rest_framework import serializers

from inventory_hub.api.serializers import StrictIntegerField, StrictSerializer
from stock.models import ReasonCode

from .common import LevelOutput, MovementOutput


class AdjustmentInput(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=32, help_text="Warehouse code.")
    delta = StrictIntegerField(required=False, help_text="Change on hand by this much (not 0).")
    counted = StrictIntegerField(
        required=False, min_value=0, help_text="Or: the absolute on-hand figure counted."
    )
    reason = serializers.ChoiceField(choices=ReasonCode.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    reference = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Your document reference; the same reference again is a no-op.",
    )
    expected_on_hand = StrictIntegerField(
        required=False, min_value=0, help_text="Refuse with 409 unless on hand is exactly this."
    )

    def validate(self, data):
        if ("delta" in data) == ("counted" in data):
            raise serializers.ValidationError({"delta": ["Give exactly one of delta or counted."]})
        if data.get("delta") == 0:
            raise serializers.ValidationError({"delta": ["Must not be zero."]})
        return data


class AdjustmentOutput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["applied", "unchanged", "replayed"],
        help_text="unchanged: a count equal to the balance; replayed: the reference was seen.",
    )
    movement = MovementOutput(allow_null=True)
    level = LevelOutput()
