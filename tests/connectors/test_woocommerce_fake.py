"""The fake WooCommerce store behaves like a real one where the hub depends on it."""

import json
from datetime import timedelta

import pytest
import requests

from connectors.base import (
    ConnectorConfig,
    InboundKind,
    InboundVerdict,
    PushItem,
    RemoteRejected,
)
from connectors.woocommerce import WooCommerceConnector
from tests.fakes.server import Fault
from tests.fakes.woocommerce import FakeWooCommerce, WebhookReceiver

SECRET = "hub-webhook-secret"
PRODUCTS = "/wp-json/wc/v3/products"


@pytest.fixture
def store():
    with FakeWooCommerce(delivery_timeout_seconds=0.5) as store:
        yield store


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


def connect(store) -> WooCommerceConnector:
    config = ConnectorConfig(
        base_url=store.base_url, credentials=store.credentials, webhook_secret=SECRET
    )
    return WooCommerceConnector(config)


def api(store, method, path, **kwargs):
    """A signed request through the connector's HTTP layer (store errors raise)."""
    return connect(store).client.request(method, path, **kwargs)


def subscribe(store, receiver, *topics):
    return [hook.id for hook in connect(store).register_webhooks(receiver.url, topics, SECRET)]


# Echoes of the hub's own writes ------------------------------------------------------
def test_a_push_comes_back_as_a_signed_product_updated(store, receiver):
    product = store.add_product("A", quantity=1)
    subscribe(store, receiver, "product.updated")
    connector = connect(store)
    item = next(connector.pull_stock())

    connector.push_stock([_push(item, 6)])

    (echo,) = receiver.received("product.updated")
    assert connector.verify_inbound(headers=echo.headers, body=echo.body) == InboundVerdict.VALID
    (stock,) = connector.parse_inbound(headers=echo.headers, body=echo.body).stock
    assert (stock.remote_id, stock.quantity) == (str(product), 6)
    assert echo.headers["x-wc-webhook-resource"] == "product"
    assert echo.headers["x-wc-webhook-event"] == "updated"
    assert echo.headers["x-wc-webhook-source"] == f"{store.base_url}/"
    assert len(echo.headers["x-wc-webhook-delivery-id"]) == 32


def test_a_variation_push_echoes_the_variation_and_its_parent(store, receiver):
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=1)
    subscribe(store, receiver, "product.updated")
    connector = connect(store)
    (item,) = connector.pull_stock()

    connector.push_stock([_push(item, 0)])

    echoed = [json.loads(r.body) for r in receiver.received("product.updated")]
    assert [(e["id"], e["stock_quantity"]) for e in echoed] == [(variation, 0), (parent, None)]
    assert echoed[1]["stock_status"] == "outofstock"  # derived from its only variation


def test_a_batch_of_one_request_sends_one_delivery_per_product(store, receiver):
    ids = [store.add_product(f"P{n}", quantity=1) for n in range(3)]
    subscribe(store, receiver, "product.updated")
    updates = [{"id": product_id, "stock_quantity": 5} for product_id in ids]

    api(store, "POST", "/products/batch", json={"update": updates})

    assert [json.loads(r.body)["id"] for r in receiver.received()] == ids


def _push(stock, quantity):
    return PushItem(
        sku=stock.sku, remote_id=stock.remote_id, parent_id=stock.parent_id, quantity=quantity
    )


# Delivery failures -------------------------------------------------------------------
def test_a_webhook_is_disabled_on_the_seventh_consecutive_failure_and_never_retried(
    store, receiver
):
    product = store.add_product("A", quantity=100)
    (hook_id,) = subscribe(store, receiver, "product.updated")
    receiver.inject(Fault(status=500, times=100))
    webhook = store.webhook(hook_id)

    for quantity in range(6):
        store.set_stock(product, stock_quantity=quantity)
    assert (webhook.status, webhook.failure_count) == ("active", 6)

    store.set_stock(product, stock_quantity=50)
    store.set_stock(product, stock_quantity=51)

    assert webhook.status == "disabled"
    assert len(receiver.received("product.updated")) == 7  # one try per event, none after


