"""Creating a transfer: a lane's minimum quantity, and the ops override of it."""

import pytest

from tests.stock.factories import SYSTEM, VariantFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.errors import InvalidTransfer
from transfers.models import Transfer
from transfers.services import TransferLineInput, create_transfer

from .factories import LaneFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def variants():
    return VariantFactory(sku="SHEET-Q"), VariantFactory(sku="PILLOW")


def create(north, south, *quantities, variants, **options) -> Transfer:
    return create_transfer(
        source=north,
        destination=south,
        lines=[
            TransferLineInput(variant=variant, quantity=quantity)
            for variant, quantity in zip(variants, quantities, strict=False)
        ],
        reference="T-1",
        actor=SYSTEM,
        **options,
    )


def test_below_the_lanes_minimum_is_refused(north, south, variants):
    LaneFactory(source=north, destination=south, minimum_quantity=10)

    with pytest.raises(InvalidTransfer) as refused:
        create(north, south, 4, 5, variants=variants)

    assert refused.value.code == "invalid_transfer"
    assert refused.value.details == {"field": "lines", "minimum": 10}
    assert Transfer.objects.count() == 0


def test_the_minimum_counts_every_line(north, south, variants):
    LaneFactory(source=north, destination=south, minimum_quantity=10)

    transfer = create(north, south, 4, 6, variants=variants)

    assert transfer.events.get().details == {}


def test_ops_may_create_below_the_minimum_and_the_timeline_says_so(north, south, variants):
    LaneFactory(source=north, destination=south, minimum_quantity=10)

    transfer = create(north, south, 3, variants=variants, allow_below_minimum=True)

    assert list(transfer.events.values_list("kind", "details")) == [
        ("created", {"below_minimum": True, "minimum": 10, "quantity": 3})
    ]


def test_an_inactive_lanes_minimum_does_not_apply(north, south, variants):
    LaneFactory(source=north, destination=south, minimum_quantity=10, is_active=False)

    transfer = create(north, south, 3, variants=variants)

    assert transfer.lane is None


def test_without_a_lane_there_is_no_minimum(north, south, variants):
    transfer = create(north, south, 1, variants=variants)

    assert transfer.lines.get().quantity == 1
