"""The planned path's statements (PostgreSQL): the unlocked read and the reserving statement.

The locked path (`locked`) holds a hot SKU's level lock across five round trips. Here
the plan is made from an unlocked read (or, on a channel whose last order went wholly to
its first warehouse by priority, from nothing; on one sourcing by most stock, by the
statement itself: see `unread_plan`), and one statement then locks the planned levels
(primary-key order, as every writer does), checks under that lock everything the plan
relied on, and only when all of it still holds writes the order, its lines, their
allocations, and the ledger rows and balances (those two parts are the ledger's own,
`ledger.statements`). Checked under the lock: each level's
available quantity covers its hold, the warehouse is active and still linked to the
channel, the channel's count of active warehouses and which of them comes first (for a
plan made in Python), each variant still has its SKU, is sold and manages stock as
planned, and no balance passes `MAX_QUANTITY`: the same rules `apply_locked` applies to a
reservation. See docs/adr/0001. When anything differs the statement writes nothing and
`place_order` takes the locked path, which also owns every answer other than success
(short lines, backorders, levels still to create, expired holds to release first).

Between the read and the statement the stock may change: the holds are then still
covered (the statement checks that) but can differ from what a plan made under the lock
would choose, for instance when a preferred warehouse was restocked in between.
"""

import re
from dataclasses import dataclass

from inventory_hub.db import array_literal, choice_literal, hot_cursor
from stock.models import Allocation, Order, OrderLine, OrderStatus, StockLevel, Variant
from warehouses.models import ChannelWarehouse, Warehouse

from ..ledger import MAX_QUANTITY
from ..ledger.statements import RESERVE_LEDGER_CTE, RESERVED_CTE

READ_FOR_PLAN_SQL = f"""
    SELECT variant.id, variant.sku, variant.manage_stock, variant.backorders, variant.is_active,
           link.priority, warehouse.id, warehouse.code, warehouse.latitude, warehouse.longitude,
           level.available
      FROM {Variant._meta.db_table} AS variant
      JOIN {ChannelWarehouse._meta.db_table} AS link ON link.channel_id = %s
      JOIN {Warehouse._meta.db_table} AS warehouse
        ON warehouse.id = link.warehouse_id AND warehouse.is_active
      LEFT JOIN {StockLevel._meta.db_table} AS level
        ON level.variant_id = variant.id AND level.warehouse_id = warehouse.id
     WHERE variant.sku = ANY(%s::text[])
"""

# The plan made in Python: one row per (line, warehouse) it holds.
PLANNED_HOLD = """
    hold AS (
        SELECT planned.line_number, line.variant_id, planned.warehouse_id, planned.quantity
          FROM unnest(%(hold_line)s::smallint[], %(hold_warehouse)s::bigint[],
                      %(hold_quantity)s::integer[])
               AS planned(line_number, warehouse_id, quantity)
          JOIN line ON line.line_number = planned.line_number AND line.manage_stock
    )
"""
# The channel's active warehouses the plan ranked are still its active warehouses.
PLANNED_WAREHOUSES = f"""
    AND (%(candidates)s, %(first)s) = (
        SELECT count(*), (array_agg(warehouse.id
                                    ORDER BY link.priority, warehouse.code COLLATE "C"))[1]
          FROM {ChannelWarehouse._meta.db_table} AS link
          JOIN {Warehouse._meta.db_table} AS warehouse
            ON warehouse.id = link.warehouse_id AND warehouse.is_active
         WHERE link.channel_id = %(channel)s)
"""
# `plan_allocations` by most stock, for orders whose every line some warehouse covers
# whole: each line at the active linked warehouse with the most available, ties going to
# the one covering more of the order's lines, then by priority and code. A line no
# warehouse has a level for gets a row without one, which `verdict` refuses, as it
# refuses a chosen warehouse that does not cover its line (the read then plans it).
MOST_STOCK_HOLD = f"""
    hold AS (
        SELECT line.line_number, line.variant_id, best.warehouse_id, line.quantity
          FROM line LEFT JOIN LATERAL (
               SELECT level.warehouse_id
                 FROM {StockLevel._meta.db_table} AS level
                 JOIN {ChannelWarehouse._meta.db_table} AS link
                   ON link.warehouse_id = level.warehouse_id AND link.channel_id = %(channel)s
                 JOIN {Warehouse._meta.db_table} AS warehouse
                   ON warehouse.id = level.warehouse_id AND warehouse.is_active
                WHERE level.variant_id = line.variant_id
                ORDER BY level.available DESC,
                         (SELECT count(*) FROM line AS other
                            JOIN {StockLevel._meta.db_table} AS at
                              ON at.variant_id = other.variant_id
                             AND at.warehouse_id = level.warehouse_id
                           WHERE other.manage_stock AND at.available >= other.quantity) DESC,
                         link.priority, warehouse.code COLLATE "C"
                LIMIT 1) AS best ON true
         WHERE line.manage_stock
    )
"""


