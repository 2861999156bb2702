"""`place_order`: check the request, then place it by the planned path or the locked one.

`place_order` locks only levels (its order row is new) and touches other orders' rows
only with SKIP LOCKED, so it never waits on an order lock while holding a level lock.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError

from stock.actors import Actor
from stock.errors import InsufficientStock
from stock.models import Order
from warehouses.models import SalesChannel

from ..backend import write_backend
from .inputs import OrderLineInput, order_request
from .locked import reserve_in_transaction
from .records import PlacedOrder


def place_order(
    *,
    channel: SalesChannel,
    reference: str,
    lines: Sequence[OrderLineInput],
    actor: Actor,
    shipping_latitude: Decimal | float | None = None,
    shipping_longitude: Decimal | float | None = None,
    hold_minutes: int | None = None,
    accept_shortfall: bool = False,
) -> PlacedOrder:
    """Reserve every line from the channel's warehouses, all or nothing.

    Whatever it holds it checks under the levels' locks (taken in primary-key order), so
    concurrent buyers can never both get the last unit.
    Raises InsufficientStock listing each short line, or an input error naming the line,
    with nothing written. The same (channel, reference) again returns the existing order
    (created=False) and changes nothing. Emits stock.changed and order.changed after commit.

    `accept_shortfall` is for an order a store has already sold: instead of refusing, it
    holds what the channel's warehouses can cover and records the rest of each line as
    its `short_quantity` (a line nothing stocks is short whole), in the same transaction,
    through the locked path. The shortfall then counts against what the channel may sell
    (`stock.selectors.channel_salable_many`) until it is filled, cancelled or its order
    closes, and the connectors concerned are queued a push.
    """
    request = order_request(
        channel=channel,
        reference=reference,
        lines=lines,
        actor=actor,
        shipping_latitude=shipping_latitude,
        shipping_longitude=shipping_longitude,
        hold_minutes=hold_minutes,
        accept_shortfall=accept_shortfall,
    )
    try:
        # Held whole by a plan, or None: the locked path answers.
        placed = write_backend().place_planned(request)
        if placed is None:
            placed = reserve_in_transaction(request)
    except IntegrityError as exc:
        if "order_reference_unique_per_channel" not in str(exc):
            raise
        placed = None  # another request placed the same order first: answer with it
    except InsufficientStock:
        # A replay that waited on the original's level locks plans against the stock the
        # original took; the original is what it should answer with.
        placed = _existing_order(channel, request.reference)
        if placed is None:
            raise
    if placed is None:
        placed = _existing_order(channel, request.reference)
        assert placed is not None
    return placed


def _existing_order(channel: SalesChannel, reference: str) -> PlacedOrder | None:
    order = Order.objects.filter(channel=channel, reference=reference).first()
    if order is None:
        return None
    return PlacedOrder(
        order=order, created=False, lines=list(order.lines.select_related("variant"))
    )
