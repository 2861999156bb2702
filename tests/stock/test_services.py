"""The stock services and the ledger engine: what each verb writes, and what it refuses."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from stock.actors import Actor
from stock.errors import (
    ConflictExpectedOnHand,
    DuplicateReference,
    InactiveWarehouse,
    InsufficientStock,
    InvalidQuantity,
    InvalidReason,
    StockError,
    StockNotManaged,
    UnknownSku,
    UnknownWarehouse,
)
from stock.models import (
    BackorderPolicy,
    MovementKind,
    MovementSource,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from stock.selectors import get_variant_by_sku, get_warehouse_by_code
from stock.services import (
    BatchRejected,
    LevelChange,
    adjust_stock,
    apply_change,
    apply_changes,
    count_stock,
    mark_unsellable,
    receive_stock,
    restore_sellable,
    set_safety_stock,
    write_off_unsellable,
)
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    ledger_ids,
    reserved,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

ONE_BILLION = 1_000_000_000


@pytest.fixture
def variant():
    return VariantFactory()


@pytest.fixture
def warehouse():
    return WarehouseFactory()


@pytest.fixture
def level(variant, warehouse):
    """Ten on hand, received through the service: version 1, one ledger row."""
    return stocked(variant, warehouse, 10)


def deactivate(warehouse) -> None:
    warehouse.is_active = False
    warehouse.save(update_fields=["is_active"])


# --- Receipts ----------------------------------------------------------------------------


def test_receive_adds_the_quantity_to_on_hand(variant, warehouse):
    outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=7, actor=SYSTEM)

    assert outcome.outcome == "applied"
    assert balance_of(outcome.level) == Balance(on_hand=7, version=1)
    outcome.level.refresh_from_db()
    assert outcome.level.available == 7


def test_receive_creates_the_level_when_the_warehouse_never_held_the_variant(variant, warehouse):
    assert not StockLevel.objects.filter(variant=variant, warehouse=warehouse).exists()

    receive_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert StockLevel.objects.filter(variant=variant, warehouse=warehouse).count() == 1


def test_new_level_copies_the_variants_backorder_policy(warehouse):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)

    outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM)

    outcome.level.refresh_from_db()
    assert outcome.level.is_backorder_allowed is True


def test_receipt_ledger_row_records_kind_reason_actor_source_document_and_reference(
    variant, warehouse, django_user_model
):
    user = django_user_model.objects.create_user(username="dana")
    occurred_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    outcome = receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=12,
        actor=Actor.for_user(user),
        reason=ReasonCode.CUSTOMER_RETURN,
        note="Two boxes",
        source=MovementSource.API,
        document="RMA-77",
        reference="rma-77-line-1",
        occurred_at=occurred_at,
    )

    row = StockMovement.objects.get()
    assert outcome.movement.pk == row.pk
    assert (row.level_id, row.variant_id, row.warehouse_id) == (
        outcome.level.pk,
        variant.pk,
        warehouse.pk,
    )
    assert (row.kind, row.reason, row.note) == ("receipt", "customer_return", "Two boxes")
    assert (row.actor_kind, row.actor_label, row.actor_user_id) == ("user", "dana", user.pk)
    assert (row.source, row.document, row.reference) == ("api", "RMA-77", "rma-77-line-1")
    assert row.occurred_at == occurred_at
    assert row.delta_on_hand == 12
    assert (row.delta_reserved, row.delta_unsellable, row.delta_safety_stock) == (0, 0, 0)
    assert (row.on_hand_after, row.reserved_after, row.unsellable_after) == (12, 0, 0)


def test_ledger_row_records_when_it_was_written_separately_from_when_it_happened(
    variant, warehouse
):
    before = timezone.now()
    occurred_at = before - timedelta(days=3)

    receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=1,
        actor=SYSTEM,
        occurred_at=occurred_at,
    )

    row = StockMovement.objects.get()
    assert row.occurred_at == occurred_at
    assert before <= row.recorded_at <= timezone.now()


def test_ledger_row_records_a_connector_actor_without_a_user(variant, warehouse):
    receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=1,
        actor=Actor.connector("woocommerce:shop-eu"),
        source=MovementSource.CONNECTOR,
    )

    row = StockMovement.objects.get()
    assert (row.actor_kind, row.actor_label, row.actor_user_id) == (
        "connector",
        "woocommerce:shop-eu",
        None,
    )


def test_receipt_at_one_billion_is_accepted(variant, warehouse):
    outcome = receive_stock(
        variant=variant, warehouse=warehouse, quantity=ONE_BILLION, actor=SYSTEM
    )

    assert balance_of(outcome.level) == Balance(on_hand=ONE_BILLION, version=1)


def test_receipt_refused_when_on_hand_would_pass_one_billion(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        receive_stock(variant=variant, warehouse=warehouse, quantity=ONE_BILLION, actor=SYSTEM)

    assert refused.value.details == {"field": "on_hand"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- Adjustments -------------------------------------------------------------------------


def test_adjust_with_a_positive_delta_adds_to_on_hand(level, variant, warehouse):
    outcome = adjust_stock(
        variant=variant, warehouse=warehouse, delta=4, reason=ReasonCode.FOUND, actor=SYSTEM
    )

    assert balance_of(level) == Balance(on_hand=14, version=2)
    row = outcome.movement
    assert (row.kind, row.reason, row.delta_on_hand, row.on_hand_after) == (
        "adjustment",
        "found",
        4,
        14,
    )


def test_adjust_with_a_negative_delta_removes_from_on_hand(level, variant, warehouse):
    outcome = adjust_stock(
        variant=variant, warehouse=warehouse, delta=-4, reason=ReasonCode.LOST, actor=SYSTEM
    )

    assert balance_of(level) == Balance(on_hand=6, version=2)
    assert (outcome.movement.delta_on_hand, outcome.movement.on_hand_after) == (-4, 6)


def test_adjust_down_to_exactly_zero_is_accepted(level, variant, warehouse):
    adjust_stock(
        variant=variant, warehouse=warehouse, delta=-10, reason=ReasonCode.LOST, actor=SYSTEM
    )

    assert balance_of(level) == Balance(on_hand=0, version=2)


def test_adjust_refused_when_on_hand_too_low(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        adjust_stock(
            variant=variant, warehouse=warehouse, delta=-11, reason=ReasonCode.LOST, actor=SYSTEM
        )

    assert refused.value.details == {"short_by": 1, "quantity": "on_hand"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_adjust_refused_when_it_would_leave_reserved_stock_uncovered(variant, warehouse):
    stocked(variant, warehouse, 10)
    level = reserved(variant, warehouse, 8)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        adjust_stock(
            variant=variant, warehouse=warehouse, delta=-3, reason=ReasonCode.LOST, actor=SYSTEM
        )

    assert refused.value.details == {"short_by": 1, "quantity": "available"}
    assert balance_of(level) == Balance(on_hand=10, reserved=8, version=2)
    assert ledger_ids() == before


def test_adjust_may_leave_available_negative_when_backorders_are_allowed(warehouse):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW_AND_NOTIFY)
    stocked(variant, warehouse, 10)
    level = reserved(variant, warehouse, 8)

    adjust_stock(
        variant=variant, warehouse=warehouse, delta=-3, reason=ReasonCode.LOST, actor=SYSTEM
    )

    assert balance_of(level) == Balance(on_hand=7, reserved=8, version=3)
    level.refresh_from_db()
    assert level.available == -1


def test_adjust_with_the_expected_on_hand_applies(level, variant, warehouse):
    outcome = adjust_stock(
        variant=variant,
        warehouse=warehouse,
        delta=-2,
        reason=ReasonCode.LOST,
        actor=SYSTEM,
        expected_on_hand=10,
    )

    assert outcome.outcome == "applied"
    assert balance_of(level) == Balance(on_hand=8, version=2)


def test_adjust_refused_when_on_hand_differs_from_the_expected(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(ConflictExpectedOnHand) as refused:
        adjust_stock(
            variant=variant,
            warehouse=warehouse,
            delta=-2,
            reason=ReasonCode.LOST,
            actor=SYSTEM,
            expected_on_hand=9,
        )

    assert refused.value.details == {"current_on_hand": 10, "expected_on_hand": 9}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_count_refused_when_on_hand_differs_from_the_expected(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(ConflictExpectedOnHand) as refused:
        count_stock(
            variant=variant, warehouse=warehouse, counted=4, actor=SYSTEM, expected_on_hand=11
        )

    assert refused.value.details == {"current_on_hand": 10, "expected_on_hand": 11}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- Counts --------------------------------------------------------------------------------


def test_count_below_the_balance_sets_on_hand_and_records_the_shortfall(level, variant, warehouse):
    outcome = count_stock(variant=variant, warehouse=warehouse, counted=7, actor=SYSTEM)

    assert (outcome.outcome, outcome.variance) == ("applied", -3)
    assert balance_of(level) == Balance(on_hand=7, version=2)
    row = StockMovement.objects.get(pk=outcome.movement.pk)
    assert (row.kind, row.reason, row.delta_on_hand, row.on_hand_after) == (
        "count",
        "cycle_count",
        -3,
        7,
    )


def test_count_above_the_balance_records_the_surplus(level, variant, warehouse):
    outcome = count_stock(
        variant=variant,
        warehouse=warehouse,
        counted=13,
        actor=SYSTEM,
        reason=ReasonCode.STOCKTAKE,
    )

    assert outcome.variance == 3
    assert balance_of(level) == Balance(on_hand=13, version=2)
    assert (outcome.movement.reason, outcome.movement.delta_on_hand) == ("stocktake", 3)


def test_count_equal_to_the_balance_writes_no_row(level, variant, warehouse):
    before = ledger_ids()

    outcome = count_stock(variant=variant, warehouse=warehouse, counted=10, actor=SYSTEM)

    assert (outcome.outcome, outcome.movement, outcome.variance) == ("unchanged", None, 0)
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_count_of_zero_empties_the_level(level, variant, warehouse):
    count_stock(variant=variant, warehouse=warehouse, counted=0, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=0, version=2)


def test_count_refused_when_it_falls_below_the_unsellable_units(level, variant, warehouse):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=4, actor=SYSTEM)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        count_stock(variant=variant, warehouse=warehouse, counted=3, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "unsellable"}
    assert balance_of(level) == Balance(on_hand=10, unsellable=4, version=2)
    assert ledger_ids() == before


# --- Unsellable stock ----------------------------------------------------------------------


def test_mark_unsellable_takes_units_out_of_available_but_keeps_them_on_hand(
    level, variant, warehouse
):
    outcome = mark_unsellable(
        variant=variant,
        warehouse=warehouse,
        quantity=3,
        actor=SYSTEM,
        reason=ReasonCode.QUALITY_CONTROL,
    )

    assert balance_of(level) == Balance(on_hand=10, unsellable=3, version=2)
    level.refresh_from_db()
    assert level.available == 7
    row = outcome.movement
    assert (row.kind, row.reason, row.delta_on_hand, row.delta_unsellable) == (
        "damage",
        "quality_control",
        0,
        3,
    )
    assert (row.on_hand_after, row.unsellable_after) == (10, 3)


def test_mark_unsellable_refused_beyond_the_available_units(variant, warehouse):
    stocked(variant, warehouse, 10)
    level = reserved(variant, warehouse, 6)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        mark_unsellable(variant=variant, warehouse=warehouse, quantity=5, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "available"}
    assert balance_of(level) == Balance(on_hand=10, reserved=6, version=2)
    assert ledger_ids() == before


def test_mark_unsellable_refused_beyond_on_hand_even_with_backorders(warehouse):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    level = stocked(variant, warehouse, 10)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        mark_unsellable(variant=variant, warehouse=warehouse, quantity=11, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "unsellable"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_restore_sellable_returns_units_to_available(level, variant, warehouse):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=4, actor=SYSTEM)

    outcome = restore_sellable(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=10, unsellable=1, version=3)
    assert (outcome.movement.reason, outcome.movement.delta_unsellable) == ("restored", -3)


def test_restore_sellable_refused_beyond_the_unsellable_units(level, variant, warehouse):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=2, actor=SYSTEM)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        restore_sellable(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "unsellable"}
    assert balance_of(level) == Balance(on_hand=10, unsellable=2, version=2)
    assert ledger_ids() == before


def test_write_off_removes_units_from_on_hand_and_unsellable_together(level, variant, warehouse):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=4, actor=SYSTEM)

    outcome = write_off_unsellable(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=7, unsellable=1, version=3)
    level.refresh_from_db()
    assert level.available == 6
    row = outcome.movement
    assert (row.reason, row.delta_on_hand, row.delta_unsellable) == ("written_off", -3, -3)
    assert (row.on_hand_after, row.unsellable_after) == (7, 1)


def test_write_off_refused_beyond_the_unsellable_units(level, variant, warehouse):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=2, actor=SYSTEM)
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        write_off_unsellable(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "unsellable"}
    assert balance_of(level) == Balance(on_hand=10, unsellable=2, version=2)
    assert ledger_ids() == before


# --- Safety stock --------------------------------------------------------------------------


def test_set_safety_stock_sets_an_absolute_figure_and_records_the_difference(
    level, variant, warehouse
):
    set_safety_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    outcome = set_safety_stock(variant=variant, warehouse=warehouse, quantity=5, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=10, safety_stock=5, version=3)
    level.refresh_from_db()
    assert level.available == 5
    row = outcome.movement
    assert (row.kind, row.reason, row.delta_safety_stock, row.safety_stock_after) == (
        "adjustment",
        "safety_stock",
        2,
        5,
    )


def test_set_safety_stock_lowers_it_to_zero(level, variant, warehouse):
    set_safety_stock(variant=variant, warehouse=warehouse, quantity=4, actor=SYSTEM)

    outcome = set_safety_stock(variant=variant, warehouse=warehouse, quantity=0, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=10, safety_stock=0, version=3)
    assert outcome.movement.delta_safety_stock == -4


def test_set_safety_stock_to_its_current_figure_writes_no_row(level, variant, warehouse):
    set_safety_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)
    before = ledger_ids()

    outcome = set_safety_stock(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM)

    assert outcome.outcome == "unchanged"
    assert balance_of(level) == Balance(on_hand=10, safety_stock=3, version=2)
    assert ledger_ids() == before


def test_set_safety_stock_refused_above_available_without_backorders(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        set_safety_stock(variant=variant, warehouse=warehouse, quantity=11, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "available"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- Ledger bookkeeping --------------------------------------------------------------------


def test_version_goes_up_by_one_per_movement(level, variant, warehouse):
    adjust_stock(
        variant=variant, warehouse=warehouse, delta=1, reason=ReasonCode.FOUND, actor=SYSTEM
    )
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM)
    count_stock(variant=variant, warehouse=warehouse, counted=5, actor=SYSTEM)

    assert balance_of(level).version == 4
    assert StockMovement.objects.filter(level=level).count() == 4


def test_every_rows_balances_after_equal_the_level_right_after_it(
    level, variant, warehouse, verify_ledger_chain
):
    steps = [
        lambda: adjust_stock(
            variant=variant, warehouse=warehouse, delta=5, reason=ReasonCode.FOUND, actor=SYSTEM
        ),
        lambda: mark_unsellable(variant=variant, warehouse=warehouse, quantity=3, actor=SYSTEM),
        lambda: set_safety_stock(variant=variant, warehouse=warehouse, quantity=2, actor=SYSTEM),
        lambda: write_off_unsellable(
            variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM
        ),
        lambda: count_stock(variant=variant, warehouse=warehouse, counted=9, actor=SYSTEM),
    ]

    for step in steps:
        row = step().movement
        now = balance_of(level)
        assert (
            row.on_hand_after,
            row.reserved_after,
            row.unsellable_after,
            row.safety_stock_after,
            row.inbound_after,
        ) == (now.on_hand, now.reserved, now.unsellable, now.safety_stock, now.inbound)

    assert balance_of(level) == Balance(on_hand=9, unsellable=2, safety_stock=2, version=6)
    verify_ledger_chain()


def test_outcome_level_reflects_the_balance_after_the_change(level, variant, warehouse):
    outcome = adjust_stock(
        variant=variant, warehouse=warehouse, delta=-3, reason=ReasonCode.LOST, actor=SYSTEM
    )

    assert (outcome.level.on_hand, outcome.level.available, outcome.level.version) == (7, 7, 2)


# --- Replays -------------------------------------------------------------------------------


def test_replaying_the_same_source_and_reference_is_a_no_op(variant, warehouse):
    first = receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=5,
        actor=SYSTEM,
        source=MovementSource.CONNECTOR,
        reference="evt-1",
    )

    again = receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=5,
        actor=SYSTEM,
        source=MovementSource.CONNECTOR,
        reference="evt-1",
    )

    assert (first.outcome, again.outcome, again.movement) == ("applied", "replayed", None)
    assert balance_of(first.level) == Balance(on_hand=5, version=1)
    assert ledger_ids() == [first.movement.pk]


def test_replay_is_recognised_even_when_its_quantity_differs(variant, warehouse):
    first = receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=5,
        actor=SYSTEM,
        source=MovementSource.CONNECTOR,
        reference="evt-1",
    )

    again = adjust_stock(
        variant=variant,
        warehouse=warehouse,
        delta=-2,
        reason=ReasonCode.SYNC,
        actor=SYSTEM,
        source=MovementSource.CONNECTOR,
        reference="evt-1",
    )

    assert again.outcome == "replayed"
    assert balance_of(first.level) == Balance(on_hand=5, version=1)
    assert ledger_ids() == [first.movement.pk]


def test_the_same_reference_from_another_source_is_a_new_movement(variant, warehouse):
    receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=5,
        actor=SYSTEM,
        source=MovementSource.CONNECTOR,
        reference="42",
    )

    outcome = receive_stock(
        variant=variant,
        warehouse=warehouse,
        quantity=5,
        actor=SYSTEM,
        source=MovementSource.CSV,
        reference="42",
    )

    assert outcome.outcome == "applied"
    assert balance_of(outcome.level) == Balance(on_hand=10, version=2)
    assert StockMovement.objects.count() == 2


def test_movements_without_a_reference_are_never_taken_for_replays(variant, warehouse):
    receive_stock(variant=variant, warehouse=warehouse, quantity=5, actor=SYSTEM)

    outcome = receive_stock(variant=variant, warehouse=warehouse, quantity=5, actor=SYSTEM)

    assert outcome.outcome == "applied"
    assert balance_of(outcome.level) == Balance(on_hand=10, version=2)


def test_a_reference_twice_in_one_batch_is_refused(level, variant, warehouse):
    before = ledger_ids()
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RECEIPT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_on_hand=1,
            reference="po-9",
        ),
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RECEIPT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_on_hand=2,
            reference="po-9",
        ),
    ]

    with pytest.raises(BatchRejected) as rejected:
        apply_changes(changes, actor=SYSTEM, source=MovementSource.CSV)

    assert [(index, type(error)) for index, error in rejected.value.errors] == [
        (1, DuplicateReference)
    ]
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- Batches -------------------------------------------------------------------------------


def change(variant, warehouse, delta: int, **kwargs) -> LevelChange:
    return LevelChange(
        variant=variant,
        warehouse=warehouse,
        kind=MovementKind.ADJUSTMENT,
        reason=ReasonCode.CORRECTION,
        delta_on_hand=delta,
        **kwargs,
    )


def test_batch_applies_every_change(variant):
    north, south = WarehouseFactory(), WarehouseFactory()
    first, second = stocked(variant, north, 10), stocked(variant, south, 10)

    outcomes = apply_changes(
        [change(variant, north, -4), change(variant, south, 6)],
        actor=SYSTEM,
        source=MovementSource.CSV,
    )

    assert [outcome.outcome for outcome in outcomes] == ["applied", "applied"]
    assert balance_of(first) == Balance(on_hand=6, version=2)
    assert balance_of(second) == Balance(on_hand=16, version=2)
    assert StockMovement.objects.filter(source="csv").count() == 2


def test_batch_with_any_refused_change_writes_nothing_and_names_each_failure(variant):
    north, south, east = WarehouseFactory(), WarehouseFactory(), WarehouseFactory()
    levels = [stocked(variant, north, 10), stocked(variant, south, 10), stocked(variant, east, 2)]
    before = ledger_ids()
    changes = [
        change(variant, north, -1),
        change(variant, south, -11),
        change(variant, east, 5),
        change(variant, east, -8, expected_on_hand=2),
    ]

    with pytest.raises(BatchRejected) as rejected:
        apply_changes(changes, actor=SYSTEM, source=MovementSource.CSV)

    assert [(index, type(error)) for index, error in rejected.value.errors] == [
        (1, InsufficientStock),
        (3, ConflictExpectedOnHand),
    ]
    assert rejected.value.errors[1][1].details == {"current_on_hand": 7, "expected_on_hand": 2}
    assert [balance_of(level) for level in levels] == [
        Balance(on_hand=10, version=1),
        Balance(on_hand=10, version=1),
        Balance(on_hand=2, version=1),
    ]
    assert ledger_ids() == before


def test_batch_rejection_creates_no_level_rows(variant, warehouse):
    deactivate(warehouse)
    other = WarehouseFactory()
    levels_before = StockLevel.objects.count()

    with pytest.raises(BatchRejected):
        apply_changes(
            [change(variant, other, 3), change(variant, warehouse, 3)],
            actor=SYSTEM,
            source=MovementSource.CSV,
        )

    assert StockLevel.objects.count() == levels_before
    assert ledger_ids() == []


def test_later_changes_in_a_batch_see_the_earlier_ones(level, variant, warehouse):
    outcomes = apply_changes(
        [change(variant, warehouse, 5), change(variant, warehouse, -14)],
        actor=SYSTEM,
        source=MovementSource.CSV,
    )

    assert [outcome.movement.on_hand_after for outcome in outcomes] == [15, 1]
    assert balance_of(level) == Balance(on_hand=1, version=3)


def test_a_batch_is_checked_in_order_so_a_decrease_cannot_borrow_from_a_later_increase(
    level, variant, warehouse
):
    before = ledger_ids()

    with pytest.raises(BatchRejected) as rejected:
        apply_changes(
            [change(variant, warehouse, -14), change(variant, warehouse, 5)],
            actor=SYSTEM,
            source=MovementSource.CSV,
        )

    assert [(index, type(error)) for index, error in rejected.value.errors] == [
        (0, InsufficientStock)
    ]
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_batch_with_a_replayed_change_applies_only_the_new_ones(level, variant, warehouse):
    apply_changes(
        [change(variant, warehouse, 2, reference="line-1")],
        actor=SYSTEM,
        source=MovementSource.CSV,
    )

    outcomes = apply_changes(
        [
            change(variant, warehouse, 2, reference="line-1"),
            change(variant, warehouse, 3, reference="line-2"),
        ],
        actor=SYSTEM,
        source=MovementSource.CSV,
    )

    assert [outcome.outcome for outcome in outcomes] == ["replayed", "applied"]
    assert balance_of(level) == Balance(on_hand=15, version=3)


def test_empty_batch_writes_nothing(level):
    assert apply_changes([], actor=SYSTEM, source=MovementSource.CSV) == []

    assert balance_of(level) == Balance(on_hand=10, version=1)


def test_apply_change_raises_the_changes_own_error(level, variant, warehouse):
    with pytest.raises(InsufficientStock):
        apply_change(change(variant, warehouse, -11), actor=SYSTEM, source=MovementSource.API)

    assert balance_of(level) == Balance(on_hand=10, version=1)


# --- Bad input -----------------------------------------------------------------------------

NOT_WHOLE_NUMBERS = [5.0, 2.5, "5", True, None, Decimal("5")]


@pytest.mark.parametrize("quantity", [0, -1, -ONE_BILLION])
def test_receive_refuses_a_quantity_below_one(level, variant, warehouse, quantity):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        receive_stock(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)

    assert refused.value.details == {"field": "quantity"}
    assert "at least 1" in str(refused.value)
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("quantity", NOT_WHOLE_NUMBERS)
def test_receive_refuses_a_quantity_that_is_not_a_whole_number(level, variant, warehouse, quantity):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        receive_stock(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)

    assert refused.value.details == {"field": "quantity"}
    assert "whole number" in str(refused.value)
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("quantity", [ONE_BILLION + 1, 10**18, 2**63])
def test_receive_refuses_a_quantity_above_one_billion(level, variant, warehouse, quantity):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        receive_stock(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)

    assert refused.value.details == {"field": "quantity"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("delta", [0, *NOT_WHOLE_NUMBERS, ONE_BILLION + 1, -ONE_BILLION - 1])
def test_adjust_refuses_a_zero_fractional_or_huge_delta(level, variant, warehouse, delta):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        adjust_stock(
            variant=variant,
            warehouse=warehouse,
            delta=delta,
            reason=ReasonCode.CORRECTION,
            actor=SYSTEM,
        )

    assert refused.value.details == {"field": "delta"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("counted", [-1, *NOT_WHOLE_NUMBERS, ONE_BILLION + 1])
def test_count_refuses_a_negative_fractional_or_huge_figure(level, variant, warehouse, counted):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        count_stock(variant=variant, warehouse=warehouse, counted=counted, actor=SYSTEM)

    assert refused.value.details == {"field": "counted"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("expected", [-1, 10.0, "10", True])
def test_expected_on_hand_must_be_a_whole_number_of_at_least_zero(
    level, variant, warehouse, expected
):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        adjust_stock(
            variant=variant,
            warehouse=warehouse,
            delta=1,
            reason=ReasonCode.FOUND,
            actor=SYSTEM,
            expected_on_hand=expected,
        )

    assert refused.value.details == {"field": "expected_on_hand"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


UNIT_SERVICES = {
    "mark_unsellable": mark_unsellable,
    "restore_sellable": restore_sellable,
    "write_off_unsellable": write_off_unsellable,
}


@pytest.mark.parametrize("service", UNIT_SERVICES.values(), ids=UNIT_SERVICES.keys())
@pytest.mark.parametrize("quantity", [0, -2, 1.0, "1", None, ONE_BILLION + 1])
def test_unsellable_services_refuse_a_bad_quantity(level, variant, warehouse, service, quantity):
    mark_unsellable(variant=variant, warehouse=warehouse, quantity=2, actor=SYSTEM)
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        service(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)

    assert refused.value.details == {"field": "quantity"}
    assert balance_of(level) == Balance(on_hand=10, unsellable=2, version=2)
    assert ledger_ids() == before


@pytest.mark.parametrize("quantity", [-1, 1.5, "3", False, None, ONE_BILLION + 1])
def test_set_safety_stock_refuses_a_bad_quantity(level, variant, warehouse, quantity):
    before = ledger_ids()

    with pytest.raises(InvalidQuantity) as refused:
        set_safety_stock(variant=variant, warehouse=warehouse, quantity=quantity, actor=SYSTEM)

    assert refused.value.details == {"field": "safety_stock"}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("reason", ["bogus", "", None, "Cycle_Count"])
def test_an_unknown_reason_code_is_refused(level, variant, warehouse, reason):
    before = ledger_ids()

    with pytest.raises(InvalidReason) as refused:
        adjust_stock(variant=variant, warehouse=warehouse, delta=1, reason=reason, actor=SYSTEM)

    assert refused.value.details == {"field": "reason"}
    assert "cycle_count" in str(refused.value)
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_an_unknown_reason_code_is_refused_for_a_change_to_a_new_level(variant, warehouse):
    with pytest.raises(InvalidReason):
        receive_stock(variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM, reason="gift")

    assert StockLevel.objects.count() == 0
    assert ledger_ids() == []


def test_looking_up_an_unknown_sku_raises_unknown_sku(variant):
    with pytest.raises(UnknownSku) as refused:
        get_variant_by_sku("NO-SUCH-SKU")

    assert refused.value.details == {"sku": "NO-SUCH-SKU"}
    assert get_variant_by_sku(variant.sku) == variant


def test_looking_up_an_unknown_warehouse_raises_unknown_warehouse(warehouse):
    with pytest.raises(UnknownWarehouse) as refused:
        get_warehouse_by_code("NOPE")

    assert refused.value.details == {"warehouse": "NOPE"}
    assert get_warehouse_by_code(warehouse.code) == warehouse


def test_sku_lookup_is_exact_not_case_insensitive():
    VariantFactory(sku="SHEET-Q-WHITE")

    with pytest.raises(UnknownSku):
        get_variant_by_sku("sheet-q-white")


def test_engine_refuses_an_unknown_movement_kind(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(StockError):
        apply_change(
            LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind="teleport",
                reason=ReasonCode.CORRECTION,
                delta_on_hand=1,
            ),
            actor=SYSTEM,
            source=MovementSource.SYSTEM,
        )

    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_engine_refuses_an_unknown_reason_code(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(InvalidReason):
        apply_change(
            LevelChange(
                variant=variant,
                warehouse=warehouse,
                kind=MovementKind.ADJUSTMENT,
                reason="nonsense",
                delta_on_hand=1,
            ),
            actor=SYSTEM,
            source=MovementSource.SYSTEM,
        )

    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_services_refuse_an_unknown_source(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(StockError):
        receive_stock(variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM, source="sms")

    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_an_over_long_reference_is_refused_with_a_clear_error(level, variant, warehouse):
    before = ledger_ids()

    with pytest.raises(StockError) as refused:
        receive_stock(
            variant=variant, warehouse=warehouse, quantity=1, actor=SYSTEM, reference="r" * 256
        )

    assert refused.value.details["field"] == "reference"
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- Inactive warehouses and unmanaged variants --------------------------------------------

INBOUND_VERBS = {
    "receipt": lambda v, w: receive_stock(variant=v, warehouse=w, quantity=1, actor=SYSTEM),
    "adjustment": lambda v, w: adjust_stock(
        variant=v, warehouse=w, delta=-1, reason=ReasonCode.LOST, actor=SYSTEM
    ),
    "count": lambda v, w: count_stock(variant=v, warehouse=w, counted=3, actor=SYSTEM),
    "damage": lambda v, w: mark_unsellable(variant=v, warehouse=w, quantity=1, actor=SYSTEM),
    "safety_stock": lambda v, w: set_safety_stock(variant=v, warehouse=w, quantity=1, actor=SYSTEM),
}


@pytest.mark.parametrize("verb", INBOUND_VERBS.values(), ids=INBOUND_VERBS.keys())
def test_inactive_warehouse_refuses_stock_changes(level, variant, warehouse, verb):
    deactivate(warehouse)
    before = ledger_ids()

    with pytest.raises(InactiveWarehouse) as refused:
        verb(variant, warehouse)

    assert refused.value.details == {"warehouse": warehouse.code}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_count_on_an_inactive_warehouse_never_seen_before_creates_no_level(variant, warehouse):
    deactivate(warehouse)

    with pytest.raises(InactiveWarehouse):
        count_stock(variant=variant, warehouse=warehouse, counted=3, actor=SYSTEM)

    assert StockLevel.objects.count() == 0
    assert ledger_ids() == []


def test_promised_stock_may_still_ship_from_an_inactive_warehouse(variant, warehouse):
    stocked(variant, warehouse, 10)
    level = reserved(variant, warehouse, 3)
    deactivate(warehouse)

    outcome = apply_change(
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.SHIP,
            reason=ReasonCode.ORDER,
            delta_on_hand=-2,
            delta_reserved=-2,
        ),
        actor=SYSTEM,
        source=MovementSource.ORDER,
    )

    assert outcome.outcome == "applied"
    assert balance_of(level) == Balance(on_hand=8, reserved=1, version=3)


def test_a_reservation_may_still_be_released_at_an_inactive_warehouse(variant, warehouse):
    stocked(variant, warehouse, 10)
    level = reserved(variant, warehouse, 3)
    deactivate(warehouse)

    apply_change(
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RELEASE,
            reason=ReasonCode.ORDER,
            delta_reserved=-3,
        ),
        actor=SYSTEM,
        source=MovementSource.ORDER,
    )

    assert balance_of(level) == Balance(on_hand=10, reserved=0, version=3)


def test_an_inactive_warehouse_takes_no_new_reservation(variant, warehouse):
    level = stocked(variant, warehouse, 10)
    deactivate(warehouse)
    before = ledger_ids()

    with pytest.raises(InactiveWarehouse):
        reserved(variant, warehouse, 1)

    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


@pytest.mark.parametrize("verb", INBOUND_VERBS.values(), ids=INBOUND_VERBS.keys())
def test_a_variant_that_does_not_manage_stock_is_refused(level, variant, warehouse, verb):
    variant.manage_stock = False
    variant.save(update_fields=["manage_stock"])
    before = ledger_ids()

    with pytest.raises(StockNotManaged) as refused:
        verb(variant, warehouse)

    assert refused.value.details == {"sku": variant.sku}
    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


# --- SQLite, the database `make run` uses when DATABASE_URL is unset ------------------------

SQLITE_SCRIPT = """
from stock.actors import Actor
from stock.models import Product, StockMovement, Variant
from stock.services import adjust_stock, count_stock, receive_stock
from warehouses.models import Warehouse

