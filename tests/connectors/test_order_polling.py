"""Magento's orders read every few seconds on their own: one incremental request, its own
cursor, its own cheap sweep, apart from the full stock poll."""

import time

import pytest

from connectors.magento.options import MagentoOptions
from connectors.models import Connector, LocationMapping
from connectors.sync.configure import InvalidConnectorSettings, check_store_settings
from connectors.sync.polling import due_order_poll_ids, poll_connector, poll_orders
from stock.models import Order
from tests.connectors.sync_support import MAGENTO_TOKEN, magento_connector, make_hub
from tests.fakes.magento import magento_time

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def polled_magento(magento, **options):
    hub = make_hub({"LAMP": 10}, warehouse_code="LAMPS")
    magento.add_source("lamps")
    magento.add_source_item("LAMP", "lamps", 10)
    connector = magento_connector(magento, hub.channel, poll_interval_seconds=300, options=options)
    LocationMapping.objects.create(connector=connector, warehouse=hub.warehouse, location="lamps")
    assert poll_connector(connector_id=connector.pk).status == "done"  # sets it up
    return hub, connector


def run_beat_and_worker(until, *, seconds: float, sweep_seconds: float = 1.0) -> float:
    """What beat and a worker do: sweep every `sweep_seconds`, poll what is due."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for connector_id in due_order_poll_ids():
            poll_orders(connector_id=connector_id)
        if until():
            return time.monotonic() - started
        time.sleep(sweep_seconds)
    raise AssertionError(f"not within {seconds} s")


def test_a_magento_order_reaches_the_hub_within_the_order_poll_interval(magento):
    hub, connector = polled_magento(magento, order_poll_interval_seconds=2)
    run_beat_and_worker(lambda: Connector.objects.get(pk=connector.pk).orders_pulled_at, seconds=5)
    stock_reads = len(magento.requests_to("/V1/inventory/source-items", "GET"))
    order_reads = len(magento.requests_to("/V1/orders", "GET"))

    magento.add_order(entity_id=700, state="new", items=[("LAMP", 3)], updated_at=magento_time())
    waited = run_beat_and_worker(
        lambda: Order.objects.filter(channel=hub.channel, reference="700").exists(), seconds=6
    )

    assert waited <= 3.5  # the 2 s interval plus the 1 s sweep, and a little slack
    assert hub.salable("LAMP") == 7
    # Orders only, incrementally: no stock read, and every orders read filters updated_at.
    assert len(magento.requests_to("/V1/inventory/source-items", "GET")) == stock_reads
    reads = magento.requests_to("/V1/orders", "GET")[order_reads:]
    assert reads
    for read in reads:
        assert read.arg("searchCriteria[filter_groups][0][filters][0][field]") == "updated_at"
        assert read.arg("searchCriteria[filter_groups][0][filters][0][condition_type]") == "gteq"


def test_the_order_sweep_is_one_query_when_nothing_is_due(magento, django_assert_num_queries):
    _hub, connector = polled_magento(magento, order_poll_interval_seconds=60)
    assert due_order_poll_ids() == [connector.pk]
    poll_orders(connector_id=connector.pk)

    with django_assert_num_queries(1):
        due = due_order_poll_ids()

    assert due == []


def test_a_connector_without_the_option_is_never_order_polled(magento):
    _hub, connector = polled_magento(magento)

    assert due_order_poll_ids() == []
    assert poll_orders(connector_id=connector.pk).status == "off"


def test_a_failed_order_read_keeps_its_cursor(magento):
    from tests.fakes.server import Fault

    _hub, connector = polled_magento(magento, order_poll_interval_seconds=2)
    poll_orders(connector_id=connector.pk)
    cursor = Connector.objects.get(pk=connector.pk).orders_pulled_at
    magento.inject(Fault(status=500, path_contains="/V1/orders"))

    report = poll_orders(connector_id=connector.pk)

    connector.refresh_from_db()
    assert report.status == "failed"
    assert connector.orders_pulled_at == cursor
    assert "500" in connector.last_error


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"order_poll_interval_seconds": 1}, "order_poll_interval_seconds"),
        ({"order_poll_interval_seconds": "5"}, "order_poll_interval_seconds"),
        ({"order_poll_interval_seconds": True}, "order_poll_interval_seconds"),
        ({"order_poll_interval_seconds": 4000}, "order_poll_interval_seconds"),
        ({"order_poll_intervall_seconds": 5}, "order_poll_intervall_seconds"),
    ],
)
def test_the_order_poll_option_is_checked(options, named):
    with pytest.raises(InvalidConnectorSettings) as refused:
        check_store_settings(
            kind="magento",
            base_url="https://shop.example.com",
            credentials={"token": MAGENTO_TOKEN},
            webhook_secret="",
            options=options,
            timeout_seconds=5.0,
        )

    assert named in str(refused.value)


def test_the_order_poll_option_is_read():
    options = MagentoOptions.from_config({"order_poll_interval_seconds": 3})

    assert options.order_poll_interval_seconds == 3
