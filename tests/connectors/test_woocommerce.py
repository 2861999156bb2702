"""WooCommerceConnector against the fake WooCommerce store, over real HTTP."""

import re
import traceback
from datetime import timedelta

import pytest

from connectors.base import (
    ConnectorConfig,
    OrderState,
    PushItem,
    RemoteAuthFailed,
    RemoteRejected,
    RemoteStatus,
    RemoteThrottled,
    RemoteUnavailable,
)
from connectors.woocommerce import DEFAULT_WEBHOOK_TOPICS, WooCommerceConnector
from tests.fakes.server import FakeStore, Fault, Response
from tests.fakes.woocommerce import FakeWooCommerce, WebhookReceiver

PRODUCTS = "/wp-json/wc/v3/products"


@pytest.fixture
def store():
    with FakeWooCommerce() as store:
        yield store


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


def connect(store, *, credentials=None, timeout_seconds=5.0, **options) -> WooCommerceConnector:
    config = ConnectorConfig(
        base_url=store.base_url,
        credentials=credentials if credentials is not None else store.credentials,
        webhook_secret="hub-secret",
        options=options,
        timeout_seconds=timeout_seconds,
    )
    return WooCommerceConnector(config)


def push_item(store, sku, quantity, **fields) -> PushItem:
    product = store.product_by_sku(sku)
    parent_id = str(product.parent_id) if product.type == "variation" else ""
    return PushItem(
        sku=sku, remote_id=str(product.id), quantity=quantity, parent_id=parent_id, **fields
    )


# Authentication ----------------------------------------------------------------------
def test_requests_over_plain_http_are_signed_with_oauth_and_carry_no_secret(store):
    connect(store).test_connection()

    request = store.requests_to(PRODUCTS)[-1]
    assert request.arg("oauth_signature_method") == "HMAC-SHA256"
    assert request.arg("oauth_consumer_key") == store.consumer_key
    assert store.consumer_secret not in repr(request.query)
    assert "authorization" not in request.headers


def test_wrong_secret_is_refused_without_naming_it(store):
    wrong = {"consumer_key": store.consumer_key, "consumer_secret": "cs_wrong_secret_value"}

    with pytest.raises(RemoteAuthFailed) as caught:
        connect(store, credentials=wrong).test_connection()

    assert caught.value.status == 401
    assert caught.value.code == "woocommerce_rest_authentication_error"
    assert "cs_wrong_secret_value" not in str(caught.value)


def test_a_401_under_auth_auto_over_plain_http_says_oauth_was_used_and_why(store):
    wrong = {"consumer_key": store.consumer_key, "consumer_secret": "cs_wrong_secret_value"}

    with pytest.raises(RemoteAuthFailed) as caught:
        connect(store, credentials=wrong).test_connection()

    message = str(caught.value)
    assert "OAuth 1.0a" in message
    assert "plain http" in message and "only over HTTPS" in message
    assert "cs_wrong_secret_value" not in message


def test_a_401_with_a_forced_auth_mode_names_no_oauth_fallback(store):
    wrong = {"consumer_key": store.consumer_key, "consumer_secret": "cs_wrong_secret_value"}

    with pytest.raises(RemoteAuthFailed) as caught:
        connect(store, credentials=wrong, auth="oauth1").test_connection()

    assert 'Auth "auto"' not in str(caught.value)


def test_unknown_key_is_refused_by_oauth(store):
    unknown = {"consumer_key": "ck_unknown", "consumer_secret": "cs_unknown"}

    with pytest.raises(RemoteAuthFailed, match="Consumer key is invalid"):
        connect(store, credentials=unknown).test_connection()


def test_unknown_basic_key_is_anonymous_and_refused_by_the_route():
    unknown = {"consumer_key": "ck_unknown", "consumer_secret": "cs_unknown"}

    with FakeWooCommerce(is_https=True) as store, pytest.raises(RemoteAuthFailed) as caught:
        connect(store, credentials=unknown, auth="basic").test_connection()

    assert caught.value.code == "woocommerce_rest_cannot_view"


