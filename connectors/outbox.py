"""Outbox rows: changes that must reach a store, written in the stock change's transaction.

Guarantees:
- `enqueue_stock_pushes` runs inside the caller's transaction, so a rolled-back stock
  change leaves no outbox row and a committed one always has one (for every active
  connector that maps the variant, unless the store owns all the stock it shows). It
  costs at most one SQL statement, and none while this process knows that no active
  connector maps anything.
- Many changes of one variant coalesce into the one pending row per (connector, variant)
  (`change_count` grows; a row waiting out a backoff keeps its `due_at`).
- After the commit the push task is kicked for the connectors concerned: at once, or at
  the end of a short interval when this process kicked that connector moments ago
  (`CONNECTORS_KICK_INTERVAL_SECONDS`), so a burst of orders costs one message, not one
  per order. The beat sweeper finds anything a lost kick missed.

The "nothing is mapped" knowledge is process-local and refreshed at least every
`CONNECTORS_MAPPING_CHECK_SECONDS`. A process that still believes nothing is mapped right
after another process created the first mapping would skip a change; the sweeper's
catch-up (`enqueue_recent_mappings`) re-enqueues mappings created within that window, due
after it has passed, and pushes compute their values at send time, so such a change
still reaches the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from connectors.dispatch import PUSH_OUTBOX, connector_task
from connectors.engine.kicks import Debouncer
from connectors.engine.kicks import kick_interval_seconds as kick_interval_seconds
from connectors.models import Connector, SkuMapping
from inventory_hub.db import is_postgresql

logger = logging.getLogger(__name__)

OUTBOX_TABLE = "connectors_outboxitem"
MAPPING_TABLE = "connectors_skumapping"
CONNECTOR_TABLE = "connectors_connector"
LOCATION_TABLE = "connectors_locationmapping"
# A connector gets rows only where the hub owns stock it shows (as
# connectors.sync.configure.hub_owns_stock): a store owning all of it is never pushed, and
# its rows would only be sent as nothing, or refused by a store with nowhere to push to.
HUB_OWNS_STOCK_SQL = f"""(
    c.ownership = 'hub'
    OR EXISTS (
        SELECT 1 FROM {LOCATION_TABLE} l WHERE l.connector_id = c.id AND NOT l.is_store_owned
    )
)"""


def mapping_check_seconds() -> float:
    return float(settings.CONNECTORS_MAPPING_CHECK_SECONDS)


class _MappingState:
    """Whether any active connector maps any variant, as last seen by this process."""

    def __init__(self) -> None:
        self.has_mappings = True  # unknown: assume yes until the database says otherwise
        self.checked_at = float("-inf")

    def is_fresh(self) -> bool:
        return time.monotonic() - self.checked_at < mapping_check_seconds()

    def remember(self, has_mappings: bool) -> None:
        self.has_mappings = has_mappings
        self.checked_at = time.monotonic()

    def forget(self) -> None:
        self.checked_at = float("-inf")


_state = _MappingState()


def forget_mapping_state() -> None:
    """Make the next stock change re-read whether anything is mapped (after a mapping or
    connector change made in this process)."""
    _state.forget()


_ENQUEUE_SQL = f"""
    INSERT INTO {OUTBOX_TABLE}
        (connector_id, variant_id, state, change_count, due_at, attempts, last_error,
         created_at, updated_at)
    SELECT m.connector_id, m.variant_id, 'pending', 1, %(now)s, 0, '', %(now)s, %(now)s
    FROM {MAPPING_TABLE} m
    JOIN {CONNECTOR_TABLE} c ON c.id = m.connector_id
    WHERE c.is_active AND {HUB_OWNS_STOCK_SQL} AND m.variant_id {{variant_filter}}
    ORDER BY m.connector_id, m.variant_id
    ON CONFLICT (connector_id, variant_id) WHERE state = 'pending'
    DO UPDATE SET change_count = {OUTBOX_TABLE}.change_count + 1,
                  updated_at = EXCLUDED.updated_at
    RETURNING connector_id
