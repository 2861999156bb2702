"""A push never undoes a sale the store made: relative pushes to WooCommerce, the store's
own orders counted as already done, lost answers, and Magento's absolute figures.

Real HTTP against the local fake stores; see connectors/engine/accounting.py for the rules.
"""

import json

import pytest
from django.db import transaction

from connectors.engine.push import push_outbox
from connectors.inbound.rules.orders import apply_remote_orders
from connectors.models import LocationMapping, OutboxItem, OutboxState, SkuMapping
from connectors.registry import build_connector
from connectors.sync.polling import poll_connector
from connectors.sync.reconcile import reconcile_connector
from connectors.sync.setup import set_up_connector
from stock.actors import Actor
from stock.services import receive_stock
from stock.services.orders import OrderLineInput, place_order
from tests.connectors.sync_support import (
    WOO_SECRET,
    magento_connector,
    make_hub,
    process_received,
    push_all,
    wait_for,
    woo_connector,
)
from tests.fakes.server import Fault
from tests.warehouses.factories import ChannelWarehouseFactory, SalesChannelFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ACTOR = Actor.system("delta tests")


def woo_hub(woo, quantity: int, **fields):
    """MUG: `quantity` in the hub and on the store, mapped, in sync."""
    hub = make_hub({"MUG": quantity})
    product_id = woo.add_product("MUG", quantity=quantity)
    connector = woo_connector(woo, hub.channel, **fields)
    SkuMapping.objects.create(
        connector=connector,
        variant=hub.variants["MUG"],
        remote_id=str(product_id),
        last_confirmed={"": quantity},
        last_pushed={"": quantity},
    )
    return hub, connector, product_id


def sell_elsewhere(hub, quantity: int, reference: str = "other-1"):
    """Another channel, sharing the warehouse, sells `quantity`."""
    channel = SalesChannelFactory(code=f"other-{reference}")
    ChannelWarehouseFactory(channel=channel, warehouse=hub.warehouse, priority=1)
    place_order(
        channel=channel,
        reference=reference,
        lines=[OrderLineInput(sku="MUG", quantity=quantity)],
        actor=ACTOR,
    )


def batch_bodies(woo) -> list[dict]:
    return [json.loads(r.body)["update"][0] for r in woo.requests_to("/products/batch", "POST")]


def store_quantity(woo, product_id) -> int:
    return woo.product_json(product_id)["stock_quantity"]


def subscribe(woo, connector, live_server, *topics):
    build_connector(connector).register_webhooks(
        f"{live_server.url}/connectors/{connector.pk}/inbound/", topics=topics, secret=WOO_SECRET
    )


# (a) Sales the hub has not heard of are never pushed back --------------------------------


def test_a_store_that_sold_units_the_hub_has_not_heard_of_is_never_pushed_back_up(woo):
    hub, connector, product_id = woo_hub(woo, 10)
    order_id = woo.create_order([("MUG", 6)], status="processing")  # the hub hears nothing yet
    sell_elsewhere(hub, 1)

    push_all(connector)

    assert store_quantity(woo, product_id) == 3  # 10 - 6 sold there - 1 sold elsewhere
    assert batch_bodies(woo) == [{"id": product_id, "inventory_delta": -1}]

    # The order arrives later: counted as already done on the store, nothing is pushed.
    store = build_connector(connector)
    with transaction.atomic():
        apply_remote_orders(connector=connector, orders=list(store.pull_orders()))
    push_all(connector)

    assert hub.salable("MUG") == 3
    assert store_quantity(woo, product_id) == 3
    assert len(batch_bodies(woo)) == 1
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted) == ({"": 3}, {"": 3})
    assert mapping.store_orders == {str(order_id): {"": 6}}  # paid, not shipped: open


def test_a_receipt_raises_the_store_only_by_what_the_hub_added(woo):
    hub, connector, product_id = woo_hub(woo, 10)
    woo.create_order([("MUG", 4)], status="processing")

    receive_stock(variant=hub.variants["MUG"], warehouse=hub.warehouse, quantity=5, actor=ACTOR)
    push_all(connector)

    assert store_quantity(woo, product_id) == 11  # not 15: the 4 sold stay sold
    assert batch_bodies(woo) == [{"id": product_id, "inventory_delta": 5}]