def test_missing_credentials_fail_before_any_request(store):
    with pytest.raises(RemoteAuthFailed, match="consumer_key and consumer_secret"):
        connect(store, credentials={"consumer_key": "ck_only"}).test_connection()

    assert store.requests == []


def test_read_only_key_cannot_push(store):
    store.add_product("A", quantity=1)
    key = store.add_api_key("read")
    credentials = {"consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret}

    with pytest.raises(RemoteAuthFailed, match="does not have write permissions"):
        connect(store, credentials=credentials).push_stock([push_item(store, "A", 5)])

    assert store.product_by_sku("A").stock_quantity == 1


def test_query_string_keys_are_ignored_over_plain_http(store):
    with pytest.raises(RemoteAuthFailed) as caught:
        connect(store, auth="query").test_connection()

    assert caught.value.code == "woocommerce_rest_cannot_view"


@pytest.mark.parametrize("auth", ["basic", "query"])
def test_a_store_behind_https_accepts_plain_keys(auth):
    with FakeWooCommerce(is_https=True) as store:
        connect(store, auth=auth).test_connection()

        request = store.requests_to(PRODUCTS)[-1]
        assert "oauth_signature" not in request.query


def test_options_are_checked_when_the_connector_is_built(store):
    with pytest.raises(ValueError, match=r"options\.auth"):
        connect(store, auth="token")
    with pytest.raises(ValueError, match=r"options\.batch_size"):
        connect(store, batch_size=101)
    with pytest.raises(ValueError, match=r"options\.page_size"):
        connect(store, page_size=0)
    with pytest.raises(ValueError, match=r"order_status_map\['shipped-partly'\]"):
        connect(store, order_status_map={"shipped-partly": "sent"})


def test_unknown_options_are_refused_naming_each_key(store):
    with pytest.raises(ValueError) as caught:
        connect(store, auht="basic", batchsize=10)

    assert str(caught.value).startswith("Unknown WooCommerce option(s): auht, batchsize;")


# Pulling stock -------------------------------------------------------------------------
def test_pull_stock_reads_every_page_until_total_pages(store):
    for number in range(250):
        store.add_product(f"SKU-{number:03}", quantity=number)

    stock = list(connect(store).pull_stock())

    assert [s.sku for s in stock] == [f"SKU-{number:03}" for number in range(250)]
    assert [s.quantity for s in stock] == list(range(250))
    pages = [(r.arg("per_page"), r.arg("page")) for r in store.requests_to(PRODUCTS, "GET")]
    assert pages == [("100", "1"), ("100", "2"), ("100", "3")]


def test_pull_stock_lists_variations_through_their_parent(store):
    parent = store.add_product("TEE", product_type="variable")
    small = store.add_variation(parent, "TEE-S", quantity=4)
    large = store.add_variation(parent, "TEE-L", quantity=0)
    store.add_product("MUG", quantity=2)

    stock = {s.sku: s for s in connect(store).pull_stock()}

    assert set(stock) == {"TEE-S", "TEE-L", "MUG"}  # the parent holds no stock of its own
    assert (stock["TEE-S"].remote_id, stock["TEE-S"].parent_id) == (str(small), str(parent))
    assert (stock["TEE-L"].remote_id, stock["TEE-L"].status) == (
        str(large),
        RemoteStatus.OUT_OF_STOCK,
    )
    assert stock["MUG"].parent_id == ""
    assert store.requests_to(f"{PRODUCTS}/{parent}/variations", "GET")


def test_pull_stock_reports_unmanaged_items_with_their_status_and_no_quantity(store):
    store.add_product("SIGN", manage_stock=False, stock_status="onbackorder")
    store.add_product("BOX", quantity=3)

    stock = {s.sku: s for s in connect(store).pull_stock()}

    assert (stock["SIGN"].is_managed, stock["SIGN"].quantity) == (False, None)
    assert stock["SIGN"].status == RemoteStatus.BACKORDER
    assert (stock["BOX"].is_managed, stock["BOX"].quantity) == (True, 3)


def test_pull_stock_skips_products_without_stock_of_their_own(store):
    store.add_product("GROUP", product_type="grouped")
    store.add_product("LINK", product_type="external")
    store.add_product("REAL", quantity=1)

    assert [s.sku for s in connect(store).pull_stock()] == ["REAL"]


def test_incremental_pull_reads_only_what_changed_since_the_cursor(store):
    store.add_product("OLD-1", quantity=1)
    changed = store.add_product("OLD-2", quantity=2)
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=4)
    store.add_variation(parent, "TEE-M", quantity=5)
    store.advance_clock(60)
    cursor = store.now()
    store.advance_clock(60)
    store.set_stock(changed, stock_quantity=7)
    store.set_stock(variation, stock_quantity=9)

    stock = list(connect(store).pull_stock(modified_after=cursor))

    assert [(s.sku, s.quantity) for s in stock] == [("OLD-2", 7), ("TEE-S", 9)]
    request = store.requests_to(PRODUCTS, "GET")[0]
    # The fake's site time zone is -05:00: only a GMT filter finds exactly these.
    assert request.arg("dates_are_gmt") == "true"


