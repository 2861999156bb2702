"""The locked path of `place_order`: lock first, then plan, hold and answer.

It reads the order's variants and locks their levels in one statement (`locked_sql`),
plans against the locked balances, and writes the order and its lines and holds, then the
ledger rows and balances through `apply_locked`. Every answer other than a planned
success comes from here: short lines, backorders, levels still to create, expired holds
to release first, and an order that exists already.
"""

from collections.abc import Sequence
from functools import partial

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from stock.errors import InsufficientStock
from stock.events import publish_order_changed, shortfall_changed_in_transaction
from stock.models import Allocation, MovementKind, Order, OrderLine, ReasonCode, StockLevel, Variant
from warehouses.models import Warehouse

from ..ledger import LevelChange, ensure_levels
from ..ledger.rows import RESERVE_REFERENCE
from ..sourcing import LinePlan, LineRequest, plan_allocations
from .expiry import release_expired_on_levels
from .inputs import OrderRequest, refuse_unsellable, resolve_lines
from .locked_sql import OrderContext, insert_order, lock_for_order
from .records import PlacedOrder, apply_order_changes, new_order


class _ExpiredHoldsBusy(Exception):
    """A line is short while expired holds on its levels belong to orders locked elsewhere."""

    def __init__(self, order_ids: list[int]) -> None:
        super().__init__(order_ids)
        self.order_ids = order_ids


# How long a short order waits, at most, for the orders whose expired holds it needs.
EXPIRED_HOLD_WAIT_MS = 2000


def reserve_in_transaction(request: OrderRequest) -> PlacedOrder | None:
    """`_reserve` in a transaction of its own; None when the order already exists.

    A line short only while expired holds on its levels belong to orders another
    transaction has locked (the expiry task releasing them this moment, or a payment)
    is tried once more after waiting for those orders, holding no lock meanwhile: the
    expiry task locks orders before levels, so waiting under level locks could deadlock.
    Inside a caller's transaction, whose locks it cannot give up, it answers at once.
    """
    may_wait = not connection.in_atomic_block
    try:
        with transaction.atomic():
            return _reserve(request, may_wait=may_wait)
    except _ExpiredHoldsBusy as busy:
        _wait_for_orders(busy.order_ids)
    with transaction.atomic():
        return _reserve(request, may_wait=False)


