"""Allocated shares reach every store selling a shared warehouse: pushes are queued for all of
them when one channel's sale or settings move the split, and each store is told its share."""

import pytest

from connectors.models import Connector, LocationMapping, OutboxItem, OutboxState, SkuMapping
from connectors.outbox import forget_mapping_state
from connectors.selectors import desired_push_items
from stock.actors import Actor
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import KIND, SOURCES_KIND
from tests.stock.factories import VariantFactory, place, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.services import update_channel

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.usefixtures("engine_kinds")]
ACTOR = Actor.system("tests")
engine_kinds = engine_fakes.engine_kinds


class Shared:
    """Two channels selling from one warehouse, each shown by its own store."""

    def __init__(self, *, threshold: int | None, kinds=(KIND, KIND)):
        self.warehouse = WarehouseFactory(code="SHARED")
        self.variant = VariantFactory(sku="LAST-UNITS")
        self.channels = []
        self.connectors = []
        for index, kind in enumerate(kinds):
            channel = SalesChannelFactory(code=f"store-{index}", allocation_threshold=threshold)
            ChannelWarehouseFactory(channel=channel, warehouse=self.warehouse, priority=1)
            connector = Connector.objects.create(
                name=f"store {index}",
                kind=kind,
                base_url="http://127.0.0.1:9",
                webhook_secret="secret",
                channel=channel,
                ownership="hub",
            )
            if kind == SOURCES_KIND:
                LocationMapping.objects.create(
                    connector=connector, warehouse=self.warehouse, location="default"
                )
            self.channels.append(channel)
            self.connectors.append(connector)
        stocked(self.variant, self.warehouse, 10)
        self.mappings = [
            SkuMapping.objects.create(connector=connector, variant=self.variant, remote_id="r-1")
            for connector in self.connectors
        ]
        forget_mapping_state()

    def pending(self) -> list[int]:
        return [
            OutboxItem.objects.filter(connector=connector, state=OutboxState.PENDING).count()
            for connector in self.connectors
        ]

    def desired(self, index: int) -> list[tuple[str, int]]:
        items = desired_push_items(self.connectors[index], [self.mappings[index]])
        return [(item.location, item.quantity) for item in items[self.mappings[index].pk]]


def test_a_sale_on_one_channel_queues_pushes_for_every_store_sharing_the_warehouse():
    shared = Shared(threshold=10)
    assert shared.pending() == [0, 0]

    place(shared.channels[0], "order-1", (shared.variant.sku, 2))

    assert shared.pending() == [1, 1]
    assert (shared.desired(0), shared.desired(1)) == ([("", 3)], [("", 5)])


def test_turning_allocation_on_queues_pushes_for_the_channels_sharing_its_warehouses():
    shared = Shared(threshold=None)

    update_channel(channel=shared.channels[0], allocation_threshold=10)

    assert shared.pending() == [1, 1]
    assert (shared.desired(0), shared.desired(1)) == ([("", 5)], [("", 5)])


def test_a_setting_outside_allocation_queues_only_the_channel_itself_when_allocation_is_off():
    shared = Shared(threshold=None)

    update_channel(channel=shared.channels[0], safety_buffer=1)

    assert shared.pending() == [1, 0]


def test_a_per_source_store_is_told_its_share_plus_what_its_own_orders_hold():
    shared = Shared(threshold=10, kinds=(KIND, SOURCES_KIND))

    place(shared.channels[1], "order-1", (shared.variant.sku, 2))

    # Magento subtracts its own orders (2) from the source quantity: it can sell 3 more.
    assert shared.desired(1) == [("default", 5)]
    assert shared.desired(0) == [("", 5)]
