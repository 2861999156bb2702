"""The bulk stock request and answer, as the OpenAPI schema shows them.

For the schema only: a request of 10,000 rows is checked by `stock.api.bulk`, which a DRF
serializer per row would make twenty times slower; a test keeps the two in step.
"""

from rest_framework import serializers

from inventory_hub.api.serializers import StrictIntegerField, StrictSerializer
from stock.api import bulk
from stock.models import ReasonCode


class BulkRowInput(StrictSerializer):
    """One row: a SKU at a warehouse, with either `counted` or `delta`. No other fields."""

    sku = serializers.CharField(max_length=bulk.SKU_MAX_LENGTH)
    warehouse = serializers.CharField(
        max_length=bulk.WAREHOUSE_MAX_LENGTH, help_text="Warehouse code."
    )
    counted = StrictIntegerField(
        required=False, min_value=0, help_text="The absolute on-hand figure counted."
    )
    delta = StrictIntegerField(
        required=False,
        help_text="Or: change on hand by this much (not 0). Without a reference (of the row "
        "or the batch) a delta is not safe to send twice; a count is.",
    )
    reason = serializers.ChoiceField(
        choices=ReasonCode.choices,
        required=False,
        help_text="Default: stocktake for a count, correction for a delta.",
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=bulk.NOTE_MAX_LENGTH, default=""
    )
    reference = serializers.CharField(
        required=False,
        max_length=bulk.ROW_REFERENCE_MAX_LENGTH,
        help_text="Your reference for this row; the same reference again is reported as "
        "replayed and not applied.",
    )
    expected_on_hand = StrictIntegerField(
        required=False,
        min_value=0,
        help_text="Refuse the whole batch (409) unless this row's on hand is exactly this.",
    )


class BulkStockInput(StrictSerializer):
    """1 to 10,000 rows, each SKU and warehouse at most once. No other fields."""

    # many_init is what many=True calls; djangorestframework-stubs' __init__ lacks the
    # list's min_length/max_length that DRF hands on to the ListSerializer.
    rows = BulkRowInput.many_init(min_length=1, max_length=bulk.MAX_ROWS)
    reference = serializers.CharField(
        required=False,
        max_length=bulk.BATCH_REFERENCE_MAX_LENGTH,
        help_text="Your reference for the batch: rows without their own reference get "
        '"<batch>:<sku>@<warehouse>", so sending the same batch again replays it. Use a new '
        "one for each new batch.",
    )


class BulkRowOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row's position in the request, from 0.")
    sku = serializers.CharField()
    warehouse = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["applied", "unchanged", "replayed"],
        help_text="unchanged: a count equal to the balance; replayed: the reference was seen.",
    )
    delta_on_hand = serializers.IntegerField(
        help_text="The change of on hand (a count's variance)."
    )
    on_hand = serializers.IntegerField(help_text="On hand after the batch.")
    available = serializers.IntegerField(help_text="Available after the batch.")
    movement_id = serializers.IntegerField(
        allow_null=True, help_text="The ledger row written; null when none (or a dry run)."
    )


class BulkSummaryOutput(serializers.Serializer):
    rows = serializers.IntegerField()
    applied = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    replayed = serializers.IntegerField()


class BulkStockOutput(serializers.Serializer):
    """What each row did (or would do, in a dry run), in request order."""

    dry_run = serializers.BooleanField(help_text="True: nothing was written.")
    reference = serializers.CharField(allow_null=True)
    summary = BulkSummaryOutput()
    rows = BulkRowOutput(many=True)
