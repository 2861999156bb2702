"""count_stock_batch: many counts in one call write what one count_stock each would."""

import pytest

from stock.errors import InvalidQuantity
from stock.models import MovementSource, ReasonCode, StockMovement
from stock.services.movements import StockCount, count_stock, count_stock_batch
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, ledger_ids, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

ROW_FIELDS = ("kind", "reason", "source", "delta_on_hand", "on_hand_after", "document")


def rows(references: list[str]) -> list[tuple]:
    movements = StockMovement.objects.filter(reference__in=references).order_by("reference")
    return list(movements.values_list(*ROW_FIELDS))


def counts_of(levels, figures: list[int], prefix: str) -> list[StockCount]:
    return [
        StockCount(
            variant=level.variant,
            warehouse=level.warehouse,
            counted=figure,
            document="sync",
            reference=f"{prefix}-{index}",
        )
        for index, (level, figure) in enumerate(zip(levels, figures, strict=True))
    ]


def test_batch_writes_the_rows_one_count_each_would():
    warehouse = WarehouseFactory()
    one_by_one = [stocked(VariantFactory(), warehouse, 10) for _ in range(3)]
    batched = [stocked(VariantFactory(), warehouse, 10) for _ in range(3)]
    figures = [7, 10, 12]

    singles = [
        count_stock(
            variant=count.variant,
            warehouse=count.warehouse,
            counted=count.counted,
            actor=SYSTEM,
            reason=ReasonCode.SYNC,
            source=MovementSource.CONNECTOR,
            document=count.document,
            reference=count.reference,
        )
        for count in counts_of(one_by_one, figures, "single")
    ]
    outcomes = count_stock_batch(
        counts=counts_of(batched, figures, "batch"),
        actor=SYSTEM,
        reason=ReasonCode.SYNC,
        source=MovementSource.CONNECTOR,
    )

    assert [o.outcome for o in outcomes] == [o.outcome for o in singles]
    assert [o.outcome for o in outcomes] == ["applied", "unchanged", "applied"]
    assert rows([f"batch-{i}" for i in range(3)]) == rows([f"single-{i}" for i in range(3)])
    assert [balance_of(level).on_hand for level in batched] == figures


def test_batch_applied_twice_is_replayed():
    level = stocked(VariantFactory(), WarehouseFactory(), 10)
    counts = counts_of([level], [4], "twice")
    count_stock_batch(
        counts=counts, actor=SYSTEM, reason=ReasonCode.SYNC, source=MovementSource.CONNECTOR
    )
    before = ledger_ids()

    again = count_stock_batch(
        counts=counts, actor=SYSTEM, reason=ReasonCode.SYNC, source=MovementSource.CONNECTOR
    )

    assert [outcome.outcome for outcome in again] == ["replayed"]
    assert ledger_ids() == before
    assert balance_of(level) == Balance(on_hand=4, version=2)


def test_batch_with_a_refused_count_writes_nothing():
    warehouse = WarehouseFactory()
    levels = [stocked(VariantFactory(), warehouse, 10) for _ in range(2)]
    before = ledger_ids()

    with pytest.raises(InvalidQuantity):
        count_stock_batch(
            counts=counts_of(levels, [3, -1], "refused"),
            actor=SYSTEM,
            reason=ReasonCode.SYNC,
            source=MovementSource.CONNECTOR,
        )

    assert ledger_ids() == before
    assert [balance_of(level).on_hand for level in levels] == [10, 10]
