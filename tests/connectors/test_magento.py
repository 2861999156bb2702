"""MagentoConnector against FakeMagento over real HTTP: reads, pushes, auth, errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

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
from connectors.magento import MagentoConnector
from tests.fakes.magento import FakeMagento
from tests.fakes.server import Fault

INTEGRATION_TOKEN = "integration-token-0123456789"


@pytest.fixture
def store():
    with FakeMagento(integration_token=INTEGRATION_TOKEN) as fake:
        yield fake


def connect(
    store: FakeMagento,
    *,
    credentials: dict | None = None,
    timeout_seconds: float = 5.0,
    **options,
) -> MagentoConnector:
    return MagentoConnector(
        ConnectorConfig(
            base_url=store.base_url,
            credentials=credentials if credentials is not None else {"token": INTEGRATION_TOKEN},
            options=options,
            timeout_seconds=timeout_seconds,
        )
    )


def admin(store: FakeMagento) -> dict:
    return {"username": store.admin_username, "password": store.admin_password}


def push_item(sku: str, quantity: int, location: str = "berlin", **extra) -> PushItem:
    return PushItem(sku=sku, remote_id=sku, quantity=quantity, location=location, **extra)


# Reading stock ---------------------------------------------------------------------------


def test_pull_stock_pages_until_total_count(store):
    for number in range(250):
        store.add_source_item(f"SKU-{number:03d}", "berlin", number)
    connector = connect(store, page_size=100)

    records = list(connector.pull_stock())

    assert len(records) == 250
    assert {record.sku for record in records} == {f"SKU-{n:03d}" for n in range(250)}
    pages = [r.arg("searchCriteria[currentPage]") for r in store.requests_to("source-items")]
    assert pages == ["1", "2", "3"]


def test_pull_stock_stops_at_total_count_without_asking_for_an_empty_page(store):
    for number in range(200):
        store.add_source_item(f"SKU-{number:03d}", "berlin", 1)
    connector = connect(store, page_size=100)

    records = list(connector.pull_stock())

    assert len(records) == 200
    assert len(store.requests_to("source-items")) == 2


def test_pull_stock_reads_quantity_status_source_and_forced_status(store):
    store.add_source_item("MUG", "berlin", 7)
    store.add_source_item("MUG", "hamburg", 0, status=0)
    store.add_source_item("CUP", "berlin", 2.5)
    store.set_product_attribute("MUG", "force_stock_status", "out_of_stock")
    connector = connect(store)

    records = {(r.sku, r.location): r for r in connector.pull_stock()}

    assert set(records) == {("MUG", "berlin"), ("MUG", "hamburg"), ("CUP", "berlin")}
    mug_berlin = records[("MUG", "berlin")]
    assert (mug_berlin.remote_id, mug_berlin.quantity, mug_berlin.status) == (
        "MUG",
        7,
        RemoteStatus.IN_STOCK,
    )
    assert mug_berlin.forced_status == RemoteStatus.OUT_OF_STOCK
    assert records[("MUG", "hamburg")].status == RemoteStatus.OUT_OF_STOCK
    assert records[("CUP", "berlin")].quantity == 2  # decimals round down to whole units
    assert records[("CUP", "berlin")].forced_status is None


def test_pull_stock_reads_only_the_configured_sources(store):
    store.add_source_item("MUG", "berlin", 7)
    store.add_source_item("MUG", "hamburg", 3)
    store.add_source_item("MUG", "paris", 1)
    connector = connect(store, source_codes=["berlin", "paris"])

    locations = sorted(record.location for record in connector.pull_stock())

    assert locations == ["berlin", "paris"]


def test_pull_stock_without_forced_status_attribute_reads_no_products(store):
    store.add_source_item("MUG", "berlin", 7)
    connector = connect(store, force_status_attribute="")

    records = list(connector.pull_stock())

    assert [record.forced_status for record in records] == [None]
    assert store.requests_to("/V1/products") == []


# Pushing stock -----------------------------------------------------------------------------


def test_push_writes_physical_quantities_per_source(store):
    store.add_source("berlin")
    store.add_source("hamburg")
    connector = connect(store)

    results = connector.push_stock([push_item("MUG", 12, "berlin"), push_item("MUG", 0, "hamburg")])

    assert [(r.is_confirmed, r.confirmed_quantity, r.error) for r in results] == [
        (True, 12, ""),
        (True, 0, ""),
    ]
    assert store.source_item("MUG", "berlin") == {"quantity": 12.0, "status": 1}
    assert store.source_item("MUG", "hamburg") == {"quantity": 0.0, "status": 0}


def test_push_sets_the_status_the_hub_names_rather_than_deriving_it(store):
    store.add_source("berlin")
    connector = connect(store)

    connector.push_stock(
        [
            push_item("BACKORDERED", 0, status=RemoteStatus.BACKORDER),
            push_item("HELD-BACK", 5, status=RemoteStatus.OUT_OF_STOCK),
        ]
    )

    assert store.source_item("BACKORDERED", "berlin")["status"] == 1
    assert store.source_item("HELD-BACK", "berlin")["status"] == 0


def test_push_of_45_items_is_three_requests_when_the_input_limit_is_on(store):
    store.add_source("berlin")
    store.enable_input_limit()
    connector = connect(store)
    items = [push_item(f"SKU-{n:02d}", n) for n in range(45)]

    results = connector.push_stock(items)

    posts = store.requests_to("inventory/source-items", "POST")
    assert [len(r.json()["sourceItems"]) for r in posts] == [20, 20, 5]
    assert all(result.is_confirmed for result in results)
    assert [store.source_item(f"SKU-{n:02d}", "berlin")["quantity"] for n in range(45)] == [
        float(n) for n in range(45)
    ]


def test_push_follows_a_store_limit_lower_than_configured(store):
    store.add_source("berlin")
    store.enable_input_limit(max_items=20)
    connector = connect(store, max_items_per_request=50)
    items = [push_item(f"SKU-{n:02d}", n) for n in range(45)]

    results = connector.push_stock(items)

    posts = store.requests_to("inventory/source-items", "POST")
    assert [len(r.json()["sourceItems"]) for r in posts] == [45, 20, 20, 5]
    assert all(result.is_confirmed for result in results)
    assert len(store.source_items) == 45


def test_a_refused_item_does_not_hold_back_the_rest_of_its_chunk(store):
    store.add_source("berlin")
    connector = connect(store)

    results = connector.push_stock(
        [push_item("MUG", 4), push_item("CUP", 2, "no-such-source"), push_item("PLATE", 9)]
    )

    assert [result.is_confirmed for result in results] == [True, False, True]
    assert "Could not save Source Item" in results[1].error
    assert store.source_item("MUG", "berlin")["quantity"] == 4.0
    assert store.source_item("PLATE", "berlin")["quantity"] == 9.0
    assert store.source_item("CUP", "no-such-source") is None


def test_push_refuses_without_sending_an_item_with_no_source_or_a_negative_quantity(store):
    connector = connect(store)

    results = connector.push_stock([push_item("MUG", 3, ""), push_item("CUP", -1)])

    assert [result.is_confirmed for result in results] == [False, False]
    assert "no Magento source code" in results[0].error
    assert "negative" in results[1].error
    assert store.requests_to("inventory/source-items") == []


# Forced status ---------------------------------------------------------------------------


def test_forced_status_is_written_through_the_product_attribute_only_when_it_changes(store):
    store.add_source_item("MUG", "berlin", 3)
    connector = connect(store)

    connector.push_stock([push_item("MUG", 3, forced_status=RemoteStatus.OUT_OF_STOCK)])
    connector.push_stock([push_item("MUG", 2, forced_status=RemoteStatus.OUT_OF_STOCK)])

    assert store.product_attribute("MUG", "force_stock_status") == "out_of_stock"
    assert len(store.requests_to("/V1/products/MUG", "PUT")) == 1


def test_forced_status_is_cleared_when_the_hub_has_none(store):
    store.add_source_item("MUG", "berlin", 3)
    store.set_product_attribute("MUG", "force_stock_status", "in_stock")
    connector = connect(store)

    results = connector.push_stock([push_item("MUG", 3)])

    assert results[0].is_confirmed
    assert store.product_attribute("MUG", "force_stock_status") == ""
    put = store.requests_to("/V1/products/MUG", "PUT")[0]
    assert put.path.startswith("/rest/all/V1/")  # global scope
    assert put.json()["product"]["custom_attributes"] == [
        {"attribute_code": "force_stock_status", "value": ""}
    ]


def test_forced_status_uses_the_configured_attribute_and_values(store):
    store.add_source_item("MUG", "berlin", 3)
    store.add_source_item("CUP", "berlin", 3)
    store.set_product_attribute("CUP", "hub_forced", "12")
    values = {"in_stock": "11", "out_of_stock": "12", "none": "0"}
    connector = connect(store, force_status_attribute="hub_forced", force_status_values=values)

    connector.push_stock([push_item("MUG", 3, forced_status=RemoteStatus.IN_STOCK)])
    forced = {record.sku: record.forced_status for record in connector.pull_stock()}

    assert store.product_attribute("MUG", "hub_forced") == "11"
    assert store.product_attribute("MUG", "force_stock_status") is None
    assert forced == {"MUG": RemoteStatus.IN_STOCK, "CUP": RemoteStatus.OUT_OF_STOCK}


def test_forced_status_for_a_sku_with_no_product_is_reported_and_creates_nothing(store):
    store.add_source("berlin")
    connector = connect(store)

    results = connector.push_stock([push_item("GHOST", 3, forced_status=RemoteStatus.IN_STOCK)])

    assert not results[0].is_confirmed
    assert "no Magento product 'GHOST'" in results[0].error
    assert "GHOST" not in store.products
    assert store.source_item("GHOST", "berlin") == {"quantity": 3.0, "status": 1}


def test_forced_status_is_left_alone_when_pushing_it_is_switched_off(store):
    store.add_source_item("MUG", "berlin", 3)
    store.set_product_attribute("MUG", "force_stock_status", "in_stock")
    connector = connect(store, is_forced_status_pushed=False)

    connector.push_stock([push_item("MUG", 5)])

    assert store.product_attribute("MUG", "force_stock_status") == "in_stock"
    assert store.requests_to("/V1/products") == []


# Legacy single-source stores -------------------------------------------------------------


@pytest.mark.parametrize("list_has_stock_item", [True, False])
def test_legacy_mode_reads_stock_items_of_the_default_source(list_has_stock_item):
    with FakeMagento(
        integration_token=INTEGRATION_TOKEN,
        products_list_includes_stock_item=list_has_stock_item,
    ) as store:
        store.add_source_item("MUG", "default", 6)
        store.add_product("KIT", type_id="bundle")
        store.add_product("SERVICE", manage_stock=False)
        store.set_product_attribute("MUG", "force_stock_status", "in_stock")
        connector = connect(store, is_legacy_single_source=True)

        records = {record.sku: record for record in connector.pull_stock()}

        assert set(records) == {"MUG", "SERVICE"}
        mug = records["MUG"]
        assert (mug.location, mug.quantity, mug.status, mug.forced_status) == (
            "default",
            6,
            RemoteStatus.IN_STOCK,
            RemoteStatus.IN_STOCK,
        )
        assert records["SERVICE"].is_managed is False
        assert records["SERVICE"].quantity is None
        assert len(store.requests_to("/V1/stockItems/")) == (0 if list_has_stock_item else 2)
        assert store.requests_to("inventory/") == []


def test_legacy_mode_pushes_through_the_product_stock_item(store):
    store.add_product("MUG")
    connector = connect(store, is_legacy_single_source=True)

    results = connector.push_stock([push_item("MUG", 9, ""), push_item("MUG", 4, "default")])

    assert [result.is_confirmed for result in results] == [True, True]
    puts = store.requests_to("/stockItems/", "PUT")
    assert [put.json() for put in puts] == [
        {"stockItem": {"qty": 9, "is_in_stock": True}},
        {"stockItem": {"qty": 4, "is_in_stock": True}},
    ]
    assert len(store.requests_to("/V1/stockItems/MUG", "GET")) == 1  # item id cached
    assert store.source_item("MUG", "default") == {"quantity": 4.0, "status": 1}
    assert store.requests_to("inventory/") == []


def test_legacy_mode_refuses_other_sources_and_reports_missing_products(store):
    store.add_product("MUG")
    connector = connect(store, is_legacy_single_source=True)

    results = connector.push_stock([push_item("MUG", 9, "berlin"), push_item("GHOST", 1, "")])

    assert [result.is_confirmed for result in results] == [False, False]
    assert "only the 'default' source" in results[0].error
    assert "404" in results[1].error
    assert store.source_item("MUG", "default") is None


# Mapping reads and salable quantity ----------------------------------------------------


def test_sources_stocks_and_links_for_the_mapping_screens(store):
    store.add_source("berlin", "Berlin warehouse")
    store.add_source("paris", "Paris", enabled=False)
    store.add_stock(2, "EU stock", website_codes=("eu",))
    store.link(2, "berlin", 1)
    store.link(2, "paris", 2)
    connector = connect(store)

    sources = connector.list_sources()
    stocks = connector.list_stocks()
    links = connector.list_stock_source_links()

    assert [(s.source_code, s.name, s.is_enabled) for s in sources] == [
        ("berlin", "Berlin warehouse", True),
        ("default", "Default Source", True),
        ("paris", "Paris", False),
    ]
    assert [(s.stock_id, s.name, s.website_codes) for s in stocks] == [
        (1, "Default Stock", ("base",)),
        (2, "EU stock", ("eu",)),
    ]
    assert [(link.stock_id, link.source_code, link.priority) for link in links] == [
        (1, "default", 1),
        (2, "berlin", 1),
        (2, "paris", 2),
    ]


def test_salable_quantity_is_source_quantity_minus_magentos_own_reservations(store):
    store.add_source("berlin")
    store.add_source("hamburg")
    store.add_stock(2, "EU stock")
    store.link(2, "berlin")
    store.link(2, "hamburg", 2)
    store.add_source_item("MUG", "berlin", 10)
    store.add_source_item("MUG", "hamburg", 5)
    store.add_reservation("MUG", 2, -3)
    connector = connect(store)

    salable = connector.salable_quantity(sku="MUG", stock_id=2)

    assert salable == 12.0


# Orders --------------------------------------------------------------------------------------


def test_pull_orders_maps_magento_states_to_the_reservation_lifecycle(store):
    for entity_id, state in enumerate(
        ["new", "pending_payment", "holded", "processing", "complete", "canceled", "closed"], 1
    ):
        store.add_order(
            entity_id=entity_id, state=state, items=[("MUG", 2)], updated_at="2025-03-01 10:00:00"
        )
    connector = connect(store)

    states = {order.reference: order.state for order in connector.pull_orders()}

    assert states == {
        "1": OrderState.HOLD,
        "2": OrderState.HOLD,
        "3": OrderState.HOLD,
        "4": OrderState.PAID,
        "5": OrderState.SHIPPED,
        "6": OrderState.RELEASED,
        "7": OrderState.RELEASED,
    }


def test_pull_orders_reads_only_orders_updated_since_and_skips_parent_lines(store):
    store.add_order(entity_id=1, state="new", items=[("MUG", 1)], updated_at="2025-03-01 09:00:00")
    later = store.add_order(
        entity_id=2, state="processing", items=[("SHIRT-M", 2)], updated_at="2025-03-01 11:00:00"
    )
    later["items"].insert(0, {"sku": "SHIRT-M", "qty_ordered": 2.0, "product_type": "configurable"})
    connector = connect(store)

    orders = list(connector.pull_orders(modified_after=datetime(2025, 3, 1, 10, tzinfo=UTC)))

    assert [(o.reference, o.state, o.lines) for o in orders] == [
        ("2", OrderState.PAID, (orders[0].lines[0],))
    ]
    assert (orders[0].lines[0].sku, orders[0].lines[0].quantity) == ("SHIRT-M", 2)
    assert orders[0].updated_at == datetime(2025, 3, 1, 11, tzinfo=UTC)
    query = store.requests_to("/V1/orders")[0].query
    assert query["searchCriteria[filter_groups][0][filters][0][value]"] == ["2025-03-01 10:00:00"]


def test_pull_orders_skips_an_order_in_a_state_it_does_not_know(store, caplog):
    store.add_order(entity_id=1, state="mystery", items=[("MUG", 1)])
    store.add_order(entity_id=2, state="new", items=[("MUG", 1)])
    connector = connect(store)

    with caplog.at_level(logging.WARNING, logger="connectors.magento"):
        references = [order.reference for order in connector.pull_orders()]

    assert references == ["2"]
    assert "'mystery'" in caplog.text


# Authentication ----------------------------------------------------------------------------


def test_integration_token_is_sent_as_bearer_and_no_admin_token_is_asked_for(store):
    connect(store).test_connection()

    request = store.requests_to("inventory/sources")[0]
    assert request.headers["authorization"] == f"Bearer {INTEGRATION_TOKEN}"
    assert store.token_requests() == []


def test_admin_token_is_fetched_once_and_shared_by_later_connectors(store):
    connect(store, credentials=admin(store)).test_connection()
    connect(store, credentials=admin(store)).test_connection()

    assert len(store.token_requests()) == 1
    assert store.token_requests()[0].json() == admin(store)


def test_expired_admin_token_is_refreshed_once_and_the_call_succeeds(store):
    store.add_source_item("MUG", "berlin", 3)
    connector = connect(store, credentials=admin(store))
    connector.test_connection()
    store.expire_admin_tokens()

    records = list(connector.pull_stock())

    assert [record.sku for record in records] == ["MUG"]
    assert len(store.token_requests()) == 2
    statuses = [r.headers["authorization"] for r in store.requests_to("source-items")]
    assert len(statuses) == 2  # the refused call and its retry with the new token
    assert statuses[0] != statuses[1]


def test_admin_token_refused_again_after_refresh_is_an_auth_failure(store):
    store.admin_token_lifetime_seconds = 0  # every token is expired on arrival
    connector = connect(store, credentials=admin(store))

    with pytest.raises(RemoteAuthFailed, match="consumer isn't authorized"):
        connector.test_connection()

    assert len(store.token_requests()) == 2


@pytest.mark.parametrize("status", ["401", "400"])
def test_two_factor_authentication_refusal_says_to_use_an_integration_token(store, status):
    store.require_2fa(status=status)
    connector = connect(store, credentials=admin(store))

    with pytest.raises(RemoteAuthFailed) as refusal:
        connector.test_connection()

    message = str(refusal.value)
    assert "two-factor authentication" in message
    assert "integration token" in message
    assert refusal.value.code == "two_factor_required"
    assert store.admin_password not in message
    assert len(store.token_requests()) == 1
    assert store.requests_to("inventory/") == []


def test_wrong_admin_password_is_an_auth_failure_that_does_not_repeat_the_password(store):
    connector = connect(store, credentials={"username": "hub-admin", "password": "wrong-pass-9"})

    with pytest.raises(RemoteAuthFailed, match="refused the admin username and password") as e:
        connector.test_connection()

    assert "wrong-pass-9" not in str(e.value)


def test_wrong_integration_token_is_an_auth_failure_without_retries(store):
    connector = connect(store, credentials={"token": "not-the-token"})

    with pytest.raises(RemoteAuthFailed, match="Magento_InventoryApi::source"):
        connector.test_connection()

    assert len(store.requests_to("inventory/sources")) == 1
    assert store.token_requests() == []


def test_missing_credentials_are_an_auth_failure_naming_what_is_needed(store):
    with pytest.raises(RemoteAuthFailed, match=r"'token'.*'username' and 'password'"):
        connect(store, credentials={}).test_connection()


def test_tokens_and_passwords_never_reach_the_logs(store, caplog):
    store.add_source_item("MUG", "berlin", 3)
    connector = connect(store, credentials=admin(store))

    with caplog.at_level(logging.DEBUG):
        connector.test_connection()
        store.expire_admin_tokens()
        list(connector.pull_stock())

    tokens = list(store.admin_tokens)
    assert len(tokens) == 2
    for secret in [store.admin_password, *tokens]:
        assert secret not in caplog.text


# Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(store, status):
    store.inject(Fault(status=status))

    with pytest.raises(RemoteUnavailable) as failure:
        connect(store).test_connection()

    assert failure.value.status == status
    assert not isinstance(failure.value, RemoteThrottled)


def test_429_is_throttled_with_retry_after_seconds(store):
    store.inject(Fault(status=429, retry_after="7"))

    with pytest.raises(RemoteThrottled) as throttled:
        connect(store).test_connection()

    assert throttled.value.retry_after_seconds == 7.0


def test_429_with_an_http_date_retry_after(store):
    moment = datetime.now(UTC) + timedelta(seconds=30)
    store.inject(Fault(status=429, retry_after=format_datetime(moment, usegmt=True)))

    with pytest.raises(RemoteThrottled) as throttled:
        connect(store).test_connection()

    assert 25 <= throttled.value.retry_after_seconds <= 31


def test_a_store_that_does_not_answer_in_time_is_unavailable(store):
    store.inject(Fault(status=0, hang_seconds=1.5))

    with pytest.raises(RemoteUnavailable, match=r"did not answer within 0\.3 s"):
        connect(store, timeout_seconds=0.3).test_connection()


def test_a_store_that_refuses_connections_is_unavailable():
    store = FakeMagento().start()
    base_url = store.base_url
    store.stop()
    connector = MagentoConnector(ConnectorConfig(base_url=base_url, credentials={"token": "x"}))

    with pytest.raises(RemoteUnavailable, match="could not be reached"):
        connector.test_connection()


def test_a_5xx_during_push_is_raised_so_the_engine_retries_the_batch(store):
    store.add_source("berlin")
    store.inject(Fault(status=503, path_contains="source-items"))

    with pytest.raises(RemoteUnavailable):
        connect(store).push_stock([push_item("MUG", 1)])

    assert store.source_item("MUG", "berlin") is None


def test_unknown_store_code_is_rejected_with_a_hint(store):
    with pytest.raises(RemoteRejected) as refusal:
        connect(store, store_code="nosuchstore").test_connection()

    assert refusal.value.status == 404
    assert "Request does not match any route." in str(refusal.value)
    assert "store code 'nosuchstore'" in str(refusal.value)


def test_a_magento_4xx_is_rejected_with_its_placeholders_filled(store):
    connector = connect(store)

    with pytest.raises(RemoteRejected) as refusal:
        connector.salable_quantity(sku="GHOST", stock_id=1)

    assert refusal.value.status == 404
    assert "The product that was requested doesn't exist" in str(refusal.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page_size": 500}, "page_size must be at most 300"),
        ({"max_items_per_request": 0}, "max_items_per_request must be a whole number"),
        ({"store_code": "a/b"}, "store_code"),
        ({"force_status_values": {"in_stock": "1"}}, "force_status_values"),
        ({"is_legacy_single_source": "yes"}, "is_legacy_single_source must be true or false"),
        ({"stock_id": 0}, "stock_id must be a whole number"),
        ({"stock_id": "2"}, "stock_id must be a whole number"),
        ({"max_item_per_request": 5}, "Unknown Magento option"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        MagentoConnector(ConnectorConfig(base_url="http://127.0.0.1:9", options=options))
