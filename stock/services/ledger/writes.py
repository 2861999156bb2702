"""The ledger's writes: `apply_changes`, through which every stock service changes balances.

In one transaction it creates missing level rows, locks every level it touches in
primary-key order, skips replays, checks the rules (`rules`) against the locked values,
appends the ledger rows, adds the deltas to the balances and registers the `stock.changed`
publication for after the commit.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import cast

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory_hub.db import array_literal, hot_cursor
from stock.actors import Actor
from stock.events import StockChanged, publish_stock_changed, stock_changed_in_transaction
from stock.models import StockLevel, StockMovement

from ..backend import write_backend
from .locks import lock_levels
from .rows import (
    LEDGER_COLUMNS,
    LEVEL_TABLE,
    MOVEMENT_TABLE,
    QUANTITIES,
    QUANTITY_KEYS,
    ROW_COLUMNS,
    ROW_NAMES,
    SHARED_COLUMNS,
    ledger_insert_sql,
)
from .rules import BatchRejected, ChangeOutcome, LevelChange, check_batch_fields, evaluate


def apply_changes(
    changes: Sequence[LevelChange],
    *,
    actor: Actor,
    source: str,
    occurred_at: datetime | None = None,
) -> list[ChangeOutcome]:
    """Apply all changes or none, in one transaction.

    Locks every touched level (FOR NO KEY UPDATE, ascending primary key), so concurrent
    multi-level changes cannot deadlock and none loses an update. Raises `BatchRejected`
    listing each failing change by index, after which balances and ledger are untouched.
    Publishes one `stock.changed` per changed level after the commit.
    """
    if not changes:
        return []
    try:
        with transaction.atomic():
            levels = lock_levels({(change.variant.pk, change.warehouse.pk) for change in changes})
            return apply_locked(
                changes, levels, actor=actor, source=source, occurred_at=occurred_at
            )
    except IntegrityError as exc:
        # A concurrent replay of the same (source, reference) won the race: treat as replayed.
        if "movement_source_reference_unique" not in str(exc):
            raise
        return apply_changes(changes, actor=actor, source=source, occurred_at=occurred_at)


def apply_locked(
    changes: Sequence[LevelChange],
    levels: dict[tuple[int, int], StockLevel],
    *,
    actor: Actor,
    source: str,
    occurred_at: datetime | None = None,
    has_new_references: bool = False,
) -> list[ChangeOutcome]:
    """`apply_changes` for a caller that already holds the locks from `lock_levels`.

    Must run inside the caller's transaction. Raises `BatchRejected` (the caller's
    transaction must then roll back) or returns the outcomes. `has_new_references` tells
    it that no reference can have been used before (each names a row the caller has just
    inserted), which spares the replay lookup.
    """
    check_batch_fields(actor=actor, source=source)
    now = timezone.now()
    replayed = set() if has_new_references else _existing_references(changes, source)
    outcomes, errors = evaluate(changes, levels, replayed)
    if errors:
        raise BatchRejected("Some stock changes were refused.", errors=errors)
    written = _write(outcomes, actor=actor, source=source, occurred_at=occurred_at or now, now=now)
    announce_stock_changes(written)
    return outcomes


def announce_stock_changes(changed: Sequence[StockChanged]) -> None:
    """Inside the writing transaction: the connector outbox now, the live pages and the
    availability cache after commit. Every writer of balances ends with this."""
    if not changed:
        return
    stock_changed_in_transaction({change.variant_id for change in changed})
    transaction.on_commit(partial(publish_stock_changed, tuple(changed)))


def apply_change(change: LevelChange, *, actor: Actor, source: str, **kwargs) -> ChangeOutcome:
    """`apply_changes` for one change; raises the change's own error when refused."""
    try:
        return apply_changes([change], actor=actor, source=source, **kwargs)[0]
    except BatchRejected as rejected:
        raise rejected.errors[0][1] from None


