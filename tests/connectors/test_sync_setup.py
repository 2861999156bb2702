"""Connector setup against the real fake stores: SKU matching, Magento sources, webhooks."""

import pytest

from connectors.models import (
    LocationMapping,
    OutboxItem,
    SkuMapping,
    StatusChange,
    StatusRule,
    SyncProblem,
    SyncProblemKind,
    SyncRunKind,
)
from connectors.sync.setup import inbound_url, set_up_connector
from stock.models import ForcedStatus, MovementSource, ReasonCode, StockMovement
from tests.connectors.sync_support import (
    magento_connector,
    make_hub,
    push_all,
    woo_connector,
)
from tests.warehouses.factories import WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_setup_maps_matching_skus_and_reports_what_is_unmapped_on_both_sides(woo):
    hub = make_hub({"MUG": 10, "TEE-M": 4, "HUB-ONLY": 3})
    mug = woo.add_product("MUG", quantity=10)
    parent = woo.add_product("TEE", product_type="variable")
    tee = woo.add_variation(parent, "TEE-M", quantity=4)
    woo.add_product("STORE-ONLY", quantity=2)
    woo.add_product("", quantity=1)
    connector = woo_connector(woo, hub.channel)

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    assert (run.kind, run.is_ok) == (SyncRunKind.SETUP, True)
    mappings = {m.variant.sku: m for m in SkuMapping.objects.filter(connector=connector)}
    assert sorted(mappings) == ["MUG", "TEE-M"]
    assert (mappings["MUG"].remote_id, mappings["MUG"].parent_id) == (str(mug), "")
    assert (mappings["TEE-M"].remote_id, mappings["TEE-M"].parent_id) == (str(tee), str(parent))
    assert mappings["MUG"].last_confirmed == {"": 10}
    unmapped = run.details["unmapped"]
    assert {(e["side"], e["sku"], e["reason"]) for e in unmapped} == {
        ("store", "STORE-ONLY", "unknown_sku"),
        ("store", "", "no_sku"),
        ("hub", "HUB-ONLY", "no_mapping"),
    }
    assert (run.details["unmapped_store"], run.details["unmapped_hub"]) == (2, 1)
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.UNMAPPED)
    assert "STORE-ONLY" in problem.message and "HUB-ONLY" in problem.message


def test_setup_again_adds_only_new_matches(woo):
    hub = make_hub({"MUG": 10, "CUP": 5})
    woo.add_product("MUG", quantity=10)
    connector = woo_connector(woo, hub.channel)
    set_up_connector(connector_id=connector.pk, register_webhooks=False)
    woo.add_product("CUP", quantity=5)

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    assert [entry["sku"] for entry in run.details["created"]] == ["CUP"]
    assert run.details["already_mapped"] == 1
    assert SkuMapping.objects.filter(connector=connector).count() == 2


def test_first_push_after_setup_sends_only_values_that_differ(woo):
    hub = make_hub({"SAME": 7, "DIFF": 9})
    same = woo.add_product("SAME", quantity=7)
    diff = woo.add_product("DIFF", quantity=2)
    connector = woo_connector(woo, hub.channel)

    set_up_connector(connector_id=connector.pk, register_webhooks=False)
    push_all(connector)

    batches = woo.requests_to("/products/batch", "POST")
    assert len(batches) == 1
    assert [item["id"] for item in batches[0].json()["update"]] == [diff]
    assert woo.product_json(diff)["stock_quantity"] == 9
    assert woo.product_json(same)["stock_quantity"] == 7


def test_setup_of_a_store_owned_store_counts_its_quantities_into_the_hub(woo):
    hub = make_hub({"MUG": 10})
    woo.add_product("MUG", quantity=14)
    connector = woo_connector(woo, hub.channel, ownership="store")
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="")

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    movement = StockMovement.objects.get(source=MovementSource.CONNECTOR)
    assert (movement.reason, movement.delta_on_hand, movement.on_hand_after) == (
        ReasonCode.SYNC,
        4,
        14,
    )
    assert movement.reference.startswith(f"{connector.pk}:setup-{run.pk}:")


