"""Store orders: placed, paid, shipped or released through `stock.services.orders`.

Reference = the store's order id, channel = the connector's channel: every step is
idempotent by reference, so a replay changes nothing. An order the hub cannot hold whole
is recorded short (sold, not held), never refused. What the store took or gave back on its
own before the hub heard of the order is counted by `connectors.engine.accounting`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from connectors.base import InboundEvent, InboundKind, OrderState, RemoteOrder
from connectors.engine.accounting import count_store_order, forget_store_order, lock_order_mappings
from connectors.engine.problems import record_problem
from connectors.inbound.rules.common import InboundRefused, Outcome
from connectors.models import Connector, SyncProblemKind
from stock.actors import Actor
from stock.models import Order, OrderStatus, Variant

# Called through the module, so a test can stand in for one service (a database gone away).
from stock.services import orders as order_services

logger = logging.getLogger(__name__)


def apply_orders(connector: Connector, parsed: InboundEvent, outcome: Outcome) -> None:
    """A delivery's (or a poll's) orders and trashed order references, each moved to the
    store's state. Must run inside a transaction."""
    channel = connector.channel
    if channel is None:
        raise InboundRefused(
            f"Connector {connector.name} has no sales channel: its orders cannot be placed."
        )
    actor = Actor.connector(connector.name)
    for remote in parsed.orders:
        # The store took (or gave back) these units on its own before the hub heard of
        # the order: counted as already done there, so no push rewrites them.
        mappings = lock_order_mappings(connector, remote)
        status_before = _order_status(channel, remote.reference) if mappings else None
        _apply_order(connector, channel, remote, actor, outcome)
        if mappings:
            count_store_order(
                connector=connector,
                remote=remote,
                order=Order.objects.filter(channel=channel, reference=remote.reference).first(),
                status_before=status_before,
                mappings=mappings,
            )
        outcome.orders += 1
    for reference in parsed.deleted_order_references:
        order = Order.objects.filter(channel=channel, reference=reference).first()
        if order is not None and order.status in CANCELLABLE:
            order_services.cancel_order(order=order, actor=actor)
            outcome.orders += 1
        # A trashed order keeps what the store took; the hub's release is pushed as such.
        forget_store_order(connector, reference)


def _order_status(channel, reference: str) -> str | None:
    return (
        Order.objects.filter(channel=channel, reference=reference)
        .values_list("status", flat=True)
        .first()
    )


def apply_remote_orders(
    *, connector: Connector, orders: Sequence[RemoteOrder], outcome: Outcome | None = None
) -> Outcome:
    """Apply orders a store reported outside a delivery (a poll) exactly as a delivery's:
    the same steps, idempotent by order reference. Must run inside a transaction."""
    outcome = outcome if outcome is not None else Outcome()
    apply_orders(connector, InboundEvent(kind=InboundKind.ORDERS, orders=tuple(orders)), outcome)
    return outcome


CANCELLABLE = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)


def record_order_refused(*, connector: Connector, reference: str, error: Exception) -> None:
    """A store order read outside a delivery (a poll) that the hub refused for good: a
    problem for ops instead of a retry that could only fail the same way."""
    message = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("Connector %s: order %s refused: %s", connector.pk, reference, message)
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.OTHER,
        message=f"Order {reference} from {connector.name} was refused and is not retried: "
        f"{message}",
        details={"order": reference, "refused": True},
        # Polls re-read a window before their cursor: one open problem per refused order.
        subject=f"order:{reference}",
    )


def _apply_order(
    connector: Connector, channel, remote: RemoteOrder, actor: Actor, outcome: Outcome
) -> None:
    """Move the hub's order to the store's state; every step is idempotent by reference."""
    order = Order.objects.filter(channel=channel, reference=remote.reference).first()
    if remote.state == OrderState.RELEASED:
        if order is not None and order.status in CANCELLABLE:
            order_services.cancel_order(order=order, actor=actor)
        return
    if order is None:
        known = set(
            Variant.objects.filter(sku__in=[line.sku for line in remote.lines]).values_list(
                "sku", flat=True
            )
        )
        unknown = sorted({line.sku for line in remote.lines} - known)
        if unknown:
            outcome.unmapped.extend(unknown)
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.UNMAPPED,
                message=f"Order {remote.reference} has SKUs the hub does not know: "
                f"{', '.join(unknown[:20])}",
                details={"order": remote.reference, "unknown": unknown[:500]},
            )
        lines = [
            order_services.OrderLineInput(sku=line.sku, quantity=line.quantity)
            for line in remote.lines
            if line.sku in known
        ]
        if not lines:
            outcome.notes.append(f"order {remote.reference}: no SKU the hub knows")
            return
        # The store has sold it already: what cannot be held is recorded as a shortfall,
        # which stops the channel offering those units again, never refused.
        placed = order_services.place_order(
            channel=channel,
            reference=remote.reference,
            lines=lines,
            actor=actor,
            shipping_latitude=remote.latitude,
            shipping_longitude=remote.longitude,
            accept_shortfall=True,
        )
        order = placed.order
        short = [
            f"{line.variant.sku} {line.short_quantity}" for line in placed.lines if line.is_short
        ]
        if placed.created and short:
            outcome.notes.append(
                f"order {remote.reference} is short (sold, not held): {', '.join(short)}"
            )
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        # Not retried: the hub's hold is gone and the order's reference is taken.
        outcome.notes.append(
            f"order {remote.reference} is {order.status} in the hub but {remote.state} in the store"
        )
        return
    if remote.state == OrderState.PAID and order.status == OrderStatus.PLACED:
        order_services.pay_order(order=order, actor=actor)
    elif remote.state == OrderState.SHIPPED and order.status != OrderStatus.SHIPPED:
        order_services.ship_order(order=order, actor=actor)