# Arrays travel as array literals: a generic plan reckons each at 10 rows, which keeps the
# index lookups (see ledger.writes.UPDATE_LEVELS_SQL). Spaces are squeezed out (`_positional`):
# psycopg caches the parsing of a query only up to 4,096 characters, and parsing it again
# for every order cost more client CPU than anything else the order did.
#
# The answer comes as arrays of bigint arrays, which psycopg reads in C: JSON cost the
# client three times as much to read.
#
# CTEs referenced twice are materialized, each evaluated once; `locked` says so anyway,
# as its locks must all be taken, in primary-key order, before `reserved` updates.
# `line` resolves each line's SKU; `hold` is the plan, one row per (line, warehouse),
# kept only for lines whose variant manages stock. A line's expected manage-stock flag is
# NULL when the caller planned without reading the variants (`unread_plan`).
def _reserve_sql(hold: str, planned_warehouses: str) -> str:
    """The reserving statement, given how it gets its `hold` CTE and whether it checks the
    channel's warehouses as the plan saw them."""
    return f"""
    WITH line AS (
        SELECT entry.line_number, entry.sku, entry.quantity, entry.manage_stock AS expected,
               variant.id AS variant_id, variant.manage_stock, variant.is_active
          FROM unnest(%(line_number)s::smallint[], %(line_sku)s::text[],
                      %(line_quantity)s::integer[], %(line_managed)s::boolean[])
               AS entry(line_number, sku, quantity, manage_stock)
          LEFT JOIN {Variant._meta.db_table} AS variant ON variant.sku = entry.sku
    ), {hold}, locked AS MATERIALIZED (
        SELECT level.id, level.variant_id, level.warehouse_id, level.available, level.reserved
          FROM {StockLevel._meta.db_table} AS level
          JOIN hold ON level.variant_id = hold.variant_id
                   AND level.warehouse_id = hold.warehouse_id
         ORDER BY level.id
           FOR NO KEY UPDATE OF level
    ), verdict AS (
        SELECT (SELECT count(*)
                  FROM locked
                  JOIN hold ON hold.variant_id = locked.variant_id
                           AND hold.warehouse_id = locked.warehouse_id
                  JOIN {Warehouse._meta.db_table} AS warehouse
                    ON warehouse.id = locked.warehouse_id AND warehouse.is_active
                  JOIN {ChannelWarehouse._meta.db_table} AS link
                    ON link.warehouse_id = locked.warehouse_id AND link.channel_id = %(channel)s
                 WHERE locked.available >= hold.quantity
                   AND locked.reserved <= {MAX_QUANTITY} - hold.quantity
               ) = (SELECT count(*) FROM hold)
           {planned_warehouses}
           AND (SELECT count(*) FROM line
                 WHERE is_active AND manage_stock = coalesce(expected, manage_stock)
               ) = %(lines)s
           AS ok
    ), {RESERVED_CTE}, new_order AS (
        INSERT INTO {Order._meta.db_table} (
            channel_id, reference, status, shipping_latitude, shipping_longitude,
            placed_at, expires_at, actor_label)
        SELECT %(channel)s, %(reference)s, {choice_literal(OrderStatus.PLACED)}, %(latitude)s,
               %(longitude)s, %(now)s, %(expires_at)s, %(actor_label)s
         WHERE (SELECT ok FROM verdict)
        RETURNING id
    ), new_line AS (
        INSERT INTO {OrderLine._meta.db_table} (
            order_id, line_number, variant_id, quantity, backordered_quantity, status)
        SELECT new_order.id, line.line_number, line.variant_id, line.quantity, 0,
               {choice_literal(OrderLine.Status.OPEN)}
          FROM new_order, line
        RETURNING id, line_number, variant_id
    ), new_allocation AS (
        INSERT INTO {Allocation._meta.db_table} (
            line_id, level_id, warehouse_id, quantity, status, expires_at)
        SELECT new_line.id, reserved.id, reserved.warehouse_id, reserved.quantity,
               {choice_literal(Allocation.Status.HELD)}, %(expires_at)s
          FROM reserved JOIN new_line ON new_line.line_number = reserved.line_number
         ORDER BY reserved.line_number, reserved.id
    ), {RESERVE_LEDGER_CTE}
    SELECT (SELECT id FROM new_order),
           (SELECT array_agg(ARRAY[line_number, id, variant_id]) FROM new_line),
           (SELECT array_agg(ARRAY[id, variant_id, warehouse_id, version]) FROM reserved)
"""


def _positional(named_sql: str) -> tuple[str, list[str]]:
    """The statement with `%s` for each `%(name)s`, and the names in their order."""
    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        names.append(match.group(1))
        return "%s"

    # No space is needed beside a comma or parenthesis (the statements quote none).
    squeezed = re.sub(r" ?([(),]) ?", r"\1", " ".join(named_sql.split()))
    return re.sub(r"%\((\w+)\)s", placeholder, squeezed), names


RESERVE_PLANNED_SQL, RESERVE_PLANNED_PARAMS = _positional(
    _reserve_sql(PLANNED_HOLD, PLANNED_WAREHOUSES)
)
RESERVE_MOST_STOCK_SQL, RESERVE_MOST_STOCK_PARAMS = _positional(_reserve_sql(MOST_STOCK_HOLD, ""))


