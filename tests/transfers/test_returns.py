"""Receiving back at the source what a cancellation after shipping sent back."""

import pytest

from stock.models import MovementKind, ReasonCode
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, ledger_ids, stocked
from tests.warehouses.factories import WarehouseFactory
from transfers.errors import InvalidTransfer, InvalidTransferState, OverReceipt
from transfers.models import TransferState
from transfers.services import (
    BACK_TO_SOURCE,
    LOST,
    ReceiptLineInput,
    approve_transfer,
    cancel_transfer,
    receive_return,
    receive_transfer,
    ship_transfer,
)

from .factories import assert_identity, draft, transfer_movements

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


def sent_back(north, south, variant, quantity=4):
    """Shipped `quantity` from NORTH, then cancelled back to NORTH: all of it on the way back."""
    transfer = draft(north, south, (variant, quantity))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    return cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)


def back(variant, reference="back-1", **quantities) -> dict:
    return {
        "receipt_reference": reference,
        "lines": [ReceiptLineInput(variant=variant, **quantities)],
        "actor": SYSTEM,
    }


def test_accepted_units_land_on_hand_at_the_source(north, south, variant, source_level):
    transfer = sent_back(north, south, variant)

    receipt = receive_return(transfer=transfer, **back(variant, accepted=4))

    assert receipt.is_return is True
    assert balance_of(source_level) == Balance(on_hand=10, version=5)
    line = transfer.lines.get()
    assert (line.returned, line.return_received, line.returning) == (4, 4, 0)
    assert transfer_movements(transfer)[-1].kind == MovementKind.TRANSFER_IN
    assert [m.delta_on_hand for m in transfer_movements(transfer)][-1] == 4
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CANCELLED
    assert list(transfer.events.values_list("kind", "details"))[-1] == (
        "return_received",
        {"receipt": "back-1", "is_complete": True},
    )
    assert_identity(transfer)


def test_rejected_units_kept_unsellable_or_written_off_at_the_source(
    north, south, variant, source_level
):
    transfer = sent_back(north, south, variant)

    receive_return(
        transfer=transfer,
        **back(variant, "back-1", accepted=1, rejected=1, rejection_reason="damaged"),
    )
    receive_return(
        transfer=transfer,
        **back(
            variant,
            "back-2",
            rejected=1,
            rejection_reason="expired",
            rejected_disposition="write_off",
        ),
    )

    assert balance_of(source_level) == Balance(on_hand=8, unsellable=1, inbound=1, version=7)
    assert [
        (m.reason, m.delta_on_hand, m.delta_unsellable, m.delta_inbound)
        for m in transfer_movements(transfer)[-3:]
    ] == [
        (ReasonCode.TRANSFER, 1, 0, -1),
        (ReasonCode.DAMAGED, 1, 1, -1),
        (ReasonCode.WRITTEN_OFF, 0, 0, -1),
    ]
    line = transfer.lines.get()
    assert (line.return_received, line.returning) == (3, 1)
    assert transfer.events.last().details == {"receipt": "back-2", "is_complete": False}


def test_the_same_return_receipt_twice_is_one(north, south, variant, source_level):
    transfer = sent_back(north, south, variant)
    first = receive_return(transfer=transfer, **back(variant, accepted=2))
    before = ledger_ids()

    again = receive_return(transfer=transfer, **back(variant, accepted=2))

    assert again.pk == first.pk
    assert ledger_ids() == before
    assert transfer.lines.get().return_received == 2


def test_more_than_is_on_the_way_back_is_refused(north, south, variant, source_level):
    transfer = sent_back(north, south, variant)
    before, balance = ledger_ids(), balance_of(source_level)

    with pytest.raises(OverReceipt) as refused:
        receive_return(
            transfer=transfer, **back(variant, accepted=4, rejected=1, rejection_reason="other")
        )

    assert refused.value.details == {"sku": "SHEET-Q", "returning": 4, "received": 5}
    assert (ledger_ids(), balance_of(source_level)) == (before, balance)
    assert transfer.receipts.count() == 0
    assert transfer.lines.get().return_received == 0


def test_only_what_was_returned_comes_back_after_a_partial_receipt(
    north, south, variant, source_level
):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    receive_transfer(transfer=transfer, **back(variant, "R-1", accepted=3))
    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)

    with pytest.raises(OverReceipt):
        receive_return(transfer=transfer, **back(variant, accepted=2))
    receive_return(transfer=transfer, **back(variant, accepted=1))

    assert balance_of(source_level).on_hand == 7
    assert_identity(transfer)


@pytest.mark.parametrize("disposition", [None, LOST])
def test_nothing_to_receive_back_without_a_return(north, south, variant, source_level, disposition):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    if disposition:
        ship_transfer(transfer=transfer, actor=SYSTEM)
    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=disposition)
    before = ledger_ids()

    with pytest.raises(OverReceipt):
        receive_return(transfer=transfer, **back(variant, accepted=1))

    assert ledger_ids() == before


def test_a_transfer_still_on_the_road_is_not_received_back(north, south, variant, source_level):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    with pytest.raises(InvalidTransferState):
        receive_return(transfer=transfer, **back(variant, accepted=1))


def test_a_destination_receipts_reference_is_refused_for_a_return(
    north, south, variant, source_level
):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    receive_transfer(transfer=transfer, **back(variant, "R-1", accepted=1))
    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)

    with pytest.raises(InvalidTransfer) as refused:
        receive_return(transfer=transfer, **back(variant, "R-1", accepted=1))

    assert refused.value.details == {"field": "receipt_reference"}
    assert transfer.lines.get().return_received == 0