def test_incremental_pull_reads_again_the_second_of_the_cursor(store):
    product = store.add_product("SAME-SECOND", quantity=1)
    cursor = store.products[product].modified  # the change and the cursor share a second

    stock = list(connect(store).pull_stock(modified_after=cursor))

    assert [s.sku for s in stock] == ["SAME-SECOND"]


# Pulling orders ----------------------------------------------------------------------
def test_pull_orders_maps_statuses_to_the_reservation_lifecycle(store):
    store.add_product("A", quantity=50)
    expected = {}
    for status, state in [
        ("pending", OrderState.HOLD),
        ("on-hold", OrderState.HOLD),
        ("processing", OrderState.PAID),
        ("completed", OrderState.SHIPPED),
        ("cancelled", OrderState.RELEASED),
        ("refunded", OrderState.RELEASED),
        ("failed", OrderState.RELEASED),
    ]:
        expected[str(store.create_order([("A", 1)], status=status))] = state
    store.create_order([("A", 1)], status="checkout-draft")

    orders = {o.reference: o.state for o in connect(store).pull_orders()}

    assert orders == expected


def test_pull_orders_reads_lines_by_sku_and_quantity(store):
    store.add_product("A", quantity=10)
    parent = store.add_product("TEE", product_type="variable")
    store.add_variation(parent, "TEE-S", quantity=10)
    reference = store.create_order([("A", 2), ("TEE-S", 3)], status="processing")

    (order,) = connect(store).pull_orders()

    assert order.reference == str(reference)
    assert [(line.sku, line.quantity) for line in order.lines] == [("A", 2), ("TEE-S", 3)]
    assert order.updated_at is not None and order.updated_at.utcoffset() == timedelta(0)


def test_pull_orders_incremental_and_paged(store):
    store.add_product("A", quantity=500)
    for _ in range(3):
        store.create_order([("A", 1)])
    store.advance_clock(60)
    cursor = store.now()
    store.advance_clock(60)
    late = [store.create_order([("A", 1)]) for _ in range(3)]

    orders = list(connect(store, page_size=2).pull_orders(modified_after=cursor))

    assert [o.reference for o in orders] == [str(reference) for reference in late]
    assert [r.arg("page") for r in store.requests_to("/orders", "GET")] == ["1", "2"]


# Pushing -----------------------------------------------------------------------------
def test_push_splits_250_items_into_batches_of_at_most_100(store):
    for number in range(250):
        store.add_product(f"SKU-{number:03}", quantity=0)
    items = [push_item(store, f"SKU-{number:03}", number + 1) for number in range(250)]

    results = connect(store).push_stock(items)

    batches = store.requests_to(f"{PRODUCTS}/batch", "POST")
    assert [len(r.json()["update"]) for r in batches] == [100, 100, 50]
    assert [r.item for r in results] == items
    assert all(r.is_confirmed for r in results)
    assert [store.product_by_sku(f"SKU-{n:03}").stock_quantity for n in range(250)] == list(
        range(1, 251)
    )


