"""End to end: the hub running for real (a live HTTP server and a Celery worker with beat,
the embedded mode of `make run`), a WooCommerce fake that delivers its own webhooks to it
and a Magento MSI fake it pushes to. Connectors are created and set up through the REST
API, as ops would.

- An order placed on WooCommerce reserves stock in the hub, and the new quantities reach
  Magento per source within seconds; a duplicate delivery changes nothing; a forged one
  is refused.
- Reconciliation finds quantities changed behind the hub's back on Magento and fixes each
  by ownership (hub-owned source: overwritten; store-owned source: counted into the hub,
  then shown to WooCommerce), and reports a SKU the hub does not know.
- Magento down for a while (500s, 429, a timeout) while orders keep coming: every final
  value arrives, the circuit breaker opens and closes, nothing is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    OutboxItem,
    OutboxState,
    ReconciliationReport,
    SyncProblem,
    SyncProblemKind,
    SyncRun,
    SyncRunKind,
)
from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedWorker
from stock.models import MovementSource, Order, OrderStatus, ReasonCode, StockLevel, StockMovement
from tests.connectors.sync_support import MAGENTO_TOKEN, make_hub, wait_for
from tests.fakes.magento import FakeMagento
from tests.fakes.server import Fault
from tests.fakes.woocommerce import FakeWooCommerce
from tests.stock.factories import stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.access import Role

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WOO_SECRET = "e2e-woo-webhook-secret"
# "Within seconds": from the store's order to Magento holding the new per-source figures.
PROPAGATION_SECONDS = 5.0


@dataclass
class RunningHub:
    url: str
    api: APIClient
    woo: FakeWooCommerce
    magento: FakeMagento
    woo_connector: Connector
    magento_connector: Connector
    product_id: int
    berlin: object
    paris: object
    web: object

    def source_quantity(self, sku: str, source: str) -> float | None:
        item = self.magento.source_item(sku, source)
        return item["quantity"] if item else None

    def settled(self) -> bool:
        """Nothing left to push or process."""
        return not (
            OutboxItem.objects.filter(state=OutboxState.PENDING).exists()
            or InboxEvent.objects.filter(
                state__in=[InboxState.RECEIVED, InboxState.FAILED]
            ).exists()
        )


def ops_api() -> APIClient:
    user = get_user_model().objects.create_user(username="e2e-ops", password="unused")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def worker():
    celery_app.control.purge()  # the memory broker is shared by the whole test process
    running = EmbeddedWorker(app=celery_app)
    running.start()
    yield running
    running.stop()
    celery_app.control.purge()


@pytest.fixture
def hub(live_server, settings, worker):
    settings.HUB_PUBLIC_BASE_URL = live_server.url
    settings.CONNECTORS_PUSH = {
        "backoff_seconds": 0.1,
        "max_backoff_seconds": 0.5,
        "breaker_cooldown_seconds": 0.5,
        "breaker_max_cooldown_seconds": 1.0,
        "failures_to_open": 3,
    }
    settings.CONNECTORS_KICK_INTERVAL_SECONDS = 0.05
    # MUG: 10 in Berlin, 5 in Paris; WooCommerce sells both warehouses on channel "web",
    # Magento shows them as sources "berlin" (hub-owned) and "paris" (the store owns it).
    stock = make_hub({"MUG": 10}, warehouse_code="BER", channel_code="web")
    paris = WarehouseFactory(code="PAR")
    stocked(stock.variants["MUG"], paris, 5)
    ChannelWarehouseFactory(channel=stock.channel, warehouse=paris, priority=2)
    magento_channel = SalesChannelFactory(code="magento-web")
    ChannelWarehouseFactory(channel=magento_channel, warehouse=stock.warehouse, priority=1)
    ChannelWarehouseFactory(channel=magento_channel, warehouse=paris, priority=2)

    with FakeWooCommerce(delivery_mode="background") as woo, FakeMagento() as magento:
        product_id = woo.add_product("MUG", quantity=15)
        magento.add_source("berlin")
        magento.add_source("paris")
        magento.add_source_item("MUG", "berlin", 10)
        magento.add_source_item("MUG", "paris", 5)
        api = ops_api()
        woo_id = create_connector(
            api,
            name="shop",
            kind="woocommerce",
            base_url=woo.base_url,
            credentials=woo.credentials,
            webhook_secret=WOO_SECRET,
            channel="web",
        )
        magento_id = create_connector(
            api,
            name="magento",
            kind="magento",
            base_url=magento.base_url,
            credentials={"token": MAGENTO_TOKEN},
            webhook_secret="e2e-magento-module-secret",
            channel="magento-web",
            locations=[
                {"location": "berlin", "warehouse": "BER"},
                {"location": "paris", "warehouse": "PAR", "is_store_owned": True},
            ],
        )
        for connector_id in (woo_id, magento_id):
            answer = api.post(f"/api/v1/connectors/{connector_id}/setup/", {}, format="json")
            assert answer.status_code == 202, answer.json()
        wait_for(
            lambda: SyncRun.objects.filter(kind=SyncRunKind.SETUP, is_ok=True).count() == 2,
            what="both setups",
        )
        running = RunningHub(
            url=live_server.url,
            api=api,
            woo=woo,
            magento=magento,
            woo_connector=Connector.objects.get(pk=woo_id),
            magento_connector=Connector.objects.get(pk=magento_id),
            product_id=product_id,
            berlin=stock.warehouse,
            paris=paris,
            web=stock.channel,
        )
        wait_for(running.settled, what="setup pushes")
        assert worker.failure() is None
        yield running
        assert worker.failure() is None


def create_connector(api: APIClient, **body) -> int:
    # Polling stays off: these tests watch webhooks and pushes, and ask for the rest.
    answer = api.post("/api/v1/connectors/", {**body, "poll_interval_seconds": 0}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()["id"]


def level(variant_sku: str, warehouse) -> StockLevel:
    return StockLevel.objects.get(variant__sku=variant_sku, warehouse=warehouse)


def test_a_woocommerce_order_reaches_magento_per_source_within_seconds(hub):
    assert len(hub.woo.webhooks) == 7
    assert {h.delivery_url for h in hub.woo.webhooks.values()} == {
        f"{hub.url}/connectors/{hub.woo_connector.pk}/inbound/"
    }

    started = time.monotonic()
    order_id = hub.woo.create_order([("MUG", 3)], status="processing")
    wait_for(lambda: hub.source_quantity("MUG", "berlin") == 7, what="Magento berlin = 7")
    elapsed = time.monotonic() - started
    wait_for(hub.settled, what="everything processed")

    assert elapsed < PROPAGATION_SECONDS, elapsed
    order = Order.objects.get(channel=hub.web, reference=str(order_id))
    assert order.status == OrderStatus.PAID
    assert (level("MUG", hub.berlin).reserved, level("MUG", hub.paris).reserved) == (3, 0)
    # Per source: Berlin's physical figure is what it may sell (10 - 3 held for another
    # channel); Paris is the store's own and is never pushed.
    assert hub.source_quantity("MUG", "berlin") == 7
    assert hub.source_quantity("MUG", "paris") == 5
    pushed = [r.json()["sourceItems"] for r in hub.magento.requests_to("/source-items", "POST")]
    assert pushed == [[{"sku": "MUG", "source_code": "berlin", "quantity": 7, "status": 1}]]
    # WooCommerce lowered its own stock for the order; its echo matched: nothing went back.
    assert hub.woo.product_json(hub.product_id)["stock_quantity"] == 12
    assert hub.woo.requests_to("/products/batch") == []

    delivery = hub.woo.deliveries_for("order.created")[0]
    inbound = f"{hub.url}/connectors/{hub.woo_connector.pk}/inbound/"
    duplicate = requests.post(inbound, data=delivery.body, headers=delivery.headers, timeout=5)
    forged = requests.post(
        inbound,
        data=delivery.body.replace(b'"quantity":3', b'"quantity":9'),
        headers=delivery.headers,
        timeout=5,
    )
    time.sleep(1.0)  # time for a worker to (wrongly) apply anything
    wait_for(hub.settled, what="nothing pending after the repeats")

    assert (duplicate.status_code, duplicate.json()["status"]) == (200, "duplicate")
    assert forged.status_code == 401
    assert Order.objects.filter(channel=hub.web).count() == 1
    assert level("MUG", hub.berlin).reserved == 3
    assert InboxEvent.objects.filter(topic="order.created").count() == 1
    assert len(hub.magento.requests_to("/source-items", "POST")) == 1
    assert SyncProblem.objects.filter(kind=SyncProblemKind.BAD_SIGNATURE).exists()


def test_reconciliation_fixes_changes_behind_the_hubs_back_by_ownership(hub):
    hub.magento.set_quantity("MUG", "berlin", 1)  # hub-owned: drift
    hub.magento.set_quantity("MUG", "paris", 8)  # the store owns Paris: a count
    hub.magento.add_source_item("ROBOT", "berlin", 4)  # the hub has no such SKU

    answer = hub.api.post(f"/api/v1/connectors/{hub.magento_connector.pk}/reconcile/")
    report_id = answer.json()["report"]
    report = wait_for(
        lambda: ReconciliationReport.objects.filter(
            pk=report_id, finished_at__isnull=False
        ).first(),
        what="the reconciliation report",
    )
    wait_for(lambda: hub.source_quantity("MUG", "berlin") == 10, what="berlin overwritten")
    wait_for(
        lambda: hub.woo.product_json(hub.product_id)["stock_quantity"] == 18,
        what="WooCommerce shows Berlin 10 + Paris 8",
    )
    wait_for(hub.settled, what="everything pushed")

    assert answer.status_code == 202
    assert (report.is_ok, report.checked, report.drifted, report.corrected) == (True, 1, 2, 2)
    found = {entry["location"]: entry for entry in report.details}
    assert (found["berlin"]["action"], found["berlin"]["store_quantity"]) == ("overwrite_queued", 1)
    assert found["berlin"]["hub_quantity"] == 10
    assert found["paris"]["action"] == "count_movement"
    assert (found["paris"]["hub_on_hand_before"], found["paris"]["hub_on_hand_after"]) == (5, 8)
    assert {
        "side": "store",
        "sku": "ROBOT",
        "remote_id": "ROBOT",
        "location": "berlin",
        "reason": "no_mapping",
    } in report.unmapped
    movement = StockMovement.objects.get(source=MovementSource.CONNECTOR, warehouse=hub.paris)
    assert (movement.reason, movement.delta_on_hand) == (ReasonCode.SYNC, 3)
    assert level("MUG", hub.paris).on_hand == 8
    assert hub.source_quantity("MUG", "paris") == 8  # never pushed: the store's own
    api_report = hub.api.get(
        f"/api/v1/connectors/{hub.magento_connector.pk}/reconciliations/{report_id}/"
    ).json()
    assert api_report["drifted"] == 2 and api_report["unmapped"] == report.unmapped


def test_magento_down_for_a_while_then_back_loses_nothing(hub):
    for fault in (
        Fault(status=500, times=4),
        Fault(status=429, times=1, retry_after="1"),
        Fault(status=503, times=1, hang_seconds=3.0),  # past the 2 s timeout, not applied
    ):
        fault.path_contains, fault.method = "source-items", "POST"
        hub.magento.inject(fault)
    Connector.objects.filter(pk=hub.magento_connector.pk).update(timeout_seconds=2.0)

    order_ids = []
    for quantity in (1, 2, 1):
        order_ids.append(hub.woo.create_order([("MUG", quantity)], status="on-hold"))
        time.sleep(0.3)
    wait_for(lambda: hub.source_quantity("MUG", "berlin") == 6, seconds=45, what="berlin = 10 - 4")
    wait_for(hub.settled, seconds=30, what="everything pushed")

    assert hub.magento.fault_hits == 6
    assert Order.objects.filter(channel=hub.web).count() == 3
    assert level("MUG", hub.berlin).reserved == 4
    requests_made = hub.magento.requests_to("/source-items", "POST")
    # The faults answered the first six; the rest were applied.
    applied = [
        item["quantity"] for request in requests_made[6:] for item in request.json()["sourceItems"]
    ]
    assert applied.count(6) == 1 and applied[-1] == 6
    connector = Connector.objects.get(pk=hub.magento_connector.pk)
    assert (connector.circuit_state, connector.consecutive_failures) == ("closed", 0)
    breaker = SyncProblem.objects.get(connector=connector, kind=SyncProblemKind.CIRCUIT_OPEN)
    assert breaker.resolved_at is not None
    assert not OutboxItem.objects.filter(state=OutboxState.DEAD).exists()