def test_a_lower_figure_from_the_stores_webhook_is_kept_until_the_order_comes(woo, live_server):
    _hub, connector, product_id = woo_hub(woo, 10)
    subscribe(woo, connector, live_server, "product.updated")
    woo.create_order([("MUG", 4)], status="processing")  # only its product.updated arrives

    results = process_received()
    push_all(connector)

    assert set(results) == {"processed"}
    assert store_quantity(woo, product_id) == 6
    assert batch_bodies(woo) == []
    assert not OutboxItem.objects.filter(connector=connector, state=OutboxState.PENDING).exists()
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted) == ({"": 6}, {"": 10})


def test_a_store_figure_raised_behind_the_hubs_back_is_brought_down(woo, live_server):
    _hub, connector, product_id = woo_hub(woo, 10)
    subscribe(woo, connector, live_server, "product.updated")
    woo.set_stock(product_id, stock_quantity=25)

    process_received()
    push_all(connector)

    assert store_quantity(woo, product_id) == 10
    assert batch_bodies(woo) == [{"id": product_id, "inventory_delta": -15}]


# (c) The store's own order and cancellation push nothing back ---------------------------------


def test_the_stores_own_order_and_cancellation_cause_no_push(woo, live_server):
    hub, connector, product_id = woo_hub(woo, 10)
    # Orders only: the hub learns nothing of the store's stock but from the order itself.
    subscribe(woo, connector, live_server, "order.created", "order.updated")

    order_id = woo.create_order([("MUG", 2)], status="processing")
    process_received()
    push_all(connector)

    assert hub.salable("MUG") == 8
    assert store_quantity(woo, product_id) == 8
    assert woo.requests_to("/products/batch") == []

    woo.update_order_status(order_id, "cancelled")
    process_received()
    push_all(connector)

    assert hub.salable("MUG") == 10
    assert store_quantity(woo, product_id) == 10
    assert woo.requests_to("/products/batch") == []
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted, mapping.store_orders) == (
        {"": 10},
        {"": 10},
        {},
    )


def test_a_cancellations_stock_news_before_its_order_news_pushes_nothing(
    woo, live_server, settings
):
    settings.CONNECTORS_STORE_RISE_GRACE_SECONDS = 30
    hub, connector, product_id = woo_hub(woo, 10)
    order_id = woo.create_order([("MUG", 2)], status="processing")
    with transaction.atomic():
        apply_remote_orders(
            connector=connector, orders=list(build_connector(connector).pull_orders())
        )
    push_all(connector)
    subscribe(woo, connector, live_server, "product.updated")

    # The store gives the 2 back; its product.updated comes first, the order's news later.
    woo.update_order_status(order_id, "cancelled")
    process_received()
    push_outbox(connector_id=connector.pk)  # a worker running in between

    assert woo.requests_to("/products/batch") == []
    assert store_quantity(woo, product_id) == 10

    with transaction.atomic():
        apply_remote_orders(
            connector=connector, orders=list(build_connector(connector).pull_orders())
        )
    OutboxItem.objects.filter(connector=connector).update(due_at="2000-01-01T00:00:00Z")
    push_all(connector)

    assert hub.salable("MUG") == 10
    assert store_quantity(woo, product_id) == 10
    assert woo.requests_to("/products/batch") == []


def test_a_merchant_raise_to_a_figure_the_hub_once_pushed_is_still_brought_down(woo, live_server):
    _hub, connector, product_id = woo_hub(woo, 10)  # the hub's last push was 10
    woo.create_order([("MUG", 3)], status="processing")
    with transaction.atomic():
        apply_remote_orders(
            connector=connector, orders=list(build_connector(connector).pull_orders())
        )
    push_all(connector)
    subscribe(woo, connector, live_server, "product.updated")
    assert woo.requests_to("/products/batch") == []

    woo.set_stock(product_id, stock_quantity=10)  # the merchant types the old figure back
    process_received()
    push_all(connector)

    assert store_quantity(woo, product_id) == 7


