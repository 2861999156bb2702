"""Magento orders read into the hub's shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from connectors.base import OrderState, RemoteOrder, RemoteOrderLine
from connectors.magento.client import parse_magento_time
from connectors.magento.stock_items import COMPOSITE_TYPES, whole_units

logger = logging.getLogger(__name__)

# Magento\Sales\Model\Order::STATE_* (a fixed set; custom *statuses* each belong to one of
# these states, so the state is what the hub reads).
#   new, pending_payment, payment_review, holded: placed, not paid  -> hold
#   processing: invoiced (or shipped before invoicing)                 -> paid
#   complete: invoiced and shipped                                     -> shipped
#   canceled, closed (fully refunded by credit memo)                   -> released
# "processing" also covers an order shipped before it was invoiced: the hub sees it as paid
# until it becomes "complete".
ORDER_STATES: dict[str, OrderState] = {
    "new": OrderState.HOLD,
    "pending_payment": OrderState.HOLD,
    "payment_review": OrderState.HOLD,
    "holded": OrderState.HOLD,
    "processing": OrderState.PAID,
    "complete": OrderState.SHIPPED,
    "canceled": OrderState.RELEASED,
    "closed": OrderState.RELEASED,
}


def order_from_row(row: Mapping[str, Any]) -> RemoteOrder | None:
    """An order row as a RemoteOrder; None (logged) for a state the hub does not map."""
    state = ORDER_STATES.get(str(row.get("state") or ""))
    if state is None:
        logger.warning(
            "Magento order %s has state %r, which the hub does not map; skipped",
            row.get("entity_id"),
            row.get("state"),
        )
        return None
    lines = tuple(
        RemoteOrderLine(sku=line["sku"], quantity=whole_units(line.get("qty_ordered")) or 0)
        for line in row.get("items") or []
        if line.get("product_type") not in COMPOSITE_TYPES
    )
    return RemoteOrder(
        reference=str(row["entity_id"]),
        state=state,
        lines=lines,
        updated_at=parse_magento_time(row.get("updated_at")),
    )