@dataclass(frozen=True, slots=True)
class PlanningRow:
    """One (variant, linked active warehouse) pair as read before planning."""

    variant: tuple  # (id, sku, manage_stock, backorders, is_active)
    priority: int
    warehouse: tuple  # (id, code, latitude, longitude)
    available: int | None  # None: no level row for this pair


def read_for_plan(*, channel_id: int, skus: list[str]) -> list[PlanningRow]:
    """The variants of these SKUs at each of the channel's active warehouses, unlocked."""
    with hot_cursor() as cursor:
        cursor.execute(READ_FOR_PLAN_SQL, [channel_id, skus])
        rows = cursor.fetchall()
    return [
        PlanningRow(variant=row[0:5], priority=row[5], warehouse=row[6:10], available=row[10])
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Warehouses:
    """A channel's active warehouses as a plan saw them: how many, and which comes first.

    First is by (priority, code), codes compared by code point (`COLLATE "C"` in SQL). The
    reserving statement refuses a plan when either has changed since.
    """

    count: int
    first: int


# Channel id: its warehouses, for channels whose next order this process plans unread
# (see `unread_plan`).
_unread_plans: dict[int, Warehouses] = {}


def unread_plan(channel_id: int) -> Warehouses | None:
    """The channel's warehouses, when its next order may be planned without a read.

    A channel that sources by priority, or has one active warehouse, holds each line whole
    at its first warehouse when that warehouse covers the line, whatever the others have
    (`planned.plans_unread` says which channels); a channel sourcing by most stock holds
    it whole where the most is available, which the reserving statement can find itself
    (`MOST_STOCK_HOLD`). So once an order planned from a read was held whole so, the next
    one is planned that way without a read, and the statement checks under the lock that
    the plan holds (that the first warehouse covers every line and is still first, or that
    the warehouse with the most covers its line). When it does not, `forget_unread_plan`
    and a read follow.
    """
    return _unread_plans.get(channel_id)


def remember_unread_plan(channel_id: int, warehouses: Warehouses) -> None:
    _unread_plans[channel_id] = warehouses


def forget_unread_plan(channel_id: int) -> None:
    _unread_plans.pop(channel_id, None)


def forget_every_unread_plan() -> None:
    """As a new process: every channel's next order is read first (tests)."""
    _unread_plans.clear()


@dataclass(frozen=True, slots=True)
class PlannedLine:
    line_number: int
    sku: str
    quantity: int
    manages_stock: bool | None  # None: not read; the statement holds it if it does
    holds: tuple[tuple[int, int], ...]  # (warehouse id, quantity)


@dataclass(frozen=True, slots=True)
class Reserved:
    order_id: int
    lines: dict[int, tuple[int, int]]  # line number: (line id, variant id)
    levels: list[tuple[int, int, int, int]]  # (level id, variant id, warehouse id, version)


def reserve_planned(
    *,
    channel_id: int,
    reference: str,
    latitude,
    longitude,
    now,
    expires_at,
    document: str,
    actor,
    lines: list[PlannedLine],
    warehouses: Warehouses | None,
) -> Reserved | None:
    """Run the plan in one statement; None, with nothing written, when it no longer holds.

    With `warehouses` None the statement makes the plan itself, by most stock
    (`MOST_STOCK_HOLD`), and the lines' holds are not read.
    """
    params = {
        "line_number": array_literal([line.line_number for line in lines]),
        "line_sku": [line.sku for line in lines],
        "line_quantity": array_literal([line.quantity for line in lines]),
        "line_managed": _flag_array_literal([line.manages_stock for line in lines]),
        "channel": channel_id,
        "lines": len(lines),
        "now": now,
        "reference": reference,
        "latitude": latitude,
        "longitude": longitude,
        "expires_at": expires_at,
        "actor_kind": actor.kind,
        "actor_user_id": actor.user_id,
        "actor_label": actor.label,
        "document": document,
    }
    if warehouses is None:
        sql, names = RESERVE_MOST_STOCK_SQL, RESERVE_MOST_STOCK_PARAMS
    else:
        sql, names = RESERVE_PLANNED_SQL, RESERVE_PLANNED_PARAMS
        holds = [
            (line.line_number, warehouse_id, quantity)
            for line in lines
            for warehouse_id, quantity in line.holds
        ]
        params["hold_line"] = array_literal([number for number, _, _ in holds])
        params["hold_warehouse"] = array_literal([warehouse_id for _, warehouse_id, _ in holds])
        params["hold_quantity"] = array_literal([quantity for _, _, quantity in holds])
        params["candidates"] = warehouses.count
        params["first"] = warehouses.first
    with hot_cursor() as cursor:
        cursor.execute(sql, [params[name] for name in names])
        order_id, lines_written, levels = cursor.fetchone()
    if order_id is None:
        return None
    return Reserved(
        order_id=order_id,
        lines={number: (line_id, variant_id) for number, line_id, variant_id in lines_written},
        levels=[tuple(level) for level in levels or ()],
    )


def _flag_array_literal(values: list[bool | None]) -> str:
    return "{" + ",".join({True: "t", False: "f", None: "NULL"}[value] for value in values) + "}"
