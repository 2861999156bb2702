"""Orders: reserve on placing, firm on paying, deduct on shipping, release on cancel/expiry.

Lock order everywhere: the order row first, then stock levels in primary-key order.
`place_order` locks only levels (its order row is new) and touches other orders' rows
only with SKIP LOCKED, so it never waits on an order lock while holding a level lock.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from stock.actors import Actor
from stock.errors import (
    HoldExpired,
    InsufficientStock,
    InvalidOrder,
    InvalidOrderState,
    InvalidQuantity,
    NotSellable,
    StockError,
    UnknownSku,
)
from stock.events import (
    StockChanged,
    publish_order_changed,
    publish_stock_changed,
    shortfall_changed_in_transaction,
    stock_change_needs_transaction,
)
from stock.models import (
    HOLD_EXPIRED_NOTE,
    Allocation,
    MovementKind,
    MovementSource,
    Order,
    OrderLine,
    OrderStatus,
    ReasonCode,
    StockLevel,
    Variant,
)
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

from .ledger import (
    MAX_QUANTITY,
    BatchRejected,
    LevelChange,
    announce_stock_changes,
    apply_locked,
    ensure_levels,
    loaded_instance,
    lock_levels,
    new_instance,
)
from .order_fast_path import (
    PlannedLine,
    Warehouses,
    forget_unread_plan,
    read_for_plan,
    remember_unread_plan,
    reserve_planned,
    unread_plan,
)
from .order_locks import (
    VARIANT_FIELDS,
    insert_order,
    lock_for_order,
    mark_saved,
    release_expired_batch,
)
from .sourcing import Candidate, LinePlan, LineRequest, plan_allocations

MAX_HOLD_MINUTES = 60 * 24 * 30
MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class OrderLineInput:
    sku: str
    quantity: int


@dataclass(slots=True)
class PlacedOrder:
    order: Order
    created: bool
    lines: list[OrderLine] = field(default_factory=list)


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
    reference = _require_reference(reference)
    latitude, longitude = _require_coordinates(shipping_latitude, shipping_longitude)
    hold = _require_hold_minutes(hold_minutes if hold_minutes is not None else channel.hold_minutes)
    if not channel.is_active:
        raise InvalidOrder(f"Channel {channel.code} is inactive.", {"channel": channel.code})
    _check_line_shapes(lines)
    arguments = {
        "channel": channel,
        "reference": reference,
        "lines": lines,
        "latitude": latitude,
        "longitude": longitude,
        "hold": hold,
        "actor": actor,
    }
    try:
        placed = _place_planned(**arguments) if connection.vendor == "postgresql" else None
        if placed is None:
            placed = _reserve_in_transaction(arguments, accept_shortfall=accept_shortfall)
    except IntegrityError as exc:
        if "order_reference_unique_per_channel" not in str(exc):
            raise
        placed = None  # another request placed the same order first: answer with it
    except InsufficientStock:
        # A replay that waited on the original's level locks plans against the stock the
        # original took; the original is what it should answer with.
        placed = _existing_order(channel, reference)
        if placed is None:
            raise
    if placed is None:
        placed = _existing_order(channel, reference)
        assert placed is not None
    return placed


def _place_planned(
    *,
    channel: SalesChannel,
    reference: str,
    lines: Sequence[OrderLineInput],
    latitude: Decimal | None,
    longitude: Decimal | None,
    hold: int,
    actor: Actor,
) -> PlacedOrder | None:
    """The common case in one or two statements (`order_fast_path`); None: the locked path.

    Plans from an unlocked read or, once an order so planned was held whole where the
    channel's source selection puts a covered line without looking at the others (see
    `_plans_unread`), with no read: at the first warehouse, or by most stock in the
    reserving statement. The statement re-checks the plan under the level locks and
    writes nothing when it no longer holds. Every answer but success (a short line, a
    backorder, an unsellable line, an order placed before) comes from the locked path,
    except the input errors `_resolve_lines` finds in the variants read.
    """
    now = timezone.now()
    order = _new_order(
        channel=channel,
        reference=reference,
        latitude=latitude,
        longitude=longitude,
        now=now,
        hold=hold,
        actor=actor,
    )
    warehouses = unread_plan(channel.pk)
    unread = _plans_unread(channel, latitude, warehouses) if warehouses is not None else None
    if unread is not None and _are_plain_lines(lines):
        at_first = unread == "first"
        planned = [
            PlannedLine(
                line_number=number,
                sku=line.sku,
                quantity=line.quantity,
                manages_stock=None,
                holds=((warehouses.first, line.quantity),) if at_first else (),
            )
            for number, line in enumerate(lines, start=1)
        ]
        placed = _reserve_planned(
            order, planned, {}, warehouses=warehouses if at_first else None, actor=actor
        )
        if placed is not None:
            return placed
        forget_unread_plan(channel.pk)
    plan = _plan_from_read(channel=channel, lines=lines, latitude=latitude, longitude=longitude)
    if plan is None:
        return None
    planned, variants, warehouses = plan
    placed = _reserve_planned(order, planned, variants, warehouses=warehouses, actor=actor)
    if placed is not None and _was_planned_as_unread(channel, latitude, warehouses, planned):
        remember_unread_plan(channel.pk, warehouses)
    return placed


def _plans_unread(
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
    """Whether the plan made from a read is the one `_plans_unread` would have made."""
    unread = _plans_unread(channel, latitude, warehouses)
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
    requests, variants = _resolve_lines(lines, known)
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
        shipping=(float(latitude), float(longitude)) if latitude is not None else None,
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


def _new_order(
    *,
    channel: SalesChannel,
    reference: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    now: datetime,
    hold: int,
    actor: Actor,
) -> Order:
    """The order row either path writes, not saved yet."""
    return new_instance(
        Order,
        {
            "channel_id": channel.pk,
            "reference": reference,
            "shipping_latitude": latitude,
            "shipping_longitude": longitude,
            "placed_at": now,
            "expires_at": now + timedelta(minutes=hold),
            "actor_label": actor.label,
        },
        {"channel": channel},
    )


def _are_plain_lines(lines: Sequence[OrderLineInput]) -> bool:
    """Lines `_resolve_lines` would find nothing wrong with but, perhaps, their SKUs."""
    skus = set()
    for number, line in enumerate(lines, start=1):
        if _quantity_problem(number, line) is not None:
            return False
        if not isinstance(line.sku, str) or line.sku in skus:
            return False
        skus.add(line.sku)
    return True


def _reserve_planned(
    order: Order,
    planned: list[PlannedLine],
    variants: dict[int, Variant],
    *,
    warehouses: Warehouses,
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
    warehouses: Warehouses,
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


class _ExpiredHoldsBusy(Exception):
    """A line is short while expired holds on its levels belong to orders locked elsewhere."""

    def __init__(self, order_ids: list[int]) -> None:
        super().__init__(order_ids)
        self.order_ids = order_ids


# How long a short order waits, at most, for the orders whose expired holds it needs.
EXPIRED_HOLD_WAIT_MS = 2000


def _reserve_in_transaction(arguments: dict, *, accept_shortfall: bool) -> PlacedOrder | None:
    """`_reserve` in a transaction of its own.

    A line short only while expired holds on its levels belong to orders another
    transaction has locked (the expiry task releasing them this moment, or a payment)
    is tried once more after waiting for those orders, holding no lock meanwhile: the
    expiry task locks orders before levels, so waiting under level locks could deadlock.
    Inside a caller's transaction, whose locks it cannot give up, it answers at once.
    """
    may_wait = not connection.in_atomic_block
    try:
        with transaction.atomic():
            return _reserve(**arguments, may_wait=may_wait, accept_shortfall=accept_shortfall)
    except _ExpiredHoldsBusy as busy:
        _wait_for_orders(busy.order_ids)
    with transaction.atomic():
        return _reserve(**arguments, may_wait=False, accept_shortfall=accept_shortfall)


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


def _reserve(
    *,
    may_wait: bool = False,
    accept_shortfall: bool = False,
    channel: SalesChannel,
    reference: str,
    lines: Sequence[OrderLineInput],
    latitude: Decimal | None,
    longitude: Decimal | None,
    hold: int,
    actor: Actor,
) -> PlacedOrder | None:
    """The transaction of `place_order`; None when the order already exists."""
    skus = [line.sku for line in lines if isinstance(line.sku, str)]
    context = lock_for_order(channel=channel, reference=reference, skus=skus)
    if context.order_exists:
        return None
    requests, variants = _resolve_lines(lines, context.variants)
    managed = [request for request in requests if variants[request.line_number].manage_stock]
    # A pre-order may land where the SKU was never stocked: those levels must exist. New
    # levels carry the highest ids, so locking them now keeps the primary-key lock order.
    missing = {
        (request.variant_id, candidate.warehouse_id)
        for request in managed
        if request.allows_backorders
        for candidate in context.candidates
    } - set(context.levels)
    if missing:
        ensure_levels(missing)
        context = lock_for_order(channel=channel, reference=reference, skus=skus)
    levels = context.levels
    if not accept_shortfall:
        _refuse_unsellable(managed, variants, levels)
    now = timezone.now()
    shipping = (float(latitude), float(longitude)) if latitude is not None else None

    def plan() -> list[LinePlan]:
        return plan_allocations(
            strategy=channel.source_selection,
            candidates=context.candidates,
            lines=managed,
            available={key: level.available for key, level in levels.items()},
            shipping=shipping,
        )

    plans = plan()
    # Expired holds stop counting at once: when a line is short or would be backordered,
    # release the expired holds on these levels, then replan.
    if any(p.short_by or p.backordered for p in plans):
        released, busy = _release_expired_on_levels(levels, now=now)
        if released:
            plans = plan()
        if busy and may_wait and any(p.short_by or p.backordered for p in plans):
            raise _ExpiredHoldsBusy(busy)
    short = [
        {
            "line": plan.line_number,
            "sku": variants[plan.line_number].sku,
            "requested": request.quantity,
            "available": request.quantity - plan.short_by,
            "missing": plan.short_by,
        }
        for plan, request in zip(plans, managed, strict=True)
        if plan.short_by
    ]
    if short and not accept_shortfall:
        raise InsufficientStock(
            "Not enough stock for "
            + ", ".join(
                f"line {item['line']} ({item['sku']}: {item['missing']} missing)" for item in short
            )
            + ".",
            {"lines": short},
        )
    order = _new_order(
        channel=channel,
        reference=reference,
        latitude=latitude,
        longitude=longitude,
        now=now,
        hold=hold,
        actor=actor,
    )
    plan_by_line = {plan.line_number: plan for plan in plans}
    order_lines = [
        OrderLine(
            order=order,
            line_number=request.line_number,
            variant=variants[request.line_number],
            quantity=request.quantity,
            backordered_quantity=plan_by_line[request.line_number].backordered
            if request.line_number in plan_by_line
            else 0,
            short_quantity=plan_by_line[request.line_number].short_by
            if request.line_number in plan_by_line
            else 0,
        )
        for request in requests
    ]
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
    insert_order(order, order_lines, allocations)
    changes = [
        LevelChange(
            variant=allocation.line.variant,
            warehouse=context.warehouses[allocation.warehouse_id],
            kind=MovementKind.RESERVE,
            reason=ReasonCode.ORDER,
            delta_reserved=allocation.quantity,
            document=order.document,
            reference=(
                f"order:{order.pk}/line:{allocation.line.line_number}"
                f"/wh:{allocation.warehouse_id}/reserve"
            ),
        )
        for allocation in allocations
    ]
    # The references name the order just inserted: none can be a replay.
    _apply(changes, levels, actor=actor, occurred_at=now, has_new_references=True)
    shortfall_changed_in_transaction(line.variant_id for line in order_lines if line.is_short)
    transaction.on_commit(partial(publish_order_changed, order.pk, channel.pk))
    return PlacedOrder(order=order, created=True, lines=order_lines)


# --- Pay, ship, cancel ----------------------------------------------------------------------


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
        wanted = list(lines) if line_numbers is None else _require_line_numbers(line_numbers, lines)
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


# --- Short orders: a store sold more than the hub could hold --------------------------------


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
        _release_expired_on_levels(levels, now=now)
        shipping = (
            (float(order.shipping_latitude), float(order.shipping_longitude))
            if order.shipping_latitude is not None
            else None
        )
        plans = plan_allocations(
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
                        # The shortfall only shrinks, so its size before this fill is new.
                        reference=(
                            f"order:{order.pk}/line:{line.line_number}/wh:{warehouse_id}"
                            f"/fill:{line.short_quantity}"
                        ),
                    )
                )
            if plan.short_by != line.short_quantity:
                OrderLine.objects.filter(pk=line.pk).update(short_quantity=plan.short_by)
                filled.append(line.variant_id)
        if not changes:
            return order
        _apply(changes, levels, actor=actor, occurred_at=now)
        shortfall_changed_in_transaction(filled)
        transaction.on_commit(partial(publish_order_changed, order.pk, order.channel_id))
    return order


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


# --- Expiry ---------------------------------------------------------------------------------


def release_expired_holds(
    *, batch_size: int = 2000, now: datetime | None = None, workers: int | None = None
) -> int:
    """Release the holds of unpaid orders past their expiry, batch by batch.

    Each batch is its own short transaction: it claims expired orders with
    FOR UPDATE SKIP LOCKED (so two runs at once never take the same order, and an order
    being paid right now is skipped), then locks their levels in primary-key order.
    Returns how many orders expired.

    On PostgreSQL a backlog larger than one batch is cleared by `workers` connections at
    once (settings.HOLD_EXPIRY_WORKERS): a batch holds level locks only for its ledger
    rows and balances, so one worker closes its orders while another writes its releases.
    Called inside a transaction, it runs there alone.
    """
    now = now or timezone.now()
    actor = Actor.system("hold expiry")
    if connection.vendor == "postgresql":
        workers = settings.HOLD_EXPIRY_WORKERS if workers is None else workers
        return _release_expired_set_based(
            now=now, batch_size=batch_size, actor=actor, workers=workers
        )
    expired_total = 0
    while True:
        with transaction.atomic():
            order_ids = list(
                Order.objects.select_for_update(skip_locked=True)
                .filter(status=OrderStatus.PLACED, expires_at__lte=now)
                .order_by("expires_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not order_ids:
                break
            held = Allocation.objects.filter(
                line__order_id__in=order_ids, status=Allocation.Status.HELD
            )
            _release_allocations(held, actor=actor, note=HOLD_EXPIRED_NOTE)
            OrderLine.objects.filter(order_id__in=order_ids, status=OrderLine.Status.OPEN).update(
                status=OrderLine.Status.RELEASED
            )
            _announce_expired_shortfalls(order_ids)
            Order.objects.filter(pk__in=order_ids).update(
                status=OrderStatus.EXPIRED, closed_at=now, expires_at=None
            )
            transaction.on_commit(partial(publish_order_changed, None, None))
        expired_total += len(order_ids)
    return expired_total


def _announce_expired_shortfalls(order_ids: list[int]) -> None:
    """Expired short orders: what their channels may sell went up, maybe with no level
    changing (a line nothing was held for), so their stores are queued a push."""
    shortfall_changed_in_transaction(
        OrderLine.objects.filter(order_id__in=order_ids, short_quantity__gt=0).values_list(
            "variant_id", flat=True
        )
    )


def _release_expired_set_based(
    *, now: datetime, batch_size: int, actor: Actor, workers: int
) -> int:
    release = partial(_release_expired_batches, now=now, batch_size=batch_size, actor=actor)
    first = release(limit=1)
    if first < batch_size:
        return first
    if workers <= 1 or connection.in_atomic_block:
        return first + release()
    # A full first batch: a backlog. Helpers on connections of their own share it.
    helpers = [_ExpiryHelper(release) for _ in range(workers - 1)]
    for helper in helpers:
        helper.start()
    try:
        expired_total = first + release()
    finally:
        for helper in helpers:
            helper.join()
    for helper in helpers:
        if helper.error is not None:
            raise helper.error
    return expired_total + sum(helper.expired for helper in helpers)


def _release_expired_batches(
    *, now: datetime, batch_size: int, actor: Actor, limit: int | None = None
) -> int:
    """Release batch after batch until none is left (or `limit` batches were released)."""
    expired_total = batches = 0
    while limit is None or batches < limit:
        with transaction.atomic():
            batch = release_expired_batch(now=now, batch_size=batch_size, actor=actor)
            if not batch.order_ids:
                break
            announce_stock_changes(batch.changed)
            _announce_expired_shortfalls(batch.order_ids)
            transaction.on_commit(partial(publish_order_changed, None, None))
        expired_total += len(batch.order_ids)
        batches += 1
    return expired_total


class _ExpiryHelper(threading.Thread):
    """Runs `release` on a database connection of its own, then hands that connection back."""

    def __init__(self, release) -> None:
        super().__init__(name="hold-expiry", daemon=True)
        self._release = release
        self.expired = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.expired = self._release()
        except BaseException as error:  # re-raised by the caller's thread
            self.error = error
        finally:
            connection.close()


def _release_expired_on_levels(
    levels: dict[tuple[int, int], StockLevel], *, now: datetime
) -> tuple[int, list[int]]:
    """Inside `place_order`: release expired holds on levels it already locked.

    Claims the expired orders with SKIP LOCKED, never waiting on an order lock while
    holding level locks; only allocations on these levels are released (the expiry task
    finishes the rest of each order). Returns how many units were released, and the
    orders with expired holds here that another transaction has locked.
    """
    by_id = {level.pk: level for level in levels.values()}
    holding = set(
        Allocation.objects.filter(
            level_id__in=list(by_id), status=Allocation.Status.HELD, expires_at__lte=now
        ).values_list("line__order_id", flat=True)
    )
    if not holding:
        return 0, []
    order_ids = list(
        Order.objects.select_for_update(skip_locked=True)
        .filter(pk__in=holding, status=OrderStatus.PLACED, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    busy = sorted(holding.difference(order_ids))
    if not order_ids:
        return 0, busy
    held = Allocation.objects.filter(
        line__order_id__in=order_ids, level_id__in=list(by_id), status=Allocation.Status.HELD
    )
    released = _release_allocations(
        held, actor=Actor.system("hold expiry"), note=HOLD_EXPIRED_NOTE, levels=levels
    )
    for level_id in {row.level_id for row in released}:
        by_id[level_id].refresh_from_db(fields=["reserved", "available", "version"])
    return sum(row.quantity for row in released), busy


@dataclass(frozen=True, slots=True)
class _HeldRow:
    allocation_id: int
    order_id: int
    document: str
    level_id: int
    variant_id: int
    warehouse_id: int
    quantity: int


def _release_allocations(
    held,
    *,
    actor: Actor,
    note: str,
    levels: dict[tuple[int, int], StockLevel] | None = None,
) -> list[_HeldRow]:
    """Release the held allocations of this queryset; returns what it released.

    Reads plain rows, and each variant and warehouse once, rather than a model graph per
    hold: an expiry batch releases thousands of holds of far fewer SKUs.
    """
    rows = [
        _HeldRow(pk, order_id, f"order {channel}/{reference}", level_id, variant_id, wh_id, qty)
        for pk, order_id, channel, reference, level_id, variant_id, wh_id, qty in held.order_by(
            "pk"
        ).values_list(
            "pk",
            "line__order_id",
            "line__order__channel__code",
            "line__order__reference",
            "level_id",
            "line__variant_id",
            "warehouse_id",
            "quantity",
        )
    ]
    if not rows:
        return []
    variants = Variant.objects.in_bulk({row.variant_id for row in rows})
    warehouses = Warehouse.objects.in_bulk({row.warehouse_id for row in rows})
    changes = [
        LevelChange(
            variant=variants[row.variant_id],
            warehouse=warehouses[row.warehouse_id],
            kind=MovementKind.RELEASE,
            reason=ReasonCode.ORDER,
            note=note,
            delta_reserved=-row.quantity,
            document=row.document,
            reference=f"order:{row.order_id}/allocation:{row.allocation_id}/release",
        )
        for row in rows
    ]
    if levels is None:
        levels = lock_levels(
            {(row.variant_id, row.warehouse_id) for row in rows}, create_missing=False
        )
    _apply(changes, levels, actor=actor)
    Allocation.objects.filter(pk__in=[row.allocation_id for row in rows]).update(
        status=Allocation.Status.RELEASED
    )
    return rows


def _move_allocations(
    allocations: list[Allocation], *, kind: str, order: Order, actor: Actor, now: datetime
) -> None:
    if not allocations:
        return
    verb = "ship" if kind == MovementKind.SHIP else "release"
    changes = [
        LevelChange(
            variant=allocation.line.variant,
            warehouse=allocation.warehouse,
            kind=kind,
            reason=ReasonCode.ORDER,
            delta_on_hand=-allocation.quantity if kind == MovementKind.SHIP else 0,
            delta_reserved=-allocation.quantity,
            document=order.document,
            reference=f"order:{order.pk}/allocation:{allocation.pk}/{verb}",
        )
        for allocation in allocations
    ]
    levels = lock_levels(
        {(change.variant.pk, change.warehouse.pk) for change in changes},
        create_missing=False,
    )
    _apply(changes, levels, actor=actor, occurred_at=now)


def _apply(
    changes,
    levels,
    *,
    actor: Actor,
    occurred_at: datetime | None = None,
    has_new_references: bool = False,
) -> None:
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


# --- Input checks ---------------------------------------------------------------------------


def _existing_order(channel: SalesChannel, reference: str) -> PlacedOrder | None:
    order = Order.objects.filter(channel=channel, reference=reference).first()
    if order is None:
        return None
    return PlacedOrder(
        order=order, created=False, lines=list(order.lines.select_related("variant"))
    )


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


def _require_reference(reference: object) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidOrder("An order needs a reference.", {"field": "reference"})
    if len(reference) > 100:
        raise InvalidOrder("The reference is longer than 100 characters.", {"field": "reference"})
    return reference.strip()


def _require_coordinates(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise InvalidOrder(
            "Give both shipping latitude and longitude, or neither.", {"field": "shipping"}
        )
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except (InvalidOperation, ValueError):
        raise InvalidOrder("Shipping coordinates must be numbers.", {"field": "shipping"}) from None
    if not (lat.is_finite() and lon.is_finite()):
        raise InvalidOrder("Shipping coordinates must be finite numbers.", {"field": "shipping"})
    if not (Decimal(-90) <= lat <= Decimal(90) and Decimal(-180) <= lon <= Decimal(180)):
        raise InvalidOrder("Shipping coordinates are out of range.", {"field": "shipping"})
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))


def _require_hold_minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HOLD_MINUTES:
        raise InvalidOrder(
            f"The hold time must be a whole number of minutes from 1 to {MAX_HOLD_MINUTES}.",
            {"field": "hold_minutes"},
        )
    return value


def _check_line_shapes(lines: Sequence[OrderLineInput]) -> None:
    """What can be refused before anything is locked."""
    if not lines:
        raise InvalidOrder("An order needs at least one line.", {"field": "lines"})
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"An order may have at most {MAX_LINES} lines.", {"field": "lines"})


def _quantity_problem(number: int, line: OrderLineInput) -> InvalidQuantity | None:
    # Runs for every line of every order (`_are_plain_lines`): nothing is built unless wrong.
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
        message = f"Line {number}: quantity must be a whole number."
    elif not 1 <= line.quantity <= MAX_QUANTITY:
        message = f"Line {number}: quantity must be from 1 to {MAX_QUANTITY}."
    else:
        return None
    return InvalidQuantity(message, {"line": number, "sku": line.sku})


def _resolve_lines(
    lines: Sequence[OrderLineInput], known: dict[str, Variant]
) -> tuple[list[LineRequest], dict[int, Variant]]:
    """Check every line against the variants found; raise one error naming each bad line."""
    problems: list[StockError] = []
    first_line_of: dict[str, int] = {}
    requests, variants = [], {}
    for number, line in enumerate(lines, start=1):
        where = {"line": number, "sku": line.sku}
        problem = _quantity_problem(number, line)
        if problem is not None:
            problems.append(problem)
            continue
        variant = known.get(line.sku) if isinstance(line.sku, str) else None
        if variant is None:
            problems.append(UnknownSku(f"Line {number}: no variant has SKU {line.sku!r}.", where))
            continue
        if not variant.is_active:
            problems.append(NotSellable(f"Line {number}: {line.sku} is no longer sold.", where))
            continue
        if line.sku in first_line_of:
            problems.append(
                InvalidOrder(
                    f"Line {number}: {line.sku} is already on line {first_line_of[line.sku]}; "
                    "put the whole quantity on one line.",
                    where,
                )
            )
            continue
        first_line_of[line.sku] = number
        variants[number] = variant
        requests.append(
            LineRequest(
                line_number=number,
                variant_id=variant.pk,
                quantity=line.quantity,
                allows_backorders=variant.allows_backorders,
            )
        )
    if problems:
        first = problems[0]
        raise type(first)(
            " ".join(problem.message for problem in problems),
            {"lines": [{"code": p.code, "message": p.message, **p.details} for p in problems]},
        )
    return requests, variants


def _refuse_unsellable(
    managed: list[LineRequest],
    variants: dict[int, Variant],
    levels: dict[tuple[int, int], StockLevel],
) -> None:
    stocked = {variant_id for variant_id, _ in levels}
    unsellable = [request for request in managed if request.variant_id not in stocked]
    if unsellable:
        lines = [
            {"code": NotSellable.code, "line": r.line_number, "sku": variants[r.line_number].sku}
            for r in unsellable
        ]
        raise NotSellable(
            " ".join(
                f"Line {item['line']}: no warehouse of this channel stocks {item['sku']}."
                for item in lines
            ),
            {"lines": lines},
        )


def _require_line_numbers(line_numbers: Sequence[int], lines: dict[int, OrderLine]) -> list[int]:
    unknown = [n for n in line_numbers if n not in lines]
    if unknown:
        raise InvalidOrder(
            f"The order has no line {', '.join(map(str, unknown))}.", {"lines": unknown}
        )
    return list(dict.fromkeys(line_numbers))
