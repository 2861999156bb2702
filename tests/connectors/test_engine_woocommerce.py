"""The engine with the real WooCommerce class and fake store: webhooks in, pushes out.

The fake store delivers its webhooks over HTTP to the hub's endpoint on a live server, as
a real store would; processing and pushing are called directly (a worker would).
"""

import pytest

from connectors.engine.push import push_outbox
from connectors.inbound.queue import process_inbox_event
from connectors.models import Connector, InboxEvent, InboxState, OutboxItem, SkuMapping
from connectors.outbox import forget_mapping_state
from stock.actors import Actor
from stock.models import Order, OrderStatus
from stock.selectors import channel_salable_many
from stock.services import receive_stock
from tests.fakes.woocommerce import FakeWooCommerce
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SECRET = "woo-webhook-secret"


@pytest.fixture
def woo():
    with FakeWooCommerce(delivery_mode="sync") as store:
        yield store


def process_all() -> list[str]:
    events = InboxEvent.objects.filter(state=InboxState.RECEIVED).order_by("pk")
    return [process_inbox_event(event_id=pk) for pk in events.values_list("pk", flat=True)]


def test_store_order_reserves_in_the_hub_and_hub_changes_reach_the_store(woo, live_server):
    warehouse = WarehouseFactory(code="WOO-WH")
    channel = SalesChannelFactory(code="woo-shop")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    variant = VariantFactory(sku="MUG-BLUE")
    stocked(variant, warehouse, 10)
    product_id = woo.add_product("MUG-BLUE", quantity=10)
    connector = Connector.objects.create(
        name="woo",
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=SECRET,
        channel=channel,
    )
    mapping = SkuMapping.objects.create(
        connector=connector,
        variant=variant,
        remote_id=str(product_id),
        last_confirmed={"": 10},
        last_pushed={"": 10},
    )
    forget_mapping_state()
    from connectors.registry import build_connector

    build_connector(connector).register_webhooks(
        f"{live_server.url}/connectors/{connector.pk}/inbound/",
        topics=("order.created", "order.updated", "product.updated"),
    )
    pings = woo.deliveries_for(pings=True)

    order_id = woo.create_order([("MUG-BLUE", 2)], status="processing")
    outcomes = process_all()

    assert pings and all(ping.status == 200 for ping in pings)
    assert InboxEvent.objects.count() == len(woo.deliveries_for()) >= 2
    assert all(d.status == 200 for d in woo.deliveries_for())
    assert set(outcomes) == {InboxState.PROCESSED}
    order = Order.objects.get(channel=channel, reference=str(order_id))
    assert order.status == OrderStatus.PAID
    assert channel_salable_many(channel, [variant])[variant.pk].salable == 8
    # The store lowered its own stock for the order: its product.updated says 8, which is
    # what the hub wants there, so no push goes back (no feedback loop).
    push_outbox(connector_id=connector.pk)
    assert woo.product_json(product_id)["stock_quantity"] == 8
    assert woo.requests_to("/products/batch") == []

    receive_stock(variant=variant, warehouse=warehouse, quantity=5, actor=Actor.system("t"))
    report = push_outbox(connector_id=connector.pk)
    echoes = process_all()

    assert (report.status, report.confirmed) == ("done", 1)
    assert woo.product_json(product_id)["stock_quantity"] == 13
    assert SkuMapping.objects.get(pk=mapping.pk).last_confirmed == {"": 13}
    # The push comes back as product.updated: recognised, nothing queued again.
    assert set(echoes) == {InboxState.PROCESSED}
    assert not OutboxItem.objects.filter(connector=connector, state="pending").exists()
    latest = InboxEvent.objects.filter(topic="product.updated").order_by("pk").last()
    assert "in sync" in latest.result


def test_redelivered_woocommerce_webhook_is_applied_once(woo, live_server, client):
    warehouse = WarehouseFactory(code="WOO-WH2")
    channel = SalesChannelFactory(code="woo-shop-2")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    variant = VariantFactory(sku="MUG-RED")
    stocked(variant, warehouse, 10)
    product_id = woo.add_product("MUG-RED", quantity=10)
    connector = Connector.objects.create(
        name="woo-2",
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=SECRET,
        channel=channel,
    )
    SkuMapping.objects.create(connector=connector, variant=variant, remote_id=str(product_id))
    from connectors.registry import build_connector

    build_connector(connector).register_webhooks(
        f"{live_server.url}/connectors/{connector.pk}/inbound/", topics=("order.created",)
    )
    woo.create_order([("MUG-RED", 3)], status="on-hold")
    delivery = woo.deliveries_for("order.created")[0]

    again = client.post(
        f"/connectors/{connector.pk}/inbound/",
        data=delivery.body,
        content_type="application/json",
        headers={k: v for k, v in delivery.headers.items() if k.lower() != "content-type"},
    )
    forged = client.post(
        f"/connectors/{connector.pk}/inbound/",
        data=delivery.body.replace(b'"quantity":3', b'"quantity":9'),
        content_type="application/json",
        headers={k: v for k, v in delivery.headers.items() if k.lower() != "content-type"},
    )
    process_all()

    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert forged.status_code == 401
    assert InboxEvent.objects.filter(connector=connector).count() == 1
    assert Order.objects.filter(channel=channel).count() == 1
    assert channel_salable_many(channel, [variant])[variant.pk].salable == 7


def test_a_manage_stock_switch_delivered_by_webhook_is_followed_and_pushed(woo, live_server):
    warehouse = WarehouseFactory(code="WOO-MS")
    channel = SalesChannelFactory(code="woo-ms")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    variant = VariantFactory(sku="MUG-MS")  # nothing on hand: the hub sells none
    product_id = woo.add_product("MUG-MS", quantity=0)
    connector = Connector.objects.create(
        name="woo-ms",
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=SECRET,
        channel=channel,
    )
    mapping = SkuMapping.objects.create(
        connector=connector, variant=variant, remote_id=str(product_id), last_confirmed={"": 0}
    )
    forget_mapping_state()
    from connectors.registry import build_connector

    build_connector(connector).register_webhooks(
        f"{live_server.url}/connectors/{connector.pk}/inbound/", topics=("product.updated",)
    )

    woo.set_stock(product_id, manage_stock=False, stock_status="instock")
    outcomes = process_all()
    push_outbox(connector_id=connector.pk)

    assert set(outcomes) == {InboxState.PROCESSED}
    assert SkuMapping.objects.get(pk=mapping.pk).is_managed is False
    assert woo.product_json(product_id)["stock_status"] == "outofstock"
