"""The level locks every writer of balances takes, and the level rows they need.

Levels are locked FOR NO KEY UPDATE in ascending primary key, in one statement, so two
writers touching the same levels queue instead of deadlocking.
"""

from django.db import connection
from django.db.models import F
from django.utils import timezone

from inventory_hub.db import array_literal, hot_cursor, loaded_instance
from stock.models import BackorderPolicy, StockLevel, Variant
from warehouses.models import Warehouse

from ..backend import write_backend
from .rows import LEVEL_TABLE

# What the rules and the events read of a locked level; anything else loads on access.
LEVEL_ATTNAMES = [
    f.attname
    for f in StockLevel._meta.concrete_fields
    if f.attname not in ("updated_at", "low_stock_threshold")
]
LOCK_LEVELS_SQL = (
    f"SELECT {', '.join(f'level.{name}' for name in LEVEL_ATTNAMES)}, "
    "warehouse.is_active, variant.manage_stock "
    f"FROM {LEVEL_TABLE} AS level "
    "JOIN unnest(%s::bigint[], %s::bigint[]) AS wanted(variant_id, warehouse_id) "
    "ON level.variant_id = wanted.variant_id AND level.warehouse_id = wanted.warehouse_id "
    f"JOIN {Warehouse._meta.db_table} AS warehouse ON warehouse.id = level.warehouse_id "
    f"JOIN {Variant._meta.db_table} AS variant ON variant.id = level.variant_id "
    "ORDER BY level.id FOR NO KEY UPDATE OF level"
)


def lock_levels(
    pairs: set[tuple[int, int]], *, create_missing: bool = True
) -> dict[tuple[int, int], StockLevel]:
    """Lock the levels of these (variant id, warehouse id) pairs, in primary-key order.

    Missing levels are created first (`ensure_levels`). Must run inside a transaction; the
    locks last until it ends. The warehouse's active flag and the variant's manage-stock
    flag are read in the same statement, so the rules never trust a caller's Warehouse or
    Variant loaded long ago.
    """
    if create_missing:
        ensure_levels(pairs)
    return write_backend().lock_levels(pairs)


def lock_levels_postgres(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    # Plain rows made into instances by `loaded_instance`: a RawQuerySet's per-row work was
    # most of the time a 10,000-level batch spent here. The arrays go as PostgreSQL array
    # literals: binding 10,000 ints one by one cost the client more than the server spends
    # on the whole statement.
    with hot_cursor() as cursor:
        cursor.execute(LOCK_LEVELS_SQL, [array_literal(ids) for ids in _pair_arrays(pairs)])
        rows = cursor.fetchall()
    alias = connection.alias
    width = len(LEVEL_ATTNAMES)
    levels = {}
    for row in rows:
        level = loaded_instance(StockLevel, alias, LEVEL_ATTNAMES, row[:width])
        level.warehouse_is_active_now, level.variant_manages_stock_now = row[width:]
        levels[(level.variant_id, level.warehouse_id)] = level
    return levels


def read_levels_portable(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    # SQLite serialises writers: there is nothing to lock, only rows to read.
    candidates = (
        StockLevel.objects.filter(
            variant_id__in={v for v, _ in pairs}, warehouse_id__in={w for _, w in pairs}
        )
        .annotate(
            warehouse_is_active_now=F("warehouse__is_active"),
            variant_manages_stock_now=F("variant__manage_stock"),
        )
        .order_by("pk")
    )
    return {
        (level.variant_id, level.warehouse_id): level
        for level in candidates
        if (level.variant_id, level.warehouse_id) in pairs
    }


def _pair_arrays(pairs: set[tuple[int, int]]) -> tuple[list[int], list[int]]:
    ordered = sorted(pairs)
    return [v for v, _ in ordered], [w for _, w in ordered]


def ensure_levels(pairs: set[tuple[int, int]]) -> None:
    """Create the missing levels, each with its variant's backorder policy as committed.

    The policy is read from the variant row, never from a caller's possibly stale object,
    and under FOR SHARE: a concurrent `set_backorder_policy` holds the variant FOR NO KEY
    UPDATE, so a level created meanwhile waits and then reads the new policy. Existing
    levels take no lock here.
    """
    if pairs:
        write_backend().ensure_levels(pairs)


def ensure_levels_postgres(pairs: set[tuple[int, int]]) -> None:
    _insert_missing_levels(
        "unnest(%s::bigint[], %s::bigint[]) AS wanted(variant_id, warehouse_id)",
        [array_literal(ids) for ids in _pair_arrays(pairs)],
        share=" FOR SHARE OF variant",
    )


def ensure_levels_portable(pairs: set[tuple[int, int]]) -> None:
    # SQLite serialises writers, so it needs (and has) no row lock here.
    rows = ", ".join(["(%s, %s)"] * len(pairs))
    _insert_missing_levels(
        "(SELECT column1 AS variant_id, column2 AS warehouse_id "
        f"FROM (VALUES {rows}) AS pairs) AS wanted",
        [value for pair in sorted(pairs) for value in pair],
        share="",
    )


def _insert_missing_levels(wanted: str, params: list, *, share: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEVEL_TABLE} (variant_id, warehouse_id, on_hand, "
            "reserved, unsellable, safety_stock, inbound, is_backorder_allowed, version, "
            "updated_at) "
            "SELECT variant.id, wanted.warehouse_id, 0, 0, 0, 0, 0, "
            "variant.backorders <> %s, 0, %s "
            f"FROM {Variant._meta.db_table} AS variant JOIN {wanted} "
            "ON variant.id = wanted.variant_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {LEVEL_TABLE} AS level "
            "WHERE level.variant_id = wanted.variant_id "
            f"AND level.warehouse_id = wanted.warehouse_id){share} "
            "ON CONFLICT (variant_id, warehouse_id) DO NOTHING",
            [BackorderPolicy.DENY.value, timezone.now(), *params],
        )
