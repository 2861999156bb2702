"""The reads and writes of `place_order`, each one statement on PostgreSQL.

Placing an order holds the lock on a hot SKU's level from the moment it is taken until
COMMIT, so every round trip inside that window costs throughput directly (see
BENCHMARKS.md). `lock_for_order` therefore reads what the order needs and locks the levels
in one statement, and `insert_order` writes the order, its lines and its allocations in
one more; the ledger and the balances are the engine's (`apply_locked`). SQLite, which
serialises writers and has no row locks, gets the same answers from the ORM.
"""

import json
from dataclasses import dataclass, field

from django.db import connection

from stock.events import StockChanged
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
    StockMovement,
    Variant,
)
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

from .ledger import LEVEL_ATTNAMES, hot_cursor, loaded_instance, lock_levels
from .sourcing import Candidate

VARIANT_FIELDS = ("id", "sku", "manage_stock", "backorders", "is_active")
WAREHOUSE_FIELDS = ("id", "code", "latitude", "longitude", "is_active")


LOCK_FOR_ORDER_SQL = f"""
    WITH variant AS (
        SELECT {", ".join(VARIANT_FIELDS)} FROM {Variant._meta.db_table}
         WHERE sku = ANY(%s::text[])
    ), link AS (
        SELECT link.priority, {", ".join(f"warehouse.{name}" for name in WAREHOUSE_FIELDS)}
          FROM {ChannelWarehouse._meta.db_table} AS link
          JOIN {Warehouse._meta.db_table} AS warehouse ON warehouse.id = link.warehouse_id
         WHERE link.channel_id = %s AND warehouse.is_active
    ), locked AS (
        SELECT {", ".join(f"level.{name}" for name in LEVEL_ATTNAMES)}
          FROM {StockLevel._meta.db_table} AS level
         WHERE level.variant_id IN (SELECT id FROM variant WHERE is_active AND manage_stock)
           AND level.warehouse_id IN (SELECT id FROM link)
         ORDER BY level.id
           FOR NO KEY UPDATE OF level
    )
    SELECT EXISTS (
               SELECT 1 FROM {Order._meta.db_table} WHERE channel_id = %s AND reference = %s),
           (SELECT json_agg(json_build_array({", ".join(VARIANT_FIELDS)})) FROM variant),
           (SELECT json_agg(json_build_array(priority, {", ".join(WAREHOUSE_FIELDS)})
                            ORDER BY priority, code)
              FROM link),
           (SELECT json_agg(json_build_array({", ".join(LEVEL_ATTNAMES)})) FROM locked)
"""


@dataclass(slots=True)
class OrderContext:
    """What an order is planned against, read under the level locks."""

    order_exists: bool
    variants: dict[str, Variant]  # by SKU; only the SKUs that exist
    candidates: list[Candidate]  # the channel's active warehouses, by priority
    warehouses: dict[int, Warehouse] = field(default_factory=dict)
    levels: dict[tuple[int, int], StockLevel] = field(default_factory=dict)


def lock_for_order(*, channel: SalesChannel, reference: str, skus: list[str]) -> OrderContext:
    """Whether the order exists, its variants, the channel's warehouses, and the locked levels.

    Locks (FOR NO KEY UPDATE, primary-key order) the levels of the SKUs that manage stock
    at the channel's active warehouses. Must run inside a transaction.
    """
    if connection.vendor == "postgresql":
        return _lock_for_order_postgres(channel=channel, reference=reference, skus=skus)
    return _lock_for_order_orm(channel=channel, reference=reference, skus=skus)


def _lock_for_order_postgres(
    *, channel: SalesChannel, reference: str, skus: list[str]
) -> OrderContext:
    with hot_cursor() as cursor:
        cursor.execute(LOCK_FOR_ORDER_SQL, [skus, channel.pk, channel.pk, reference])
        order_exists, variant_rows, link_rows, level_rows = cursor.fetchone()
    alias = connection.alias
    variants = {}
    for values in variant_rows or ():
        variant = loaded_instance(Variant, alias, VARIANT_FIELDS, values)
        variants[variant.sku] = variant
    warehouses, candidates = {}, []
    for priority, *values in link_rows or ():
        warehouse = loaded_instance(Warehouse, alias, WAREHOUSE_FIELDS, values)
        warehouses[warehouse.pk] = warehouse
        candidates.append(_candidate(warehouse, priority))
    levels = {}
    for values in level_rows or ():
        # The same fields as the engine's own lock reads: what the rules and events use.
        level = loaded_instance(StockLevel, alias, LEVEL_ATTNAMES, values)
        # Read in the locking statement: the rules never trust an older copy.
        level.warehouse_is_active_now = True
        level.variant_manages_stock_now = True
        levels[(level.variant_id, level.warehouse_id)] = level
    return OrderContext(
        order_exists=order_exists,
        variants=variants,
        candidates=candidates,
        warehouses=warehouses,
        levels=levels,
    )