def _existing_references(changes: Sequence[LevelChange], source: str) -> set[str]:
    references = [change.reference for change in changes if change.reference is not None]
    if not references:
        return set()
    return write_backend().existing_references(source, references)


def existing_references_postgres(source: str, references: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT reference FROM {MOVEMENT_TABLE} "
            "WHERE source = %s AND reference = ANY(%s::text[])",
            [source, references],
        )
        return {reference for (reference,) in cursor.fetchall()}


def existing_references_portable(source: str, references: list[str]) -> set[str]:
    found = StockMovement.objects.filter(source=source, reference__in=references).values_list(
        "reference", flat=True
    )
    # Only the references asked for can match, so none of them is NULL.
    return set(cast("Iterable[str]", found))


def _write(
    outcomes: list[ChangeOutcome],
    *,
    actor: Actor,
    source: str,
    occurred_at: datetime,
    now: datetime,
) -> list[StockChanged]:
    rows = [outcome.row for outcome in outcomes if outcome.row is not None]
    if not rows:
        return []
    shared = {
        "actor_kind": actor.kind,
        "actor_user_id": actor.user_id,
        "actor_label": actor.label,
        "source": source,
        "occurred_at": occurred_at,
        "recorded_at": now,
    }
    for row in rows:
        row.update(shared)
    totals: dict[int, dict[str, int]] = {}
    counts: dict[int, int] = {}
    levels: dict[int, StockLevel] = {}
    for outcome in outcomes:
        if outcome.row is None:
            continue
        level_id = outcome.level.pk
        level_totals = totals.setdefault(level_id, dict.fromkeys(QUANTITIES, 0))
        row = outcome.row
        for name, delta_key, _ in QUANTITY_KEYS:
            level_totals[name] += row[delta_key]
        counts[level_id] = counts.get(level_id, 0) + 1
        levels[level_id] = outcome.level
    write_backend().write_rows(rows, shared, totals, counts, now)
    for level_id, level_totals in totals.items():
        level = levels[level_id]
        for name, delta in level_totals.items():
            setattr(level, name, getattr(level, name) + delta)
        level.version += counts[level_id]
        level.available = level.on_hand - level.reserved - level.unsellable - level.safety_stock
    return [
        StockChanged(
            level_id=level.pk,
            variant_id=level.variant_id,
            warehouse_id=level.warehouse_id,
            version=level.version,
        )
        for level in levels.values()
    ]


# Below this many rows one INSERT … SELECT FROM unnest is cheaper than starting a COPY.
COPY_THRESHOLD = 100
SEQUENCE = f"pg_get_serial_sequence('{MOVEMENT_TABLE}', 'id')"
MOVEMENT_TARGETS = ("id", *LEDGER_COLUMNS)
UPDATE_LEVELS_SQL = (
    f"UPDATE {LEVEL_TABLE} AS level SET "
    + ", ".join(f"{name} = level.{name} + totals.delta_{name}" for name in QUANTITIES)
    + ", version = level.version + totals.movements, updated_at = %s "
    # Arrays, not json_to_recordset: a generic plan reckons a JSON set at 100 rows and
    # then hashes the whole level table for an order's one row; an array is reckoned at
    # 10, which keeps the index lookup. Sent as array literals, cheap to build.
    f"FROM unnest({', '.join(['%s::bigint[]'] + ['%s::integer[]'] * (len(QUANTITIES) + 1))}) "
    "AS totals(id, "
    + ", ".join(f"delta_{name}" for name in QUANTITIES)
    + ", movements) WHERE level.id = totals.id"
)
# A small batch's rows travel as one JSON parameter: binding a dozen arrays per statement
# cost the client more CPU than the statement cost the server.
WRITE_SMALL_BATCH_SQL = (
    "WITH batch AS MATERIALIZED ("
    f"  SELECT nextval({SEQUENCE}) AS id, entry.* FROM json_to_recordset(%s::json) AS entry("
    + ", ".join(f"{name} {kind}" for name, kind in ROW_COLUMNS)
    + ", position integer)"
    + "), inserted AS ("
    + ledger_insert_sql(
        {
            "id": "id",
            **{name: name for name in ROW_NAMES},
            **dict.fromkeys(SHARED_COLUMNS, "%s"),
        },
        "FROM batch",
        with_id=True,
    )
    + f"), updated AS ({UPDATE_LEVELS_SQL}) "
    "SELECT id FROM batch ORDER BY position"
)


