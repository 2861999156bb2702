"""Transfers and lanes over HTTP: what a client sends, and what it gets back.

Input serializers check shape, JSON types and what names must exist (warehouse codes,
SKUs, each SKU once); the services check the rest (a transfer's state, what is in transit)
with their own error codes. Serializers never change stock.
"""

import re
from collections.abc import Iterable
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory_hub.api.serializers import (
    StrictBooleanField,
    StrictIntegerField,
    StrictSerializer,
    list_item_errors,
)
from stock.models import ReasonCode, Variant
from stock.services.ledger import MAX_QUANTITY
from transfers.access import Action
from transfers.models import (
    Lane,
    RejectedDisposition,
    RejectionReason,
    Transfer,
    TransferEvent,
    TransferLine,
    TransferReceipt,
    TransferReceiptLine,
)
from transfers.selectors import is_late
from transfers.services import BACK_TO_SOURCE, LOST
from transfers.services.lanes import MAX_CAPACITY, MAX_COST, MAX_LEAD_TIME_DAYS
from warehouses.models import Warehouse

MAX_LINES = 500
MAX_NOTES = 5000


def warehouse_named(serializer_field: str, code: str) -> Warehouse:
    warehouse = Warehouse.objects.filter(code=code).first()
    if warehouse is None:
        raise serializers.ValidationError(
            {serializer_field: [f"No warehouse has code {code!r}."]}, code="unknown_warehouse"
        )
    return warehouse


def two_ends(data: dict) -> tuple[Warehouse, Warehouse]:
    """The source and destination named by code: both known and not the same one."""
    errors: dict[str, list[str]] = {}
    ends: dict[str, Warehouse] = {}
    for name in ("source", "destination"):
        try:
            ends[name] = warehouse_named(name, data[name])
        except serializers.ValidationError as error:
            errors.update(error.detail)  # type: ignore[arg-type]
    if errors:
        raise serializers.ValidationError(errors)
    if ends["source"].pk == ends["destination"].pk:
        raise serializers.ValidationError(
            {"destination": ["The destination must be another warehouse than the source."]}
        )
    return ends["source"], ends["destination"]


def variants_of_lines(lines: list[dict]) -> list[Variant]:
    """Each line's variant by SKU, in order; an unknown SKU or one listed twice is an error
    keyed by the line's index, the shape DRF gives a list's items."""
    skus = [line["sku"] for line in lines]
    found = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    errors: dict[int, dict] = {}
    seen: set[str] = set()
    for index, sku in enumerate(skus):
        if sku not in found:
            errors[index] = {"sku": [f"No variant has SKU {sku!r}."]}
        elif sku in seen:
            errors[index] = {"sku": [f"SKU {sku!r} is on another line already."]}
        seen.add(sku)
    if errors:
        raise list_item_errors(errors)
    return [found[sku] for sku in skus]


# --- Lanes -----------------------------------------------------------------------------------


class LaneOutput(serializers.ModelSerializer):
    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        source="source.code", help_text="Warehouse code."
    )
    destination = serializers.CharField(source="destination.code", help_text="Warehouse code.")

    class Meta:
        model = Lane
        fields = [
            "id",
            "source",
            "destination",
            "lead_time_days",
            "cost_per_unit",
            "cost_per_shipment",
            "minimum_quantity",
            "capacity_units",
            "is_active",
        ]


COST_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


@extend_schema_field({"type": "string", "pattern": COST_PATTERN, "example": "1.25"})
class CostField(serializers.DecimalField):
    """An amount of 0 or more as JSON text ("1.25"): a JSON number would pass through a
    float, and the schema can bound only text."""

    default_error_messages = {"type": 'Must be a JSON string such as "1.25".'}

    def __init__(self, **kwargs):
        super().__init__(
            max_digits=12, decimal_places=2, min_value=Decimal(0), max_value=MAX_COST, **kwargs
        )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("type")
        if not re.fullmatch(COST_PATTERN, data):
            self.fail("invalid")
        return super().to_internal_value(data)


def _cost_field() -> CostField:
    return CostField(required=False, help_text="At most 2 decimals.")


