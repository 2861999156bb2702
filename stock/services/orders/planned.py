"""The planned path of `place_order` (PostgreSQL): plan without locks, then reserve in one
statement (`planned_sql`) that re-checks the plan under the level locks.

See docs/adr/0001 and `planned_sql` for what the statement checks; when the plan no longer
holds, nothing is written and `place_order` takes the locked path (`locked`).
"""

from collections.abc import Sequence
from decimal import Decimal
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from inventory_hub.db import loaded_instance, mark_saved, new_instance
from stock.actors import Actor
from stock.events import (
    StockChanged,
    publish_order_changed,
    publish_stock_changed,
    stock_change_needs_transaction,
)
from stock.models import Order, OrderLine, Variant
from warehouses.models import SalesChannel

from ..ledger import announce_stock_changes
from ..sourcing import Candidate, plan_allocations
from .inputs import OrderLineInput, OrderRequest, are_plain_lines, resolve_lines
from .planned_sql import (
    PlannedLine,
    Warehouses,
    forget_unread_plan,
    read_for_plan,
    remember_unread_plan,
    reserve_planned,
    unread_plan,
)
from .records import VARIANT_FIELDS, PlacedOrder, new_order


def place_planned(request: OrderRequest) -> PlacedOrder | None:
    """The common case in one or two statements (`planned_sql`); None: the locked path.

    Plans from an unlocked read or, once an order so planned was held whole where the
    channel's source selection puts a covered line without looking at the others (see
    `plans_unread`), with no read: at the first warehouse, or by most stock in the
    reserving statement. The statement re-checks the plan under the level locks and
    writes nothing when it no longer holds. Every answer but success (a short line, a
    backorder, an unsellable line, an order placed before) comes from the locked path,
    except the input errors `resolve_lines` finds in the variants read.
    """
    channel, latitude, actor = request.channel, request.latitude, request.actor
    order = new_order(request, timezone.now())
    warehouses = unread_plan(channel.pk)
    unread = plans_unread(channel, latitude, warehouses) if warehouses is not None else None
    # `unread` is only set with `warehouses`; both are tested for the type checker.
    if unread is not None and warehouses is not None and are_plain_lines(request.lines):
        at_first = unread == "first"
        planned = [
            PlannedLine(
                line_number=number,
                sku=line.sku,
                quantity=line.quantity,
                manages_stock=None,
                holds=((warehouses.first, line.quantity),) if at_first else (),
            )
            for number, line in enumerate(request.lines, start=1)
        ]
        placed = _reserve_planned(
            order, planned, {}, warehouses=warehouses if at_first else None, actor=actor
        )
        if placed is not None:
            return placed
        forget_unread_plan(channel.pk)
    plan = _plan_from_read(
        channel=channel, lines=request.lines, latitude=latitude, longitude=request.longitude
    )
    if plan is None:
        return None
    planned, variants, warehouses = plan
    placed = _reserve_planned(order, planned, variants, warehouses=warehouses, actor=actor)
    if placed is not None and _was_planned_as_unread(channel, latitude, warehouses, planned):
        remember_unread_plan(channel.pk, warehouses)
    return placed


def plans_unread(
    channel: SalesChannel, latitude: Decimal | None, warehouses: Warehouses
) -> str | None:
    """How an order may be planned with no read: "first" when `plan_allocations` holds a
    covered line whole at the first warehouse (the channel's only one, or ranked by
    priority first); "most_stock" when it holds it whole where the most is available,
    which the reserving statement finds itself; None when only a read can tell."""
    strategy = channel.source_selection
    if (
        warehouses.count == 1
        or strategy == SalesChannel.SourceSelection.PRIORITY
        or (strategy == SalesChannel.SourceSelection.DISTANCE and latitude is None)
    ):
        return "first"
    if strategy == SalesChannel.SourceSelection.MOST_STOCK:
        return "most_stock"
    return None


def _was_planned_as_unread(
    channel: SalesChannel,
    latitude: Decimal | None,
    warehouses: Warehouses,
    planned: list[PlannedLine],
) -> bool:
    """Whether the plan made from a read is the one `plans_unread` would have made."""
    unread = plans_unread(channel, latitude, warehouses)
    if unread == "first":
        return all(line.holds in ((), ((warehouses.first, line.quantity),)) for line in planned)
    return unread == "most_stock" and all(len(line.holds) <= 1 for line in planned)


