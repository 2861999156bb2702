"""Every reaction to a stock change, in one place (the one arrow back in STYLE.md).

Services call `publish_stock_changed` through `transaction.on_commit`, so nothing here
sees an uncommitted change. Live pages treat a push as a hint and re-read through
selectors; the level's `version` lets them drop a push older than what they show.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

FEED_GROUP = "stock-feed"
# Above this many levels in one commit, variant groups get no individual push: the
# warehouse groups and the feed receive one batched message instead.
MAX_VARIANT_PUSHES = 100


@dataclass(frozen=True, slots=True)
class StockChanged:
    level_id: int
    variant_id: int
    warehouse_id: int
    version: int


def warehouse_group(warehouse_id: int) -> str:
    return f"warehouse-{warehouse_id}"


def variant_group(variant_id: int) -> str:
    return f"variant-{variant_id}"


def stock_changed_in_transaction(variant_ids: Iterable[int]) -> None:
    """Reactions that must commit or roll back with the change itself.

    Called by the engine inside the writing transaction, after the ledger rows: a change
    that must reach a store becomes a connector outbox row here, so a crash between the
    commit and the push loses nothing (ROADMAP: "every outbound change is an outbox row
    written with the ledger row"). Costs at most one statement on the hot path.
    """
    from connectors.outbox import enqueue_stock_pushes

    enqueue_stock_pushes(variant_ids)


def publish_stock_changed(changes: Sequence[StockChanged]) -> None:
    """Reactions to committed level changes. Never raises: the change is already committed.

    1. Storefront availability of the changed variants is dropped from the cache.
    2. Live pages get stock.changed in the warehouse, variant and feed groups.
    """
    _invalidate_availability({change.variant_id for change in changes})
    try:
        _send_to_groups(changes)
    except Exception:
        logger.exception("Could not publish stock.changed for %d levels", len(changes))


def _invalidate_availability(variant_ids: set[int]) -> None:
    from stock.availability import invalidate_availability

    try:
        invalidate_availability(variant_ids)
    except Exception:
        # The cache entry then lives out its few-second TTL.
        logger.exception("Could not invalidate availability for %d variants", len(variant_ids))


def _send_to_groups(changes: Sequence[StockChanged]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(_send_all)
    send(layer, changes)


async def _send_all(layer, changes: Sequence[StockChanged]) -> None:
    # Plain dicts: dataclasses.asdict deep-copies, which a 10,000-level batch notices.
    payload = [
        {
            "level_id": change.level_id,
            "variant_id": change.variant_id,
            "warehouse_id": change.warehouse_id,
            "version": change.version,
        }
        for change in changes
    ]
    by_warehouse: dict[int, list[dict]] = {}
    for item in payload:
        by_warehouse.setdefault(item["warehouse_id"], []).append(item)
    for warehouse_id, items in by_warehouse.items():
        await layer.group_send(
            warehouse_group(warehouse_id), {"type": "stock.changed", "levels": items}
        )
    await layer.group_send(FEED_GROUP, {"type": "stock.changed", "levels": payload})
    if len(payload) <= MAX_VARIANT_PUSHES:
        by_variant: dict[int, list[dict]] = {}
        for item in payload:
            by_variant.setdefault(item["variant_id"], []).append(item)
        for variant_id, items in by_variant.items():
            await layer.group_send(
                variant_group(variant_id), {"type": "stock.changed", "levels": items}
            )


def publish_status_forced(variant_id: int) -> None:
    """A forced status was set or cleared: the variant's pages and the feed re-read it."""
    _invalidate_availability({variant_id})
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "status.forced", "variant_id": variant_id}
        async_to_sync(layer.group_send)(variant_group(variant_id), message)
        async_to_sync(layer.group_send)(FEED_GROUP, message)
    except Exception:
        logger.exception("Could not publish status.forced for variant %s", variant_id)


ORDERS_GROUP = "orders"


def publish_order_changed(order_id: int | None, channel_id: int | None) -> None:
    """An order changed state (None: many orders, as after an expiry batch)."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "order.changed", "order_id": order_id, "channel_id": channel_id}
        async_to_sync(layer.group_send)(ORDERS_GROUP, message)
    except Exception:
        logger.exception("Could not publish order.changed for order %s", order_id)