class LaneChangeInput(StrictSerializer):
    """What a lane's PATCH may change; its route never changes (make another lane)."""

    lead_time_days = StrictIntegerField(
        required=False, min_value=0, max_value=MAX_LEAD_TIME_DAYS, help_text="Days on the road."
    )
    cost_per_unit = _cost_field()
    cost_per_shipment = _cost_field()
    minimum_quantity = StrictIntegerField(required=False, min_value=0)
    capacity_units = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_CAPACITY,
        help_text="Most units one shipment carries, all SKUs together; null: no limit. "
        "Suggestions respect it; transfers made by hand are not refused by it.",
    )
    is_active = StrictBooleanField(
        required=False, help_text="false retires the lane; it is never deleted."
    )


class LaneInput(LaneChangeInput):
    """A new lane: its route, lead time and, optionally, costs and minimum."""

    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=32, help_text="Warehouse code."
    )
    destination = serializers.CharField(max_length=32, help_text="Warehouse code.")
    lead_time_days = StrictIntegerField(
        min_value=0, max_value=MAX_LEAD_TIME_DAYS, help_text="Days on the road."
    )

    def validate(self, data: dict) -> dict:
        data["source"], data["destination"] = two_ends(data)
        return data


# --- Transfer input --------------------------------------------------------------------------


class TransferLineInputSerializer(StrictSerializer):
    """One line of a transfer: a SKU and how many units of it."""

    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class TransferInput(StrictSerializer):
    """A draft transfer; nothing is held until it is approved."""

    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=32, help_text="Warehouse code the units leave."
    )
    destination = serializers.CharField(max_length=32, help_text="Warehouse code they go to.")
    reference = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Your number for it, unique: sending it again answers 200 with the existing "
        "transfer and changes nothing. Omitted: the hub numbers it TR-<yyyymmdd>-<n> (send an "
        "Idempotency-Key to make a retry safe).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NOTES)
    allow_below_minimum = StrictBooleanField(
        required=False,
        default=False,
        help_text="Ops staff only: create it although its units are below the lane's "
        "minimum quantity (the timeline records it). Otherwise that is refused (400).",
    )
    # many_init is what many=True calls; djangorestframework-stubs' __init__ lacks the
    # list's min_length/max_length that DRF hands on to the ListSerializer.
    lines = TransferLineInputSerializer.many_init(
        allow_empty=False, max_length=MAX_LINES, help_text="One line per SKU."
    )

    def validate(self, data: dict) -> dict:
        data["source"], data["destination"] = two_ends(data)
        variants = _nested("lines", variants_of_lines, data["lines"])
        data["lines"] = [
            (variant, line["quantity"])
            for variant, line in zip(variants, data["lines"], strict=True)
        ]
        return data


