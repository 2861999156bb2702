"""Verifying and reading what a WooCommerce store delivers: real deliveries from the fake."""

import json

import pytest

from connectors.base import (
    ConnectorConfig,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    OrderState,
    RemoteStatus,
)
from connectors.woocommerce import WooCommerceConnector, webhook_signature
from tests.fakes.woocommerce import FakeWooCommerce, WebhookReceiver

SECRET = "hub-webhook-secret"


@pytest.fixture
def store():
    with FakeWooCommerce() as store:
        yield store


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def connector(store):
    return make_connector(store)


def make_connector(store, **options) -> WooCommerceConnector:
    config = ConnectorConfig(
        base_url=store.base_url,
        credentials=store.credentials,
        webhook_secret=SECRET,
        options=options,
    )
    return WooCommerceConnector(config)


def subscribe(connector, receiver, *topics):
    connector.register_webhooks(receiver.url, topics, secret=SECRET)


def delivered(receiver, topic):
    """(headers, body) of the last delivery of `topic`, as the hub's endpoint would see them."""
    request = receiver.received(topic)[-1]
    return request.headers, request.body


def signed(topic, payload, **headers):
    body = json.dumps(payload).encode()
    return {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": webhook_signature(body, SECRET),
        "X-WC-Webhook-Delivery-ID": "d" * 32,
        **headers,
    }, body


# Verifying ---------------------------------------------------------------------------
def test_a_real_delivery_verifies(store, receiver, connector):
    subscribe(connector, receiver, "product.updated")
    store.set_stock(store.add_product("A", quantity=1), stock_quantity=2)

    headers, body = delivered(receiver, "product.updated")

    assert connector.verify_inbound(headers=headers, body=body) == InboundVerdict.VALID


def test_the_signature_covers_the_raw_bytes_not_the_json(store, receiver, connector):
    subscribe(connector, receiver, "product.updated")
    store.set_stock(store.add_product("A/B", quantity=1), stock_quantity=2)
    headers, body = delivered(receiver, "product.updated")

    reserialised = json.dumps(json.loads(body)).encode()

    assert b"A\\/B" in body  # WordPress escapes slashes
    assert (
        connector.verify_inbound(headers=headers, body=reserialised) == InboundVerdict.BAD_SIGNATURE
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda headers, body: (headers, body.replace(b'"stock_quantity":2', b'"stock_quantity":9')),
        lambda headers, body: ({**headers, "x-wc-webhook-signature": "AAAA"}, body),
        lambda headers, body: (
            {k: v for k, v in headers.items() if k != "x-wc-webhook-signature"},
            body,
        ),
    ],
    ids=["tampered body", "wrong signature", "no signature"],
)
def test_a_delivery_that_does_not_match_its_signature_is_refused(
    store, receiver, connector, tamper
):
    subscribe(connector, receiver, "product.updated")
    store.set_stock(store.add_product("A", quantity=1), stock_quantity=2)
    headers, body = tamper(*delivered(receiver, "product.updated"))

    assert connector.verify_inbound(headers=headers, body=body) == InboundVerdict.BAD_SIGNATURE


def test_a_delivery_signed_with_another_secret_is_refused(store, receiver, connector):
    connector.register_webhooks(receiver.url, ["product.updated"], secret="someone-else")
    store.set_stock(store.add_product("A", quantity=1), stock_quantity=2)
    headers, body = delivered(receiver, "product.updated")

    assert connector.verify_inbound(headers=headers, body=body) == InboundVerdict.BAD_SIGNATURE


def test_without_a_configured_secret_nothing_verifies(store):
    headers, body = signed("order.created", {"id": 1})
    config = ConnectorConfig(base_url=store.base_url, webhook_secret="")

    verdict = WooCommerceConnector(config).verify_inbound(headers=headers, body=body)

    assert verdict == InboundVerdict.BAD_SIGNATURE


def test_the_creation_ping_is_recognised_and_parsed_as_a_ping(store, receiver, connector):
    subscribe(connector, receiver, "order.created")
    (ping,) = receiver.pings()

    assert connector.verify_inbound(headers=ping.headers, body=ping.body) == InboundVerdict.PING
    event = connector.parse_inbound(headers=ping.headers, body=ping.body)
    assert event.kind == InboundKind.PING
    assert connector.delivery_id(headers=ping.headers, body=ping.body) == ""


def test_a_ping_shaped_body_with_a_topic_is_not_a_ping(connector):
    headers = {"X-WC-Webhook-Topic": "order.created"}

    assert (
        connector.verify_inbound(headers=headers, body=b"webhook_id=3")
        == InboundVerdict.BAD_SIGNATURE
    )


def test_signature_keys_are_read_whatever_the_header_case(connector):
    headers, body = signed("order.created", {"id": 1})

    upper = {key.upper(): value for key, value in headers.items()}

    assert connector.verify_inbound(headers=upper, body=body) == InboundVerdict.VALID


