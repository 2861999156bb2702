"""Suggestions and their settings over HTTP: what a client sends, and what it gets back.

Serializers never write: a decision goes through `suggestions.services`.
"""

import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory_hub.api.serializers import StrictIntegerField, StrictSerializer
from suggestions.models import Suggestion, SuggestionSettings

MAX_NOTE = 1000


class ReasonOutput(serializers.Serializer):
    """Why the move was suggested, as numbers (the sentence is `reason_text`)."""

    limited_by = serializers.ChoiceField(
        choices=["donor_minimum", "lane_minimum", "lane_capacity", "forecast"],
        help_text="What limited the quantity.",
    )
    donor_cover_before_days = serializers.FloatField(
        allow_null=True, help_text="The source's days of cover; null: it has no demand."
    )
    donor_cover_after_days = serializers.FloatField(allow_null=True)
    donor_minimum = serializers.IntegerField(help_text="Units the source keeps.")
    receiver_cover_before_days = serializers.FloatField(allow_null=True)
    receiver_cover_after_days = serializers.FloatField(allow_null=True)
    receiver_risk_before = serializers.FloatField(
        help_text="Chance (0 to 1) the destination runs out before the next review's "
        "transfer could arrive."
    )
    receiver_risk_after = serializers.FloatField()
    expected_units_saved = serializers.FloatField()
    value = serializers.FloatField(help_text="Expected units saved times the cost of a lost sale.")
    cost = serializers.FloatField(help_text="The lane's cost of this line.")
    policy = serializers.CharField(help_text="Which policy made it (the optimiser).")


class SuggestionOutput(serializers.ModelSerializer):
    sku = serializers.CharField(source="variant.sku")
    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        source="source.code", help_text="Warehouse code the units would leave."
    )
    destination = serializers.CharField(source="destination.code", help_text="Warehouse code.")
    lane = serializers.IntegerField(source="lane_id", help_text="Lane id.")
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Expected lost sales avoided, in money."
    )
    cost = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="The lane's cost of this line (units and its share of the shipment).",
    )
    reason = ReasonOutput()
    transfer = serializers.CharField(
        source="transfer.reference",
        allow_null=True,
        default=None,
        help_text="The transfer approving it created (its reference).",
    )
    transfer_id = serializers.IntegerField(allow_null=True)
    decided_by = serializers.CharField(source="decided_by_label")

    class Meta:
        model = Suggestion
        fields = [
            "id",
            "state",
            "sku",
            "source",
            "destination",
            "lane",
            "quantity",
            "expected_arrival",
            "value",
            "cost",
            "reason",
            "reason_text",
            "transfer",
            "transfer_id",
            "created_at",
            "decided_at",
            "decided_by",
        ]


class LaneGroupOutput(serializers.Serializer):
    """A lane's open suggestions: what approving the lane would create."""

    lane = serializers.IntegerField(source="lane.pk", help_text="Lane id.")
    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        source="lane.source.code", help_text="Warehouse code."
    )
    destination = serializers.CharField(source="lane.destination.code")
    lead_time_days = serializers.IntegerField(source="lane.lead_time_days")
    capacity_units = serializers.IntegerField(source="lane.capacity_units", allow_null=True)
    units = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    suggestions = SuggestionOutput(many=True)


class DismissInput(StrictSerializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_NOTE,
        help_text="Why (kept with the suggestion).",
    )


# --- Settings --------------------------------------------------------------------------------


def _decimal_text_field(pattern: str, example: str, maximum_digits: int, places: int):
    @extend_schema_field({"type": "string", "pattern": pattern, "example": example})
    class DecimalText(serializers.DecimalField):
        default_error_messages = {"type": f'Must be a JSON string such as "{example}".'}

        def __init__(self, **kwargs):
            super().__init__(max_digits=maximum_digits, decimal_places=places, **kwargs)

        def to_internal_value(self, data):
            if not isinstance(data, str):
                self.fail("type")
            if not re.fullmatch(pattern, data):
                self.fail("invalid")
            return super().to_internal_value(data)

    return DecimalText


MONEY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
DAYS_PATTERN = r"^[0-9]{1,4}(\.[0-9]{1,2})?$"
# 0.5 to 0.9999: a service level below a coin toss is not one.
SERVICE_LEVEL_PATTERN = r"^0\.([5-9][0-9]{0,3})$"

MoneyText = _decimal_text_field(MONEY_PATTERN, "20.00", 12, 2)
DaysText = _decimal_text_field(DAYS_PATTERN, "7.00", 6, 2)
ServiceLevelText = _decimal_text_field(SERVICE_LEVEL_PATTERN, "0.95", 5, 4)


