"""A transfer's salable changes reach the stores over real HTTP: the hold lowers what the
source's store may sell at once, units on the road are never offered by the destination's
store, and accepted units are offered there once received (damaged ones never)."""

import pytest

from connectors.models import SkuMapping
from stock.selectors import channel_salable_many
from tests.connectors.sync_support import push_all, woo_connector
from tests.fakes.woocommerce import FakeWooCommerce
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from transfers.models import RejectedDisposition, RejectionReason
from transfers.services import (
    ReceiptLineInput,
    approve_transfer,
    close_transfer_short,
    receive_transfer,
    ship_transfer,
)

from .factories import draft

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def shop_for(store: FakeWooCommerce, warehouse, variant, quantity: int):
    """A WooCommerce shop selling one warehouse's stock, with the variant mapped."""
    channel = SalesChannelFactory(code=f"shop-{warehouse.code.lower()}")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    product_id = store.add_product(variant.sku, quantity=quantity)
    connector = woo_connector(store, channel, name=f"woo {warehouse.code}")
    SkuMapping.objects.create(
        connector=connector,
        variant=variant,
        remote_id=str(product_id),
        last_confirmed={"": quantity},
        last_pushed={"": quantity},
    )
    return channel, connector, product_id


def test_each_transition_reaches_the_stores_that_sell_either_end():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    lamp = VariantFactory(sku="LAMP")
    stocked(lamp, north, 10)
    with (
        FakeWooCommerce(delivery_mode="sync") as north_store,
        FakeWooCommerce(delivery_mode="sync") as south_store,
    ):
        north_channel, north_shop, north_id = shop_for(north_store, north, lamp, 10)
        south_channel, south_shop, south_id = shop_for(south_store, south, lamp, 0)

        def offered() -> tuple[int, int]:
            push_all(north_shop, south_shop)
            return (
                north_store.product_json(north_id)["stock_quantity"],
                south_store.product_json(south_id)["stock_quantity"],
            )

        transfer = draft(north, south, (lamp, 4))
        assert offered() == (10, 0)

        approve_transfer(transfer=transfer, actor=SYSTEM)
        assert offered() == (6, 0)
        held = channel_salable_many(north_channel, [lamp])[lamp.pk]
        assert held.salable == 6

        ship_transfer(transfer=transfer, actor=SYSTEM)
        # On the road: gone from the north, and not yet anything the south may sell.
        assert offered() == (6, 0)
        assert channel_salable_many(south_channel, [lamp])[lamp.pk].salable == 0

        receive_transfer(
            transfer=transfer,
            receipt_reference="R-1",
            lines=[
                ReceiptLineInput(
                    variant=lamp,
                    accepted=2,
                    rejected=1,
                    rejection_reason=RejectionReason.DAMAGED,
                    rejected_disposition=RejectedDisposition.UNSELLABLE,
                )
            ],
            actor=SYSTEM,
        )
        assert offered() == (6, 2)

        close_transfer_short(transfer=transfer, reason="lost", note="one never came", actor=SYSTEM)
        assert offered() == (6, 2)
        assert south_store.requests_to("/products/batch"), "the south store was pushed to"
