"""The locked path's reads and writes, each one statement on PostgreSQL.

Placing an order holds the lock on a hot SKU's level from the moment it is taken until
COMMIT, so every round trip inside that window costs throughput directly (see
BENCHMARKS.md). `lock_for_order` therefore reads what the order needs and locks the levels
in one statement, and `insert_order` writes the order, its lines and its allocations in
one more; the ledger and the balances are the engine's (`apply_locked`). SQLite, which
serialises writers and has no row locks, gets the same answers from the ORM (the choice
is `backend.write_backend()`'s).
"""

import json
from dataclasses import dataclass, field

from django.db import connection

from inventory_hub.db import hot_cursor, loaded_instance, mark_saved
from stock.models import Allocation, Order, OrderLine, StockLevel, Variant
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

from ..backend import write_backend
from ..ledger import LEVEL_ATTNAMES, lock_levels
from ..sourcing import Candidate
from .records import VARIANT_FIELDS

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
    return write_backend().lock_for_order(channel=channel, reference=reference, skus=skus)


def lock_for_order_postgres(
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


def lock_for_order_portable(
    *, channel: SalesChannel, reference: str, skus: list[str]
) -> OrderContext:
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
    write_backend().insert_order(order, lines, allocations)


def insert_order_portable(
    order: Order, lines: list[OrderLine], allocations: list[Allocation]
) -> None:
    order.save(force_insert=True)
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    for allocation in allocations:
        allocation.line = allocation.line  # re-read the line's new primary key
    Allocation.objects.bulk_create(allocations)


def insert_order_postgres(
    order: Order, lines: list[OrderLine], allocations: list[Allocation]
) -> None:
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
