"""An order after placing: pay, ship, cancel, and settle a short order.

Lock order everywhere: the order row first, then stock levels in primary-key order.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from stock.actors import Actor
from stock.errors import HoldExpired, InvalidOrderState
from stock.events import publish_order_changed, shortfall_changed_in_transaction
from stock.models import (
    Allocation,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    ReasonCode,
    StockLevel,
)
from warehouses.models import ChannelWarehouse, Warehouse

from ..ledger import LevelChange, lock_levels
from ..ledger.rows import FILL_REFERENCE, RELEASE_REFERENCE, SHIP_REFERENCE
from ..sourcing import Candidate, LinePlan, LineRequest, plan_allocations
from .expiry import release_expired_on_levels
from .inputs import require_line_numbers
from .records import apply_order_changes


def pay_order(*, order: Order, actor: Actor) -> Order:
    """Make the hold firm: no expiry any more. Paying again changes nothing.

    Locks the order row. Refuses (HoldExpired) an order whose hold has run out, even if
    the expiry task has not released it yet; refuses a cancelled order.
    """
    with transaction.atomic():
        order = _lock_order(order)
        if order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED):
            return order
        _refuse_closed(order)
        now = timezone.now()
        _refuse_expired(order, now)
        order.status = OrderStatus.PAID
        order.paid_at = now
        order.expires_at = None
        order.save(update_fields=["status", "paid_at", "expires_at"])
        Allocation.objects.filter(line__order=order, status=Allocation.Status.HELD).update(
            expires_at=None
        )
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


def ship_order(*, order: Order, actor: Actor, line_numbers: Sequence[int] | None = None) -> Order:
    """Ship all open lines, or only `line_numbers`: on hand and reserved go down together.

    Locks the order row, then the levels. Lines already shipped are skipped, so shipping
    twice changes nothing. An unpaid order becomes paid by shipping, unless its hold expired.
    """
    with transaction.atomic():
        order = _lock_order(order)
        _refuse_closed(order)
        now = timezone.now()
        if order.status == OrderStatus.PLACED:
            _refuse_expired(order, now)
        lines = {line.line_number: line for line in order.lines.select_related("variant")}
        wanted = list(lines) if line_numbers is None else require_line_numbers(line_numbers, lines)
        to_ship = [lines[n] for n in wanted if lines[n].status == OrderLine.Status.OPEN]
        if not to_ship:
            return order
        allocations = list(
            Allocation.objects.filter(line__in=to_ship, status=Allocation.Status.HELD)
            .select_related("warehouse", "line__variant")
            .order_by("pk")
        )
        _move_allocations(allocations, kind=MovementKind.SHIP, order=order, actor=actor, now=now)
        Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(
            status=Allocation.Status.SHIPPED, expires_at=None
        )
        OrderLine.objects.filter(pk__in=[line.pk for line in to_ship]).update(
            status=OrderLine.Status.SHIPPED
        )
        # Shipping firms the order: what stays held for later lines must not expire.
        Allocation.objects.filter(line__order=order, status=Allocation.Status.HELD).update(
            expires_at=None
        )
        still_open = order.lines.filter(status=OrderLine.Status.OPEN).exists()
        order.status = OrderStatus.PARTIALLY_SHIPPED if still_open else OrderStatus.SHIPPED
        order.paid_at = order.paid_at or now
        order.expires_at = None
        if not still_open:
            order.shipped_at = now
        order.save(update_fields=["status", "paid_at", "expires_at", "shipped_at"])
        # A shipped line's shortfall stops counting.
        shortfall_changed_in_transaction(line.variant_id for line in to_ship if line.is_short)
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


def cancel_order(*, order: Order, actor: Actor) -> Order:
    """Release every unshipped unit. Cancelling a cancelled or expired order changes nothing.

    Locks the order row, then the levels. Refuses a fully shipped order.
    """
    with transaction.atomic():
        order = _lock_order(order)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            return order
        if order.status == OrderStatus.SHIPPED:
            raise InvalidOrderState(
                f"Order {order} is already shipped; it cannot be cancelled.",
                {"status": order.status},
            )
        now = timezone.now()
        allocations = list(
            Allocation.objects.filter(line__order=order, status=Allocation.Status.HELD)
            .select_related("warehouse", "line__variant")
            .order_by("pk")
        )
        _move_allocations(allocations, kind=MovementKind.RELEASE, order=order, actor=actor, now=now)
        Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(
            status=Allocation.Status.RELEASED
        )
        short_variants = list(
            order.lines.filter(status=OrderLine.Status.OPEN, short_quantity__gt=0).values_list(
                "variant_id", flat=True
            )
        )
        order.lines.filter(status=OrderLine.Status.OPEN).update(status=OrderLine.Status.RELEASED)
        shortfall_changed_in_transaction(short_variants)
        order.status = OrderStatus.CANCELLED
        order.closed_at = now
        order.expires_at = None
        order.save(update_fields=["status", "closed_at", "expires_at"])
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


def fill_shortfall(*, order: Order, actor: Actor) -> Order:
    """Hold, for each open short line, what the channel's warehouses can cover now (after a
    restock or a transfer), and reduce its shortfall by as much. Filling again when nothing
    more is available changes nothing.

    Locks the order row, then the levels in primary-key order. Holds follow the channel's
    source selection, like `place_order`'s, and expire with the order. Refuses a cancelled
    or expired order, and an unpaid one whose hold ran out.
    """
    with transaction.atomic():
        order = _lock_order(order)
        _refuse_closed(order)
        now = timezone.now()
        if order.status == OrderStatus.PLACED:
            _refuse_expired(order, now)
        short_lines = {
            line.line_number: line
            for line in order.lines.filter(
                status=OrderLine.Status.OPEN, short_quantity__gt=0
            ).select_related("variant")
        }
        if not short_lines:
            return order
        links = list(
            ChannelWarehouse.objects.filter(channel_id=order.channel_id, warehouse__is_active=True)
            .select_related("warehouse")
            .order_by("priority", "warehouse__code")
        )
        warehouses = {link.warehouse_id: link.warehouse for link in links}
        levels = lock_levels(
            {(line.variant_id, wid) for line in short_lines.values() for wid in warehouses},
            create_missing=False,
        )
        # Holds past their expiry count as available, as for a new order.
        release_expired_on_levels(levels, now=now)
        plans = _plan_fill(order, short_lines, links, levels)
        changes, filled = _hold_fills(order, plans, short_lines, levels, warehouses)
        if not changes:
            return order
        apply_order_changes(changes, levels, actor=actor, occurred_at=now)
        shortfall_changed_in_transaction(filled)
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


def _plan_fill(
    order: Order,
    short_lines: dict[int, OrderLine],
    links: list[ChannelWarehouse],
    levels: dict[tuple[int, int], StockLevel],
) -> list[LinePlan]:
    """Each short line's shortfall planned as a line of its own, backorders not allowed."""
    shipping = (
        (float(order.shipping_latitude), float(order.shipping_longitude))
        # Both or neither: orders are written from a checked `OrderRequest`.
        if order.shipping_latitude is not None and order.shipping_longitude is not None
        else None
    )
    return plan_allocations(
        strategy=order.channel.source_selection,
        candidates=[
            Candidate(
                warehouse_id=link.warehouse_id,
                warehouse_code=link.warehouse.code,
                priority=link.priority,
                latitude=link.warehouse.latitude,
                longitude=link.warehouse.longitude,
            )
            for link in links
        ],
        lines=[
            LineRequest(
                line_number=line.line_number,
                variant_id=line.variant_id,
                quantity=line.short_quantity,
                allows_backorders=False,
            )
            for line in short_lines.values()
        ],
        available={key: max(level.available, 0) for key, level in levels.items()},
        shipping=shipping,
    )