"""
# Rows are upserted in (connector, variant) order, so two transactions enqueueing
# overlapping variants wait for each other instead of deadlocking.

_EXISTS_SQL = f"""
    SELECT EXISTS (
        SELECT 1 FROM {MAPPING_TABLE} m JOIN {CONNECTOR_TABLE} c ON c.id = m.connector_id
        WHERE c.is_active
    )
"""


def may_enqueue() -> bool:
    """False while this process knows that no active connector maps any variant."""
    return not (_state.is_fresh() and not _state.has_mappings)


def enqueue_stock_pushes(variant_ids: Iterable[int]) -> None:
    """Mark these variants as due for a push to every active connector that maps them.

    Runs inside the caller's transaction (see `stock.events.stock_changed_in_transaction`):
    one statement at most, none when nothing is mapped. Kicks the push task after commit.
    """
    if not may_enqueue():
        return
    ids = sorted({int(variant_id) for variant_id in variant_ids})
    if not ids:
        return
    refresh = not _state.is_fresh()
    connector_ids, has_mappings = _upsert(ids, refresh=refresh)
    if refresh:
        _state.remember(has_mappings)
    if connector_ids:
        transaction.on_commit(partial(kick_push_tasks, sorted(connector_ids)))


def _upsert(ids: list[int], *, refresh: bool) -> tuple[set[int], bool]:
    now = timezone.now()
    if is_postgresql():
        sql = _ENQUEUE_SQL.format(variant_filter="= ANY(%(ids)s)")
        params: dict = {"now": now, "ids": ids}
        if refresh:
            # One statement both enqueues and refreshes what this process knows.
            sql = (
                f"WITH inserted AS ({sql}) SELECT connector_id, ({_EXISTS_SQL}) FROM inserted "
                f"UNION ALL SELECT NULL, ({_EXISTS_SQL}) WHERE NOT EXISTS (SELECT 1 FROM inserted)"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if refresh:
            connector_ids: set[int] = {row[0] for row in rows if row[0] is not None}
            return connector_ids, bool(rows and rows[0][1])
        return {row[0] for row in rows}, True
    # SQLite (the `make run` default): same upsert, chunked under its parameter limit.
    connector_ids = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        placeholders = ", ".join(f"%(id{index})s" for index in range(len(chunk)))
        sql = _ENQUEUE_SQL.format(variant_filter=f"IN ({placeholders})")
        # SQLite needs a WHERE in an INSERT … SELECT before ON CONFLICT: it has one.
        params = {"now": now, **{f"id{index}": value for index, value in enumerate(chunk)}}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            connector_ids.update(row[0] for row in cursor.fetchall())
    has_mappings = True
    if refresh:
        with connection.cursor() as cursor:
            cursor.execute(_EXISTS_SQL)
            has_mappings = bool(cursor.fetchone()[0])
    return connector_ids, has_mappings


_CONNECTOR_SQL = f"""
    INSERT INTO {OUTBOX_TABLE}
        (connector_id, variant_id, state, change_count, due_at, attempts, last_error,
         created_at, updated_at)
    SELECT m.connector_id, m.variant_id, 'pending', 1, %(due)s, 0, '', %(now)s, %(now)s
    FROM {MAPPING_TABLE} m
    JOIN {CONNECTOR_TABLE} c ON c.id = m.connector_id
    WHERE c.is_active AND {HUB_OWNS_STOCK_SQL} AND m.connector_id = %(connector)s
        {{variant_filter}}
    ORDER BY m.connector_id, m.variant_id
    ON CONFLICT (connector_id, variant_id) WHERE state = 'pending'
    DO UPDATE SET change_count = {OUTBOX_TABLE}.change_count + 1,
                  updated_at = EXCLUDED.updated_at,
                  due_at = {{greatest}}({OUTBOX_TABLE}.due_at, EXCLUDED.due_at)
    RETURNING variant_id
