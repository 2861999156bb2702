"""The ledger's rules: what a change may do to a level, checked against the locked balance.

`evaluate` turns a batch of `LevelChange`s into the ledger rows to write, or the errors of
the changes that break a rule; it writes nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from inventory_hub.db import char_max_length
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
from stock.models import (
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from warehouses.models import Warehouse

from .rows import QUANTITIES, QUANTITY_KEYS

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
    # None follows the level's backorder policy; False refuses available below zero even
    # where the variant allows backorders (a transfer's hold never takes units not there).
    allow_backorder: bool | None = None


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


def evaluate(
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
    name: char_max_length(StockMovement, name) for name in ("document", "reference", "actor_label")
}


def check_batch_fields(*, actor: Actor, source: str) -> None:
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
    allow_backorder = change.allow_backorder
    _check_balance(
        change,
        current,
        after,
        is_backorder_allowed=level.is_backorder_allowed
        if allow_backorder is None
        else allow_backorder,
    )
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
        + (
            "and this change may not backorder."
            if change.allow_backorder is False
            else "and the variant does not allow backorders."
        ),
        {"short_by": -available, "quantity": "available"},
    )