def _hold_fills(
    order: Order,
    plans: list[LinePlan],
    short_lines: dict[int, OrderLine],
    levels: dict[tuple[int, int], StockLevel],
    warehouses: dict[int, Warehouse],
) -> tuple[list[LevelChange], list[int]]:
    """Write the fills' holds and the lines' new shortfalls; returns the ledger changes to
    apply and the variants whose shortfall shrank."""
    held = {
        (allocation.line_id, allocation.level_id): allocation
        for allocation in Allocation.objects.filter(
            line__in=list(short_lines.values()), status=Allocation.Status.HELD
        )
    }
    changes, filled = [], []
    for plan in plans:
        line = short_lines[plan.line_number]
        for warehouse_id, quantity in plan.allocations:
            level = levels[(line.variant_id, warehouse_id)]
            allocation = held.get((line.pk, level.pk))
            if allocation is None:
                Allocation.objects.create(
                    line=line,
                    level=level,
                    warehouse_id=warehouse_id,
                    quantity=quantity,
                    expires_at=order.expires_at,
                )
            else:
                # One allocation per line and level: its release frees the whole hold.
                Allocation.objects.filter(pk=allocation.pk).update(
                    quantity=F("quantity") + quantity
                )
            changes.append(
                LevelChange(
                    variant=line.variant,
                    warehouse=warehouses[warehouse_id],
                    kind=MovementKind.RESERVE,
                    reason=ReasonCode.ORDER,
                    note="shortfall filled",
                    delta_reserved=quantity,
                    document=order.document,
                    reference=FILL_REFERENCE(
                        order=order.pk,
                        line=line.line_number,
                        warehouse=warehouse_id,
                        short=line.short_quantity,
                    ),
                )
            )
        if plan.short_by != line.short_quantity:
            OrderLine.objects.filter(pk=line.pk).update(short_quantity=plan.short_by)
            filled.append(line.variant_id)
    return changes, filled


