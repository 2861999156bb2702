"""One SKU across warehouses, with what each channel may sell of it and why."""

from rest_framework import serializers

from stock.models import BackorderPolicy, ForcedStatus

from .common import LevelOutput

STATUS_HELP = "in_stock, low_stock, out_of_stock or backorder."


class ContributionOutput(serializers.Serializer):
    """What one linked warehouse adds to a channel's salable quantity."""

    warehouse = serializers.CharField(source="warehouse_code")
    warehouse_name = serializers.CharField()
    priority = serializers.IntegerField(help_text="Lower is used first.")
    is_active = serializers.BooleanField(
        help_text="false when the warehouse or the channel is inactive: it adds nothing."
    )
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text="Expired holds no longer count.")
    unsellable = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    available = serializers.IntegerField()
    counted = serializers.IntegerField(
        help_text="max(available, 0), or the share when split, when active; else 0."
    )
    share = serializers.IntegerField(
        allow_null=True,
        help_text="The channel's share of a shared warehouse's last units; null: not split.",
    )
    held_for_transfers = serializers.IntegerField(
        help_text="The part of reserved held at this warehouse by approved or picked transfers "
        "leaving it."
    )


class ChannelSalableOutput(serializers.Serializer):
    channel = serializers.CharField(source="channel_code")
    salable = serializers.IntegerField(
        help_text="Σ counted - buffer - shortfall, capped, never negative: what the channel "
        "may sell."
    )
    total_available = serializers.IntegerField(help_text="Σ counted over the breakdown.")
    buffer = serializers.IntegerField(help_text="The channel's safety buffer.")
    shortfall = serializers.IntegerField(
        help_text="Units of the channel's open store orders the hub could not hold: already "
        "sold, so subtracted after the buffer."
    )
    cap = serializers.IntegerField(allow_null=True, help_text="The channel's cap; null: none.")
    status = serializers.CharField(help_text=f"What the stock alone says: {STATUS_HELP}")
    forced_status = serializers.ChoiceField(
        choices=ForcedStatus.Forced.choices,
        allow_null=True,
        help_text="An open override for this channel, or for every channel; null: none.",
    )
    forced_reason = serializers.CharField()
    shown_status = serializers.CharField(help_text="The forced status when one applies.")
    breakdown = ContributionOutput(many=True)


class TotalsOutput(serializers.Serializer):
    """Sums over every warehouse, active or not."""

    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    unsellable = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    inbound = serializers.IntegerField()
    available = serializers.IntegerField(help_text="May be negative when backordered.")


class StockForSkuOutput(serializers.Serializer):
    sku = serializers.CharField()
    product = serializers.IntegerField(help_text="The product's id.")
    product_name = serializers.CharField()
    manage_stock = serializers.BooleanField()
    backorders = serializers.ChoiceField(choices=BackorderPolicy.choices)
    is_active = serializers.BooleanField()
    totals = TotalsOutput()
    levels = LevelOutput(many=True, help_text="Every warehouse that has a level for the SKU.")
    channels = ChannelSalableOutput(many=True, help_text="Every active channel, by code.")
