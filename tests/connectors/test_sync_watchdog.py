"""The webhook watchdog against the WooCommerce fake, which disables a webhook after
repeated failed deliveries exactly as WooCommerce does."""

import pytest

from connectors.models import Connector, SyncProblem, SyncProblemKind, SyncRun, SyncRunKind
from connectors.sync import tasks as sync_tasks
from connectors.sync.polling import poll_connector
from connectors.sync.setup import set_up_connector
from connectors.sync.watchdog import check_webhooks, watched_connector_ids
from stock.models import Order, OrderStatus
from tests.connectors.sync_support import magento_connector, make_hub, woo_connector
from tests.fakes.magento import FakeMagento
from tests.fakes.woocommerce import FakeWooCommerce

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def woo():
    with FakeWooCommerce(delivery_mode="sync", delivery_timeout_seconds=2) as store:
        yield store


@pytest.fixture
def queued_polls(monkeypatch):
    """Polls the watchdog queues (the poll itself is tested on its own)."""
    queued = []
    monkeypatch.setattr(sync_tasks.poll_connector_task, "delay", queued.append)
    return queued


@pytest.fixture
def registered(woo, live_server, settings):
    settings.HUB_PUBLIC_BASE_URL = live_server.url
    hub = make_hub({"MUG": 5})
    product = woo.add_product("MUG", quantity=5)
    connector = woo_connector(woo, hub.channel)
    assert set_up_connector(connector_id=connector.pk).is_ok
    return connector, product


def test_a_webhook_the_store_disabled_after_failed_deliveries_is_re_enabled(
    woo, registered, queued_polls
):
    connector, product = registered
    # The hub turns the store away (connector switched off: 404) until the store gives up.
    Connector.objects.filter(pk=connector.pk).update(is_active=False)
    missed_order = woo.create_order([("MUG", 2)], status="processing")
    for quantity in range(7):
        woo.set_stock(product, stock_quantity=quantity + 10)
    hook = next(h for h in woo.webhooks.values() if h.topic == "product.updated")
    assert hook.status == "disabled"
    Connector.objects.filter(pk=connector.pk).update(is_active=True)

    report = check_webhooks(connector_id=connector.pk)

    assert report.reactivated == [
        {"id": str(hook.id), "topic": "product.updated", "was": "disabled"}
    ]
    assert woo.webhook(hook.id).status == "active"
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.WEBHOOK_DISABLED)
    assert "product.updated" in problem.message
    assert queued_polls == [connector.pk]  # what the store did meanwhile is read now
    run = SyncRun.objects.get(connector=connector, kind=SyncRunKind.WATCHDOG)
    assert (run.is_ok, run.changed_count) == (True, 1)
    woo.set_stock(product, stock_quantity=9)
    assert woo.deliveries_for("product.updated")[-1].status == 200
    # WooCommerce never redelivers: the order placed while the hub was unreachable reaches
    # it through the poll the watchdog queued.
    assert not Order.objects.filter(reference=str(missed_order)).exists()
    poll_connector(connector_id=queued_polls[0])
    assert Order.objects.get(reference=str(missed_order)).status == OrderStatus.PAID


def test_a_webhook_the_merchant_paused_is_left_paused_and_reported(woo, registered, queued_polls):
    connector, _ = registered
    paused = next(h for h in woo.webhooks.values() if h.topic == "order.created")
    with woo.lock:
        paused.status = "paused"

    report = check_webhooks(connector_id=connector.pk)
    again = check_webhooks(connector_id=connector.pk)

    assert woo.webhook(paused.id).status == "paused"
    assert woo.requests_to("/webhooks", "PUT") == []
    assert (report.reactivated, again.reactivated) == ([], [])
    assert report.paused == [{"id": str(paused.id), "topic": "order.created"}]
    problem = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.WEBHOOK_PAUSED)
    assert "order.created" in problem.message and problem.count == 2
    assert not SyncProblem.objects.filter(kind=SyncProblemKind.WEBHOOK_DISABLED).exists()
    assert queued_polls == []
    with woo.lock:
        paused.status = "active"
    check_webhooks(connector_id=connector.pk)
    problem.refresh_from_db()
    assert problem.resolved_at is not None


def test_a_webhook_deleted_on_the_store_is_registered_again(woo, registered, queued_polls):
    connector, _ = registered
    deleted = next(h for h in woo.webhooks.values() if h.topic == "order.created")
    with woo.lock:
        del woo.webhooks[deleted.id]

    report = check_webhooks(connector_id=connector.pk)

    assert report.registered == ["order.created"]
    assert sorted(h.topic for h in woo.webhooks.values()).count("order.created") == 1
    assert SyncProblem.objects.filter(
        connector=connector, kind=SyncProblemKind.WEBHOOK_MISSING
    ).exists()
    assert queued_polls == [connector.pk]


def test_healthy_webhooks_change_nothing(woo, registered, queued_polls):
    connector, _ = registered
    before = {h.id: (h.status, h.modified) for h in woo.webhooks.values()}

    report = check_webhooks(connector_id=connector.pk)

    assert (report.status, report.checked, report.has_repaired) == ("done", 7, False)
    assert {h.id: (h.status, h.modified) for h in woo.webhooks.values()} == before
    assert woo.requests_to("/webhooks", "PUT") == []
    assert queued_polls == []


def test_only_stores_that_take_webhooks_are_watched(woo, registered):
    connector, _ = registered
    with FakeMagento() as magento:
        other = magento_connector(magento, None)

        watched = watched_connector_ids()

    assert connector.pk in watched and other.pk not in watched