def test_a_success_resets_the_failure_count(store, receiver):
    product = store.add_product("A", quantity=100)
    (hook_id,) = subscribe(store, receiver, "product.updated")
    receiver.inject(Fault(status=500, times=3))
    for quantity in range(3):
        store.set_stock(product, stock_quantity=quantity)

    store.set_stock(product, stock_quantity=10)

    assert store.webhook(hook_id).failure_count == 0


@pytest.mark.parametrize(
    "fault",
    [Fault(status=404), Fault(status=303), Fault(status=0, hang_seconds=1.0)],
    ids=["404", "303", "timeout"],
)
def test_anything_but_200_to_302_counts_as_a_failure(store, receiver, fault):
    product = store.add_product("A", quantity=1)
    (hook_id,) = subscribe(store, receiver, "product.updated")
    receiver.inject(fault)

    store.set_stock(product, stock_quantity=2)

    assert store.webhook(hook_id).failure_count == 1


def test_a_redirect_counts_as_delivered(store, receiver):
    product = store.add_product("A", quantity=1)
    (hook_id,) = subscribe(store, receiver, "product.updated")
    store.webhook(hook_id).failure_count = 3
    receiver.inject(Fault(status=302))

    store.set_stock(product, stock_quantity=2)

    assert store.webhook(hook_id).failure_count == 0


def test_reactivating_keeps_the_failure_count_so_one_more_failure_disables_again(store, receiver):
    product = store.add_product("A", quantity=100)
    (hook_id,) = subscribe(store, receiver, "product.updated")
    receiver.inject(Fault(status=500, times=8))
    for quantity in range(7):
        store.set_stock(product, stock_quantity=quantity)
    assert store.webhook(hook_id).status == "disabled"

    connect(store).set_webhook_status(hook_id, "active")
    store.set_stock(product, stock_quantity=40)

    assert store.webhook(hook_id).status == "disabled"


def test_paused_and_disabled_webhooks_deliver_nothing(store, receiver):
    product = store.add_product("A", quantity=1)
    paused, disabled = subscribe(store, receiver, "product.updated", "product.created")
    connect(store).set_webhook_status(paused, "paused")
    connect(store).set_webhook_status(disabled, "disabled")

    store.set_stock(product, stock_quantity=5)
    store.add_product("B", quantity=1)

    assert receiver.received() == []


# Ping --------------------------------------------------------------------------------
def test_creating_a_webhook_pings_with_an_unsigned_form_body(store, receiver):
    (hook_id,) = subscribe(store, receiver, "order.created")

    (ping,) = receiver.pings()
    assert ping.body == f"webhook_id={hook_id}".encode()
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert not [name for name in ping.headers if name.startswith("x-wc-")]
    assert store.webhook(hook_id).pending_delivery is False


def test_a_failed_ping_leaves_the_webhook_pending_and_a_later_save_pings_again(store, receiver):
    receiver.inject(Fault(status=500))
    (hook_id,) = subscribe(store, receiver, "order.created")
    assert store.webhook(hook_id).pending_delivery is True

    connect(store).set_webhook_status(hook_id, "active")

    assert len(receiver.pings()) == 2
    assert store.webhook(hook_id).pending_delivery is False


# Stock fields ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"stock_quantity": 0, "backorders": "no"}, "outofstock"),
        ({"stock_quantity": 0, "backorders": "notify"}, "onbackorder"),
        ({"stock_quantity": -2, "backorders": "yes"}, "onbackorder"),
        ({"stock_quantity": 3, "stock_status": "outofstock"}, "instock"),
        ({"stock_quantity": 0, "stock_status": "instock"}, "outofstock"),
    ],
)
def test_a_managed_items_status_is_derived_and_a_sent_status_ignored(store, fields, status):
    product = store.add_product("A", quantity=1)

    answer = api(store, "PUT", f"/products/{product}", json=fields).json()

    assert (answer["stock_quantity"], answer["stock_status"]) == (fields["stock_quantity"], status)