def _lock_for_order_orm(*, channel: SalesChannel, reference: str, skus: list[str]) -> OrderContext:
    order_exists = Order.objects.filter(channel=channel, reference=reference).exists()
    variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    links = list(
        ChannelWarehouse.objects.filter(channel=channel, warehouse__is_active=True)
        .select_related("warehouse")
        .order_by("priority", "warehouse__code")
    )
    managed = [v.pk for v in variants.values() if v.is_active and v.manage_stock]
    pairs = {(variant_id, link.warehouse_id) for variant_id in managed for link in links}
    return OrderContext(
        order_exists=order_exists,
        variants=variants,
        candidates=[_candidate(link.warehouse, link.priority) for link in links],
        warehouses={link.warehouse_id: link.warehouse for link in links},
        levels=lock_levels(pairs, create_missing=False) if pairs else {},
    )


def _candidate(warehouse: Warehouse, priority: int) -> Candidate:
    return Candidate(
        warehouse_id=warehouse.pk,
        warehouse_code=warehouse.code,
        priority=priority,
        latitude=warehouse.latitude,
        longitude=warehouse.longitude,
    )


# The order, its lines and their allocations in one statement; lines and allocations
# travel as one JSON parameter each (cheaper for the client than a list of arrays).
INSERT_ORDER_SQL = f"""
    WITH new_order AS (
        INSERT INTO {Order._meta.db_table} (
            channel_id, reference, status, shipping_latitude, shipping_longitude,
            placed_at, expires_at, actor_label)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id
    ), new_line AS (
        INSERT INTO {OrderLine._meta.db_table} (
            order_id, line_number, variant_id, quantity, backordered_quantity, short_quantity,
            status)
        SELECT new_order.id, line.line_number, line.variant_id, line.quantity,
               line.backordered_quantity, line.short_quantity, %s
          FROM new_order,
               json_to_recordset(%s::json) AS line(
                   line_number smallint, variant_id bigint, quantity integer,
                   backordered_quantity integer, short_quantity integer)
        RETURNING id, line_number
    ), new_allocation AS (
        INSERT INTO {Allocation._meta.db_table} (
            line_id, level_id, warehouse_id, quantity, status, expires_at)
        SELECT new_line.id, hold.level_id, hold.warehouse_id, hold.quantity, %s, %s
          FROM json_to_recordset(%s::json) AS hold(
                   line_number smallint, level_id bigint, warehouse_id bigint, quantity integer,
                   position integer)
          JOIN new_line ON new_line.line_number = hold.line_number
         ORDER BY hold.position
        RETURNING id, line_id, level_id
    )
    SELECT (SELECT id FROM new_order),
           (SELECT json_agg(json_build_array(line_number, id)) FROM new_line),
           (SELECT json_agg(json_build_array(id, line_id, level_id)) FROM new_allocation)
"""


def insert_order(order: Order, lines: list[OrderLine], allocations: list[Allocation]) -> None:
    """Insert the order, its lines and their allocations; sets their primary keys.

    Raises IntegrityError (order_reference_unique_per_channel) when the channel already
    has an order with this reference.
    """
    if connection.vendor != "postgresql":
        order.save(force_insert=True)
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        for allocation in allocations:
            allocation.line = allocation.line  # re-read the line's new primary key
        Allocation.objects.bulk_create(allocations)
        return
    with hot_cursor() as cursor:
        cursor.execute(
            INSERT_ORDER_SQL,
            [
                order.channel_id,
                order.reference,
                order.status,
                order.shipping_latitude,
                order.shipping_longitude,
                order.placed_at,
                order.expires_at,
                order.actor_label,
                OrderLine.Status.OPEN,
                json.dumps(
                    [
                        {
                            "line_number": line.line_number,
                            "variant_id": line.variant_id,
                            "quantity": line.quantity,
                            "backordered_quantity": line.backordered_quantity,
                            "short_quantity": line.short_quantity,
                        }
                        for line in lines
                    ]
                ),
                Allocation.Status.HELD,
                order.expires_at,
                json.dumps(
                    [
                        {
                            "line_number": allocation.line.line_number,
                            "level_id": allocation.level_id,
                            "warehouse_id": allocation.warehouse_id,
                            "quantity": allocation.quantity,
                            "position": position,
                        }
                        for position, allocation in enumerate(allocations)
                    ]
                ),
            ],
        )
        order_id, line_ids, allocation_ids = cursor.fetchone()
    mark_saved(order, order_id)
    line_id_by_number = dict(line_ids or ())
    for line in lines:
        line.order = order
        mark_saved(line, line_id_by_number[line.line_number])
    # An allocation is identified by (line, level): an order holds a line at a level once.
    allocation_id = {(line_id, level_id): pk for pk, line_id, level_id in allocation_ids or ()}
    for allocation in allocations:
        allocation.line = allocation.line
        mark_saved(allocation, allocation_id[(allocation.line_id, allocation.level_id)])