def _plan_from_read(
    *,
    channel: SalesChannel,
    lines: Sequence[OrderLineInput],
    latitude: Decimal | None,
    longitude: Decimal | None,
) -> tuple[list[PlannedLine], dict[int, Variant], Warehouses] | None:
    """The planned lines, their variants by line number and the channel's active
    warehouses, from one unlocked read; None when only the locked path can answer."""
    skus = [line.sku for line in lines if isinstance(line.sku, str)]
    known: dict[str, Variant] = {}
    candidates: dict[int, Candidate] = {}
    available: dict[tuple[int, int], int] = {}
    alias = connection.alias
    for row in read_for_plan(channel_id=channel.pk, skus=skus):
        variant_id, sku = row.variant[0], row.variant[1]
        if sku not in known:
            known[sku] = loaded_instance(Variant, alias, VARIANT_FIELDS, row.variant)
        warehouse_id = row.warehouse[0]
        if warehouse_id not in candidates:
            candidates[warehouse_id] = Candidate(
                warehouse_id=warehouse_id,
                warehouse_code=row.warehouse[1],
                priority=row.priority,
                latitude=row.warehouse[2],
                longitude=row.warehouse[3],
            )
        if row.available is not None:
            available[(variant_id, warehouse_id)] = row.available
    if len(known) != len(set(skus)):
        return None  # an unknown SKU, or no active warehouse: the locked path explains
    requests, variants = resolve_lines(lines, known)
    managed = [request for request in requests if variants[request.line_number].manage_stock]
    if any(
        all((request.variant_id, warehouse_id) not in available for warehouse_id in candidates)
        for request in managed
    ):
        return None  # unsellable here, or a pre-order needing a new level
    ranked = sorted(candidates.values(), key=lambda c: (c.priority, c.warehouse_code))
    plans = plan_allocations(
        strategy=channel.source_selection,
        candidates=ranked,
        lines=managed,
        available=available,
        # Both or neither (`require_coordinates`).
        shipping=(
            (float(latitude), float(longitude))
            if latitude is not None and longitude is not None
            else None
        ),
    )
    if any(plan.short_by or plan.backordered for plan in plans):
        return None
    holds = {plan.line_number: tuple(plan.allocations) for plan in plans}
    planned = [
        PlannedLine(
            line_number=request.line_number,
            sku=variants[request.line_number].sku,
            quantity=request.quantity,
            manages_stock=variants[request.line_number].manage_stock,
            holds=holds.get(request.line_number, ()),
        )
        for request in requests
    ]
    return planned, variants, Warehouses(count=len(ranked), first=ranked[0].warehouse_id)


def _reserve_planned(
    order: Order,
    planned: list[PlannedLine],
    variants: dict[int, Variant],
    *,
    warehouses: Warehouses | None,
    actor: Actor,
) -> PlacedOrder | None:
    # One statement is its own transaction, unless the caller's transaction is open or the
    # change has in-transaction reactions (a connector outbox row) to write beside it.
    if not connection.get_autocommit() or stock_change_needs_transaction():
        with transaction.atomic():
            placed = _write_planned(order, planned, variants, warehouses, actor)
            if placed is None:
                # Refused, nothing written, but the levels it locked would stay locked until
                # the caller's transaction ends, out of key order with what comes next:
                # rolling back to the savepoint releases them.
                transaction.set_rollback(True)
            return placed
    return _write_planned(order, planned, variants, warehouses, actor, committed=True)


def _write_planned(
    order: Order,
    planned: list[PlannedLine],
    variants: dict[int, Variant],
    warehouses: Warehouses | None,
    actor: Actor,
    *,
    committed: bool = False,
) -> PlacedOrder | None:
    """Run the reserving statement and build the placed order from its answer.

    `committed`: the statement is its own transaction, with no in-transaction reaction
    to write, so the after-commit ones are handed over at once."""
    reserved = reserve_planned(
        channel_id=order.channel_id,
        reference=order.reference,
        latitude=order.shipping_latitude,
        longitude=order.shipping_longitude,
        now=order.placed_at,
        expires_at=order.expires_at,
        document=order.document,
        actor=actor,
        lines=planned,
        warehouses=warehouses,
    )
    if reserved is None:
        return None
    alias = connection.alias
    mark_saved(order, reserved.order_id, alias)
    order_lines = []
    for line in planned:
        line_id, variant_id = reserved.lines[line.line_number]
        variant = variants.get(line.line_number)
        order_line = new_instance(
            OrderLine,
            {
                "order_id": order.pk,
                "line_number": line.line_number,
                "variant_id": variant_id,
                "quantity": line.quantity,
                "backordered_quantity": 0,
                "short_quantity": 0,
            },
            {"order": order} if variant is None else {"order": order, "variant": variant},
        )
        mark_saved(order_line, line_id, alias)
        order_lines.append(order_line)
    changes = [StockChanged(*level) for level in reserved.levels]
    if committed:
        publish_stock_changed(changes)
        publish_order_changed(order.pk, order.channel_id)
    else:
        announce_stock_changes(changes)
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return PlacedOrder(order=order, created=True, lines=order_lines)
