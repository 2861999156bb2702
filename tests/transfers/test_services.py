"""Each transition's movements and balances, its refusals and its retries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stock.errors import InsufficientStock
from stock.models import BackorderPolicy, MovementKind, ReasonCode, StockLevel
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    ledger_ids,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory
from transfers.errors import InvalidTransfer, InvalidTransferState, OverReceipt
from transfers.models import RejectedDisposition, TransferState
from transfers.services import (
    BACK_TO_SOURCE,
    LOST,
    ReceiptLineInput,
    approve_transfer,
    cancel_transfer,
    close_transfer_short,
    pick_transfer,
    receive_transfer,
    ship_transfer,
)

from .factories import LaneFactory, assert_identity, draft, transfer_movements

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def variant():
    return VariantFactory(sku="SHEET-Q")


@pytest.fixture
def source_level(variant, north):
    return stocked(variant, north, 10)


def level_at(variant, warehouse):
    return StockLevel.objects.get(variant=variant, warehouse=warehouse)


def shipped(north, south, variant, quantity=4, reference="T-1"):
    transfer = draft(north, south, (variant, quantity), reference=reference)
    approve_transfer(transfer=transfer, actor=SYSTEM)
    return ship_transfer(transfer=transfer, actor=SYSTEM)


def movement_rows(transfer):
    return [
        (
            m.warehouse.code,
            m.kind,
            m.reason,
            m.delta_on_hand,
            m.delta_reserved,
            m.delta_unsellable,
            m.delta_inbound,
        )
        for m in transfer_movements(transfer)
    ]


def test_create_takes_expected_arrival_from_the_active_lane(north, south, variant):
    lane = LaneFactory(source=north, destination=south, lead_time_days=5)

    transfer = draft(north, south, (variant, 3))

    assert transfer.state == TransferState.DRAFT
    assert transfer.lane == lane
    assert transfer.expected_arrival == timezone.localdate() + timedelta(days=5)
    assert list(transfer.lines.values_list("quantity", "shipped")) == [(3, 0)]
    assert list(transfer.events.values_list("kind", flat=True)) == ["created"]
    assert transfer_movements(transfer) == []


def test_create_refused_for_the_same_warehouse_twice(north, variant):
    with pytest.raises(InvalidTransfer):
        draft(north, north, (variant, 3))


def test_approve_holds_the_units_at_the_source(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))

    approve_transfer(transfer=transfer, actor=SYSTEM)

    assert balance_of(source_level) == Balance(on_hand=10, reserved=4, version=2)
    assert movement_rows(transfer) == [
        ("NORTH", MovementKind.RESERVE, ReasonCode.TRANSFER, 0, 4, 0, 0)
    ]
    transfer.refresh_from_db()
    assert transfer.state == TransferState.APPROVED
    assert list(transfer.events.values_list("kind", flat=True)) == ["created", "approved"]


def test_approve_refused_beyond_available_even_when_backorders_are_allowed(north, south):
    variant = VariantFactory(sku="BACKORDERABLE", backorders=BackorderPolicy.ALLOW)
    level = stocked(variant, north, 3)
    transfer = draft(north, south, (variant, 4))
    before, ledger_before = balance_of(level), ledger_ids()

    with pytest.raises(InsufficientStock) as refused:
        approve_transfer(transfer=transfer, actor=SYSTEM)

    assert refused.value.details == {"short_by": 1, "quantity": "available"}
    assert balance_of(level) == before == Balance(on_hand=3, version=1)
    assert ledger_ids() == ledger_before
    transfer.refresh_from_db()
    assert transfer.state == TransferState.DRAFT
    assert list(transfer.events.values_list("kind", flat=True)) == ["created"]


def test_pick_writes_a_timeline_entry_and_no_movement(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ledger_before = ledger_ids()

    pick_transfer(transfer=transfer, actor=SYSTEM)

    assert ledger_ids() == ledger_before
    transfer.refresh_from_db()
    assert transfer.state == TransferState.PICKED
    assert transfer.events.last().kind == "picked"


def test_ship_takes_on_hand_from_the_source_and_makes_it_inbound_at_the_destination(
    north, south, variant, source_level
):
    transfer = shipped(north, south, variant, 4)

    assert balance_of(source_level) == Balance(on_hand=6, reserved=0, version=3)
    assert balance_of(level_at(variant, south)) == Balance(on_hand=0, inbound=4, version=1)
    assert movement_rows(transfer)[1:] == [
        ("NORTH", MovementKind.TRANSFER_OUT, ReasonCode.TRANSFER, -4, -4, 0, 0),
        ("SOUTH", MovementKind.TRANSFER_IN, ReasonCode.TRANSFER, 0, 0, 0, 4),
    ]
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SHIPPED
    assert transfer.lines.get().shipped == 4
    assert_identity(transfer)


def test_ship_refused_for_a_draft(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))
    ledger_before = ledger_ids()

    with pytest.raises(InvalidTransferState):
        ship_transfer(transfer=transfer, actor=SYSTEM)

    assert ledger_ids() == ledger_before
    assert balance_of(source_level) == Balance(on_hand=10, version=1)


def test_receive_part_with_a_damaged_unit_kept_unsellable(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)

    receive_transfer(
        transfer=transfer,
        receipt_reference="R-1",
        lines=[
            ReceiptLineInput(variant=variant, accepted=2, rejected=1, rejection_reason="damaged")
        ],
        actor=SYSTEM,
    )

    assert balance_of(level_at(variant, south)) == Balance(
        on_hand=3, unsellable=1, inbound=1, version=3
    )
    assert movement_rows(transfer)[3:] == [
        ("SOUTH", MovementKind.TRANSFER_IN, ReasonCode.TRANSFER, 2, 0, 0, -2),
        ("SOUTH", MovementKind.TRANSFER_IN, ReasonCode.DAMAGED, 1, 0, 1, -1),
    ]
    transfer.refresh_from_db()
    assert transfer.state == TransferState.PARTIALLY_RECEIVED
    line = transfer.lines.get()
    assert (line.accepted, line.rejected, line.in_transit) == (2, 1, 1)
    assert_identity(transfer)


def test_receive_everything_with_a_rejected_unit_written_off(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)

    receive_transfer(
        transfer=transfer,
        receipt_reference="R-1",
        lines=[
            ReceiptLineInput(
                variant=variant,
                accepted=3,
                rejected=1,
                rejection_reason="wrong_item",
                rejected_disposition=RejectedDisposition.WRITE_OFF,
            )
        ],
        actor=SYSTEM,
    )

    assert balance_of(level_at(variant, south)) == Balance(on_hand=3, inbound=0, version=3)
    assert movement_rows(transfer)[-1] == (
        "SOUTH",
        MovementKind.TRANSFER_IN,
        ReasonCode.WRITTEN_OFF,
        0,
        0,
        0,
        -1,
    )
    transfer.refresh_from_db()
    assert transfer.state == TransferState.RECEIVED
    assert_identity(transfer)


def test_receive_refused_beyond_what_is_in_transit(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)
    destination = level_at(variant, south)
    before, ledger_before = balance_of(destination), ledger_ids()

    with pytest.raises(OverReceipt):
        receive_transfer(
            transfer=transfer,
            receipt_reference="R-1",
            lines=[ReceiptLineInput(variant=variant, accepted=5)],
            actor=SYSTEM,
        )

    assert balance_of(destination) == before == Balance(inbound=4, version=1)
    assert ledger_ids() == ledger_before
    assert not transfer.receipts.exists()
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SHIPPED
    assert_identity(transfer)


def test_over_receipt_lands_the_extra_unit_when_the_receipt_says_so(
    north, south, variant, source_level
):
    transfer = shipped(north, south, variant, 4)

    receive_transfer(
        transfer=transfer,
        receipt_reference="R-1",
        lines=[ReceiptLineInput(variant=variant, accepted=5)],
        actor=SYSTEM,
        over_receipt=True,
    )

    assert balance_of(level_at(variant, south)) == Balance(on_hand=5, inbound=0, version=2)
    line = transfer.lines.get()
    assert (line.accepted, line.over_received, line.in_transit) == (5, 1, 0)
    transfer.refresh_from_db()
    assert transfer.state == TransferState.RECEIVED
    assert_identity(transfer)


def test_the_same_receipt_twice_is_one_receipt(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)
    receipt = [ReceiptLineInput(variant=variant, accepted=1)]
    receive_transfer(transfer=transfer, receipt_reference="R-1", lines=receipt, actor=SYSTEM)
    ledger_before = ledger_ids()

    again = receive_transfer(
        transfer=transfer, receipt_reference="R-1", lines=receipt, actor=SYSTEM
    )

    assert again.reference == "R-1"
    assert ledger_ids() == ledger_before
    assert transfer.receipts.count() == 1
    assert balance_of(level_at(variant, south)) == Balance(on_hand=1, inbound=3, version=2)
    assert_identity(transfer)


def test_close_short_writes_the_remainder_off_as_lost(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)
    receive_transfer(
        transfer=transfer,
        receipt_reference="R-1",
        lines=[ReceiptLineInput(variant=variant, accepted=3)],
        actor=SYSTEM,
    )

    close_transfer_short(transfer=transfer, actor=SYSTEM, note="pallet missing")

    assert balance_of(level_at(variant, south)) == Balance(on_hand=3, inbound=0, version=3)
    assert movement_rows(transfer)[-1] == (
        "SOUTH",
        MovementKind.ADJUSTMENT,
        ReasonCode.LOST,
        0,
        0,
        0,
        -1,
    )
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CLOSED_SHORT
    assert transfer.lines.get().lost == 1
    assert_identity(transfer)


def test_cancel_before_shipping_releases_the_hold(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    cancel_transfer(transfer=transfer, actor=SYSTEM)

    assert balance_of(source_level) == Balance(on_hand=10, reserved=0, version=3)
    assert movement_rows(transfer)[-1] == (
        "NORTH",
        MovementKind.RELEASE,
        ReasonCode.TRANSFER,
        0,
        -4,
        0,
        0,
    )
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CANCELLED


def test_cancel_after_shipping_back_to_source_moves_inbound_home(
    north, south, variant, source_level
):
    transfer = shipped(north, south, variant, 4)

    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)

    assert balance_of(source_level) == Balance(on_hand=6, inbound=4, version=4)
    assert balance_of(level_at(variant, south)) == Balance(inbound=0, version=2)
    assert transfer.lines.get().returned == 4
    assert_identity(transfer)


def test_cancel_after_shipping_lost_writes_the_units_off(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)

    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=LOST, note="truck stolen")

    assert balance_of(source_level) == Balance(on_hand=6, version=3)
    assert balance_of(level_at(variant, south)) == Balance(inbound=0, version=2)
    assert movement_rows(transfer)[-1] == (
        "SOUTH",
        MovementKind.ADJUSTMENT,
        ReasonCode.LOST,
        0,
        0,
        0,
        -4,
    )
    assert transfer.lines.get().lost == 4
    assert_identity(transfer)


def test_cancel_after_shipping_refused_without_a_disposition(north, south, variant, source_level):
    transfer = shipped(north, south, variant, 4)
    ledger_before = ledger_ids()

    with pytest.raises(InvalidTransfer):
        cancel_transfer(transfer=transfer, actor=SYSTEM)

    assert ledger_ids() == ledger_before
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SHIPPED
    assert_identity(transfer)


def test_a_cancelled_transfer_cannot_be_shipped(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))
    cancel_transfer(transfer=transfer, actor=SYSTEM)

    with pytest.raises(InvalidTransferState):
        ship_transfer(transfer=transfer, actor=SYSTEM)

    assert balance_of(source_level) == Balance(on_hand=10, version=1)


@pytest.mark.parametrize(
    ("transition", "movements"),
    [
        (lambda t: approve_transfer(transfer=t, actor=SYSTEM), 1),
        (lambda t: pick_transfer(transfer=t, actor=SYSTEM), 1),
        (lambda t: ship_transfer(transfer=t, actor=SYSTEM), 3),
        (lambda t: close_transfer_short(transfer=t, actor=SYSTEM), 4),
        (lambda t: cancel_transfer(transfer=t, actor=SYSTEM, disposition=LOST), 4),
        (lambda t: cancel_transfer(transfer=t, actor=SYSTEM), 2),
    ],
    ids=["approve", "pick", "ship", "close_short", "cancel_lost", "cancel_release"],
)
def test_a_retried_transition_writes_one_set_of_movements(
    transition, movements, north, south, variant, source_level
):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    if movements > 2:
        ship_transfer(transfer=transfer, actor=SYSTEM)
    transition(transfer)
    ledger_before, events_before = ledger_ids(), transfer.events.count()

    transition(transfer)

    assert ledger_ids() == ledger_before
    assert len(transfer_movements(transfer)) == movements
    assert transfer.events.count() == events_before
    assert_identity(transfer)