"""


def enqueue_connector_pushes(
    connector_id: int,
    variant_ids: Iterable[int] | None = None,
    *,
    delay_seconds: float = 0.0,
) -> int:
    """Mark mapped variants of one connector (all of them when `variant_ids` is None) due.

    For a drift overwrite, a connector switched on, changed channel links or settings. A
    pending row is kept (its count grows) and its `due_at` moves to the later of the two,
    so a delayed catch-up is never sent before its delay. Inactive connectors get nothing.
    Returns the number of rows written; kicks the push task after commit when due now.
    """
    now = timezone.now()
    params: dict = {
        "now": now,
        "due": now + timedelta(seconds=delay_seconds),
        "connector": connector_id,
    }
    is_postgres = is_postgresql()
    greatest = "GREATEST" if is_postgres else "MAX"
    chunks: list[list[int] | None] = [None]
    if variant_ids is not None:
        ids = sorted({int(variant_id) for variant_id in variant_ids})
        if not ids:
            return 0
        chunks = [ids] if is_postgres else [ids[i : i + 500] for i in range(0, len(ids), 500)]
    touched = 0
    with transaction.atomic():
        for chunk in chunks:
            variant_filter = ""
            if chunk is not None and is_postgres:
                variant_filter = "AND m.variant_id = ANY(%(ids)s)"
                params["ids"] = chunk
            elif chunk is not None:
                names = [f"id{index}" for index in range(len(chunk))]
                variant_filter = f"AND m.variant_id IN ({', '.join(f'%({n})s' for n in names)})"
                params.update(zip(names, chunk, strict=True))
            sql = _CONNECTOR_SQL.format(variant_filter=variant_filter, greatest=greatest)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                touched += len(cursor.fetchall())
        if touched and delay_seconds <= 0:
            transaction.on_commit(partial(kick_push_tasks, [connector_id]))
    return touched


def enqueue_channel_pushes(
    channel_ids: Iterable[int], *, warehouse_ids: Iterable[int] = ()
) -> None:
    """What these channels (or warehouses) may sell changed for every SKU: settings, links,
    a warehouse switched on or off. Queues every mapped SKU of each active connector that
    shows such a channel or maps such a warehouse.

    Runs inside the caller's transaction (warehouses.services); one query when no
    connector is concerned.
    """
    channel_ids = list(channel_ids)
    warehouse_ids = list(warehouse_ids)
    connector_ids = list(
        Connector.objects.filter(is_active=True)
        .filter(
            Q(channel_id__in=channel_ids) | Q(location_mappings__warehouse_id__in=warehouse_ids)
        )
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    for connector_id in connector_ids:
        enqueue_connector_pushes(connector_id)


def enqueue_recent_mappings(*, now=None) -> int:
    """Catch-up for mappings created while some process still believed nothing was mapped.

    Enqueues the mappings created within the last two check windows, due once a full
    window has passed since their creation (the sweeper calls this on every run). A repeat
    costs no store request: a value equal to what the store confirmed is not pushed.
    """
    now = now or timezone.now()
    window = timedelta(seconds=mapping_check_seconds())
    recent = (
        SkuMapping.objects.filter(created_at__gte=now - 2 * window, connector__is_active=True)
        .values_list("connector_id", "variant_id", "created_at")
        .order_by("connector_id")
    )
    by_connector: dict[int, tuple[list[int], float]] = {}
    for connector_id, variant_id, created_at in recent:
        variants, delay = by_connector.get(connector_id, ([], 0.0))
        variants.append(variant_id)
        wait = (created_at + window - now).total_seconds() + 0.5
        by_connector[connector_id] = (variants, max(delay, wait))
    total = 0
    for connector_id, (variants, delay) in by_connector.items():
        total += enqueue_connector_pushes(connector_id, variants, delay_seconds=max(delay, 0.0))
    return total


class _Kicker(Debouncer):
    """At most one `push_outbox_task` message per connector per interval from this process,
    the first of a burst sent at once by the committing caller (`connectors.engine.kicks`)."""

    sends_in_caller = True

    def send(self, connector_ids: list[int]) -> None:
        _send_kicks(connector_ids)


_kicker = _Kicker()


def kick_push_tasks(connector_ids: list[int]) -> None:
    """After commit: ask a worker to push soon (the sweeper covers a kick that is lost)."""
    _kicker.kick(connector_ids)


def _send_kicks(connector_ids: Iterable[int]) -> None:
    for connector_id in connector_ids:
        try:
            connector_task(PUSH_OUTBOX).delay(connector_id)
        except Exception:
            # The rows are committed; the beat sweeper sends them within seconds.
            logger.exception("Could not queue push_outbox_task for connector %s", connector_id)