def _wait_for_orders(order_ids: list[int]) -> None:
    """Wait until no other transaction holds these orders' locks, or EXPIRED_HOLD_WAIT_MS."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(EXPIRED_HOLD_WAIT_MS)}")
            cursor.execute(
                f"SELECT 1 FROM {Order._meta.db_table} WHERE id = ANY(%s) FOR KEY SHARE",
                [order_ids],
            )
    except OperationalError:
        pass  # still locked: the second try answers from the stock there is


def _reserve(request: OrderRequest, *, may_wait: bool) -> PlacedOrder | None:
    """The transaction of `place_order`; None when the order already exists."""
    skus = [line.sku for line in request.lines if isinstance(line.sku, str)]
    context = lock_for_order(channel=request.channel, reference=request.reference, skus=skus)
    if context.order_exists:
        return None
    requests, variants = resolve_lines(request.lines, context.variants)
    managed = [line for line in requests if variants[line.line_number].manage_stock]
    context = _with_missing_levels(request, context, managed, skus)
    levels = context.levels
    if not request.accept_shortfall:
        refuse_unsellable(managed, variants, levels)
    now = timezone.now()
    plans = _plan_under_locks(request, context, managed, now=now, may_wait=may_wait)
    _refuse_short(request, plans, managed, variants)
    order = new_order(request, now)
    order_lines, allocations = _order_rows(order, requests, variants, plans, levels)
    insert_order(order, order_lines, allocations)
    changes = _reserve_changes(order, allocations, context.warehouses)
    # The references name the order just inserted: none can be a replay.
    apply_order_changes(
        changes, levels, actor=request.actor, occurred_at=now, has_new_references=True
    )
    shortfall_changed_in_transaction(line.variant_id for line in order_lines if line.is_short)
    transaction.on_commit(partial(publish_order_changed, order.pk, request.channel.pk))
    return PlacedOrder(order=order, created=True, lines=order_lines)


def _with_missing_levels(
    request: OrderRequest, context: OrderContext, managed: list[LineRequest], skus: list[str]
) -> OrderContext:
    """A pre-order may land where the SKU was never stocked: those levels must exist. New
    levels carry the highest ids, so locking them now keeps the primary-key lock order."""
    missing = {
        (line.variant_id, candidate.warehouse_id)
        for line in managed
        if line.allows_backorders
        for candidate in context.candidates
    } - set(context.levels)
    if not missing:
        return context
    ensure_levels(missing)
    return lock_for_order(channel=request.channel, reference=request.reference, skus=skus)


def _plan_under_locks(
    request: OrderRequest,
    context: OrderContext,
    managed: list[LineRequest],
    *,
    now,
    may_wait: bool,
) -> list[LinePlan]:
    levels = context.levels

    def plan() -> list[LinePlan]:
        return plan_allocations(
            strategy=request.channel.source_selection,
            candidates=context.candidates,
            lines=managed,
            available={key: level.available for key, level in levels.items()},
            shipping=request.shipping,
        )

    plans = plan()
    # Expired holds stop counting at once: when a line is short or would be backordered,
    # release the expired holds on these levels, then replan.
    if any(p.short_by or p.backordered for p in plans):
        released, busy = release_expired_on_levels(levels, now=now)
        if released:
            plans = plan()
        if busy and may_wait and any(p.short_by or p.backordered for p in plans):
            raise _ExpiredHoldsBusy(busy)
    return plans


def _refuse_short(
    request: OrderRequest,
    plans: list[LinePlan],
    managed: list[LineRequest],
    variants: dict[int, Variant],
) -> None:
    short = [
        {
            "line": plan.line_number,
            "sku": variants[plan.line_number].sku,
            "requested": line.quantity,
            "available": line.quantity - plan.short_by,
            "missing": plan.short_by,
        }
        for plan, line in zip(plans, managed, strict=True)
        if plan.short_by
    ]
    if short and not request.accept_shortfall:
        raise InsufficientStock(
            "Not enough stock for "
            + ", ".join(
                f"line {item['line']} ({item['sku']}: {item['missing']} missing)" for item in short
            )
            + ".",
            {"lines": short},
        )


def _order_rows(
    order: Order,
    requests: list[LineRequest],
    variants: dict[int, Variant],
    plans: list[LinePlan],
    levels: dict[tuple[int, int], StockLevel],
) -> tuple[list[OrderLine], list[Allocation]]:
    """The order's lines and holds, not saved yet."""
    plan_by_line = {plan.line_number: plan for plan in plans}
    order_lines = []
    for line in requests:
        plan = plan_by_line.get(line.line_number)
        order_lines.append(
            OrderLine(
                order=order,
                line_number=line.line_number,
                variant=variants[line.line_number],
                quantity=line.quantity,
                backordered_quantity=plan.backordered if plan is not None else 0,
                short_quantity=plan.short_by if plan is not None else 0,
            )
        )
    by_number = {line.line_number: line for line in order_lines}
    allocations = [
        Allocation(
            line=by_number[plan.line_number],
            level=levels[(by_number[plan.line_number].variant_id, warehouse_id)],
            warehouse_id=warehouse_id,
            quantity=quantity,
            expires_at=order.expires_at,
        )
        for plan in plans
        for warehouse_id, quantity in plan.allocations
    ]
    return order_lines, allocations


def _reserve_changes(
    order: Order, allocations: Sequence[Allocation], warehouses: dict[int, Warehouse]
) -> list[LevelChange]:
    return [
        LevelChange(
            variant=allocation.line.variant,
            warehouse=warehouses[allocation.warehouse_id],
            kind=MovementKind.RESERVE,
            reason=ReasonCode.ORDER,
            delta_reserved=allocation.quantity,
            document=order.document,
            reference=RESERVE_REFERENCE(
                order=order.pk,
                line=allocation.line.line_number,
                warehouse=allocation.warehouse_id,
            ),
        )
        for allocation in allocations
    ]