# Orders ------------------------------------------------------------------------------
def test_order_created_is_a_hold_with_its_lines(store, receiver, connector):
    subscribe(connector, receiver, "order.created")
    store.add_product("A", quantity=5)
    parent = store.add_product("TEE", product_type="variable")
    store.add_variation(parent, "TEE-S", quantity=5)
    order_id = store.create_order([("A", 2), ("TEE-S", 1)])
    headers, body = delivered(receiver, "order.created")

    event = connector.parse_inbound(headers=headers, body=body)

    assert (event.kind, event.topic) == (InboundKind.ORDERS, "order.created")
    (order,) = event.orders
    assert (order.reference, order.state) == (str(order_id), OrderState.HOLD)
    assert [(line.sku, line.quantity) for line in order.lines] == [("A", 2), ("TEE-S", 1)]
    assert event.occurred_at == order.updated_at
    assert event.delivery_id.startswith(headers["x-wc-webhook-delivery-id"])


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("processing", OrderState.PAID),
        ("completed", OrderState.SHIPPED),
        ("on-hold", OrderState.HOLD),
        ("cancelled", OrderState.RELEASED),
        ("refunded", OrderState.RELEASED),
        ("failed", OrderState.RELEASED),
    ],
)
def test_order_updated_maps_the_status(store, receiver, connector, status, state):
    subscribe(connector, receiver, "order.updated")
    store.add_product("A", quantity=5)
    order_id = store.create_order([("A", 1)])
    store.update_order_status(order_id, status)
    headers, body = delivered(receiver, "order.updated")

    (order,) = connector.parse_inbound(headers=headers, body=body).orders

    assert (order.reference, order.state) == (str(order_id), state)


def test_order_deleted_names_the_reference(store, receiver, connector):
    subscribe(connector, receiver, "order.deleted")
    store.add_product("A", quantity=5)
    order_id = store.create_order([("A", 1)])
    store.trash_order(order_id)
    headers, body = delivered(receiver, "order.deleted")

    event = connector.parse_inbound(headers=headers, body=body)

    assert json.loads(body) == {"id": order_id}
    assert (event.kind, event.orders) == (InboundKind.ORDERS, ())
    assert event.deleted_order_references == (str(order_id),)


def test_order_restored_is_read_like_an_update(store, receiver, connector):
    subscribe(connector, receiver, "order.restored")
    store.add_product("A", quantity=5)
    order_id = store.create_order([("A", 1)], status="processing")
    store.trash_order(order_id)
    store.restore_order(order_id)
    headers, body = delivered(receiver, "order.restored")

    (order,) = connector.parse_inbound(headers=headers, body=body).orders

    assert (order.reference, order.state) == (str(order_id), OrderState.PAID)


def test_a_status_added_by_a_plugin_is_read_through_the_option(store):
    connector = make_connector(
        store, order_status_map={"partially-shipped": "paid", "quote": "ignore"}
    )
    base = {"id": 7, "line_items": [{"sku": "A", "quantity": 1}]}

    headers, paid_body = signed("order.updated", {**base, "status": "partially-shipped"})
    _, quote_body = signed("order.updated", {**base, "status": "quote"})

    paid = connector.parse_inbound(headers=headers, body=paid_body)
    quote = connector.parse_inbound(headers=headers, body=quote_body)

    assert paid.orders[0].state == OrderState.PAID
    assert quote.kind == InboundKind.IGNORED


# Products ----------------------------------------------------------------------------
def test_product_updated_is_a_stock_snapshot(store, receiver, connector):
    subscribe(connector, receiver, "product.updated")
    product = store.add_product("A", quantity=1)
    store.set_stock(product, stock_quantity=0, backorders="yes")
    headers, body = delivered(receiver, "product.updated")

    event = connector.parse_inbound(headers=headers, body=body)

    (stock,) = event.stock
    assert event.kind == InboundKind.STOCK
    assert (stock.sku, stock.remote_id, stock.parent_id) == ("A", str(product), "")
    assert (stock.quantity, stock.status, stock.is_managed) == (0, RemoteStatus.BACKORDER, True)
    assert stock.updated_at == event.occurred_at
    assert stock.updated_at.replace(tzinfo=None) == store.products[product].modified.replace(
        tzinfo=None
    )


def test_product_created_for_a_variation_names_its_parent(store, receiver, connector):
    subscribe(connector, receiver, "product.created")
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=3)
    headers, body = delivered(receiver, "product.created")

    (stock,) = connector.parse_inbound(headers=headers, body=body).stock

    assert (stock.sku, stock.remote_id, stock.parent_id, stock.quantity) == (
        "TEE-S",
        str(variation),
        str(parent),
        3,
    )


def test_an_unmanaged_product_has_a_status_and_no_quantity(store, receiver, connector):
    subscribe(connector, receiver, "product.updated")
    product = store.add_product("SIGN", manage_stock=False)
    store.set_stock(product, stock_status="outofstock")
    headers, body = delivered(receiver, "product.updated")

    (stock,) = connector.parse_inbound(headers=headers, body=body).stock

    assert (stock.is_managed, stock.quantity, stock.status) == (
        False,
        None,
        RemoteStatus.OUT_OF_STOCK,
    )