def test_push_sends_variations_through_their_parents_batch_endpoint(store):
    shirt = store.add_product("SHIRT", product_type="variable")
    store.add_variation(shirt, "SHIRT-S", quantity=1)
    store.add_variation(shirt, "SHIRT-M", quantity=1)
    cap = store.add_product("CAP", product_type="variable")
    store.add_variation(cap, "CAP-ONE", quantity=1)
    store.add_product("MUG", quantity=1)
    items = [
        push_item(store, "SHIRT-S", 5),
        push_item(store, "MUG", 6),
        push_item(store, "CAP-ONE", 7),
        push_item(store, "SHIRT-M", 8),
    ]

    results = connect(store).push_stock(items)

    assert [(r.item.sku, r.is_confirmed, r.confirmed_quantity) for r in results] == [
        ("SHIRT-S", True, 5),
        ("MUG", True, 6),
        ("CAP-ONE", True, 7),
        ("SHIRT-M", True, 8),
    ]
    posted = {r.path: r.json()["update"] for r in store.requests if r.method == "POST"}
    assert set(posted) == {
        f"{PRODUCTS}/batch",
        f"{PRODUCTS}/{shirt}/variations/batch",
        f"{PRODUCTS}/{cap}/variations/batch",
    }
    assert [u["id"] for u in posted[f"{PRODUCTS}/batch"]] == [store.product_by_sku("MUG").id]


def test_push_variations_split_per_parent_in_batches_of_100(store):
    parent = store.add_product("TEE", product_type="variable")
    for number in range(150):
        store.add_variation(parent, f"TEE-{number:03}", quantity=0)

    connect(store).push_stock([push_item(store, f"TEE-{n:03}", 3) for n in range(150)])

    batches = store.requests_to(f"{PRODUCTS}/{parent}/variations/batch", "POST")
    assert [len(r.json()["update"]) for r in batches] == [100, 50]


def test_push_sends_quantity_to_managed_items_and_status_to_unmanaged_ones(store):
    store.add_product("MANAGED", quantity=1)
    store.add_product("UNMANAGED", manage_stock=False, stock_status="instock")
    items = [
        push_item(store, "MANAGED", 4, status=RemoteStatus.OUT_OF_STOCK),
        push_item(store, "UNMANAGED", 0, is_managed=False),
    ]

    results = connect(store).push_stock(items)

    (batch,) = store.requests_to(f"{PRODUCTS}/batch", "POST")
    assert batch.json()["update"] == [
        {"id": store.product_by_sku("MANAGED").id, "stock_quantity": 4},
        {"id": store.product_by_sku("UNMANAGED").id, "stock_status": "outofstock"},
    ]
    assert [r.is_confirmed for r in results] == [True, True]
    assert store.product_by_sku("UNMANAGED").stock_status == "outofstock"


def test_push_to_unmanaged_item_prefers_the_forced_status(store):
    store.add_product("SIGN", manage_stock=False, stock_status="instock")
    item = push_item(
        store,
        "SIGN",
        0,
        is_managed=False,
        status=RemoteStatus.OUT_OF_STOCK,
        forced_status=RemoteStatus.BACKORDER,
    )

    (result,) = connect(store).push_stock([item])

    assert result.is_confirmed
    assert store.product_by_sku("SIGN").stock_status == "onbackorder"


def test_store_derives_the_status_of_a_managed_item_from_the_pushed_quantity(store):
    store.add_product("PRE", quantity=5, backorders="notify")

    (result,) = connect(store).push_stock([push_item(store, "PRE", 0)])

    assert (result.is_confirmed, result.confirmed_quantity) == (True, 0)
    assert store.product_json(store.product_by_sku("PRE").id)["stock_status"] == "onbackorder"


def test_push_reports_per_item_errors_and_confirms_the_rest(store):
    store.add_product("A", quantity=1)
    ghost = PushItem(sku="GHOST", remote_id="999999", quantity=3)

    results = connect(store).push_stock([push_item(store, "A", 2), ghost])

    assert results[0].is_confirmed
    assert not results[1].is_confirmed
    assert results[1].error == "woocommerce_rest_product_invalid_id: Invalid ID."