def test_a_pending_order_then_paid_ends_with_the_store_showing_the_hubs_figure(woo, live_server):
    hub, connector, product_id = woo_hub(woo, 10)
    subscribe(woo, connector, live_server, "order.created", "order.updated", "product.updated")

    order_id = woo.create_order([("MUG", 2)], status="pending")  # held by the hub only
    process_received()
    push_all(connector)
    woo.update_order_status(order_id, "processing")  # now the store takes its own 2
    process_received()
    push_all(connector)
    process_received()

    assert hub.salable("MUG") == 8
    assert store_quantity(woo, product_id) == 8


def test_a_replayed_order_event_counts_nothing_twice(woo):
    _hub, connector, product_id = woo_hub(woo, 10)
    woo.create_order([("MUG", 3)], status="processing")
    orders = list(build_connector(connector).pull_orders())

    for _ in range(2):
        with transaction.atomic():
            apply_remote_orders(connector=connector, orders=orders)
    push_all(connector)

    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted) == ({"": 7}, {"": 7})
    assert store_quantity(woo, product_id) == 7
    assert woo.requests_to("/products/batch") == []


# (b) A lost answer never applies a change twice ------------------------------------------------


def test_a_raise_whose_answer_was_lost_is_not_sent_again(woo):
    hub, connector, product_id = woo_hub(woo, 10, timeout_seconds=0.3)
    # The store applies the change, but answers after the hub has given up.
    woo.inject(Fault(status=0, hang_seconds=0.8, path_contains="/products/batch"))
    receive_stock(variant=hub.variants["MUG"], warehouse=hub.warehouse, quantity=5, actor=ACTOR)

    first = push_outbox(connector_id=connector.pk)
    wait_for(lambda: store_quantity(woo, product_id) == 15, what="the late write")
    OutboxItem.objects.filter(connector=connector).update(due_at="2000-01-01T00:00:00Z")
    push_all(connector)

    assert first.status == "failed"
    assert store_quantity(woo, product_id) == 15  # once, not 20
    assert len(woo.requests_to("/products/batch", "POST")) == 1
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted, mapping.in_flight) == (
        {"": 15},
        {"": 15},
        {},
    )


def test_a_lowering_whose_answer_was_lost_is_sent_again_so_the_store_never_offers_more(woo):
    hub, connector, product_id = woo_hub(woo, 10, timeout_seconds=0.3)
    woo.inject(Fault(status=0, hang_seconds=0.8, path_contains="/products/batch"))
    sell_elsewhere(hub, 3)

    push_outbox(connector_id=connector.pk)
    wait_for(lambda: store_quantity(woo, product_id) == 7, what="the late write")
    OutboxItem.objects.filter(connector=connector).update(due_at="2000-01-01T00:00:00Z")
    push_all(connector)

    # Applied twice: the store offers 3 too few (never too many) until reconciliation.
    assert store_quantity(woo, product_id) == 4
    assert len(woo.requests_to("/products/batch", "POST")) == 2

    report = reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    assert report.drifted == 1
    assert store_quantity(woo, product_id) == 7


def test_a_change_left_in_flight_by_a_dead_worker_is_settled_before_sending(woo):
    hub, connector, product_id = woo_hub(woo, 10)
    # A worker sent +5 (the store applied it), then died before writing the answer down.
    woo.set_stock(product_id, stock_quantity=15)
    receive_stock(variant=hub.variants["MUG"], warehouse=hub.warehouse, quantity=5, actor=ACTOR)
    SkuMapping.objects.filter(connector=connector).update(
        in_flight={"": {"delta": 5, "hub_change": 5}}
    )

    push_all(connector)

    assert store_quantity(woo, product_id) == 15
    assert woo.requests_to("/products/batch") == []
    assert SkuMapping.objects.get(connector=connector).in_flight == {}


# (e) Magento: an absolute figure never undoes the store's own decrement -----------------------


def magento_hub(magento, quantity: int):
    hub = make_hub({"LAMP": quantity}, warehouse_code="LAMPS")
    magento.add_source("lamps")
    magento.add_source_item("LAMP", "lamps", quantity)
    connector = magento_connector(magento, hub.channel)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="lamps")
    assert set_up_connector(connector_id=connector.pk, register_webhooks=False).is_ok
    return hub, connector


def source_pushes(magento) -> list[float]:
    return [
        item["quantity"]
        for request in magento.requests_to("/V1/inventory/source-items", "POST")
        for item in json.loads(request.body)["sourceItems"]
    ]


