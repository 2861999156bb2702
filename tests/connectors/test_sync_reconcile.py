"""Reconciliation against the real fake stores: drift found and fixed by ownership,
unmapped SKUs on both sides, status drift, the report and drift over time."""

import pytest

from connectors.models import (
    Connector,
    LocationMapping,
    ReconciliationReport,
    SkuMapping,
    StatusChange,
    SyncProblem,
    SyncProblemKind,
    SyncRunKind,
)
from connectors.sync.polling import poll_connector
from connectors.sync.reconcile import reconcile_connector
from connectors.sync.selectors import drift_history
from connectors.sync.setup import set_up_connector
from stock.models import MovementSource, ReasonCode, StockLevel, StockMovement
from stock.services import receive_stock
from tests.connectors.sync_support import (
    ACTOR,
    magento_connector,
    make_hub,
    push_all,
    woo_connector,
)
from tests.fakes.partner import FakePartner
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import ChannelWarehouseFactory, WarehouseFactory
from warehouses.models import SalesChannel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def magento_hub(magento, stock: dict[str, int], **fields):
    hub = make_hub(stock, warehouse_code=f"M{len(stock)}{sorted(stock)[0]}")
    magento.add_source("main")
    for sku, quantity in stock.items():
        magento.add_source_item(sku, "main", quantity)
    connector = magento_connector(magento, hub.channel, **fields)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="main")
    assert set_up_connector(connector_id=connector.pk, register_webhooks=False).is_ok
    return hub, connector


def findings(report) -> dict[str, dict]:
    return {entry["sku"]: entry for entry in report.details}


def test_hub_owned_quantity_changed_behind_the_hubs_back_is_found_and_overwritten(magento):
    _hub, connector = magento_hub(magento, {"LAMP": 8, "DESK": 3})
    magento.set_quantity("LAMP", "main", 5)

    report = reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    assert (report.is_ok, report.checked, report.drifted, report.corrected) == (True, 2, 1, 1)
    entry = findings(report)["LAMP"]
    assert entry["finding"] == "drift"
    assert (entry["store_quantity"], entry["hub_quantity"], entry["action"]) == (
        5,
        8,
        "overwrite_queued",
    )
    assert "DESK" not in findings(report)  # in sync: counted, not listed
    assert magento.source_item("LAMP", "main")["quantity"] == 8
    assert report.sync_run.kind == SyncRunKind.RECONCILE and report.sync_run.is_ok
    assert not StockMovement.objects.filter(source=MovementSource.CONNECTOR).exists()


def test_store_owned_quantity_changed_on_the_store_becomes_a_sync_count(woo):
    hub = make_hub({"MUG": 10})
    product = woo.add_product("MUG", quantity=10)
    connector = woo_connector(woo, hub.channel, ownership="store")
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="")
    set_up_connector(connector_id=connector.pk, register_webhooks=False)
    with woo.lock:  # behind everyone's back: no webhook, no date change
        woo.products[product].stock_quantity = 13

    report = reconcile_connector(connector_id=connector.pk)
    again = reconcile_connector(connector_id=connector.pk)

    assert (report.drifted, report.corrected) == (1, 1)
    entry = findings(report)["MUG"]
    assert entry["action"] == "count_movement"
    assert (entry["hub_on_hand_before"], entry["hub_on_hand_after"]) == (10, 13)
    movement = StockMovement.objects.get(pk=entry["movement"])
    assert (movement.reason, movement.delta_on_hand) == (ReasonCode.SYNC, 3)
    assert StockLevel.objects.get(variant=hub.variants["MUG"]).on_hand == 13
    assert (again.drifted, again.corrected) == (0, 0)