def cancel_short_units(*, order: Order, actor: Actor) -> Order:
    """The store refunds what the hub could not hold: each open short line keeps only its
    held units (a line with none is released), and its shortfall stops counting. An order
    left with no open line is cancelled, or shipped when some of it was. Cancelling short
    units again changes nothing.

    Locks the order row; no stock moves. Refuses a cancelled or expired order.
    """
    with transaction.atomic():
        order = _lock_order(order)
        _refuse_closed(order)
        short_lines = list(order.lines.filter(status=OrderLine.Status.OPEN, short_quantity__gt=0))
        if not short_lines:
            return order
        for line in short_lines:
            if line.short_quantity >= line.quantity:
                line.status = OrderLine.Status.RELEASED
            else:
                line.quantity -= line.short_quantity
                line.short_quantity = 0
            line.save(update_fields=["quantity", "short_quantity", "status"])
        if not order.lines.filter(status=OrderLine.Status.OPEN).exists():
            now = timezone.now()
            if order.lines.filter(status=OrderLine.Status.SHIPPED).exists():
                order.status = OrderStatus.SHIPPED
                order.shipped_at = now
            else:
                order.status = OrderStatus.CANCELLED
                order.closed_at = now
            order.expires_at = None
            order.save(update_fields=["status", "shipped_at", "closed_at", "expires_at"])
        shortfall_changed_in_transaction(line.variant_id for line in short_lines)
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


def _move_allocations(
    allocations: list[Allocation], *, kind: str, order: Order, actor: Actor, now: datetime
) -> None:
    if not allocations:
        return
    reference = SHIP_REFERENCE if kind == MovementKind.SHIP else RELEASE_REFERENCE
    changes = [
        LevelChange(
            variant=allocation.line.variant,
            warehouse=allocation.warehouse,
            kind=kind,
            reason=ReasonCode.ORDER,
            delta_on_hand=-allocation.quantity if kind == MovementKind.SHIP else 0,
            delta_reserved=-allocation.quantity,
            document=order.document,
            reference=reference(order=order.pk, allocation=allocation.pk),
        )
        for allocation in allocations
    ]
    levels = lock_levels(
        {(change.variant.pk, change.warehouse.pk) for change in changes},
        create_missing=False,
    )
    apply_order_changes(changes, levels, actor=actor, occurred_at=now)


def _lock_order(order: Order) -> Order:
    return Order.objects.select_for_update().select_related("channel").get(pk=order.pk)


def _refuse_closed(order: Order) -> None:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        raise InvalidOrderState(f"Order {order} is {order.status}.", {"status": order.status})


def _refuse_expired(order: Order, now: datetime) -> None:
    if order.expires_at is not None and order.expires_at <= now:
        raise HoldExpired(
            f"The hold on order {order} expired at {order.expires_at.isoformat()}.",
            {"expired_at": order.expires_at.isoformat()},
        )