def test_push_refuses_ids_that_are_not_woocommerce_ids_and_sends_the_rest(store):
    store.add_product("A", quantity=1)
    odd = PushItem(sku="ODD", remote_id="ODD-1", quantity=1)

    results = connect(store).push_stock([odd, push_item(store, "A", 4)])

    assert (results[0].is_confirmed, results[0].error) == (
        False,
        "remote_id and parent_id must be WooCommerce ids (digits)",
    )
    assert results[1].is_confirmed
    assert [u["id"] for u in store.requests_to("/batch", "POST")[0].json()["update"]] == [
        store.product_by_sku("A").id
    ]


def test_push_flags_an_item_the_store_stopped_managing(store):
    product = store.add_product("A", quantity=1)
    store.set_stock(product, manage_stock=False)

    (result,) = connect(store).push_stock([push_item(store, "A", 2)])

    assert not result.is_confirmed
    assert "does not manage stock" in result.error


def test_push_flags_a_variation_mapped_without_its_parent(store):
    parent = store.add_product("TEE", product_type="variable")
    variation = store.add_variation(parent, "TEE-S", quantity=1)

    (result,) = connect(store).push_stock(
        [PushItem(sku="TEE-S", remote_id=str(variation), quantity=2)]
    )

    assert not result.is_confirmed
    assert result.error.startswith("woocommerce_rest_invalid_product_id")
    assert store.products[variation].stock_quantity == 1


def test_push_to_a_missing_parent_fails_only_its_own_chunk(store):
    store.add_product("A", quantity=1)
    orphan = PushItem(sku="ORPHAN", remote_id="5000", parent_id="4999", quantity=1)

    results = connect(store).push_stock([orphan, push_item(store, "A", 9)])

    assert not results[0].is_confirmed
    assert "woocommerce_rest_product_variation_invalid_parent" in results[0].error
    assert results[1].is_confirmed
    assert store.product_by_sku("A").stock_quantity == 9


def test_push_that_fails_midway_raises_so_the_engine_retries_all(store):
    store.add_product("A", quantity=1)
    parent = store.add_product("TEE", product_type="variable")
    store.add_variation(parent, "TEE-S", quantity=1)
    store.inject(Fault(status=503, path_contains="variations/batch"))

    with pytest.raises(RemoteUnavailable):
        connect(store).push_stock([push_item(store, "A", 5), push_item(store, "TEE-S", 6)])

    # Absolute values: sending "A = 5" again on the retry changes nothing.
    assert store.product_by_sku("A").stock_quantity == 5
    assert store.product_by_sku("TEE-S").stock_quantity == 1


# Error mapping -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        (Fault(status=500), RemoteUnavailable, 500),
        (Fault(status=502), RemoteUnavailable, 502),
        (Fault(status=401), RemoteAuthFailed, 401),
        (Fault(status=403), RemoteAuthFailed, 403),
        (Fault(status=400), RemoteRejected, 400),
        (Fault(status=404), RemoteRejected, 404),
        (Fault(status=413), RemoteRejected, 413),
    ],
)
def test_store_errors_map_to_the_engine_errors(store, fault, error_class, status):
    store.add_product("A", quantity=1)
    store.inject(fault)

    with pytest.raises(error_class) as caught:
        list(connect(store).pull_stock())

    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.code == "fault"


def test_429_is_throttled_with_the_retry_after_seconds(store):
    store.inject(Fault(status=429, retry_after="7"))

    with pytest.raises(RemoteThrottled) as caught:
        connect(store).push_stock([PushItem(sku="A", remote_id="1", quantity=1)])

    assert caught.value.retry_after_seconds == 7.0
    assert caught.value.status == 429


def test_429_without_retry_after_leaves_the_wait_to_the_engine(store):
    store.inject(Fault(status=429))

    with pytest.raises(RemoteThrottled) as caught:
        connect(store).test_connection()

    assert caught.value.retry_after_seconds is None


