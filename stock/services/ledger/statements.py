"""The ledger's set-based writes, for the order statements that change many levels at once.

PostgreSQL only. The planned placing path embeds `RESERVED_CTE` and `RESERVE_LEDGER_CTE`
in its one reserving statement; hold expiry runs `release_held`. Both write the ledger
rows from the ledger's one row format (`rows`) and add the same deltas to the balances
as `apply_changes` would, under level locks taken in primary-key order.
"""

from django.db import connection

from inventory_hub.db import choice_literal
from stock.events import StockChanged
from stock.models import MovementKind, MovementSource, ReasonCode

from .rows import (
    LEVEL_TABLE,
    QUANTITIES,
    RELEASE_REFERENCE,
    RESERVE_REFERENCE,
    after_values,
    delta_values,
    ledger_insert_sql,
)

# --- Reserving planned holds -----------------------------------------------------------------
#
# For a statement with the CTEs `hold(line_number, variant_id, warehouse_id, quantity)`,
# `locked(id, variant_id, warehouse_id, …)` (the held levels, locked in primary-key order)
# and `verdict(ok)`; `RESERVE_LEDGER_CTE` also needs `new_order(id)`. Named parameters:
# now, document, actor_kind, actor_user_id, actor_label. Nothing is written unless ok.

RESERVED_CTE = f"""
    reserved AS (
        UPDATE {LEVEL_TABLE} AS level
           SET reserved = level.reserved + hold.quantity,
               version = level.version + 1, updated_at = %(now)s
          FROM locked JOIN hold ON hold.variant_id = locked.variant_id
                               AND hold.warehouse_id = locked.warehouse_id
         WHERE level.id = locked.id AND (SELECT ok FROM verdict)
        RETURNING level.id, level.variant_id, level.warehouse_id,
                  {", ".join(f"level.{name}" for name in QUANTITIES)},
                  level.version, hold.quantity, hold.line_number
    )
"""

_ACTOR_AND_TIME = {
    "actor_kind": "%(actor_kind)s",
    "actor_user_id": "%(actor_user_id)s",
    "actor_label": "%(actor_label)s",
    "source": choice_literal(MovementSource.ORDER),
    "occurred_at": "%(now)s",
    "recorded_at": "%(now)s",
}

RESERVE_LEDGER_CTE = (
    "ledger AS ("
    + ledger_insert_sql(
        {
            "level_id": "reserved.id",
            "variant_id": "reserved.variant_id",
            "warehouse_id": "reserved.warehouse_id",
            "kind": choice_literal(MovementKind.RESERVE),
            "reason": choice_literal(ReasonCode.ORDER),
            "note": "''",
            **delta_values(reserved="reserved.quantity"),
            **after_values(**{name: f"reserved.{name}" for name in QUANTITIES}),
            "document": "%(document)s",
            "reference": RESERVE_REFERENCE.sql(
                order="new_order.id",
                line="reserved.line_number",
                warehouse="reserved.warehouse_id",
            ),
            **_ACTOR_AND_TIME,
        },
        "FROM reserved, new_order ORDER BY reserved.line_number, reserved.id",
    )
    + ")"
)

# --- Releasing expired holds -----------------------------------------------------------------

LOCK_LEVELS_BY_ID_SQL = f"""
    SELECT count(*) FROM (
        SELECT id FROM {LEVEL_TABLE}
         WHERE id = ANY(%s)
         ORDER BY id
           FOR NO KEY UPDATE
    ) AS locked
"""

# Runs after LOCK_LEVELS_BY_ID_SQL, in a later statement: its snapshot is taken once the
# locks are held, so the balances it reads and writes are the latest.
RELEASE_HELD_SQL = f"""
    WITH held AS (
        SELECT * FROM json_to_recordset(%(held)s::json) AS held(
            allocation_id bigint, order_id bigint, level_id bigint, warehouse_id bigint,
            variant_id bigint, quantity integer, document text)
    ), running AS (
        SELECT held.*, level.on_hand, level.unsellable, level.safety_stock, level.inbound,
               level.reserved - SUM(held.quantity) OVER (
                   PARTITION BY held.level_id ORDER BY held.allocation_id
               ) AS reserved
          FROM held JOIN {LEVEL_TABLE} AS level ON level.id = held.level_id
    ), ledger AS ({
    ledger_insert_sql(
        {
            "level_id": "level_id",
            "variant_id": "variant_id",
            "warehouse_id": "warehouse_id",
            "kind": choice_literal(MovementKind.RELEASE),
            "reason": choice_literal(ReasonCode.ORDER),
            "note": "%(note)s",
            **delta_values(reserved="-quantity"),
            **after_values(**{name: name for name in QUANTITIES}),
            "document": "document",
            "reference": RELEASE_REFERENCE.sql(order="order_id", allocation="allocation_id"),
            **_ACTOR_AND_TIME,
        },
        "FROM running ORDER BY allocation_id",
    )
}), totals AS (
        SELECT level_id, SUM(quantity) AS quantity, COUNT(*) AS movements
          FROM held GROUP BY level_id
    ), levels AS (
        UPDATE {LEVEL_TABLE} AS level
           SET reserved = level.reserved - totals.quantity,
               version = level.version + totals.movements, updated_at = %(now)s
          FROM totals
         WHERE level.id = totals.level_id
        RETURNING level.id, level.variant_id, level.warehouse_id, level.version
    )
    SELECT json_agg(json_build_array(id, variant_id, warehouse_id, version)) FROM levels
"""


def release_held(level_ids: list[int], held: str, *, note: str, now, actor) -> list[StockChanged]:
    """Release holds already closed on the order side: a release row per hold (with the
    balances after it, in allocation order) and the balances, in two statements.

    `held` is JSON text of the holds (allocation_id, order_id, level_id, warehouse_id,
    variant_id, quantity, document); `level_ids` their levels, which it locks first, in
    primary-key order. Must run inside a transaction. Not prepared: each batch is planned
    for its own size. The levels' CHECK constraints still refuse a negative reservation.
    """
    with connection.cursor() as cursor:
        cursor.execute(LOCK_LEVELS_BY_ID_SQL, [level_ids])
        cursor.execute(
            RELEASE_HELD_SQL,
            {
                "held": held,
                "note": note,
                "actor_kind": actor.kind,
                "actor_user_id": actor.user_id,
                "actor_label": actor.label,
                "now": now,
            },
        )
        (changed,) = cursor.fetchone()
    return [StockChanged(*row) for row in changed or ()]