class SettingsOutput(serializers.ModelSerializer):
    class Meta:
        model = SuggestionSettings
        fields = [
            "cost_of_lost_sale",
            "review_days",
            "source_cover_days",
            "service_level",
            "history_days",
            "updated_at",
        ]


class SettingsInput(StrictSerializer):
    """What a PATCH of the settings may change; what is left out stays."""

    cost_of_lost_sale = MoneyText(
        required=False,
        min_value=Decimal(0),
        help_text="What one sale lost to a stockout costs (margin and goodwill), in the "
        "lanes' currency: higher moves more stock to avoid stockouts.",
    )
    review_days = StrictIntegerField(
        required=False, min_value=1, max_value=90, help_text="Days between proactive reviews."
    )
    source_cover_days = DaysText(
        required=False, help_text="A source keeps at least this many days of its demand."
    )
    service_level = ServiceLevelText(
        required=False, help_text="0.5 to 0.9999: chance of not running out within a lead time."
    )
    history_days = StrictIntegerField(
        required=False, min_value=14, max_value=730, help_text="Days of history forecasts read."
    )


# --- Decisions -------------------------------------------------------------------------------


class CreatedTransferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    # A field named `source` shadows Field.source, which djangorestframework-stubs types.
    source = serializers.CharField(  # type: ignore[assignment]
        source="source.code", help_text="Warehouse code."
    )
    destination = serializers.CharField(source="destination.code")
    state = serializers.CharField(help_text="approved: its units are held at the source.")


class LaneRefusalOutput(serializers.Serializer):
    lane = serializers.IntegerField(source="lane_id", help_text="Lane id.")
    route = serializers.CharField(help_text='"SOURCE → DESTINATION"')
    suggestions = serializers.ListField(
        child=serializers.IntegerField(), source="suggestion_ids", help_text="Left open."
    )
    code = serializers.CharField(help_text="The transfer's refusal, e.g. insufficient_stock.")
    message = serializers.CharField()


class ApprovalOutput(serializers.Serializer):
    """What approving made: one approved transfer per lane that went through; the lanes the
    transfers refused, each with nothing of it written."""

    transfers = CreatedTransferOutput(many=True)
    approved = serializers.ListField(
        child=serializers.IntegerField(), source="approved_ids", help_text="Suggestion ids."
    )
    refused = LaneRefusalOutput(many=True, source="refusals")
    skipped = serializers.ListField(
        child=serializers.IntegerField(),
        source="skipped_ids",
        help_text="Asked for but no longer open (decided already): left as they are.",
    )


# --- Forecasts and projections ---------------------------------------------------------------


class ProjectionPointOutput(serializers.Serializer):
    day = serializers.DateField()
    quantity = serializers.FloatField(
        help_text="Sellable units at the close of the day, as forecast (demand is a rate)."
    )
    arriving = serializers.IntegerField(help_text="Units landing that day (transfers, inbound).")


class LevelOutlookOutput(serializers.Serializer):
    """One warehouse's view of the variant: its forecast, stock, cover and projection."""

    warehouse = serializers.CharField(source="warehouse.code", help_text="Warehouse code.")
    demand_class = serializers.CharField(
        source="forecast.demand_class",
        allow_null=True,
        default=None,
        help_text="smooth, erratic, intermittent, lumpy or no_demand; null: not forecast yet.",
    )
    method = serializers.CharField(source="forecast.method", allow_null=True, default=None)
    daily_demand = serializers.FloatField(
        source="forecast.daily_demand", allow_null=True, default=None
    )
    daily_error = serializers.FloatField(
        source="forecast.daily_error",
        allow_null=True,
        default=None,
        help_text="The forecast's one-step-ahead error (RMSE) per day.",
    )
    lead_time_days = serializers.IntegerField(
        source="forecast.lead_time_days", allow_null=True, default=None
    )
    computed_at = serializers.DateTimeField(
        source="forecast.computed_at", allow_null=True, default=None
    )
    safety_stock = serializers.IntegerField(allow_null=True)
    reorder_point = serializers.IntegerField(allow_null=True)
    is_below_reorder_point = serializers.BooleanField()
    available = serializers.IntegerField()
    on_hand = serializers.IntegerField()
    inbound = serializers.IntegerField()
    days_of_cover = serializers.FloatField(
        allow_null=True, help_text="Available divided by the forecast per day; null: no demand."
    )
    runs_out_on = serializers.DateField(
        allow_null=True, help_text="First day projected at or below zero; null: not within."
    )
    projection = ProjectionPointOutput(many=True, source="projection.points")


class VariantOutlookOutput(serializers.Serializer):
    sku = serializers.CharField()
    warehouses = LevelOutlookOutput(many=True)
