"""The ledger's balance rule and a change's own backorder flag (`LevelChange.allow_backorder`)."""

import pytest

from stock.errors import InsufficientStock
from stock.models import BackorderPolicy, MovementKind, MovementSource, ReasonCode
from stock.services import LevelChange, apply_change
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    ledger_ids,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


def hold(variant, warehouse, quantity: int, **flags) -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.RESERVE,
        reason=ReasonCode.TRANSFER,
        delta_reserved=quantity,
        **flags,
    )


def test_a_change_that_may_not_backorder_is_refused_where_the_variant_allows_it():
    warehouse = WarehouseFactory()
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    level = stocked(variant, warehouse, 2)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        apply_change(
            hold(variant, warehouse, 3, allow_backorder=False),
            actor=SYSTEM,
            source=MovementSource.SYSTEM,
        )

    assert refused.value.details == {"short_by": 1, "quantity": "available"}
    assert balance_of(level) == Balance(on_hand=2, version=1)
    assert ledger_ids() == before


def test_a_change_without_the_flag_follows_the_level_policy():
    warehouse = WarehouseFactory()
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    level = stocked(variant, warehouse, 2)

    apply_change(hold(variant, warehouse, 3), actor=SYSTEM, source=MovementSource.SYSTEM)

    assert balance_of(level) == Balance(on_hand=2, reserved=3, version=2)
