"""Ledger history for the suggestions tests: movements written through the ledger engine,
backdated to a day, as the demo's history writes them."""

from datetime import UTC, date, datetime, time

from stock.models import MovementKind, MovementSource, ReasonCode
from stock.services import LevelChange, apply_changes
from tests.stock.factories import SYSTEM

NOON = time(12, 0, tzinfo=UTC)


def on_day(day: date, *changes: LevelChange) -> None:
    """Apply the changes as one batch that occurred at noon UTC of `day`."""
    apply_changes(
        list(changes),
        actor=SYSTEM,
        source=MovementSource.SYSTEM,
        occurred_at=datetime.combine(day, NOON),
    )


def receipt(variant, warehouse, quantity: int) -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RECEIPT,
        reason=ReasonCode.PURCHASE_ORDER,
        delta_on_hand=quantity,
    )


def direct_sale(variant, warehouse, quantity: int) -> LevelChange:
    """A sale taken straight off the shelf, as the demo's history writes it."""
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.ADJUSTMENT,
        reason=ReasonCode.ORDER,
        delta_on_hand=-quantity,
    )


def order_reserve(variant, warehouse, quantity: int, document: str = "") -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RESERVE,
        reason=ReasonCode.ORDER,
        delta_reserved=quantity,
        document=document,
    )


def order_ship(variant, warehouse, quantity: int, document: str = "") -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.SHIP,
        reason=ReasonCode.ORDER,
        delta_on_hand=-quantity,
        delta_reserved=-quantity,
        document=document,
    )


def order_release(variant, warehouse, quantity: int) -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RELEASE,
        reason=ReasonCode.ORDER,
        delta_reserved=-quantity,
    )
