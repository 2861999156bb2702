"""What every order path shares: the new order row, the placed order, the stock changes.

An order's stock changes go through the ledger (`apply_locked`) under the level locks its
path took, with the order source; a refusal surfaces as the change's own error.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inventory_hub.db import new_instance
from stock.actors import Actor
from stock.models import MovementSource, Order, OrderLine, StockLevel

from ..ledger import BatchRejected, LevelChange, apply_locked
from .inputs import OrderRequest

# What an order reads of each variant, in this order, on either path.
VARIANT_FIELDS = ("id", "sku", "manage_stock", "backorders", "is_active")


@dataclass(slots=True)
class PlacedOrder:
    order: Order
    created: bool
    lines: list[OrderLine] = field(default_factory=list)


def new_order(request: OrderRequest, now: datetime) -> Order:
    """The order row either path writes, not saved yet."""
    return new_instance(
        Order,
        {
            "channel_id": request.channel.pk,
            "reference": request.reference,
            "shipping_latitude": request.latitude,
            "shipping_longitude": request.longitude,
            "placed_at": now,
            "expires_at": now + timedelta(minutes=request.hold_minutes),
            "actor_label": request.actor.label,
        },
        {"channel": request.channel},
    )


def apply_order_changes(
    changes: Sequence[LevelChange],
    levels: dict[tuple[int, int], StockLevel],
    *,
    actor: Actor,
    occurred_at: datetime | None = None,
    has_new_references: bool = False,
) -> None:
    """Apply an order's changes to levels it has locked; raises the first change's error."""
    try:
        apply_locked(
            changes,
            levels,
            actor=actor,
            source=MovementSource.ORDER,
            occurred_at=occurred_at,
            has_new_references=has_new_references,
        )
    except BatchRejected as rejected:
        raise rejected.errors[0][1] from None