def test_turning_stock_management_off_empties_the_quantity(store):
    product = store.add_product("A", quantity=4, backorders="yes")

    answer = api(
        store,
        "PUT",
        f"/products/{product}",
        json={"manage_stock": False, "stock_status": "onbackorder"},
    ).json()

    assert (answer["manage_stock"], answer["stock_quantity"]) == (False, None)
    assert (answer["stock_status"], answer["backorders"]) == ("onbackorder", "no")


def test_a_variation_without_its_own_stock_shows_its_parents(store):
    parent = store.add_product("TEE", product_type="variable", quantity=8)
    variation = store.add_variation(parent, "TEE-S", manage_stock=False)

    answer = api(store, "GET", f"/products/{parent}/variations/{variation}").json()

    assert (answer["manage_stock"], answer["stock_quantity"]) == ("parent", 8)


def test_a_product_update_refuses_a_variation_id(store):
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=1)

    with pytest.raises(RemoteRejected) as caught:
        api(store, "PUT", f"/products/{variation}", json={"stock_quantity": 3})

    assert (caught.value.status, caught.value.code) == (404, "woocommerce_rest_invalid_product_id")


def test_a_duplicate_sku_is_refused(store):
    store.add_product("A", quantity=1)

    with pytest.raises(RemoteRejected) as caught:
        api(store, "POST", "/products", json={"name": "Copy", "sku": "a"})

    assert (caught.value.status, caught.value.code) == (400, "product_invalid_sku")


# Lists and batches -------------------------------------------------------------------
def test_lists_carry_totals_and_links(store):
    for number in range(5):
        store.add_product(f"P{number}", quantity=1)

    response = api(store, "GET", "/products", params={"per_page": 2, "page": 2})

    assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("5", "3")
    assert 'rel="prev"' in response.headers["Link"] and 'rel="next"' in response.headers["Link"]
    assert len(response.json()) == 2


def test_a_page_past_the_end_is_empty_with_the_real_totals(store):
    store.add_product("A", quantity=1)

    response = api(store, "GET", "/products", params={"page": 9})

    assert response.json() == []
    assert response.headers["X-WP-Total"] == "1"


def test_per_page_over_100_is_refused(store):
    with pytest.raises(RemoteRejected) as caught:
        api(store, "GET", "/products", params={"per_page": 101})

    assert (caught.value.status, caught.value.code) == (400, "rest_invalid_param")
    assert "Invalid parameter(s): per_page" in str(caught.value)


def test_a_batch_over_100_items_is_refused_whole(store):
    product = store.add_product("A", quantity=1)
    updates = [{"id": product, "stock_quantity": 9}] * 101

    with pytest.raises(RemoteRejected) as caught:
        api(store, "POST", "/products/batch", json={"update": updates})

    assert (caught.value.status, caught.value.code) == (
        413,
        "woocommerce_rest_request_entity_too_large",
    )
    assert store.products[product].stock_quantity == 1


def test_the_variations_batch_refuses_over_100_items_too(store):
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=1)
    updates = [{"id": variation, "stock_quantity": 9}] * 101

    with pytest.raises(RemoteRejected) as caught:
        api(store, "POST", f"/products/{parent}/variations/batch", json={"update": updates})

    assert caught.value.status == 413


def test_the_sku_filter_finds_variations_too(store):
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=1)
    store.add_product("MUG", quantity=1)

    found = api(store, "GET", "/products", params={"sku": "tee-s,MUG"}).json()

    assert sorted((p["sku"], p["type"]) for p in found) == [
        ("MUG", "simple"),
        ("TEE-S", "variation"),
    ]
    assert next(p for p in found if p["sku"] == "TEE-S")["id"] == variation


