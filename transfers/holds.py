"""The units approved or picked transfers hold at their source, for the salable breakdown
(`stock.selectors.registered`, registered in `TransfersConfig.ready()`)."""

from collections.abc import Collection

from django.db.models import Sum

from transfers.models import TransferLine, TransferState

# A transfer holds its lines' units at the source from approval until it ships or is
# cancelled (docs/adr/0010-transfers-stock-model.md).
HOLDING_STATES = (TransferState.APPROVED, TransferState.PICKED)

LevelKey = tuple[int, int]


def held_for_transfers(keys: Collection[LevelKey]) -> dict[LevelKey, int]:
    """Units held per (variant_id, warehouse_id) of `keys` by open transfers (one query)."""
    wanted = set(keys)
    rows = (
        TransferLine.objects.filter(
            transfer__state__in=HOLDING_STATES,
            variant_id__in={variant_id for variant_id, _ in wanted},
            transfer__source_id__in={warehouse_id for _, warehouse_id in wanted},
        )
        .values("variant_id", "transfer__source_id")
        .annotate(quantity=Sum("quantity"))
        .order_by()
    )
    held = {(row["variant_id"], row["transfer__source_id"]): row["quantity"] for row in rows}
    return {key: quantity for key, quantity in held.items() if key in wanted}