@pytest.mark.django_db(transaction=True)
def test_setup_registers_the_hubs_webhooks_at_its_public_url(woo, live_server, settings):
    settings.HUB_PUBLIC_BASE_URL = live_server.url + "/"
    hub = make_hub({"MUG": 1})
    connector = woo_connector(woo, hub.channel, webhook_secret="")

    run = set_up_connector(connector_id=connector.pk)
    again = set_up_connector(connector_id=connector.pk)

    connector.refresh_from_db()
    url = f"{live_server.url}/connectors/{connector.pk}/inbound/"
    assert inbound_url(connector) == url
    assert run.is_ok and again.is_ok
    assert len(connector.webhook_secret) >= 32  # generated: the store signs with it
    hooks = list(woo.webhooks.values())
    assert sorted(hook.topic for hook in hooks) == sorted(
        t["topic"] for t in run.details["webhooks"]
    )
    assert len(hooks) == 7  # registering again updated them instead of adding more
    assert {hook.delivery_url for hook in hooks} == {url}
    assert {hook.status for hook in hooks} == {"active"}
    assert {hook.secret for hook in hooks} == {connector.webhook_secret}
    pings = woo.deliveries_for(pings=True)
    assert pings and {ping.status for ping in pings} == {200}


def test_setup_without_a_public_url_registers_nothing_and_says_so(woo, settings):
    settings.HUB_PUBLIC_BASE_URL = ""
    hub = make_hub({"MUG": 1})
    connector = woo_connector(woo, hub.channel)

    run = set_up_connector(connector_id=connector.pk)

    assert run.is_ok
    assert woo.webhooks == {}
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.WEBHOOK_MISSING)
    assert "HUB_PUBLIC_BASE_URL" in problem.message


def test_setup_maps_magento_sources_to_warehouses_of_the_same_code_when_asked(magento):
    hub = make_hub({"LAMP": 3}, warehouse_code="BERLIN")
    WarehouseFactory(code="PARIS")
    magento.add_source("berlin")
    magento.add_source("paris")
    magento.add_source("tokyo")
    magento.add_source_item("LAMP", "berlin", 3)
    magento.add_source_item("LAMP", "paris", 0)
    magento.add_source_item("ROBOT", "berlin", 1)
    connector = magento_connector(magento, hub.channel)

    run = set_up_connector(connector_id=connector.pk, map_locations=True)

    locations = dict(
        LocationMapping.objects.filter(connector=connector).values_list(
            "location", "warehouse__code"
        )
    )
    assert locations == {"berlin": "BERLIN", "paris": "PARIS"}
    assert sorted(run.details["locations_unmatched"]) == ["default", "tokyo"]
    mapping = SkuMapping.objects.get(connector=connector)
    assert (mapping.variant.sku, mapping.remote_id) == ("LAMP", "LAMP")
    assert mapping.last_confirmed == {"berlin": 3, "paris": 0}
    assert run.details["unmapped"] == [
        {"side": "store", "sku": "ROBOT", "remote_id": "ROBOT", "reason": "unknown_sku"}
    ]


def test_setup_that_cannot_reach_the_store_fails_with_a_problem_and_maps_nothing(woo):
    hub = make_hub({"MUG": 1})
    woo.add_product("MUG", quantity=1)
    connector = woo_connector(woo, hub.channel)
    woo.stop()

    run = set_up_connector(connector_id=connector.pk)

    assert run.is_ok is False
    assert "RemoteUnavailable" in run.error
    assert not SkuMapping.objects.filter(connector=connector).exists()
    assert not OutboxItem.objects.exists()
    assert SyncProblem.objects.filter(
        connector=connector, kind=SyncProblemKind.SETUP_FAILED, resolved_at=None
    ).exists()


def _magento_channel_hub(magento, **fields):
    """A hub channel selling from BERLIN, and a Magento connector mapping source berlin."""
    hub = make_hub({"LAMP": 3}, warehouse_code=f"BER{SkuMapping.objects.count()}")
    magento.add_source("berlin")
    magento.add_source_item("LAMP", "berlin", 3)
    connector = magento_connector(magento, hub.channel, **fields)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="berlin")
    return hub, connector


def _stock_problems(connector):
    return list(
        SyncProblem.objects.filter(
            connector=connector, kind=SyncProblemKind.STOCK_UNMAPPED, resolved_at=None
        )
    )


def test_setup_maps_the_hub_channel_to_the_one_magento_stock_linking_its_sources(magento):
    _hub, connector = _magento_channel_hub(magento)
    magento.add_stock(2, "EU Stock")
    magento.link(2, "berlin")
    magento.link(2, "default")
    magento.add_stock(3, "Other")
    magento.link(3, "default")

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    connector.refresh_from_db()
    assert run.is_ok
    assert connector.options["stock_id"] == 2
    assert run.details["stock_id"] == 2
    assert _stock_problems(connector) == []


