"""Polling real fake stores: incremental reads, the inbound rules, the beat sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import (
    Connector,
    LocationMapping,
    OutboxItem,
    SyncProblem,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from connectors.sync.polling import due_connector_ids, poll_connector
from connectors.sync.selectors import sync_health
from connectors.sync.setup import set_up_connector
from stock.models import MovementSource, Order, OrderStatus, ReasonCode, StockMovement
from tests.connectors.sync_support import (
    magento_connector,
    make_hub,
    push_all,
    woo_connector,
)
from tests.fakes.server import Fault

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def set_up(connector):
    # No webhooks are registered in these tests: polling is all the hub hears.
    run = set_up_connector(connector_id=connector.pk, register_webhooks=False)
    assert run.is_ok, run.error
    connector.refresh_from_db()
    return connector


def stock_reads(woo) -> list:
    """Product list reads, without setup's connection test (one product)."""
    return [
        r
        for r in woo.requests_to("/products", "GET")
        if r.path.endswith("/products") and r.arg("per_page") != "1"
    ]


def test_a_never_set_up_connector_is_set_up_by_its_first_poll(woo):
    hub = make_hub({"MUG": 5})
    woo.add_product("MUG", quantity=5)
    connector = woo_connector(woo, hub.channel)

    report = poll_connector(connector_id=connector.pk)

    assert report.status == "done"
    assert connector.sku_mappings.get().variant.sku == "MUG"
    kinds = list(SyncRun.objects.filter(connector=connector).values_list("kind", flat=True))
    assert sorted(kinds) == sorted([SyncRunKind.SETUP, SyncRunKind.POLL])


def test_store_owned_stock_changed_on_the_store_becomes_a_sync_count(woo):
    hub = make_hub({"MUG": 10})
    product = woo.add_product("MUG", quantity=10)
    connector = woo_connector(woo, hub.channel, ownership="store")
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="")
    set_up(connector)
    woo.advance_clock(5)
    woo.set_stock(product, stock_quantity=6)

    report = poll_connector(connector_id=connector.pk)
    again = poll_connector(connector_id=connector.pk)

    assert (report.status, report.counted) == ("done", 1)
    assert again.counted == 0
    movement = StockMovement.objects.get(source=MovementSource.CONNECTOR)
    assert (movement.reason, movement.delta_on_hand, movement.on_hand_after) == (
        ReasonCode.SYNC,
        -4,
        6,
    )
    assert movement.reference.startswith(f"{connector.pk}:poll-{report.sync_run_id}:")


def test_polls_read_only_what_changed_since_the_last_one(woo, settings):
    settings.CONNECTORS_POLL_OVERLAP_SECONDS = 30
    hub = make_hub({"MUG": 5})
    woo.add_product("MUG", quantity=5)
    connector = set_up(woo_connector(woo, hub.channel))

    first = poll_connector(connector_id=connector.pk)
    second = poll_connector(connector_id=connector.pk)
    full = poll_connector(connector_id=connector.pk, full=True)

    reads = stock_reads(woo)
    # setup, first poll (no cursor yet), second poll (incremental), full poll
    assert [r.arg("modified_after") is not None for r in reads] == [False, False, True, False]
    connector.refresh_from_db()
    run = SyncRun.objects.get(pk=first.sync_run_id)
    assert second.stock_since == (run.started_at - timedelta(seconds=30)).isoformat()
    assert reads[2].arg("dates_are_gmt") == "true"
    assert full.stock_since is None
    assert connector.last_pull_at == SyncRun.objects.get(pk=full.sync_run_id).started_at


def test_orders_placed_on_the_store_since_setup_are_placed_in_the_hub_once(woo, settings):
    settings.CONNECTORS_POLL_OVERLAP_SECONDS = 0
    hub = make_hub({"MUG": 10})
    woo.add_product("MUG", quantity=10)
    woo.advance_clock(-3600)
    old_order = woo.create_order([("MUG", 1)], status="completed")
    woo.advance_clock(3600)
    connector = set_up(woo_connector(woo, hub.channel))
    woo.advance_clock(2)
    new_order = woo.create_order([("MUG", 3)], status="processing")

    report = poll_connector(connector_id=connector.pk)
    poll_connector(connector_id=connector.pk, full=True)

    assert report.orders == 1
    orders = Order.objects.filter(channel=hub.channel)
    assert [(o.reference, o.status) for o in orders] == [(str(new_order), OrderStatus.PAID)]
    assert not orders.filter(reference=str(old_order)).exists()
    assert hub.salable("MUG") == 7


def test_hub_owned_drift_read_by_a_poll_is_overwritten(magento):
    hub = make_hub({"LAMP": 8}, warehouse_code="LAMPS")
    magento.add_source("lamps")
    magento.add_source_item("LAMP", "lamps", 8)
    connector = magento_connector(magento, hub.channel)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="lamps")
    set_up(connector)
    magento.set_quantity("LAMP", "lamps", 12)

    report = poll_connector(connector_id=connector.pk)
    push_all(connector)

    assert report.drifted == 1
    assert magento.source_item("LAMP", "lamps")["quantity"] == 8
    assert SyncProblem.objects.filter(connector=connector, kind=SyncProblemKind.DRIFT).exists()