def write_rows_postgres(
    rows: list[dict],
    shared: dict,
    totals: dict[int, dict[str, int]],
    counts: dict[int, int],
    now: datetime,
) -> None:
    """Append the ledger rows and add each level's deltas; sets each row's id.

    A small batch is one statement (the level locks are held until COMMIT, so each round
    trip here delays every waiting buyer); a large one COPYs its rows. Ids are drawn from
    the table's sequence beside each row's position, never from the order of RETURNING.
    """
    level_ids = list(totals)
    level_totals = [
        array_literal(level_ids),
        *(array_literal([totals[level_id][name] for level_id in level_ids]) for name in QUANTITIES),
        array_literal([counts[level_id] for level_id in level_ids]),
    ]
    with hot_cursor() as cursor:
        if len(rows) >= COPY_THRESHOLD:
            cursor.execute(f"SELECT nextval({SEQUENCE}) FROM generate_series(1, %s)", [len(rows)])
            for row, (movement_id,) in zip(rows, cursor.fetchall(), strict=True):
                row["id"] = movement_id
            with cursor.cursor.copy(
                f"COPY {MOVEMENT_TABLE} ({', '.join(MOVEMENT_TARGETS)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row([row[name] for name in MOVEMENT_TARGETS])
            cursor.execute(UPDATE_LEVELS_SQL, [now, *level_totals])
            return
        batch = json.dumps(
            [
                {**{name: row[name] for name in ROW_NAMES}, "position": position}
                for position, row in enumerate(rows)
            ]
        )
        cursor.execute(
            WRITE_SMALL_BATCH_SQL,
            [batch, *(shared[name] for name in SHARED_COLUMNS), now, *level_totals],
        )
        for row, (movement_id,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = movement_id


def write_rows_portable(
    rows: list[dict],
    shared: dict,
    totals: dict[int, dict[str, int]],
    counts: dict[int, int],
    now: datetime,
) -> None:
    """`write_rows_postgres` through the ORM, for SQLite (which serialises writers)."""
    created = StockMovement.objects.bulk_create([StockMovement(**row) for row in rows])
    for row, movement in zip(rows, created, strict=True):
        row["id"] = movement.pk
    _update_levels_sqlite(totals, counts, now)


def _update_levels_sqlite(
    totals: dict[int, dict[str, int]], counts: dict[int, int], now: datetime
) -> None:
    """SQLite's UPDATE … FROM (3.33+), in chunks that fit its parameter limit."""
    columns = ", ".join(f"delta_{name}" for name in QUANTITIES)
    assignments = ", ".join(f"{name} = {name} + batch.delta_{name}" for name in QUANTITIES)
    width = len(QUANTITIES) + 2
    max_query_params = connection.features.max_query_params
    # SQLite's backend always states its limit; only backends with none leave it None.
    assert max_query_params is not None
    per_statement = (max_query_params - 1) // width
    items = list(totals.items())
    for start in range(0, len(items), per_statement):
        chunk = items[start : start + per_statement]
        rows = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
        params = [
            value
            for level_id, level_totals in chunk
            for value in (level_id, *(level_totals[name] for name in QUANTITIES), counts[level_id])
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH batch(id, {columns}, movements) AS (VALUES {rows}) "
                f"UPDATE {LEVEL_TABLE} SET {assignments}, version = version + batch.movements, "
                f"updated_at = %s FROM batch WHERE {LEVEL_TABLE}.id = batch.id",
                [*params, now],
            )