def test_setup_with_two_candidate_stocks_reports_them_and_sets_nothing(magento):
    _hub, connector = _magento_channel_hub(magento)
    magento.add_stock(2, "EU Stock")
    magento.link(2, "berlin")
    magento.add_stock(3, "Berlin Stock")
    magento.link(3, "berlin")

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    connector.refresh_from_db()
    assert run.is_ok and run.details["stock_id"] is None
    assert "stock_id" not in connector.options
    [problem] = _stock_problems(connector)
    assert "2 (EU Stock)" in problem.message and "3 (Berlin Stock)" in problem.message
    assert problem.details["candidates"] == [2, 3]


def test_setup_with_no_stock_linking_the_mapped_source_reports_it(magento):
    _hub, connector = _magento_channel_hub(magento)  # only Default Stock 1, linking default

    set_up_connector(connector_id=connector.pk, register_webhooks=False)

    connector.refresh_from_db()
    assert "stock_id" not in connector.options
    [problem] = _stock_problems(connector)
    assert "0 Magento stocks" in problem.message and "berlin" in problem.message


@pytest.mark.parametrize(
    ("stock_id", "reason"),
    [(9, "stock 9 does not exist"), (1, "does not link the mapped source(s) berlin")],
)
def test_setup_reports_a_stock_id_that_no_longer_fits_the_store(magento, stock_id, reason):
    _hub, connector = _magento_channel_hub(magento, options={"stock_id": stock_id})
    magento.add_stock(2, "EU Stock")
    magento.link(2, "berlin")

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    connector.refresh_from_db()
    assert run.is_ok and run.details["stock_id"] is None
    assert connector.options == {"stock_id": stock_id}  # left to ops, not replaced
    [problem] = _stock_problems(connector)
    assert reason in problem.message


def test_a_set_stock_id_that_fits_resolves_the_stock_problem(magento):
    _hub, connector = _magento_channel_hub(magento, options={"stock_id": 9})
    magento.add_stock(2, "EU Stock")
    magento.link(2, "berlin")
    set_up_connector(connector_id=connector.pk, register_webhooks=False)
    assert _stock_problems(connector)
    connector.options = {"stock_id": 2}
    connector.save(update_fields=["options"])

    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)

    assert run.details["stock_id"] == 2
    assert _stock_problems(connector) == []


def forced_on_magento(magento, *, owner_rule: bool):
    """LAMP forced out of stock on Magento before the hub is set up."""
    hub = make_hub({"LAMP": 5}, warehouse_code="FORCED")
    magento.add_source("forced")
    magento.add_source_item("LAMP", "forced", 5)
    magento.set_product_attribute("LAMP", "force_stock_status", "out_of_stock")
    connector = magento_connector(magento, hub.channel)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="forced")
    if owner_rule:
        StatusRule.objects.create(owner=connector, channel=hub.channel)
    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)
    assert run.is_ok
    push_all(connector)
    return hub, connector, run


def test_setup_takes_over_a_forced_status_of_the_store_that_owns_it(magento):
    hub, connector, run = forced_on_magento(magento, owner_rule=True)

    forced = ForcedStatus.objects.get(ended_at=None)
    assert (forced.variant.sku, forced.channel, forced.status) == (
        "LAMP",
        hub.channel,
        "out_of_stock",
    )
    change = StatusChange.objects.get()
    assert (change.connector, change.new_status, change.source) == (
        connector,
        "out_of_stock",
        f"setup-{run.pk}",
    )
    assert change.rule is not None
    assert run.details["forced_taken"] == [{"sku": "LAMP", "status": "out_of_stock"}]
    assert magento.product_attribute("LAMP", "force_stock_status") == "out_of_stock"


def test_setup_audits_and_reports_a_forced_status_it_replaces(magento):
    _hub, connector, run = forced_on_magento(magento, owner_rule=False)

    change = StatusChange.objects.get()
    assert (change.connector, change.rule, change.store_status) == (
        connector,
        None,
        "out_of_stock",
    )
    assert (change.previous_status, change.new_status) == ("", "")
    assert run.details["forced_replaced"] == [
        {"sku": "LAMP", "store": "out_of_stock", "hub": None, "locations": ["forced"]}
    ]
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.DRIFT)
    assert "LAMP (out_of_stock)" in problem.message
    assert not ForcedStatus.objects.exists()
    assert magento.product_attribute("LAMP", "force_stock_status") == ""