def test_magento_is_raised_only_by_the_hubs_own_increase_not_over_its_own_shipment(magento):
    hub, connector = magento_hub(magento, 10)
    magento.set_quantity("LAMP", "lamps", 7)  # shipped 3 the hub has not matched yet
    poll_connector(connector_id=connector.pk)
    push_all(connector)

    assert magento.source_item("LAMP", "lamps")["quantity"] == 7  # kept, not pushed to 10
    assert source_pushes(magento) == []

    receive_stock(variant=hub.variants["LAMP"], warehouse=hub.warehouse, quantity=5, actor=ACTOR)
    push_all(connector)

    assert magento.source_item("LAMP", "lamps")["quantity"] == 12  # 7 + the 5 received
    assert source_pushes(magento) == [12]

    sell_elsewhere_lamp(hub, 2)
    push_all(connector)

    assert magento.source_item("LAMP", "lamps")["quantity"] == 10  # lowered freely
    assert source_pushes(magento) == [12, 10]


def test_magento_shipment_matches_the_decrement_the_hub_saw_and_pushes_nothing(magento):
    hub, connector = magento_hub(magento, 10)
    magento.add_order(entity_id=501, state="new", items=[("LAMP", 3)])
    poll_connector(connector_id=connector.pk)
    push_all(connector)
    magento.set_quantity("LAMP", "lamps", 7)  # Magento ships: its source quantity drops
    magento.orders[0]["state"] = magento.orders[0]["status"] = "complete"

    poll_connector(connector_id=connector.pk, full=True)
    push_all(connector)

    assert hub.salable("LAMP") == 7
    assert magento.source_item("LAMP", "lamps")["quantity"] == 7
    assert source_pushes(magento) == []
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.last_confirmed, mapping.accounted) == ({"lamps": 7}, {"lamps": 7})


def sell_elsewhere_lamp(hub, quantity: int):
    channel = SalesChannelFactory(code="lamp-elsewhere")
    ChannelWarehouseFactory(channel=channel, warehouse=hub.warehouse, priority=1)
    place_order(
        channel=channel,
        reference="lamp-1",
        lines=[OrderLineInput(sku="LAMP", quantity=quantity)],
        actor=ACTOR,
    )


def test_reconciliation_keeps_a_figure_below_while_an_order_of_the_store_is_open(magento):
    hub, connector = magento_hub(magento, 10)
    magento.add_order(entity_id=502, state="processing", items=[("LAMP", 3)])
    poll_connector(connector_id=connector.pk)
    magento.set_quantity("LAMP", "lamps", 7)  # shipped on Magento; the hub not told yet

    reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    assert magento.source_item("LAMP", "lamps")["quantity"] == 7
    assert source_pushes(magento) == []

    magento.orders[0]["state"] = magento.orders[0]["status"] = "complete"
    poll_connector(connector_id=connector.pk)
    reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    assert hub.salable("LAMP") == 7
    assert magento.source_item("LAMP", "lamps")["quantity"] == 7
    assert source_pushes(magento) == []


def test_store_sales_and_hub_changes_interleaved_never_give_back_a_sold_unit(live_server):
    from tests.fakes.woocommerce import FakeWooCommerce

    with FakeWooCommerce(delivery_mode="queue") as woo:
        hub, connector, product_id = woo_hub(woo, 20)
        subscribe(woo, connector, live_server, "order.created", "order.updated", "product.updated")
        for step in range(1, 7):
            woo.create_order([("MUG", 1)], status="processing")  # the hub hears later
            sell_elsewhere(hub, 1, reference=f"other-{step}")
            if step % 2:
                receive_stock(
                    variant=hub.variants["MUG"], warehouse=hub.warehouse, quantity=1, actor=ACTOR
                )
            push_all(connector)
            received = (step + 1) // 2
            # Exactly the store's own sales and the hub's changes, none undone.
            assert store_quantity(woo, product_id) == 20 - 2 * step + received

        woo.deliver_queued()
        process_received()
        push_all(connector)
        woo.deliver_queued()
        process_received()
        push_all(connector)

        assert hub.salable("MUG") == 20 - 12 + 3
        assert store_quantity(woo, product_id) == hub.salable("MUG")