def test_modified_after_reads_site_time_unless_dates_are_gmt(store):
    store.freeze_clock()
    product = store.add_product("A", quantity=1)
    moment = store.products[product].modified - timedelta(seconds=1)
    just_before = moment.replace(tzinfo=None).isoformat(timespec="seconds")

    as_gmt = api(
        store, "GET", "/products", params={"modified_after": just_before, "dates_are_gmt": "true"}
    ).json()
    as_local = api(store, "GET", "/products", params={"modified_after": just_before}).json()

    assert [p["id"] for p in as_gmt] == [product]
    assert as_local == []  # read as -05:00 site time it lies five hours later


def test_an_unknown_route_is_rest_no_route(store):
    with pytest.raises(RemoteRejected) as caught:
        api(store, "GET", "/inventory")

    assert (caught.value.status, caught.value.code) == (404, "rest_no_route")


# Authentication ----------------------------------------------------------------------
def test_a_replayed_oauth_request_is_refused(store):
    api(store, "GET", "/products")
    first = store.requests_to(PRODUCTS, "GET")[0]

    replay = requests.get(
        f"{store.base_url}{PRODUCTS}",
        params={name: values[-1] for name, values in first.query.items()},
        timeout=5,
    )

    assert replay.status_code == 401
    assert replay.json()["message"] == "Invalid nonce - nonce has already been used."


def test_errors_have_the_wordpress_shape(store):
    answer = requests.get(f"{store.base_url}{PRODUCTS}", timeout=5)

    assert answer.status_code == 401
    assert answer.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }


def test_a_bad_basic_secret_behind_https_asks_for_basic_credentials():
    with FakeWooCommerce(is_https=True) as store:
        answer = requests.get(
            f"{store.base_url}{PRODUCTS}", auth=(store.consumer_key, "cs_wrong"), timeout=5
        )

    assert answer.status_code == 401
    assert answer.json()["message"] == "Consumer secret is invalid."
    assert answer.headers["WWW-Authenticate"].startswith('Basic realm="WooCommerce API.')


# Orders and stock --------------------------------------------------------------------
def test_a_paid_order_lowers_managed_stock_once_and_a_cancel_restores_it(store, receiver):
    product = store.add_product("A", quantity=10)
    subscribe(store, receiver, "product.updated", "order.created", "order.updated")

    order = store.create_order([("A", 3)], status="processing")
    store.update_order_status(order, "completed")
    after_paid = store.products[product].stock_quantity
    store.update_order_status(order, "cancelled")

    assert after_paid == 7
    assert store.products[product].stock_quantity == 10
    topics = [r.headers["x-wc-webhook-topic"] for r in receiver.received()]
    assert topics == [
        "order.created",
        "product.updated",
        "order.updated",
        "product.updated",
        "order.updated",
    ]


def test_a_pending_order_leaves_stock_alone(store):
    product = store.add_product("A", quantity=10)

    store.create_order([("A", 3)])

    assert store.products[product].stock_quantity == 10


# Delivery modes ----------------------------------------------------------------------
def test_background_delivery_arrives_after_the_api_answer(receiver):
    with FakeWooCommerce(delivery_mode="background") as store:
        product = store.add_product("A", quantity=1)
        subscribe(store, receiver, "product.updated")

        store.set_stock(product, stock_quantity=2)
        store.wait_for_deliveries()

        assert [json.loads(r.body)["stock_quantity"] for r in receiver.received()] == [2]


def test_queued_deliveries_wait_for_the_test(receiver):
    with FakeWooCommerce(delivery_mode="queue") as store:
        product = store.add_product("A", quantity=1)
        subscribe(store, receiver, "product.updated")
        store.set_stock(product, stock_quantity=2)
        assert receiver.received() == []

        store.deliver_queued()

        assert len(receiver.received()) == 1
        assert (
            connect(store)
            .parse_inbound(headers=receiver.received()[0].headers, body=receiver.received()[0].body)
            .kind
            == InboundKind.STOCK
        )
