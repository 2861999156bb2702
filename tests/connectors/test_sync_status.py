"""Status propagation: the store a rule names owns a SKU's stock status; the hub takes it
from there and the other stores get it only where it changes what they show."""

from types import SimpleNamespace

import pytest

from connectors.models import LocationMapping, StatusChange, StatusRule
from connectors.sync.polling import poll_connector
from connectors.sync.setup import set_up_connector
from connectors.sync.status import owned_scopes
from stock.models import ForcedStatus
from tests.connectors.sync_support import (
    magento_connector,
    magento_snapshot,
    make_hub,
    process_received,
    push_all,
    woo_connector,
)
from tests.fakes.magento import FakeMagento
from tests.fakes.woocommerce import FakeWooCommerce
from tests.warehouses.factories import ChannelWarehouseFactory, SalesChannelFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def stores():
    with FakeMagento() as magento, FakeWooCommerce() as woo_one, FakeWooCommerce() as woo_two:
        yield magento, woo_one, woo_two


def three_stores(stores):
    """LAMP (8 on hand) sold on two channels: Magento and Woo 1 show channel one, Woo 2
    shows channel two. Woo lists LAMP without counting it (only its status)."""
    magento, woo_one, woo_two = stores
    hub = make_hub({"LAMP": 8}, warehouse_code="LAMPS")
    other = SalesChannelFactory(code="second")
    ChannelWarehouseFactory(channel=other, warehouse=hub.warehouse, priority=1)
    magento.add_source("lamps")
    magento.add_source_item("LAMP", "lamps", 8)
    one = woo_one.add_product("LAMP", manage_stock=False, stock_status="instock")
    two = woo_two.add_product("LAMP", manage_stock=False, stock_status="instock")
    m = magento_connector(magento, hub.channel)
    LocationMapping.objects.create(connector=m, warehouse=hub.warehouse, location="lamps")
    w1 = woo_connector(woo_one, hub.channel)
    w2 = woo_connector(woo_two, other)
    for connector in (m, w1, w2):
        assert set_up_connector(connector_id=connector.pk, register_webhooks=False).is_ok
    push_all(m, w1, w2)
    for store in stores:
        store.requests.clear()
    return hub, other, (m, w1, w2), (one, two)


def lamp_row(forced):
    return {"sku": "LAMP", "qty_on_hand": 8, "force_stock_status": forced}


def test_forced_status_set_on_the_owning_store_reaches_only_stores_where_it_changes(stores, client):
    magento, woo_one, woo_two = stores
    hub, _other, (m, w1, w2), (one, _two) = three_stores(stores)
    rule = StatusRule.objects.create(owner=m, channel=hub.channel)

    answer = magento_snapshot(client, m, "lamps", [lamp_row("out_of_stock")], delivery="d-1")
    process_received()
    push_all(m, w1, w2)

    assert answer.status_code == 200
    forced = ForcedStatus.objects.get(ended_at=None)
    assert (forced.variant.sku, forced.channel, forced.status) == (
        "LAMP",
        hub.channel,
        "out_of_stock",
    )
    assert forced.actor_label == m.name and m.name in forced.reason
    change = StatusChange.objects.get()
    assert (change.connector, change.rule, change.previous_status, change.new_status) == (
        m,
        rule,
        "",
        "out_of_stock",
    )
    assert change.source == "d-1" and m.name in change.reason
    assert woo_one.product_json(one)["stock_status"] == "outofstock"
    assert woo_two.requests_to("/batch") == []  # channel two shows what it showed
    assert magento.requests_to("/source-items", "POST") == []  # the owner holds it already
    assert magento.requests_to("/products/LAMP", "PUT") == []


def test_clearing_the_forced_status_on_the_owner_clears_it_everywhere_it_showed(stores, client):
    _magento, woo_one, woo_two = stores
    hub, _other, (m, w1, w2), (one, _two) = three_stores(stores)
    StatusRule.objects.create(owner=m, channel=hub.channel)
    magento_snapshot(client, m, "lamps", [lamp_row("out_of_stock")], delivery="d-1")
    process_received()
    push_all(m, w1, w2)

    magento_snapshot(client, m, "lamps", [lamp_row(None)], delivery="d-2")
    process_received()
    push_all(m, w1, w2)

    assert not ForcedStatus.objects.filter(ended_at=None).exists()
    assert list(StatusChange.objects.order_by("pk").values_list("new_status", flat=True)) == [
        "out_of_stock",
        "",
    ]
    assert woo_one.product_json(one)["stock_status"] == "instock"
    assert woo_two.requests_to("/batch") == []


