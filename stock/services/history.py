"""Daily closing snapshots, derived from the ledger.

A snapshot is a level's balance at the end of one UTC day: the sum of every delta that
*occurred* before the next midnight. It is computed from `occurred_at`, not from the
`*_after` columns, because those follow recording order and a backdated movement makes
them disagree with what the shelf held on the day. Snapshots are a cache of the ledger:
rebuilding any range rewrites the same figures, so every writer here is safe to repeat.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from stock.models import DailyStockSnapshot, StockMovement

from .backend import write_backend
from .ledger.rows import QUANTITIES

# Rows per INSERT: arrays on PostgreSQL; VALUES elsewhere, lowered to the parameter limit.
UNNEST_BATCH_SIZE = 20_000
VALUES_BATCH_SIZE = 2000


@dataclass(slots=True)
class _Running:
    day: date
    balances: list[int]


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def rebuild_snapshots(*, since: date | None = None, level_ids: Iterable[int] | None = None) -> int:
    """Recompute closing balances per level and UTC day, from the ledger, through today.

    From `since` (or each level's first movement when None) every day gets a row, days
    without movements carrying the previous close forward; today's row is the close so far.
    Rows are upserted on (level, day) in one transaction, so a rebuild can be repeated or
    run beside the hourly task. Returns how many daily closes it computed.
    """
    today = utc_today()
    movements = StockMovement.objects.all()
    if level_ids is not None:
        movements = movements.filter(level_id__in=list(level_ids))
    sums = {name: Sum(f"delta_{name}") for name in QUANTITIES}

    running: dict[int, _Running] = {}
    in_range = movements.filter(occurred_at__lt=_midnight(today + timedelta(days=1)))
    if since is not None:
        in_range = in_range.filter(occurred_at__gte=_midnight(since))
        opening = (
            movements.filter(occurred_at__lt=_midnight(since))
            .values("level_id")
            .annotate(**sums)
            .order_by("level_id")
        )
        for row in opening:
            running[row["level_id"]] = _Running(
                day=since, balances=[row[name] for name in QUANTITIES]
            )

    daily = (
        in_range.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("level_id", "day")
        .annotate(**sums)
        .order_by("level_id", "day")
    )
    rows: list[tuple] = []
    for row in daily:
        state = running.get(row["level_id"])
        if state is None:
            state = running[row["level_id"]] = _Running(
                day=row["day"], balances=[0] * len(QUANTITIES)
            )
        _close_days(rows, row["level_id"], state, until=row["day"])
        state.balances = [
            balance + row[name] for balance, name in zip(state.balances, QUANTITIES, strict=True)
        ]
    for level_id, state in running.items():
        _close_days(rows, level_id, state, until=today + timedelta(days=1))
    _upsert(rows)
    return len(rows)


def _close_days(rows: list[tuple], level_id: int, state: _Running, *, until: date) -> None:
    """Append the closes of state.day up to (not including) `until`, then move to `until`."""
    day = state.day
    while day < until:
        rows.append((level_id, day, *state.balances))
        day += timedelta(days=1)
    state.day = max(state.day, until)


def _upsert(rows: list[tuple]) -> None:
    """INSERT … ON CONFLICT (level, day) DO UPDATE, skipping rows that already hold the value.

    Plain SQL rather than bulk_create(update_conflicts=True): a 90-day rebuild writes a row
    per level and day (90,000 for the demo), and Django's per-field preparation of that many
    model instances took most of the time. PostgreSQL receives each column as one array
    (unnest), which spares it parsing a statement with thousands of parameters; SQLite gets
    multi-row VALUES under its parameter limit. An unchanged row is not rewritten, so an
    hourly refresh leaves no dead tuples behind.
    """
    table = DailyStockSnapshot._meta.db_table
    columns = ("level_id", "day", *QUANTITIES)
    conflict = (
        "ON CONFLICT (level_id, day) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in QUANTITIES)
        + " WHERE "
        + " OR ".join(f"{table}.{name} <> excluded.{name}" for name in QUANTITIES)
    )
    insert = f"INSERT INTO {table} ({', '.join(columns)}) "
    with transaction.atomic(), connection.cursor() as cursor:
        write_backend().upsert_snapshots(cursor, rows, insert=insert, conflict=conflict)


def upsert_postgres(cursor, rows: list[tuple], *, insert: str, conflict: str) -> None:
    types = ("bigint[]", "date[]", *(["integer[]"] * len(QUANTITIES)))
    arrays = ", ".join(f"%s::{name}" for name in types)
    for start in range(0, len(rows), UNNEST_BATCH_SIZE):
        chunk = rows[start : start + UNNEST_BATCH_SIZE]
        cursor.execute(
            f"{insert} SELECT * FROM unnest({arrays}) {conflict}",
            [list(column) for column in zip(*chunk, strict=True)],
        )


def upsert_portable(cursor, rows: list[tuple], *, insert: str, conflict: str) -> None:
    width = 2 + len(QUANTITIES)
    max_params = connection.features.max_query_params or VALUES_BATCH_SIZE * width
    per_statement = min(VALUES_BATCH_SIZE, max_params // width)
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        cursor.execute(
            f"{insert} VALUES {', '.join([placeholder] * len(chunk))} {conflict}",
            [value for row in chunk for value in row],
        )


def refresh_snapshots() -> int:
    """Bring snapshots up to date after the last refresh, however long ago that was.

    Rewrites from the earliest of: yesterday (its close may have been written before
    midnight), the last day that has a snapshot (fills the gap after downtime) and the
    earliest day of any movement recorded since then (a backdated receipt or count changes
    closes that were already written). With no snapshots at all it rebuilds everything.
    """
    latest = DailyStockSnapshot.objects.aggregate(latest=Max("day"))["latest"]
    if latest is None:
        return rebuild_snapshots()
    since = min(utc_today() - timedelta(days=1), latest)
    backdated = StockMovement.objects.filter(recorded_at__gte=_midnight(latest)).aggregate(
        earliest=Min("occurred_at")
    )["earliest"]
    if backdated is not None:
        since = min(since, backdated.astimezone(UTC).date())
    return rebuild_snapshots(since=since)