actor = Actor.system("sqlite-check")
variant = Variant.objects.create(product=Product.objects.create(name="Sheet"), sku="SHEET-Q")
warehouse = Warehouse.objects.create(code="RENO", name="Reno")
receive_stock(variant=variant, warehouse=warehouse, quantity=10, actor=actor)
adjust_stock(variant=variant, warehouse=warehouse, delta=-3, reason="lost", actor=actor)
level = count_stock(variant=variant, warehouse=warehouse, counted=6, actor=actor).level
level.refresh_from_db()
print(level.on_hand, level.available, level.version, StockMovement.objects.count())
"""


def test_stock_services_work_on_sqlite(tmp_path):
    environment = {
        name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"
    }
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    environment["REDIS_URL"] = ""
    repo = Path(__file__).resolve().parents[2]
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SQLITE_SCRIPT],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "6 6 3 3\n"


def test_a_stale_warehouse_object_cannot_receive_into_a_warehouse_closed_since(variant):
    warehouse = WarehouseFactory(code="CLOSING")
    loaded_while_open = Warehouse.objects.get(pk=warehouse.pk)
    Warehouse.objects.filter(pk=warehouse.pk).update(is_active=False)
    before = ledger_ids()

    with pytest.raises(InactiveWarehouse):
        receive_stock(variant=variant, warehouse=loaded_while_open, quantity=1, actor=SYSTEM)

    assert ledger_ids() == before


def test_a_stale_variant_object_cannot_move_stock_once_tracking_is_off(level, variant, warehouse):
    loaded_while_tracked = Variant.objects.get(pk=variant.pk)
    Variant.objects.filter(pk=variant.pk).update(manage_stock=False)
    before = ledger_ids()

    with pytest.raises(StockNotManaged):
        receive_stock(variant=loaded_while_tracked, warehouse=warehouse, quantity=1, actor=SYSTEM)

    assert balance_of(level) == Balance(on_hand=10, version=1)
    assert ledger_ids() == before


def test_new_instance_builds_what_the_model_constructor_builds(django_assert_num_queries):
    from inventory_hub.db import new_instance
    from stock.models import Order, OrderLine
    from tests.warehouses.factories import SalesChannelFactory

    channel = SalesChannelFactory(code="shop")
    placed = timezone.now()
    values = {"reference": "A-1", "placed_at": placed, "actor_label": "tester"}

    built = new_instance(Order, {"channel_id": channel.pk, **values}, {"channel": channel})
    expected = Order(channel=channel, **values)

    fields = [field.attname for field in Order._meta.concrete_fields]
    assert {name: getattr(built, name) for name in fields} == {
        name: getattr(expected, name) for name in fields
    }
    assert (built._state.adding, built._state.db) == (True, None)
    with django_assert_num_queries(0):
        assert built.channel is channel
        assert built.document == "order shop/A-1"
    line = new_instance(
        OrderLine, {"order_id": None, "line_number": 1, "variant_id": 5, "quantity": 2}
    )
    assert (line.status, line.backordered_quantity) == (OrderLine.Status.OPEN, 0)


def test_new_instance_refuses_values_missing_a_field_without_a_default():
    from inventory_hub.db import new_instance
    from stock.models import Order

    with pytest.raises(TypeError, match="Order needs actor_label, placed_at, reference"):
        new_instance(Order, {"channel_id": 1})