def test_a_store_that_does_not_own_the_status_cannot_force_it(stores, client):
    hub, _other, (m, w1, _w2), _ = three_stores(stores)
    StatusRule.objects.create(owner=w1, channel=hub.channel)

    magento_snapshot(client, m, "lamps", [lamp_row("out_of_stock")], delivery="d-1")
    process_received()

    assert not ForcedStatus.objects.exists()
    assert not StatusChange.objects.exists()


def test_status_of_an_uncounted_item_on_the_owning_store_is_forced_on_the_others(stores):
    magento, woo_one, woo_two = stores
    hub, _other, (m, w1, w2), (one, two) = three_stores(stores)
    StatusRule.objects.create(owner=w1, variant=hub.variants["LAMP"])
    woo_one.advance_clock(5)
    woo_one.set_stock(one, stock_status="outofstock")

    poll_connector(connector_id=w1.pk)
    push_all(m, w1, w2)

    forced = ForcedStatus.objects.get(ended_at=None)
    assert (forced.channel, forced.status) == (None, "out_of_stock")
    assert magento.product_attribute("LAMP", "force_stock_status") == "out_of_stock"
    assert woo_two.product_json(two)["stock_status"] == "outofstock"
    assert woo_one.requests_to("/batch") == []

    woo_one.advance_clock(5)
    woo_one.set_stock(one, stock_status="instock")
    poll_connector(connector_id=w1.pk)
    push_all(m, w1, w2)

    # In stock is what the hub shows by itself (8 on hand): the override is cleared.
    assert not ForcedStatus.objects.filter(ended_at=None).exists()
    assert magento.product_attribute("LAMP", "force_stock_status") == ""
    assert woo_two.product_json(two)["stock_status"] == "instock"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # (owner, variant, channel): who owns which scope of variant 1
        ([("a", None, None)], {"a": [None], "b": []}),
        ([("a", None, None), ("b", None, 7)], {"a": [None], "b": [7]}),
        ([("a", 1, None), ("b", None, 7)], {"a": [None], "b": []}),
        ([("a", 1, None), ("b", 1, 7)], {"a": [None], "b": [7]}),
        ([("a", 2, None), ("b", None, None)], {"a": [], "b": [None]}),
    ],
)
def test_the_most_specific_rule_decides_who_owns_each_scope(rules, expected):
    owners = {"a": 101, "b": 102}
    built = [
        StatusRule(owner_id=owners[owner], variant_id=variant, channel_id=channel)
        for owner, variant, channel in rules
    ]

    found = {
        name: [scope.channel_id for scope in owned_scopes(SimpleNamespace(pk=pk), 1, built)]
        for name, pk in owners.items()
    }

    assert found == expected


def test_a_forced_out_of_stock_reaches_a_stock_managed_woocommerce_item_as_zero(stores, client):
    _magento, woo_one, _woo_two = stores
    hub, _other, (m, w1, w2), (one, _two) = three_stores(stores)
    woo_one.set_stock(one, manage_stock=True, stock_quantity=8)
    poll_connector(connector_id=w1.pk)
    push_all(m, w1, w2)
    StatusRule.objects.create(owner=m, channel=hub.channel)

    magento_snapshot(client, m, "lamps", [lamp_row("out_of_stock")], delivery="d-1")
    process_received()
    push_all(m, w1, w2)

    shown = woo_one.product_json(one)
    assert (shown["manage_stock"], shown["stock_quantity"], shown["stock_status"]) == (
        True,
        0,
        "outofstock",
    )

    magento_snapshot(client, m, "lamps", [lamp_row("")], delivery="d-2")
    process_received()
    push_all(m, w1, w2)

    shown = woo_one.product_json(one)
    assert (shown["stock_quantity"], shown["stock_status"]) == (8, "instock")