class TransferEditInput(StrictSerializer):
    """A draft's changes: what is given replaces what it had; what is left out stays."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NOTES)
    lines = TransferLineInputSerializer.many_init(
        required=False,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text="Every line of the draft, one per SKU (they replace the lines it had).",
    )

    def validate(self, data: dict) -> dict:
        if "lines" in data:
            variants = _nested("lines", variants_of_lines, data["lines"])
            data["lines"] = [
                (variant, line["quantity"])
                for variant, line in zip(variants, data["lines"], strict=True)
            ]
        return data


def _nested(name: str, check, items: list[dict]):
    try:
        return check(items)
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


class ReceiptLineInputSerializer(StrictSerializer):
    """What arrived of one SKU: units accepted, and units rejected with why and where to."""

    sku = serializers.CharField(max_length=64)
    accepted = StrictIntegerField(
        required=False, default=0, min_value=0, max_value=MAX_QUANTITY, help_text="Put on hand."
    )
    rejected = StrictIntegerField(
        required=False, default=0, min_value=0, max_value=MAX_QUANTITY, help_text="Refused."
    )
    rejection_reason = serializers.ChoiceField(
        choices=RejectionReason.choices,
        required=False,
        help_text="Required when units are rejected.",
    )
    rejected_disposition = serializers.ChoiceField(
        choices=RejectedDisposition.choices,
        required=False,
        default=RejectedDisposition.UNSELLABLE,
        help_text="Rejected units kept as unsellable (the default) or written off.",
    )

    def validate(self, data: dict) -> dict:
        if data["accepted"] + data["rejected"] == 0:
            raise serializers.ValidationError(
                {"accepted": ["A receipt line receives at least one unit."]}
            )
        if data["rejected"] and not data.get("rejection_reason"):
            raise serializers.ValidationError({"rejection_reason": ["Say why units are rejected."]})
        return data


class ReceiptInput(StrictSerializer):
    """One receipt at the destination; a transfer may have several."""

    receipt_reference = serializers.CharField(
        max_length=100,
        help_text="Your delivery note or receipt number: sending it again is the same receipt.",
    )
    over_receipt = StrictBooleanField(
        required=False,
        default=False,
        help_text="true: more units than are in transit arrived, and that is accepted.",
    )
    lines = ReceiptLineInputSerializer.many_init(allow_empty=False, max_length=MAX_LINES)

    def validate(self, data: dict) -> dict:
        variants = _nested("lines", variants_of_lines, data["lines"])
        data["lines"] = [
            {**line, "variant": variant}
            for variant, line in zip(variants, data["lines"], strict=True)
        ]
        return data


class CloseShortInput(StrictSerializer):
    """Closing short: why what is still in transit is written off."""

    reason = serializers.ChoiceField(
        choices=ReasonCode.choices,
        required=False,
        default=ReasonCode.LOST,
        help_text="The ledger's reason for writing off what is still in transit.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NOTES)


class CancelInput(StrictSerializer):
    """Cancelling: where the units on the road are, once shipped."""

    disposition = serializers.ChoiceField(
        choices=[(BACK_TO_SOURCE, "Back to the source"), (LOST, "Lost")],
        required=False,
        help_text="Required once shipped: where the units still on the road are "
        "(inbound at the source again, or written off). Ignored before shipping.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NOTES)


class NoInput(StrictSerializer):
    """approve, pick and ship take no body; a body with fields is refused, naming them."""


# --- Transfer output -------------------------------------------------------------------------


class TransferLineOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    in_transit = serializers.IntegerField(help_text="Shipped units still on the road.")

    class Meta:
        model = TransferLine
        fields = [
            "sku",
            "quantity",
            "shipped",
            "accepted",
            "rejected",
            "lost",
            "returned",
            "over_received",
            "in_transit",
        ]


class ReceiptLineOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="line.variant.sku")

    class Meta:
        model = TransferReceiptLine
        fields = ["sku", "accepted", "rejected", "rejection_reason", "rejected_disposition"]


class ReceiptOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")
    lines = ReceiptLineOutput(many=True)

    class Meta:
        model = TransferReceipt
        fields = ["reference", "is_over_receipt", "actor", "received_at", "lines"]


class EventOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = TransferEvent
        fields = ["kind", "actor", "at", "details"]


class TransferSummaryOutput(serializers.ModelSerializer):
    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        source="source.code", help_text="Warehouse code."
    )
    destination = serializers.CharField(source="destination.code", help_text="Warehouse code.")
    lane = serializers.IntegerField(source="lane_id", allow_null=True, help_text="Lane id.")
    requested_by = serializers.CharField(source="requested_by_label")
    is_late = serializers.SerializerMethodField(
        help_text="On the road past due_at (shipped + the lane's lead time)."
    )
    lines = TransferLineOutput(many=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "reference",
            "source_system",
            "source",
            "destination",
            "lane",
            "state",
            "requested_by",
            "reason",
            "notes",
            "expected_arrival",
            "due_at",
            "is_late",
            "created_at",
            "updated_at",
            "approved_at",
            "shipped_at",
            "closed_at",
            "lines",
        ]

    def get_is_late(self, transfer: Transfer) -> bool:
        return is_late(transfer)


ACTIONS_IN_ORDER = [action.value for action in Action]


class TransferOutput(TransferSummaryOutput):
    receipts = ReceiptOutput(many=True)
    events = EventOutput(many=True, help_text="The timeline, oldest first.")
    allowed_actions = serializers.SerializerMethodField(
        help_text="What the requesting user may do next: each is POST …/<action>/ "
        "(close_short is close-short, receive_return is receive-return)."
    )

    class Meta(TransferSummaryOutput.Meta):
        fields = [*TransferSummaryOutput.Meta.fields, "receipts", "events", "allowed_actions"]

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=ACTIONS_IN_ORDER))
    )
    def get_allowed_actions(self, transfer: Transfer) -> list[str]:
        allowed: Iterable[str] = self.context.get("allowed_actions", ())
        return [action for action in ACTIONS_IN_ORDER if action in set(allowed)]
