"""Hold expiry: an unpaid order past its hold is closed and what it held is released.

`release_expired_holds` (the periodic task) works batch by batch; on PostgreSQL a batch is
set-based (`release_expired_batch`) and a backlog is shared with helper threads, each on
a connection of its own. `release_expired_on_levels` serves the placing and filling paths,
which release expired holds on the levels they have already locked.
"""

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from stock.actors import Actor
from stock.events import StockChanged, publish_order_changed, shortfall_changed_in_transaction
from stock.models import (
    HOLD_EXPIRED_NOTE,
    Allocation,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    ReasonCode,
    StockLevel,
    Variant,
)
from warehouses.models import SalesChannel, Warehouse

from ..backend import write_backend
from ..ledger import LevelChange, announce_stock_changes, lock_levels
from ..ledger.rows import RELEASE_REFERENCE
from ..ledger.statements import release_held
from .records import apply_order_changes


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
    return write_backend().release_expired(
        now=now or timezone.now(),
        batch_size=batch_size,
        actor=Actor.system("hold expiry"),
        workers=workers,
    )


def release_expired_portable(
    *, now: datetime, batch_size: int, actor: Actor, workers: int | None
) -> int:
    """Batch by batch through the ORM, one connection (SQLite serialises writers)."""
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
            release_allocations(held, actor=actor, note=HOLD_EXPIRED_NOTE)
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


def release_expired_set_based(
    *, now: datetime, batch_size: int, actor: Actor, workers: int | None
) -> int:
    workers = settings.HOLD_EXPIRY_WORKERS if workers is None else workers
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


def release_expired_on_levels(
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
    released = release_allocations(
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


def release_allocations(
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
            reference=RELEASE_REFERENCE(order=row.order_id, allocation=row.allocation_id),
        )
        for row in rows
    ]
    if levels is None:
        levels = lock_levels(
            {(row.variant_id, row.warehouse_id) for row in rows}, create_missing=False
        )
    apply_order_changes(changes, levels, actor=actor)
    Allocation.objects.filter(pk__in=[row.allocation_id for row in rows]).update(
        status=Allocation.Status.RELEASED
    )
    return rows


# --- Hold expiry, one batch set-based ------------------------------------------------------
#
# A batch is four statements in one transaction, so that level locks, which every order on
# the same SKUs waits for, are held only for the writes that need them:
#   1. claim the oldest expired orders, FOR UPDATE SKIP LOCKED;
#   2. close them: their held allocations, open lines and the orders themselves, returning
#      what was held (these rows are the claimed orders' own, no level lock is needed);
#   3. lock the held levels in primary-key order, as every writer does;
#   4. under those locks, write a release row per hold (with the balances after it) and
#      update the balances.
# Two batches running at once therefore overlap in steps 1 and 2 and queue only for 3 and 4.

CLAIM_EXPIRED_SQL = f"""
    SELECT array_agg(id) FROM (
        SELECT id FROM {Order._meta.db_table}
         WHERE status = %s AND expires_at <= %s
         ORDER BY expires_at, id
         LIMIT %s
           FOR UPDATE SKIP LOCKED
    ) AS claimed
"""

# `held` names the claimed orders to both the orders and their lines: each is then read
# through its index. With the lines reached only through a join, the planner read the
# whole allocation and order tables for every batch (100,000 rows each in bench.expiry).
# What was held comes back as JSON text, handed to the release statement unparsed.
CLOSE_CLAIMED_SQL = f"""
    WITH held AS (
        SELECT hold.id AS allocation_id, line.order_id, hold.level_id, hold.warehouse_id,
               line.variant_id, hold.quantity,
               'order ' || channel.code || '/' || orders.reference AS document
          FROM {Order._meta.db_table} AS orders
          JOIN {SalesChannel._meta.db_table} AS channel ON channel.id = orders.channel_id
          JOIN {OrderLine._meta.db_table} AS line ON line.order_id = orders.id
          JOIN {Allocation._meta.db_table} AS hold ON hold.line_id = line.id
         WHERE orders.id = ANY(%(orders)s) AND line.order_id = ANY(%(orders)s)
           AND hold.status = %(held)s
    ), allocations AS (
        UPDATE {Allocation._meta.db_table} SET status = %(released)s
         WHERE id IN (SELECT allocation_id FROM held)
    ), lines AS (
        UPDATE {OrderLine._meta.db_table} SET status = %(line_released)s
         WHERE order_id = ANY(%(orders)s) AND status = %(line_open)s
    ), expired AS (
        UPDATE {Order._meta.db_table}
           SET status = %(expired)s, closed_at = %(now)s, expires_at = NULL
         WHERE id = ANY(%(orders)s)
    )
    SELECT (SELECT array_agg(DISTINCT level_id) FROM held),
           (SELECT json_agg(held ORDER BY allocation_id)::text FROM held)
"""


@dataclass(slots=True)
class ExpiredBatch:
    order_ids: list[int]
    changed: list[StockChanged]


@dataclass(slots=True)
class ClosedBatch:
    """Expired orders claimed and closed, whose holds are not released yet."""

    order_ids: list[int]
    level_ids: list[int]  # the levels their holds are on; empty when none was held
    held: str  # the holds, as JSON text for `ledger.statements.release_held`


def release_expired_batch(*, now, batch_size: int, actor) -> ExpiredBatch:
    """Expire one batch of unpaid orders past their hold, in four statements (PostgreSQL).

    Claims the orders (FOR UPDATE SKIP LOCKED, oldest expiry first) and closes them
    before it locks any level; then locks their levels in primary-key order, as every
    writer does, and, holding those locks, writes what `apply_changes` would for each held
    allocation (a release row with the balances after it, in allocation order) and updates
    the balances, set-based: a batch costs the same few statements however many holds it
    releases. The levels' CHECK constraints still refuse a negative reservation.
    Must run inside a transaction. Not prepared: a batch is planned for its own size.
    """
    batch = close_expired_batch(now=now, batch_size=batch_size)
    return ExpiredBatch(
        order_ids=batch.order_ids, changed=release_closed_batch(batch, now=now, actor=actor)
    )


def close_expired_batch(*, now, batch_size: int) -> ClosedBatch:
    """Steps 1 and 2 of a batch: claim expired orders and close them; no level is locked."""
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_EXPIRED_SQL, [OrderStatus.PLACED, now, batch_size])
        (order_ids,) = cursor.fetchone()
        if not order_ids:
            return ClosedBatch(order_ids=[], level_ids=[], held="[]")
        cursor.execute(
            CLOSE_CLAIMED_SQL,
            {
                "orders": order_ids,
                "held": Allocation.Status.HELD,
                "released": Allocation.Status.RELEASED,
                "line_open": OrderLine.Status.OPEN,
                "line_released": OrderLine.Status.RELEASED,
                "expired": OrderStatus.EXPIRED,
                "now": now,
            },
        )
        level_ids, held = cursor.fetchone()
    # No level: every hold of these orders was released already (by orders placed on
    # their levels), and closing the orders was all there was to do.
    return ClosedBatch(order_ids=order_ids, level_ids=level_ids or [], held=held or "[]")


def release_closed_batch(batch: ClosedBatch, *, now, actor) -> list[StockChanged]:
    """Steps 3 and 4: lock the closed orders' levels, write their releases and balances."""
    if not batch.level_ids:
        return []
    return release_held(batch.level_ids, batch.held, note=HOLD_EXPIRED_NOTE, now=now, actor=actor)
