"""Receipts, adjustments, counts, damage and safety stock: the everyday stock verbs.

Each is one transaction through `apply_change`; each validates its input first and raises
a `StockError` with nothing written when the input or the business rule says no.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stock.actors import Actor
from stock.errors import InvalidQuantity, InvalidReason
from stock.models import MovementKind, MovementSource, ReasonCode, Variant
from warehouses.models import Warehouse

from .ledger import (
    MAX_QUANTITY,
    BatchRejected,
    ChangeOutcome,
    LevelChange,
    apply_change,
    apply_changes,
)


def require_quantity(name: str, value: object, *, minimum: int) -> int:
    """An integer within [minimum, MAX_QUANTITY]; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuantity(f"{name} must be a whole number, got {value!r}.", {"field": name})
    if value < minimum:
        raise InvalidQuantity(f"{name} must be at least {minimum}, got {value}.", {"field": name})
    if value > MAX_QUANTITY:
        raise InvalidQuantity(f"{name} must be at most {MAX_QUANTITY}.", {"field": name})
    return value


def require_delta(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuantity(f"{name} must be a whole number, got {value!r}.", {"field": name})
    if value == 0:
        raise InvalidQuantity(f"{name} must not be zero.", {"field": name})
    if abs(value) > MAX_QUANTITY:
        raise InvalidQuantity(f"{name} must be within ±{MAX_QUANTITY}.", {"field": name})
    return value


def require_reason(reason: object) -> str:
    if reason not in ReasonCode.values:
        raise InvalidReason(
            f"Unknown reason {reason!r}; use one of: {', '.join(ReasonCode.values)}.",
            {"field": "reason"},
        )
    return str(reason)


def _apply(
    *,
    variant: Variant,
    warehouse: Warehouse,
    kind: str,
    reason: str,
    actor: Actor,
    source: str,
    occurred_at: datetime | None,
    **fields,
) -> ChangeOutcome:
    change = LevelChange(
        variant=variant, warehouse=warehouse, kind=kind, reason=require_reason(reason), **fields
    )
    return apply_change(change, actor=actor, source=source, occurred_at=occurred_at)


def receive_stock(
    *,
    variant: Variant,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor,
    reason: str = ReasonCode.PURCHASE_ORDER,
    note: str = "",
    source: str = MovementSource.MANUAL,
    document: str = "",
    reference: str | None = None,
    occurred_at: datetime | None = None,
) -> ChangeOutcome:
    """Add `quantity` (> 0) to on hand. Locks the level; emits stock.changed after commit."""
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RECEIPT,
        reason=reason,
        actor=actor,
        source=source,
        occurred_at=occurred_at,
        note=note,
        document=document,
        reference=reference,
        delta_on_hand=require_quantity("quantity", quantity, minimum=1),
    )


def adjust_stock(
    *,
    variant: Variant,
    warehouse: Warehouse,
    delta: int,
    reason: str,
    actor: Actor,
    note: str = "",
    expected_on_hand: int | None = None,
    source: str = MovementSource.MANUAL,
    document: str = "",
    reference: str | None = None,
    occurred_at: datetime | None = None,
) -> ChangeOutcome:
    """Change on hand by a non-zero `delta`, optionally only if on hand is `expected_on_hand`.

    Refuses (InsufficientStock) a decrease that would leave on hand or, without backorders,
    available below zero; refuses (ConflictExpectedOnHand) when the compare-and-set fails.
    """
    if expected_on_hand is not None:
        require_quantity("expected_on_hand", expected_on_hand, minimum=0)
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.ADJUSTMENT,
        reason=reason,
        actor=actor,
        source=source,
        occurred_at=occurred_at,
        note=note,
        document=document,
        reference=reference,
        expected_on_hand=expected_on_hand,
        delta_on_hand=require_delta("delta", delta),
    )