def test_unmapped_skus_on_either_side_and_missing_products_are_reported(magento):
    hub, connector = magento_hub(magento, {"LAMP": 2, "GONE": 1})
    magento.add_source_item("STORE-ONLY", "main", 4)
    magento.add_source("elsewhere")
    magento.add_source_item("LAMP", "elsewhere", 9)
    hub_only = VariantFactory(sku="HUB-ONLY")
    receive_stock(variant=hub_only, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    with magento.lock:
        del magento.source_items[("GONE", "main")]

    report = reconcile_connector(connector_id=connector.pk)

    unmapped = {(e["side"], e["sku"], e["reason"]) for e in report.unmapped}
    assert unmapped == {
        ("store", "STORE-ONLY", "no_mapping"),
        ("store", "LAMP", "unmapped_location"),
        ("hub", "GONE", "not_on_store"),
        ("hub", "HUB-ONLY", "no_mapping"),
    }
    assert report.sync_run.details["unmapped_store"] == 2
    problem = SyncProblem.objects.filter(connector=connector, kind=SyncProblemKind.UNMAPPED)
    assert problem.filter(details__report=report.pk).exists()


def test_forced_status_changed_on_a_store_that_does_not_own_it_is_overwritten(magento):
    _hub, connector = magento_hub(magento, {"LAMP": 8})
    push_all(connector)
    magento.set_product_attribute("LAMP", "force_stock_status", "out_of_stock")

    report = reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    entry = findings(report)["LAMP"]
    assert (entry["finding"], entry["store_forced_status"]) == ("drift", "out_of_stock")
    assert magento.product_attribute("LAMP", "force_stock_status") == ""
    assert (report.drifted, report.corrected) == (1, 1)


def test_drift_over_time_is_one_point_per_run(magento):
    _hub, connector = magento_hub(magento, {"LAMP": 8, "DESK": 3})
    first = reconcile_connector(connector_id=connector.pk)
    magento.set_quantity("LAMP", "main", 1)
    magento.set_quantity("DESK", "main", 1)
    second = reconcile_connector(connector_id=connector.pk)
    push_all(connector)
    third = reconcile_connector(connector_id=connector.pk)

    points = drift_history(connector)

    assert [(p.report_id, p.checked, p.drifted, p.corrected) for p in points] == [
        (first.pk, 2, 0, 0),
        (second.pk, 2, 2, 2),
        (third.pk, 2, 0, 0),
    ]


def test_a_partner_without_a_feed_cannot_be_reconciled_and_says_why():
    hub = make_hub({"MUG": 1})
    with FakePartner(secret="s") as partner:
        connector = Connector.objects.create(
            name="partner",
            kind="partner",
            base_url=partner.base_url,
            webhook_secret="s",
            channel=hub.channel,
            options={"push_url": "/push"},
        )
        SkuMapping.objects.create(connector=connector, variant=hub.variants["MUG"], remote_id="MUG")

        report = reconcile_connector(connector_id=connector.pk)

    assert report.is_ok is False
    assert "feed_url" in report.error
    assert ReconciliationReport.objects.get(pk=report.pk).finished_at is not None
    assert SyncProblem.objects.filter(
        connector=connector, kind=SyncProblemKind.RECONCILE_FAILED
    ).exists()


def magento_stock_hub(magento, stock: dict[str, int]):
    """magento_hub whose source `main` is linked to stock 2 only, so setup maps stock 2."""
    magento.add_stock(2, "Hub Stock")
    magento.link(2, "main")
    hub, connector = magento_hub(magento, stock)
    connector.refresh_from_db()
    assert connector.options["stock_id"] == 2
    return hub, connector


def test_magento_salable_quantity_on_the_mapped_stock_is_compared_and_reported(magento):
    _hub, connector = magento_stock_hub(magento, {"LAMP": 8, "DESK": 3})
    magento.add_reservation("LAMP", 2, -2)  # an order placed in Magento, not in the hub
    magento.add_reservation("DESK", 1, -3)  # on another stock: not this channel's

    report = reconcile_connector(connector_id=connector.pk)

    assert (report.is_ok, report.checked, report.drifted, report.corrected) == (True, 2, 0, 0)
    entry = findings(report)["LAMP"]
    assert entry["finding"] == "salable_differs"
    assert (entry["stock_id"], entry["store_salable"], entry["hub_salable"]) == (2, 6, 8)
    assert entry["action"] == "none"
    assert "DESK" not in findings(report)
    details = report.sync_run.details
    assert (details["salable_compared"], details["salable_differs"]) == (2, 1)
    assert magento.source_item("LAMP", "main")["quantity"] == 8  # report only


def test_the_channel_buffer_is_not_reported_as_a_magento_salable_difference(magento):
    hub, connector = magento_stock_hub(magento, {"LAMP": 8, "DESK": 3})
    SalesChannel.objects.filter(pk=hub.channel.pk).update(safety_buffer=2)
    magento.add_reservation("DESK", 2, -1)  # an order the hub has not heard of: real

    report = reconcile_connector(connector_id=connector.pk)

    assert "LAMP" not in findings(report)
    entry = findings(report)["DESK"]
    assert entry["finding"] == "salable_differs"
    assert (entry["store_salable"], entry["hub_salable"], entry["channel_salable"]) == (2, 3, 1)
    details = report.sync_run.details
    assert (details["salable_compared"], details["salable_differs"]) == (2, 1)
    assert details["salable_channel_buffer"] == 2


def test_salable_comparison_takes_drifted_skus_first_within_its_limit(magento, monkeypatch):
    monkeypatch.setattr("connectors.sync.reconcile.SALABLE_CHECK_LIMIT", 1)
    _hub, connector = magento_stock_hub(magento, {"LAMP": 8, "DESK": 3})
    magento.set_quantity("DESK", "main", 1)  # drift: DESK must be the one compared
    magento.add_reservation("DESK", 2, -1)

    report = reconcile_connector(connector_id=connector.pk)

    details = report.sync_run.details
    assert (details["salable_compared"], details["salable_left_out"]) == (1, 1)
    salable = [e for e in report.details if e["finding"] == "salable_differs"]
    assert [(e["sku"], e["store_salable"], e["hub_salable"]) for e in salable] == [("DESK", 0, 3)]


def test_a_mapped_stock_gone_from_magento_is_reported_by_reconciliation(magento):
    _hub, connector = magento_stock_hub(magento, {"LAMP": 8})
    with magento.lock:
        del magento.stocks[2]

    report = reconcile_connector(connector_id=connector.pk)

    assert report.is_ok
    [entry] = [e for e in report.details if e["finding"] == "salable_not_compared"]
    assert "does not exist" in entry["note"]
    assert SyncProblem.objects.filter(
        connector=connector, kind=SyncProblemKind.STOCK_UNMAPPED, resolved_at=None
    ).exists()


def magento_sources_hub(magento, sku: str, per_source: dict[str, int]):
    """One SKU stocked in a warehouse per Magento source, all sold on one channel."""
    first, *others = sorted(per_source)
    hub = make_hub({sku: per_source[first]}, warehouse_code=first.upper())
    warehouses = {first: hub.warehouse}
    for code in others:
        warehouse = WarehouseFactory(code=code.upper())
        ChannelWarehouseFactory(channel=hub.channel, warehouse=warehouse)
        stocked(hub.variants[sku], warehouse, per_source[code])
        warehouses[code] = warehouse
    connector = magento_connector(magento, hub.channel)
    for code, quantity in per_source.items():
        magento.add_source_item(sku, code, quantity)
        LocationMapping.objects.create(
            connector=connector, warehouse=warehouses[code], location=code
        )
    assert set_up_connector(connector_id=connector.pk, register_webhooks=False).is_ok
    push_all(connector)
    return hub, connector


def test_a_forced_status_difference_is_one_drift_per_product_naming_its_sources(magento):
    sources = {f"src{number}": number for number in range(1, 7)}
    _hub, connector = magento_sources_hub(magento, "LAMP", sources)
    magento.set_product_attribute("LAMP", "force_stock_status", "out_of_stock")

    report = reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    assert (report.checked, report.drifted, report.corrected) == (1, 1, 1)
    [entry] = report.details
    assert (entry["finding"], entry["action"]) == ("drift", "overwrite_queued")
    assert (entry["store_forced_status"], entry["hub_forced_status"]) == ("out_of_stock", None)
    assert sorted(entry["locations"]) == sorted(sources)
    assert magento.product_attribute("LAMP", "force_stock_status") == ""
    [audit] = StatusChange.objects.all()  # erased, but never without an audit row
    assert (audit.store_status, audit.new_status, audit.rule) == ("out_of_stock", "", None)
    assert audit.source == f"reconcile-{report.pk}"


def test_a_store_switching_manage_stock_is_followed_and_pushed_accordingly(woo):
    hub = make_hub({"MUG": 0})  # the hub has none to sell
    product = woo.add_product("MUG", quantity=0)
    connector = woo_connector(woo, hub.channel)
    assert set_up_connector(connector_id=connector.pk, register_webhooks=False).is_ok
    push_all(connector)
    woo.advance_clock(5)
    woo.set_stock(product, manage_stock=False, stock_status="instock")

    poll_connector(connector_id=connector.pk)
    push_all(connector)

    assert SkuMapping.objects.get(connector=connector).is_managed is False
    assert woo.product_json(product)["stock_status"] == "outofstock"

    with woo.lock:  # counted again, behind everyone's back
        woo.products[product].manage_stock = True
        woo.products[product].stock_quantity = 5
    report = reconcile_connector(connector_id=connector.pk)
    push_all(connector)

    entry = findings(report)["MUG"]
    assert (entry["finding"], entry["action"]) == ("drift", "manage_stock_followed")
    assert (report.drifted, report.corrected) == (1, 1)
    assert SkuMapping.objects.get(connector=connector).is_managed is True
    assert woo.product_json(product)["stock_quantity"] == 0
