"""The one place where balances change.

Every public stock service builds `LevelChange`s and hands them to `apply_changes`, which
in one transaction: creates missing level rows, locks every level it touches in primary-key
order, skips replays, checks the business rules against the locked values, appends the
ledger rows, updates the balances with F() and registers the `stock.changed` publication
for after the commit.
"""

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone

from stock.actors import Actor
from stock.errors import (
    ConflictExpectedOnHand,
    DuplicateReference,
    InactiveWarehouse,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidReason,
    StockError,
    StockNotManaged,
)
from stock.events import StockChanged, publish_stock_changed, stock_changed_in_transaction
from stock.models import (
    BackorderPolicy,
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from warehouses.models import Warehouse

QUANTITIES = ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")
# (quantity, its ledger delta column, its ledger balance column), spelled out once.
QUANTITY_KEYS = tuple((name, f"delta_{name}", f"{name}_after") for name in QUANTITIES)
LEVEL_TABLE = StockLevel._meta.db_table
MOVEMENT_TABLE = StockMovement._meta.db_table
# Per-row ledger columns and their PostgreSQL types (json_to_recordset's column list).
ROW_COLUMNS = (
    ("level_id", "bigint"),
    ("variant_id", "bigint"),
    ("warehouse_id", "bigint"),
    ("kind", "text"),
    ("reason", "text"),
    ("note", "text"),
    *((f"delta_{name}", "integer") for name in QUANTITIES),
    *((f"{name}_after", "integer") for name in QUANTITIES),
    ("document", "text"),
    ("reference", "text"),
)
SHARED_COLUMNS = (
    "actor_kind",
    "actor_user_id",
    "actor_label",
    "source",
    "occurred_at",
    "recorded_at",
)

# PostgreSQL `integer` columns; anything near this is a typo, not stock.
MAX_QUANTITY = 1_000_000_000
# Stock already promised or on its way out may still leave a warehouse that was closed.
KINDS_ALLOWED_WHEN_INACTIVE = frozenset(
    {MovementKind.RELEASE, MovementKind.SHIP, MovementKind.TRANSFER_OUT, MovementKind.CORRECTION}
)


@dataclass(frozen=True, slots=True)
class LevelChange:
    """One intended change to one level: deltas, or absolute targets read under the lock."""

    variant: Variant
    warehouse: Warehouse
    kind: str
    reason: str
    note: str = ""
    delta_on_hand: int = 0
    delta_reserved: int = 0
    delta_unsellable: int = 0
    delta_safety_stock: int = 0
    delta_inbound: int = 0
    count: int | None = None
    safety_stock_target: int | None = None
    expected_on_hand: int | None = None
    document: str = ""
    reference: str | None = None


@dataclass(slots=True)
class ChangeOutcome:
    change: LevelChange
    level: StockLevel
    outcome: str  # "applied", "unchanged" (a count that matched) or "replayed"
    # The ledger row's column values once written; `movement` builds the model from them
    # only when asked, which a batch of thousands usually never does.
    row: dict | None = None
    _movement: StockMovement | None = field(default=None, repr=False)

    @property
    def movement(self) -> StockMovement | None:
        if self.row is None:
            return None
        if self._movement is None:
            movement = StockMovement(**self.row)
            movement._state.adding = False
            movement._state.db = "default"
            movement.level = self.level
            self._movement = movement
        return self._movement

    @property
    def variance(self) -> int:
        return self.row["delta_on_hand"] if self.row else 0


@dataclass
class BatchRejected(StockError):
    """Some changes of a batch broke a rule; nothing of the batch was written."""

    errors: list[tuple[int, StockError]] = field(default_factory=list)
    code = "batch_rejected"


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
    _check_batch_fields(actor=actor, source=source)
    now = timezone.now()
    replayed = set() if has_new_references else _existing_references(changes, source)
    outcomes, errors = _evaluate(changes, levels, replayed)
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


def lock_levels(
    pairs: set[tuple[int, int]], *, create_missing: bool = True
) -> dict[tuple[int, int], StockLevel]:
    """Lock the levels of these (variant id, warehouse id) pairs, in primary-key order.

    Missing levels are created first (`ensure_levels`). Must run inside a transaction; the
    locks last until it ends.
    """
    if create_missing:
        ensure_levels(pairs)
    # The warehouse's active flag and the variant's manage-stock flag are read in the same
    # statement, so the rules never trust a caller's Warehouse or Variant loaded long ago.
    if connection.vendor == "postgresql":
        return _lock_levels_postgres(pairs)
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


def _lock_levels_postgres(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
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


def loaded_instance(model, alias: str, attnames: Sequence[str], values: Sequence):
    """A model instance as `Model.from_db` builds it, without running `__init__`.

    `__init__` cost 18 µs per row, most of a 10,000-level lock; this costs about 2. The
    fields left out stay deferred and load on first access, as with `.only()`. Safe here
    because the project has no post_init receivers (STYLE.md: no signals).
    """
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = alias
    instance._state = state
    return instance


def new_instance(model, values: dict, related: dict | None = None):
    """An unsaved model instance as `model(**values)` builds it, without running `__init__`.

    For the rows every order writes: `__init__` cost an order about 15 µs per instance.
    `values` are by attname (`channel_id`, not `channel`) and must name every field that has
    no default; `related` holds objects already in hand for foreign keys, cached as
    `__init__` caches them. Safe for the same reason as `loaded_instance`.
    """
    defaults, required = _defaults_of(model)
    if not required <= values.keys():
        missing = required - values.keys()
        raise TypeError(f"{model.__name__} needs {', '.join(sorted(missing))}")
    instance = model.__new__(model)
    instance.__dict__.update(defaults)
    instance.__dict__.update(values)
    instance._state = ModelState()
    if related:
        instance._state.fields_cache.update(related)
    return instance


@cache
def _defaults_of(model) -> tuple[dict, frozenset[str]]:
    """The model's fields' defaults by attname, and the attnames that have none."""
    defaults = {}
    required = set()
    for model_field in model._meta.concrete_fields:
        if model_field.has_default() and callable(model_field.default):
            raise TypeError(f"{model.__name__}.{model_field.name} has a default to call each time")
        if model_field.has_default() or model_field.null or model_field.primary_key:
            defaults[model_field.attname] = model_field.get_default()
        else:
            required.add(model_field.attname)
    return defaults, frozenset(required)


def array_literal(ids: list[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


def _pair_arrays(pairs: set[tuple[int, int]]) -> tuple[list[int], list[int]]:
    ordered = sorted(pairs)
    return [v for v, _ in ordered], [w for _, w in ordered]


def ensure_levels(pairs: set[tuple[int, int]]) -> None:
    """Create the missing levels, each with its variant's backorder policy as committed.

    The policy is read from the variant row, never from a caller's possibly stale object,
    and under FOR SHARE: a concurrent `set_backorder_policy` holds the variant FOR NO KEY
    UPDATE, so a level created meanwhile waits and then reads the new policy. Existing levels take
    no lock here.
    """
    if not pairs:
        return
    if connection.vendor == "postgresql":
        wanted = "unnest(%s::bigint[], %s::bigint[]) AS wanted(variant_id, warehouse_id)"
        params: list = [array_literal(ids) for ids in _pair_arrays(pairs)]
        share = " FOR SHARE OF variant"
    else:
        # SQLite serialises writers, so it needs (and has) no row lock here.
        rows = ", ".join(["(%s, %s)"] * len(pairs))
        wanted = (
            "(SELECT column1 AS variant_id, column2 AS warehouse_id "
            f"FROM (VALUES {rows}) AS pairs) AS wanted"
        )
        params = [value for pair in sorted(pairs) for value in pair]
        share = ""
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


def _existing_references(changes: Sequence[LevelChange], source: str) -> set[str]:
    references = [change.reference for change in changes if change.reference is not None]
    if not references:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT reference FROM {MOVEMENT_TABLE} "
                "WHERE source = %s AND reference = ANY(%s::text[])",
                [source, references],
            )
            return {reference for (reference,) in cursor.fetchall()}
    return set(
        StockMovement.objects.filter(source=source, reference__in=references).values_list(
            "reference", flat=True
        )
    )


def _evaluate(
    changes: Sequence[LevelChange],
    levels: dict[tuple[int, int], StockLevel],
    replayed: set[str],
) -> tuple[list[ChangeOutcome], list[tuple[int, StockError]]]:
    # Balances as they stand after the changes before them in this batch.
    state = {
        key: {name: getattr(level, name) for name in QUANTITIES} for key, level in levels.items()
    }
    outcomes: list[ChangeOutcome] = []
    errors: list[tuple[int, StockError]] = []
    seen_references: set[str] = set()
    for index, change in enumerate(changes):
        key = (change.variant.pk, change.warehouse.pk)
        level = levels[key]
        if change.reference is not None and change.reference in replayed:
            outcomes.append(ChangeOutcome(change=change, level=level, outcome="replayed"))
            continue
        if change.reference is not None:
            if change.reference in seen_references:
                errors.append(
                    (index, DuplicateReference(f"Reference {change.reference!r} appears twice."))
                )
                continue
            seen_references.add(change.reference)
        try:
            deltas = _check(change, level, state[key])
        except StockError as error:
            errors.append((index, error))
            continue
        if not any(deltas.values()):
            outcomes.append(ChangeOutcome(change=change, level=level, outcome="unchanged"))
            continue
        balances = state[key]
        for name, delta in deltas.items():
            balances[name] += delta
        row = {
            "level_id": level.pk,
            "variant_id": level.variant_id,
            "warehouse_id": level.warehouse_id,
            "kind": change.kind,
            "reason": change.reason,
            "note": change.note,
            "document": change.document,
            "reference": change.reference,
        }
        for name, delta_key, after_key in QUANTITY_KEYS:
            row[delta_key] = deltas[name]
            row[after_key] = balances[name]
        outcomes.append(ChangeOutcome(change=change, level=level, outcome="applied", row=row))
    return outcomes, errors


# Looked up once: TextChoices.values builds a new list on every access.
KINDS = frozenset(MovementKind.values)
REASONS = frozenset(ReasonCode.values)
SOURCES = frozenset(MovementSource.values)
MAX_LENGTHS = {
    name: StockMovement._meta.get_field(name).max_length
    for name in ("document", "reference", "actor_label")
}


def _check_batch_fields(*, actor: Actor, source: str) -> None:
    """What the whole batch writes on every row: the append-only ledger keeps it for good."""
    if source not in SOURCES:
        raise InvalidInput(f"Unknown movement source {source!r}.", {"field": "source"})
    if not actor.label or len(actor.label) > MAX_LENGTHS["actor_label"]:
        raise InvalidInput(
            f"The actor label must be 1 to {MAX_LENGTHS['actor_label']} characters.",
            {"field": "actor_label"},
        )


def _check_fields(change: LevelChange) -> None:
    if change.kind not in KINDS:
        raise InvalidInput(f"Unknown movement kind {change.kind!r}.", {"field": "kind"})
    if change.reason not in REASONS:
        raise InvalidReason(f"Unknown reason {change.reason!r}.", {"field": "reason"})
    for name in ("document", "reference"):
        value = getattr(change, name)
        if value is not None and len(value) > MAX_LENGTHS[name]:
            raise InvalidInput(
                f"The {name} is longer than {MAX_LENGTHS[name]} characters.", {"field": name}
            )


def _check(change: LevelChange, level: StockLevel, current: dict[str, int]) -> dict[str, int]:
    """The business rules, against the locked balance. Returns the deltas to apply."""
    _check_fields(change)
    variant, warehouse = change.variant, change.warehouse
    if not getattr(level, "variant_manages_stock_now", variant.manage_stock):
        raise StockNotManaged(
            f"{variant.sku} does not track stock (manage stock is off).", {"sku": variant.sku}
        )
    is_active = getattr(level, "warehouse_is_active_now", warehouse.is_active)
    if not is_active and change.kind not in KINDS_ALLOWED_WHEN_INACTIVE:
        raise InactiveWarehouse(
            f"Warehouse {warehouse.code} is inactive: it takes no {change.kind}.",
            {"warehouse": warehouse.code},
        )
    if change.expected_on_hand is not None and change.expected_on_hand != current["on_hand"]:
        raise ConflictExpectedOnHand(
            f"{variant.sku} at {warehouse.code} has {current['on_hand']} on hand, "
            f"not the expected {change.expected_on_hand}.",
            {"current_on_hand": current["on_hand"], "expected_on_hand": change.expected_on_hand},
        )
    deltas = {
        "on_hand": change.delta_on_hand,
        "reserved": change.delta_reserved,
        "unsellable": change.delta_unsellable,
        "safety_stock": change.delta_safety_stock,
        "inbound": change.delta_inbound,
    }
    if change.count is not None:
        deltas["on_hand"] = change.count - current["on_hand"]
    if change.safety_stock_target is not None:
        deltas["safety_stock"] = change.safety_stock_target - current["safety_stock"]
    after = {name: current[name] + delta for name, delta in deltas.items()}
    _check_balance(change, current, after, is_backorder_allowed=level.is_backorder_allowed)
    return deltas


def _check_balance(
    change: LevelChange,
    current: dict[str, int],
    after: dict[str, int],
    *,
    is_backorder_allowed: bool,
) -> None:
    on_hand, reserved = after["on_hand"], after["reserved"]
    unsellable, safety_stock = after["unsellable"], after["safety_stock"]
    available = on_hand - reserved - unsellable - safety_stock
    if (
        min(after.values()) >= 0
        and max(after.values()) <= MAX_QUANTITY
        and unsellable <= on_hand
        and (available >= 0 or is_backorder_allowed)
    ):
        return  # the common case, decided without building any message
    where = f"{change.variant.sku} at {change.warehouse.code}"
    for name, value in after.items():
        if value > MAX_QUANTITY:
            raise InvalidQuantity(f"{where}: {name} would exceed {MAX_QUANTITY}.", {"field": name})
    if on_hand < 0:
        raise InsufficientStock(
            f"{where}: only {current['on_hand']} on hand, short by {-on_hand}.",
            {"short_by": -on_hand, "quantity": "on_hand"},
        )
    for name in ("reserved", "unsellable", "safety_stock", "inbound"):
        if after[name] < 0:
            raise InsufficientStock(
                f"{where}: {name.replace('_', ' ')} cannot go below zero.",
                {"short_by": -after[name], "quantity": name},
            )
    if unsellable > on_hand:
        raise InsufficientStock(
            f"{where}: unsellable ({unsellable}) cannot exceed on hand ({on_hand}).",
            {"short_by": unsellable - on_hand, "quantity": "unsellable"},
        )
    raise InsufficientStock(
        f"{where}: this would leave {available} available "
        f"(on hand {on_hand}, reserved {reserved}, "
        f"unsellable {unsellable}, safety {safety_stock}) "
        "and the variant does not allow backorders.",
        {"short_by": -available, "quantity": "available"},
    )


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
    if connection.vendor == "postgresql":
        _write_postgres(rows, shared, totals, counts, now)
    else:
        created = StockMovement.objects.bulk_create([StockMovement(**row) for row in rows])
        for row, movement in zip(rows, created, strict=True):
            row["id"] = movement.pk
        _update_levels_sqlite(totals, counts, now)
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


def hot_cursor():
    """A cursor for the few statements every order and stock change runs (PostgreSQL).

    Its statements are bound server-side and prepared on first use, once per connection:
    planning the multi-table statements below cost more than running them (2 ms against
    1 ms for the order's locking read). Django's own cursors prepare nothing, to keep
    transaction-pooling PgBouncers working; HUB_PREPARED_STATEMENTS=0 does the same here.

    One psycopg cursor serves every hot statement on its connection: a new cursor per
    statement cost a tenth of a millisecond of client CPU each time, about half of what
    sending the order's statement and reading its answer cost, mostly in finding again
    how to send each parameter type.

    Used as `with hot_cursor() as cursor:`. The kept cursor is not closed when the block
    ends; it comes in a `nullcontext`, cheaper per statement than a generator.
    """
    if not settings.HUB_PREPARED_STATEMENTS:
        return connection.cursor()  # closed when the `with` block ends
    database = connections[DEFAULT_DB_ALIAS]
    database.ensure_connection()
    raw = database.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off per connection; only cursors that ask (ours) prepare
        # again, as Django's client-side binding cursors never do.
        raw.prepare_threshold = NEVER_BY_COUNT
    # With the connection pool, a thread's cursor is reused when the pool hands the thread
    # the same connection again; that connection is then the thread's alone.
    cursor = getattr(database, "hub_hot_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = database.hub_hot_cursor = _PreparingCursor(raw)
    # Wrapped like Django's own cursors, so query logging and execute_wrapper still see it;
    # the wrapper is not closed on the way out, as closing would close the cursor.
    return nullcontext(database._prepare_cursor(cursor))


NEVER_BY_COUNT = 2**31 - 1


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


# Below this many rows one INSERT … SELECT FROM unnest is cheaper than starting a COPY.
COPY_THRESHOLD = 100
SEQUENCE = f"pg_get_serial_sequence('{MOVEMENT_TABLE}', 'id')"
ROW_NAMES = [name for name, _ in ROW_COLUMNS]
MOVEMENT_TARGETS = ["id", *ROW_NAMES, *SHARED_COLUMNS]
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
    f"), inserted AS ("
    f"  INSERT INTO {MOVEMENT_TABLE} ({', '.join(MOVEMENT_TARGETS)}) "
    f"  SELECT id, {', '.join(ROW_NAMES)}, {', '.join(['%s'] * len(SHARED_COLUMNS))} FROM batch"
    f"), updated AS ({UPDATE_LEVELS_SQL}) "
    "SELECT id FROM batch ORDER BY position"
)


def _write_postgres(
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


def _update_levels_sqlite(
    totals: dict[int, dict[str, int]], counts: dict[int, int], now: datetime
) -> None:
    """SQLite's UPDATE … FROM (3.33+), in chunks that fit its parameter limit."""
    columns = ", ".join(f"delta_{name}" for name in QUANTITIES)
    assignments = ", ".join(f"{name} = {name} + batch.delta_{name}" for name in QUANTITIES)
    width = len(QUANTITIES) + 2
    per_statement = (connection.features.max_query_params - 1) // width
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