def count_stock(
    *,
    variant: Variant,
    warehouse: Warehouse,
    counted: int,
    actor: Actor,
    reason: str = ReasonCode.CYCLE_COUNT,
    note: str = "",
    expected_on_hand: int | None = None,
    source: str = MovementSource.MANUAL,
    document: str = "",
    reference: str | None = None,
    occurred_at: datetime | None = None,
) -> ChangeOutcome:
    """Set on hand to the `counted` figure; the ledger row records the variance.

    A count equal to the balance writes no ledger row (outcome "unchanged").
    """
    if expected_on_hand is not None:
        require_quantity("expected_on_hand", expected_on_hand, minimum=0)
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.COUNT,
        reason=reason,
        actor=actor,
        source=source,
        occurred_at=occurred_at,
        note=note,
        document=document,
        reference=reference,
        expected_on_hand=expected_on_hand,
        count=require_quantity("counted", counted, minimum=0),
    )


@dataclass(frozen=True, slots=True)
class StockCount:
    """One counted figure for `count_stock_batch`."""

    variant: Variant
    warehouse: Warehouse
    counted: int
    document: str = ""
    reference: str | None = None


def count_stock_batch(
    *, counts: Sequence[StockCount], actor: Actor, reason: str, source: str
) -> list[ChangeOutcome]:
    """`count_stock` for many levels in one transaction, outcomes in the order given.

    Locks every counted level at once (ascending primary key) and writes the same ledger
    rows as one `count_stock` per figure: a count equal to the balance writes none
    ("unchanged"), a reference already in the ledger is "replayed". References must be
    distinct. A refused count raises its own error, and nothing of the batch is written.
    """
    reason = require_reason(reason)
    changes = [
        LevelChange(
            variant=count.variant,
            warehouse=count.warehouse,
            kind=MovementKind.COUNT,
            reason=reason,
            document=count.document,
            reference=count.reference,
            count=require_quantity("counted", count.counted, minimum=0),
        )
        for count in counts
    ]
    try:
        return apply_changes(changes, actor=actor, source=source)
    except BatchRejected as rejected:
        raise rejected.errors[0][1] from None


def mark_unsellable(
    *,
    variant: Variant,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor,
    reason: str = ReasonCode.DAMAGED,
    note: str = "",
    source: str = MovementSource.MANUAL,
    document: str = "",
    reference: str | None = None,
) -> ChangeOutcome:
    """Move sellable units to unsellable (damaged, quality control); on hand is unchanged."""
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.DAMAGE,
        reason=reason,
        actor=actor,
        source=source,
        occurred_at=None,
        note=note,
        document=document,
        reference=reference,
        delta_unsellable=require_quantity("quantity", quantity, minimum=1),
    )


def restore_sellable(
    *,
    variant: Variant,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor,
    note: str = "",
    source: str = MovementSource.MANUAL,
    reference: str | None = None,
) -> ChangeOutcome:
    """Return unsellable units to sellable stock (repaired, passed quality control)."""
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.DAMAGE,
        reason=ReasonCode.RESTORED,
        actor=actor,
        source=source,
        occurred_at=None,
        note=note,
        reference=reference,
        delta_unsellable=-require_quantity("quantity", quantity, minimum=1),
    )


def write_off_unsellable(
    *,
    variant: Variant,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor,
    note: str = "",
    source: str = MovementSource.MANUAL,
    reference: str | None = None,
) -> ChangeOutcome:
    """Remove unsellable units from the building: on hand and unsellable go down together."""
    quantity = require_quantity("quantity", quantity, minimum=1)
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.DAMAGE,
        reason=ReasonCode.WRITTEN_OFF,
        actor=actor,
        source=source,
        occurred_at=None,
        note=note,
        reference=reference,
        delta_on_hand=-quantity,
        delta_unsellable=-quantity,
    )


def set_safety_stock(
    *,
    variant: Variant,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor,
    note: str = "",
    source: str = MovementSource.MANUAL,
) -> ChangeOutcome:
    """Hold `quantity` units back from sale at this warehouse (recorded in the ledger)."""
    return _apply(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.ADJUSTMENT,
        reason=ReasonCode.SAFETY_STOCK,
        actor=actor,
        source=source,
        occurred_at=None,
        note=note,
        safety_stock_target=require_quantity("safety_stock", quantity, minimum=0),
    )
