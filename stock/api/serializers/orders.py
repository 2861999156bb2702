"""Orders over HTTP: what a client sends to place or ship an order, and the order it gets back.

Input serializers check shape and JSON types only. The rules on values (quantity from 1 up,
a known SKU, one line per SKU, a SKU the channel can sell) belong to `place_order`, which
names each bad line by its 1-based number with its own error code.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory_hub.api.serializers import StrictIntegerField, StrictSerializer
from stock.models import OPEN_ORDER_STATUSES, Allocation, Order, OrderLine
from stock.services.ledger import MAX_QUANTITY
from stock.services.orders import MAX_HOLD_MINUTES, MAX_LINES


class CoordinateField(serializers.FloatField):
    """A JSON number only: "52.5" and true are refused rather than coerced."""

    default_error_messages = {"type": "Must be a JSON number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("type")
        return super().to_internal_value(data)


class ShippingInput(StrictSerializer):
    """The shipping address's coordinates, both or neither."""

    latitude = CoordinateField(min_value=-90, max_value=90)
    longitude = CoordinateField(min_value=-180, max_value=180)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY})
class LineQuantityField(StrictIntegerField):
    """A JSON integer; its range is place_order's to refuse, naming the line."""

    def __init__(self, **kwargs):
        super().__init__(min_value=None, max_value=None, **kwargs)


class OrderLineInputSerializer(StrictSerializer):
    """One line of an order: a SKU and how many units of it."""

    sku = serializers.CharField(max_length=64)
    quantity = LineQuantityField(help_text="Units to reserve; out of range is invalid_quantity.")


class OrderInput(StrictSerializer):
    """An order to place on a channel; every line is reserved, or none is."""

    channel = serializers.CharField(max_length=32, help_text="Sales channel code.")
    reference = serializers.CharField(
        max_length=100,
        help_text="Your order number, unique per channel: placing it again answers 200 with "
        "the existing order and changes nothing.",
    )
    # many_init is what many=True calls; djangorestframework-stubs' __init__ lacks the
    # list's min_length/max_length that DRF hands on to the ListSerializer.
    lines = OrderLineInputSerializer.many_init(
        max_length=MAX_LINES,
        help_text="One line per SKU. An empty list is refused with invalid_order.",
    )
    shipping = ShippingInput(
        required=False,
        allow_null=True,
        help_text="Where the order goes; channels that pick warehouses by distance use it.",
    )
    hold_minutes = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_HOLD_MINUTES,
        help_text="How long the unpaid order holds its stock; the channel's setting if omitted.",
    )


class ShipInput(StrictSerializer):
    """Which lines to ship; an empty body ships every open line."""

    lines = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_LINES),
        required=False,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text="Line numbers to ship; omit to ship every open line.",
    )


class NoInput(StrictSerializer):
    """pay and cancel take no body; a body with fields is refused, naming them."""


class AllocationOutput(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", help_text="Warehouse code.")

    class Meta:
        model = Allocation
        fields = ["warehouse", "quantity", "status"]


class OrderLineOutput(serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_number")
    sku = serializers.CharField(source="variant.sku")
    allocations = AllocationOutput(
        many=True, help_text="Where the line is held; none for a SKU whose stock is not managed."
    )

    class Meta:
        model = OrderLine
        fields = [
            "line",
            "sku",
            "quantity",
            "backordered_quantity",
            "short_quantity",
            "status",
            "allocations",
        ]
        extra_kwargs = {
            "short_quantity": {
                "help_text": "Units the store sold that the hub could not hold (a short order: "
                "an incident). They count against what the channel may sell while the line is "
                "open; fill-shortfall holds them once stock is there, cancel-short-units drops "
                "them."
            }
        }


class ShippingOutput(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()


class OrderOutput(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code", help_text="Sales channel code.")
    shipping = serializers.SerializerMethodField()
    is_short = serializers.SerializerMethodField(
        help_text="An open line has a shortfall: an incident to resolve (restock or transfer, "
        "then fill-shortfall; cancel-short-units; or cancel)."
    )
    lines = OrderLineOutput(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "reference",
            "status",
            "shipping",
            "expires_at",
            "placed_at",
            "paid_at",
            "shipped_at",
            "closed_at",
            "is_short",
            "lines",
        ]
        extra_kwargs = {
            "expires_at": {"help_text": "When an unpaid hold runs out; null once paid or closed."}
        }

    def get_is_short(self, order: Order) -> bool:
        if order.status not in OPEN_ORDER_STATUSES:
            return False
        return any(
            line.short_quantity and line.status == OrderLine.Status.OPEN
            for line in order.lines.all()
        )

    @extend_schema_field(ShippingOutput(allow_null=True))
    def get_shipping(self, order: Order) -> dict | None:
        # Both or neither, as order_request checks them.
        if order.shipping_latitude is None or order.shipping_longitude is None:
            return None
        return {
            "latitude": float(order.shipping_latitude),
            "longitude": float(order.shipping_longitude),
        }