def test_a_lower_figure_read_by_a_poll_is_kept_as_unreported_sales(magento):
    hub = make_hub({"LAMP": 8}, warehouse_code="LAMPS")
    magento.add_source("lamps")
    magento.add_source_item("LAMP", "lamps", 8)
    connector = magento_connector(magento, hub.channel)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="lamps")
    set_up(connector)
    magento.set_quantity("LAMP", "lamps", 2)

    report = poll_connector(connector_id=connector.pk)
    push_all(connector)

    assert report.drifted == 0
    assert magento.source_item("LAMP", "lamps")["quantity"] == 2
    assert not SyncProblem.objects.filter(connector=connector, kind=SyncProblemKind.DRIFT).exists()


def test_unmapped_store_items_are_reported_once_per_open_problem(woo):
    hub = make_hub({"MUG": 1})
    woo.add_product("MUG", quantity=1)
    connector = set_up(woo_connector(woo, hub.channel))
    SyncProblem.objects.all().delete()
    woo.add_product("NEW-ON-STORE", quantity=3)

    report = poll_connector(connector_id=connector.pk, full=True)
    poll_connector(connector_id=connector.pk, full=True)

    assert report.unmapped == ["NEW-ON-STORE"]
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.UNMAPPED)
    assert "NEW-ON-STORE" in problem.message


def test_a_failed_poll_keeps_its_cursor_and_reports_then_recovers(woo):
    hub = make_hub({"MUG": 1})
    woo.add_product("MUG", quantity=1)
    connector = set_up(woo_connector(woo, hub.channel))
    poll_connector(connector_id=connector.pk)
    connector.refresh_from_db()
    cursor = connector.last_pull_at
    woo.inject(Fault(status=500, times=1, path_contains="/products"))

    failed = poll_connector(connector_id=connector.pk)
    connector.refresh_from_db()
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.POLL_FAILED)
    recovered = poll_connector(connector_id=connector.pk)

    assert failed.status == "failed"
    assert connector.last_pull_at == cursor
    assert "500" in connector.last_error
    assert recovered.status == "done"
    problem.refresh_from_db()
    assert problem.resolved_at is not None


def test_a_refused_orders_read_fails_only_its_part_and_the_stock_read_still_counts(woo, settings):
    settings.CONNECTORS_POLL_OVERLAP_SECONDS = 0
    hub = make_hub({"MUG": 10})
    woo.add_product("MUG", quantity=10)
    connector = set_up(woo_connector(woo, hub.channel))
    poll_connector(connector_id=connector.pk)
    connector.refresh_from_db()
    orders_cursor = connector.orders_pulled_at
    woo.advance_clock(2)
    order = woo.create_order([("MUG", 3)], status="processing")
    woo.inject(Fault(status=401, times=1, path_contains="/orders"))

    failed = poll_connector(connector_id=connector.pk)
    connector.refresh_from_db()
    health = sync_health(connector)
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.POLL_FAILED)
    recovered = poll_connector(connector_id=connector.pk)

    assert failed.status == "failed"
    assert list(failed.failed_parts) == ["orders"] and "401" in failed.failed_parts["orders"]
    assert connector.last_pull_at == SyncRun.objects.get(pk=failed.sync_run_id).started_at
    assert connector.orders_pulled_at == orders_cursor
    assert list(health.failed_poll_parts) == ["orders"]
    assert problem.message.startswith(f"Polling {connector.name}: orders: ")
    assert problem.details["failed_parts"] == failed.failed_parts
    # The orders cursor stayed put, so the next poll reads the order the refused one missed.
    assert recovered.status == "done" and recovered.orders == 1
    assert Order.objects.get(reference=str(order)).status == OrderStatus.PAID
    problem.refresh_from_db()
    assert problem.resolved_at is not None
    assert sync_health(connector).failed_poll_parts == {}


def test_the_same_unmapped_item_found_by_every_poll_is_one_problem_counted(woo):
    hub = make_hub({"MUG": 1})
    woo.add_product("MUG", quantity=1)
    connector = set_up(woo_connector(woo, hub.channel))
    SyncProblem.objects.all().delete()
    woo.add_product("NEW-ON-STORE", quantity=3)

    for _ in range(3):
        poll_connector(connector_id=connector.pk, full=True)

    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.UNMAPPED)
    assert problem.count == 3
    assert problem.last_seen_at > problem.created_at


def test_sweeper_polls_each_connector_when_its_interval_has_passed(woo):
    hub = make_hub({"MUG": 1})
    every_minute = woo_connector(woo, hub.channel, poll_interval_seconds=60)
    never = woo_connector(woo, hub.channel, poll_interval_seconds=0)
    inactive = woo_connector(woo, hub.channel, poll_interval_seconds=60, is_active=False)
    now = timezone.now()

    due_before = due_connector_ids(now=now)
    SyncRun.objects.create(connector=every_minute, kind=SyncRunKind.POLL, started_at=now)
    due_soon = due_connector_ids(now=now + timedelta(seconds=30))
    due_later = due_connector_ids(now=now + timedelta(seconds=61))

    assert every_minute.pk in due_before
    assert never.pk not in due_before and inactive.pk not in due_before
    assert every_minute.pk not in due_soon
    assert every_minute.pk in due_later


def test_inactive_connector_is_not_polled(woo):
    hub = make_hub({"MUG": 1})
    connector = woo_connector(woo, hub.channel, is_active=False)

    report = poll_connector(connector_id=connector.pk)

    assert report.status == "inactive"
    assert woo.requests == []
    assert not OutboxItem.objects.exists()
    assert Connector.objects.get(pk=connector.pk).last_pull_at is None
