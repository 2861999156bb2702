"""Outbox rows are written with the stock change, coalesce, and cost nothing when unused."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from connectors.models import Connector, OutboxItem, OutboxState, SkuMapping
from connectors.outbox import (
    enqueue_connector_pushes,
    enqueue_recent_mappings,
    enqueue_stock_pushes,
    forget_mapping_state,
)
from connectors.registry import build_connector, connector_class, kind_spec
from stock.actors import Actor
from stock.services import adjust_stock, receive_stock
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import (
    KIND,
    EngineTestConnector,
    make_hub,
)
from tests.stock.factories import VariantFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.usefixtures("engine_kinds")]
ACTOR = Actor.system("tests")
engine_kinds = engine_fakes.engine_kinds


def pending_rows(connector):
    return list(OutboxItem.objects.filter(connector=connector, state=OutboxState.PENDING))


def test_stock_change_writes_an_outbox_row_in_its_transaction():
    hub = make_hub(None)

    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=3, actor=ACTOR)

    rows = pending_rows(hub.connector)
    assert [(row.variant_id, row.change_count) for row in rows] == [(hub.variant.pk, 1)]


def test_rolled_back_stock_change_leaves_no_outbox_row():
    hub = make_hub(None)

    with pytest.raises(RuntimeError), transaction.atomic():
        receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=3, actor=ACTOR)
        assert len(pending_rows(hub.connector)) == 1
        raise RuntimeError("the caller's transaction fails after the change")

    assert pending_rows(hub.connector) == []
    assert OutboxItem.objects.filter(connector=hub.connector).count() == 0


def test_many_changes_of_one_sku_coalesce_into_one_pending_row():
    hub = make_hub(None)

    for _ in range(5):
        receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    adjust_stock(
        variant=hub.variant, warehouse=hub.warehouse, delta=-2, reason="damaged", actor=ACTOR
    )

    rows = pending_rows(hub.connector)
    assert [(row.variant_id, row.change_count) for row in rows] == [(hub.variant.pk, 6)]


def test_a_sent_row_does_not_absorb_later_changes():
    hub = make_hub(None)
    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    OutboxItem.objects.filter(connector=hub.connector).update(state=OutboxState.SENT)

    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    states = sorted(
        OutboxItem.objects.filter(connector=hub.connector).values_list("state", "change_count")
    )
    assert states == [(OutboxState.PENDING, 1), (OutboxState.SENT, 1)]


def test_unmapped_variants_and_inactive_connectors_get_no_row():
    hub = make_hub(None, skus=("SKU-A", "SKU-B"))
    Connector.objects.filter(pk=hub.connector.pk).update(is_active=False)
    unmapped = VariantFactory()

    receive_stock(variant=hub.variants[0], warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    receive_stock(variant=unmapped, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    assert OutboxItem.objects.count() == 0


def test_a_connector_whose_store_owns_all_it_shows_never_gets_a_row():
    hub = make_hub(None, skus=("SKU-A", "SKU-B"), ownership="store", locations=[("", None)])

    receive_stock(variant=hub.variants[0], warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    touched = enqueue_connector_pushes(hub.connector.pk)

    assert touched == 0
    assert OutboxItem.objects.count() == 0


def test_a_store_owned_connector_with_a_location_the_hub_owns_gets_rows():
    hub = make_hub(None, ownership="store", locations=[("", False)])

    receive_stock(variant=hub.variant, warehouse=hub.warehouse, quantity=1, actor=ACTOR)

    assert [row.variant_id for row in pending_rows(hub.connector)] == [hub.variant.pk]


def test_enqueue_is_one_statement_when_something_is_mapped():
    hub = make_hub(None, skus=("SKU-A", "SKU-B"))

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        enqueue_stock_pushes([variant.pk for variant in hub.variants])
        enqueue_stock_pushes([hub.variants[0].pk])

    assert len(queries.captured_queries) == 2
    assert sorted(row.change_count for row in pending_rows(hub.connector)) == [1, 2]


def test_enqueue_costs_no_statement_while_nothing_is_mapped():
    variant = VariantFactory()
    forget_mapping_state()
    with CaptureQueriesContext(connection) as first:
        enqueue_stock_pushes([variant.pk])

    with CaptureQueriesContext(connection) as later:
        for _ in range(10):
            enqueue_stock_pushes([variant.pk])

    assert len(first.captured_queries) == 1  # learns that nothing is mapped
    assert later.captured_queries == []
    assert OutboxItem.objects.count() == 0


def test_recent_mapping_catch_up_covers_changes_a_stale_process_skipped(settings):
    settings.CONNECTORS_MAPPING_CHECK_SECONDS = 60
    variant = VariantFactory()
    hub = make_hub(None, skus=())
    enqueue_stock_pushes([variant.pk])  # this process now believes nothing is mapped
    SkuMapping.objects.create(connector=hub.connector, variant=variant, remote_id="late")
    # No forget_mapping_state(): as if the mapping was made by another process.

    receive_stock(variant=variant, warehouse=hub.warehouse, quantity=2, actor=ACTOR)
    skipped = pending_rows(hub.connector)
    enqueue_recent_mappings()

    assert skipped == []
    rows = pending_rows(hub.connector)
    assert [row.variant_id for row in rows] == [variant.pk]
    # Due only once every process has re-read that something is mapped.
    assert (rows[0].due_at - rows[0].created_at).total_seconds() >= 59


def test_connector_pushes_keep_the_later_due_time_of_a_pending_row():
    hub = make_hub(None, skus=("SKU-A", "SKU-B"))
    receive_stock(variant=hub.variants[0], warehouse=hub.warehouse, quantity=1, actor=ACTOR)
    before = pending_rows(hub.connector)[0]

    touched = enqueue_connector_pushes(hub.connector.pk, delay_seconds=30)

    assert touched == 2
    rows = {row.variant_id: row for row in pending_rows(hub.connector)}
    assert rows[hub.variants[0].pk].change_count == 2
    assert rows[hub.variants[0].pk].due_at > before.due_at
    assert rows[hub.variants[1].pk].change_count == 1


def test_registry_builds_the_store_class_from_a_connector_row():
    hub = make_hub(None)

    store = build_connector(hub.connector)

    assert isinstance(store, EngineTestConnector)
    assert store.config.webhook_secret == hub.connector.webhook_secret
    assert store.config.timeout_seconds == hub.connector.timeout_seconds
    assert connector_class(KIND) is EngineTestConnector
    assert kind_spec("magento").class_path == "connectors.magento.MagentoConnector"
    assert "secret" not in repr(hub.connector)


def test_channel_settings_and_warehouse_switches_queue_every_mapped_sku():
    from warehouses.services import update_channel, update_warehouse

    hub = make_hub(None, skus=("A", "B"))

    update_channel(channel=hub.channel, safety_buffer=2)
    after_channel = sorted(row.variant_id for row in pending_rows(hub.connector))
    OutboxItem.objects.all().delete()
    update_warehouse(warehouse=hub.warehouse, is_active=False)
    after_warehouse = sorted(row.variant_id for row in pending_rows(hub.connector))

    expected = sorted(variant.pk for variant in hub.variants)
    assert after_channel == after_warehouse == expected


def test_channel_change_that_cannot_alter_salable_queues_nothing():
    from warehouses.services import update_channel

    hub = make_hub(None)

    update_channel(channel=hub.channel, name="Renamed")

    assert pending_rows(hub.connector) == []


def test_kicks_are_throttled_per_connector_but_the_last_one_is_never_dropped(monkeypatch):
    import time

    from connectors import outbox

    sent: list[int] = []
    monkeypatch.setattr(outbox, "_send_kicks", lambda ids: sent.extend(ids))
    kicker = outbox._Kicker()

    for _ in range(20):
        kicker.kick([7])
    kicker.kick([8])
    immediately = list(sent)
    time.sleep(outbox.kick_interval_seconds() + 0.2)

    assert immediately == [7, 8]
    assert sent == [7, 8, 7]  # one trailing kick carries the 19 held back


def test_orders_placed_and_holds_expired_write_outbox_rows():
    from datetime import timedelta

    from django.utils import timezone

    from stock.services.orders import OrderLineInput, place_order, release_expired_holds

    hub = make_hub(None)
    place_order(
        channel=hub.connector.channel,
        reference="EXPIRES",
        lines=[OrderLineInput(sku=hub.variant.sku, quantity=2)],
        actor=ACTOR,
    )
    OutboxItem.objects.filter(connector=hub.connector).update(state=OutboxState.SENT)

    released = release_expired_holds(now=timezone.now() + timedelta(days=1))

    assert released == 1
    assert [(row.variant_id, row.change_count) for row in pending_rows(hub.connector)] == [
        (hub.variant.pk, 1)
    ]


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_outside_a_transaction_writes_its_outbox_row_in_its_own():
    from stock.services.orders import OrderLineInput, place_order

    hub = make_hub(None)
    for reference in ("FIRST", "SECOND"):  # the second in the one-warehouse fast path
        place_order(
            channel=hub.connector.channel,
            reference=reference,
            lines=[OrderLineInput(sku=hub.variant.sku, quantity=1)],
            actor=ACTOR,
        )

    assert [(row.variant_id, row.change_count) for row in pending_rows(hub.connector)] == [
        (hub.variant.pk, 2)
    ]