def test_429_with_an_http_date_retry_after(store):
    store.inject(Fault(status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"))

    with pytest.raises(RemoteThrottled) as caught:
        connect(store).test_connection()

    assert caught.value.retry_after_seconds == 0.0  # a moment already past: retry now


def test_store_that_hangs_past_the_timeout_is_unavailable(store):
    store.inject(Fault(status=0, hang_seconds=1.0))

    with pytest.raises(RemoteUnavailable, match=r"did not answer GET /products within 0.3 s"):
        connect(store, timeout_seconds=0.3).test_connection()


def test_unreachable_store_is_unavailable_and_no_trace_names_the_credentials():
    with FakeStore() as closed:
        base_url = closed.base_url
    credentials = {"consumer_key": "ck_visible_key_12345", "consumer_secret": "cs_secret_12345"}
    config = ConnectorConfig(base_url=base_url, credentials=credentials, options={"auth": "query"})

    with pytest.raises(RemoteUnavailable) as caught:
        WooCommerceConnector(config).test_connection()

    printed = "".join(traceback.format_exception(caught.value))
    assert "could not be reached for GET /products (ConnectionError)" in printed
    assert "cs_secret_12345" not in printed and "ck_visible_key_12345" not in printed
    assert caught.value.__context__ is None


def test_an_answer_that_is_not_json_is_unavailable(store):
    store.routes.insert(
        0,
        (
            "GET",
            re.compile(f"^{PRODUCTS}$"),
            lambda r: Response(200, raw=b"<html>Maintenance</html>"),
        ),
    )

    with pytest.raises(RemoteUnavailable, match="not JSON"):
        connect(store).test_connection()


def test_a_redirect_is_refused_rather_than_followed(store):
    moved = Response(301, {}, {"Location": "https://elsewhere.example/wp-json/wc/v3/products"})
    store.routes.insert(0, ("GET", re.compile(f"^{PRODUCTS}$"), lambda r: moved))

    with pytest.raises(RemoteRejected, match="check base_url"):
        connect(store).test_connection()


# Webhooks ----------------------------------------------------------------------------
def test_register_webhooks_creates_one_active_webhook_per_topic(store, receiver):
    hooks = connect(store).register_webhooks(receiver.url, secret="registered-secret")

    assert [h.topic for h in hooks] == list(DEFAULT_WEBHOOK_TOPICS)
    assert {h.status for h in hooks} == {"active"}
    assert {h.delivery_url for h in hooks} == {receiver.url}
    assert {store.webhook(h.id).secret for h in hooks} == {"registered-secret"}
    assert sorted(p.body for p in receiver.pings()) == sorted(
        f"webhook_id={h.id}".encode() for h in hooks
    )


def test_register_webhooks_again_updates_instead_of_duplicating(store, receiver):
    connector = connect(store)
    first = connector.register_webhooks(receiver.url, ["order.created"], secret="old")
    store.webhook(first[0].id).status = "paused"

    second = connector.register_webhooks(receiver.url, ["order.created"], secret="new")

    assert [h.id for h in second] == [h.id for h in first]
    assert len(store.webhooks) == 1
    assert (store.webhook(first[0].id).status, store.webhook(first[0].id).secret) == (
        "active",
        "new",
    )


def test_list_webhooks_reads_every_page_without_asking_for_secrets(store, receiver):
    connector = connect(store, page_size=3)
    connector.register_webhooks(receiver.url, DEFAULT_WEBHOOK_TOPICS, secret="s")
    store.requests.clear()

    hooks = connector.list_webhooks()

    assert sorted(h.topic for h in hooks) == sorted(DEFAULT_WEBHOOK_TOPICS)
    pages = [(r.arg("page"), r.arg("context")) for r in store.requests_to("/webhooks", "GET")]
    assert pages == [("1", None), ("2", None), ("3", None)]  # view context: no secrets


def test_set_webhook_status_reenables_a_webhook_the_store_disabled(store, receiver):
    connector = connect(store)
    (hook,) = connector.register_webhooks(receiver.url, ["product.updated"], secret="s")
    store.webhook(hook.id).status = "disabled"

    answer = connector.set_webhook_status(hook.id, "active")

    assert answer.status == "active"
    assert store.webhook(hook.id).status == "active"


def test_set_webhook_status_refuses_an_unknown_status_without_asking(store):
    with pytest.raises(ValueError, match="active, paused, disabled"):
        connect(store).set_webhook_status(1, "enabled")

    assert store.requests == []


def test_delete_webhook_removes_it(store, receiver):
    connector = connect(store)
    (hook,) = connector.register_webhooks(receiver.url, ["order.created"], secret="s")

    connector.delete_webhook(hook.id)

    assert store.webhooks == {}
