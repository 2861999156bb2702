"""Transfers racing orders and each other on real PostgreSQL."""

from functools import partial

import pytest
from django.db.models import Sum

from stock.errors import InsufficientStock
from stock.models import MovementSource, StockMovement
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    channel_selling_from,
    place,
    run_at_once,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory
from transfers.models import TransferState
from transfers.services import approve_transfer, ship_transfer

from .factories import assert_identity, draft, transfer_movements

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROUNDS = 10
OPPOSITE_TRANSFERS = 50
WORKERS = 16


def test_an_order_and_an_approval_never_both_get_the_last_units():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    channel = channel_selling_from(north)
    for round_number in range(ROUNDS):
        variant = VariantFactory(sku=f"LAST-{round_number}")
        level = stocked(variant, north, 3)
        transfer = draft(north, south, (variant, 3), reference=f"T-{round_number}")

        attempts = run_at_once(
            [
                partial(place, channel, f"O-{round_number}", (variant.sku, 3)),
                partial(approve_transfer, transfer=transfer, actor=SYSTEM),
            ],
            workers=2,
        )

        errors = [attempt.error for attempt in attempts if attempt.error is not None]
        assert len(errors) == 1
        assert isinstance(errors[0], InsufficientStock)
        assert balance_of(level) == Balance(on_hand=3, reserved=3, version=2)
        transfer.refresh_from_db()
        approved = transfer.state == TransferState.APPROVED
        assert approved == (attempts[1].error is None)
        assert len(transfer_movements(transfer)) == (1 if approved else 0)


def test_opposite_transfers_approved_and_shipped_at_once_never_deadlock():
    east, west = WarehouseFactory(code="EAST"), WarehouseFactory(code="WEST")
    variants = [VariantFactory(sku="DUVET"), VariantFactory(sku="PILLOW")]
    for variant in variants:
        stocked(variant, east, 100)
        stocked(variant, west, 100)
    transfers = [
        draft(
            *((east, west) if index % 2 == 0 else (west, east)),
            # Lines in opposite orders too, so only the ledger's ordered locks keep them apart.
            *((variants[0], 1), (variants[1], 2))[:: 1 if index % 2 == 0 else -1],
            reference=f"T-{index}",
        )
        for index in range(2 * OPPOSITE_TRANSFERS)
    ]

    def approve_and_ship(transfer):
        approve_transfer(transfer=transfer, actor=SYSTEM)
        return ship_transfer(transfer=transfer, actor=SYSTEM)

    attempts = run_at_once(
        [lambda transfer=transfer: approve_and_ship(transfer) for transfer in transfers],
        workers=WORKERS,
    )

    assert [attempt.error for attempt in attempts if attempt.error is not None] == []
    for warehouse in (east, west):
        for variant, quantity in zip(variants, (1, 2), strict=True):
            level = variant.levels.get(warehouse=warehouse)
            assert (level.on_hand, level.reserved, level.inbound) == (
                100 - OPPOSITE_TRANSFERS * quantity,
                0,
                OPPOSITE_TRANSFERS * quantity,
            )
    assert StockMovement.objects.filter(source=MovementSource.TRANSFER).count() == (
        2 * OPPOSITE_TRANSFERS * 2 * 3
    )
    for transfer in transfers:
        transfer.refresh_from_db()
        assert transfer.state == TransferState.SHIPPED
        assert_identity(transfer)


def test_ten_concurrent_retries_of_a_shipment_move_the_stock_once():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    variant = VariantFactory(sku="SHEET-Q")
    level = stocked(variant, north, 10)
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    attempts = run_at_once(
        [lambda: ship_transfer(transfer=transfer, actor=SYSTEM) for _ in range(10)], workers=10
    )

    assert [attempt.error for attempt in attempts if attempt.error is not None] == []
    assert balance_of(level) == Balance(on_hand=6, reserved=0, version=3)
    inbound = StockMovement.objects.filter(
        source=MovementSource.TRANSFER, warehouse=south
    ).aggregate(total=Sum("delta_inbound"))["total"]
    assert inbound == 4
    assert len(transfer_movements(transfer)) == 3
    assert transfer.events.filter(kind="shipped").count() == 1
    assert_identity(transfer)