def test_a_variable_parent_without_stock_of_its_own_is_ignored(store, receiver, connector):
    subscribe(connector, receiver, "product.updated")
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=3)
    store.set_stock(variation, stock_quantity=4)
    parent_delivery = next(
        r for r in receiver.received("product.updated") if json.loads(r.body)["id"] == parent
    )

    event = connector.parse_inbound(headers=parent_delivery.headers, body=parent_delivery.body)

    assert (event.kind, event.stock) == (InboundKind.IGNORED, ())


def test_product_deleted_names_the_remote_id(store, receiver, connector):
    subscribe(connector, receiver, "product.deleted")
    product = store.add_product("A", quantity=1)
    store.trash_product(product)
    headers, body = delivered(receiver, "product.deleted")

    event = connector.parse_inbound(headers=headers, body=body)

    assert (event.kind, event.stock, event.deleted_remote_ids) == (
        InboundKind.STOCK,
        (),
        (str(product),),
    )


def test_topics_the_hub_does_not_track_are_ignored(connector):
    headers, body = signed("coupon.updated", {"id": 3, "code": "SPRING"})

    event = connector.parse_inbound(headers=headers, body=body)

    assert (event.kind, event.topic) == (InboundKind.IGNORED, "coupon.updated")


# Malformed deliveries ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("topic", "body", "message"),
    [
        ("order.created", b"{not json", "the order.created body is not JSON"),
        ("order.created", b"[1, 2]", "the order.created body is not a JSON object"),
        ("order.created", b'{"status": "pending", "line_items": []}', "no positive id (id=None)"),
        ("order.created", b'{"id": "12", "status": "pending"}', "no positive id (id='12')"),
        ("order.updated", b'{"id": 5, "line_items": []}', "order 5 has no status"),
        ("order.updated", b'{"id": 5, "status": "shipped", "line_items": []}', "status 'shipped'"),
        ("order.updated", b'{"id": 5, "status": "pending"}', "order 5 has no line_items list"),
        (
            "order.updated",
            b'{"id": 5, "status": "pending", "line_items": [{"sku": "A", "quantity": "2"}]}',
            "order 5 line 1 has quantity '2', not a whole number",
        ),
        (
            "order.updated",
            b'{"id": 5, "status": "pending", "line_items": [{"sku": "A", "quantity": 1}],'
            b' "date_modified_gmt": "yesterday"}',
            "date_modified_gmt 'yesterday' is not a date",
        ),
        (
            "product.updated",
            b'{"id": 9, "type": "simple", "manage_stock": true, "stock_quantity": 2,'
            b' "stock_status": "preorder"}',
            "product 9 has stock_status 'preorder'",
        ),
        (
            "product.updated",
            b'{"id": 9, "type": "simple", "manage_stock": true, "stock_quantity": 2.5,'
            b' "stock_status": "instock"}',
            "product 9 has stock_quantity 2.5, not a whole number",
        ),
        (
            "product.updated",
            b'{"id": 9, "type": "variation", "manage_stock": true, "stock_quantity": 2,'
            b' "stock_status": "instock", "parent_id": 0}',
            "variation 9 has no parent_id",
        ),
        ("product.deleted", b"{}", "no positive id"),
    ],
)
def test_malformed_deliveries_say_what_is_wrong(connector, topic, body, message):
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": webhook_signature(body, SECRET),
    }

    with pytest.raises(MalformedInbound) as caught:
        connector.parse_inbound(headers=headers, body=body)

    assert message in str(caught.value)


def test_a_delivery_without_a_topic_is_malformed(connector):
    body = b'{"id": 1}'

    with pytest.raises(MalformedInbound, match="X-WC-Webhook-Topic header is missing"):
        connector.parse_inbound(headers={"X-WC-Webhook-Signature": "x"}, body=body)


# Delivery ids ------------------------------------------------------------------------
def test_delivery_id_is_the_header_plus_a_digest_of_the_body(connector):
    headers = {"X-WC-Webhook-Delivery-ID": "a" * 32}

    first = connector.delivery_id(headers=headers, body=b'{"id":1}')
    repeat = connector.delivery_id(headers=headers, body=b'{"id":1}')
    other = connector.delivery_id(headers=headers, body=b'{"id":2}')

    assert first == repeat
    assert first.startswith("a" * 32 + ":")
    assert other != first
    assert connector.delivery_id(headers={}, body=b'{"id":1}') == ""


def test_two_events_of_one_webhook_in_one_second_keep_apart(store, receiver, connector):
    subscribe(connector, receiver, "order.created")
    store.add_product("A", quantity=5)
    store.freeze_clock()
    store.create_order([("A", 1)])
    store.create_order([("A", 1)])
    first, second = receiver.received("order.created")
    assert first.headers["x-wc-webhook-delivery-id"] == second.headers["x-wc-webhook-delivery-id"]

    ids = {connector.delivery_id(headers=r.headers, body=r.body) for r in (first, second)}

    assert len(ids) == 2  # WooCommerce's own id alone would drop the second order