def mark_saved(instance, pk: int, alias: str | None = None) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = alias or connection.alias


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

LOCK_LEVELS_SQL = f"""
    SELECT count(*) FROM (
        SELECT id FROM {StockLevel._meta.db_table}
         WHERE id = ANY(%s)
         ORDER BY id
           FOR NO KEY UPDATE
    ) AS locked
"""

# Runs after LOCK_LEVELS_SQL, in a later statement: its snapshot is taken once the locks
# are held, so the balances it reads and writes are the latest.
RELEASE_HELD_SQL = f"""
    WITH held AS (
        SELECT * FROM json_to_recordset(%(held)s::json) AS held(
            allocation_id bigint, order_id bigint, level_id bigint, warehouse_id bigint,
            variant_id bigint, quantity integer, document text)
    ), running AS (
        SELECT held.*, level.on_hand, level.unsellable, level.safety_stock, level.inbound,
               level.reserved - SUM(held.quantity) OVER (
                   PARTITION BY held.level_id ORDER BY held.allocation_id
               ) AS reserved_after
          FROM held JOIN {StockLevel._meta.db_table} AS level ON level.id = held.level_id
    ), ledger AS (
        INSERT INTO {StockMovement._meta.db_table} (
            level_id, variant_id, warehouse_id, kind, reason, note,
            delta_on_hand, delta_reserved, delta_unsellable, delta_safety_stock, delta_inbound,
            on_hand_after, reserved_after, unsellable_after, safety_stock_after, inbound_after,
            document, reference, actor_kind, actor_user_id, actor_label, source,
            occurred_at, recorded_at)
        SELECT level_id, variant_id, warehouse_id, %(kind)s, %(reason)s, %(note)s,
               0, -quantity, 0, 0, 0,
               on_hand, reserved_after, unsellable, safety_stock, inbound,
               document, 'order:' || order_id || '/allocation:' || allocation_id || '/release',
               %(actor_kind)s, %(actor_user_id)s, %(actor_label)s, %(source)s,
               %(now)s, %(now)s
          FROM running
         ORDER BY allocation_id
    ), totals AS (
        SELECT level_id, SUM(quantity) AS quantity, COUNT(*) AS movements
          FROM held GROUP BY level_id
    ), levels AS (
        UPDATE {StockLevel._meta.db_table} AS level
           SET reserved = level.reserved - totals.quantity,
               version = level.version + totals.movements, updated_at = %(now)s
          FROM totals
         WHERE level.id = totals.level_id
        RETURNING level.id, level.variant_id, level.warehouse_id, level.version
    )
    SELECT json_agg(json_build_array(id, variant_id, warehouse_id, version)) FROM levels
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
    held: str  # the holds, as JSON text for RELEASE_HELD_SQL


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
    with connection.cursor() as cursor:
        cursor.execute(LOCK_LEVELS_SQL, [batch.level_ids])
        cursor.execute(
            RELEASE_HELD_SQL,
            {
                "held": batch.held,
                "kind": MovementKind.RELEASE,
                "reason": ReasonCode.ORDER,
                "note": HOLD_EXPIRED_NOTE,
                "source": MovementSource.ORDER,
                "actor_kind": actor.kind,
                "actor_user_id": actor.user_id,
                "actor_label": actor.label,
                "now": now,
            },
        )
        (changed,) = cursor.fetchone()
    return [StockChanged(*row) for row in changed or ()]
