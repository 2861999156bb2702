"""The storefront's availability answer: channel-wide numbers only, never per warehouse."""

from rest_framework import serializers

from stock.availability import MAX_SKUS, StorefrontStatus
from stock.models import ForcedStatus

STOREFRONT_STATUSES = [
    StorefrontStatus.IN_STOCK,
    StorefrontStatus.ONLY_N_LEFT,
    StorefrontStatus.OUT_OF_STOCK,
    StorefrontStatus.PREORDER,
]


class AvailabilityQuery(serializers.Serializer):
    channel = serializers.CharField(max_length=32)
    sku = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, max_length=MAX_SKUS
    )


class AvailabilityItemOutput(serializers.Serializer):
    sku = serializers.CharField()
    salable_quantity = serializers.IntegerField(
        allow_null=True, help_text="null when the hub does not track this item's stock."
    )
    status = serializers.ChoiceField(
        choices=STOREFRONT_STATUSES, help_text="What to show: the forced status when one applies."
    )
    real_status = serializers.ChoiceField(
        choices=STOREFRONT_STATUSES, help_text="What the stock alone says."
    )
    forced_status = serializers.ChoiceField(choices=ForcedStatus.Forced.choices, allow_null=True)
    message = serializers.CharField(help_text='Ready to show, e.g. "Only 3 left".')


class AvailabilityOutput(serializers.Serializer):
    channel = serializers.CharField()
    items = AvailabilityItemOutput(many=True)
    unknown_skus = serializers.ListField(
        child=serializers.CharField(), help_text="SKUs the hub does not know or no longer sells."
    )
