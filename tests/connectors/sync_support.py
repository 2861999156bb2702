"""Builders shared by the sync feature tests: a hub (warehouse, channel, SKUs) and
connector rows pointing at the real fake stores of tests/fakes."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from connectors.engine.push import push_outbox
from connectors.magento import sign_hub_body
from connectors.models import Connector, InboxEvent, InboxState, OutboxItem, OutboxState
from connectors.outbox import forget_mapping_state
from stock.actors import Actor
from stock.models import Variant
from stock.selectors import channel_salable_many
from tests.fakes.magento import FakeMagento
from tests.fakes.woocommerce import FakeWooCommerce
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.models import SalesChannel, Warehouse

ACTOR = Actor.system("sync tests")


WOO_SECRET = "woo-sync-secret"
MAGENTO_SECRET = "magento-module-secret"
MAGENTO_TOKEN = "integration-token-0123456789"
_numbers = itertools.count(1)


# Fixtures, offered to tests/connectors by its conftest; a module may define its own.
@pytest.fixture
def woo():
    with FakeWooCommerce(delivery_mode="sync") as store:
        yield store


@pytest.fixture
def magento():
    with FakeMagento() as store:
        yield store


@dataclass
class Hub:
    warehouse: Warehouse
    channel: SalesChannel
    variants: dict[str, Variant] = field(default_factory=dict)

    def salable(self, sku: str, channel: SalesChannel | None = None) -> int:
        variant = self.variants[sku]
        return channel_salable_many(channel or self.channel, [variant])[variant.pk].salable


def make_hub(
    stock: dict[str, int], *, warehouse_code: str | None = None, channel_code: str | None = None
) -> Hub:
    """One warehouse selling on one channel, and a variant per SKU with that much on hand."""
    number = next(_numbers)
    warehouse = WarehouseFactory(code=warehouse_code or f"SYNC{number}")
    channel = SalesChannelFactory(code=channel_code or f"sync-{number}")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    hub = Hub(warehouse, channel)
    for sku, quantity in stock.items():
        variant = VariantFactory(sku=sku)
        if quantity:
            stocked(variant, warehouse, quantity)
        hub.variants[sku] = variant
    return hub


def woo_connector(woo: FakeWooCommerce, channel: SalesChannel | None, **fields) -> Connector:
    connector = Connector.objects.create(
        name=fields.pop("name", f"woo {next(_numbers)}"),
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=fields.pop("webhook_secret", WOO_SECRET),
        channel=channel,
        push_rate_per_second=fields.pop("push_rate_per_second", 1000.0),
        timeout_seconds=fields.pop("timeout_seconds", 5.0),
        **fields,
    )
    forget_mapping_state()
    return connector


def magento_connector(magento: FakeMagento, channel: SalesChannel | None, **fields) -> Connector:
    connector = Connector.objects.create(
        name=fields.pop("name", f"magento {next(_numbers)}"),
        kind="magento",
        base_url=magento.base_url,
        credentials={"token": MAGENTO_TOKEN},
        webhook_secret=fields.pop("webhook_secret", MAGENTO_SECRET),
        channel=channel,
        push_rate_per_second=fields.pop("push_rate_per_second", 1000.0),
        timeout_seconds=fields.pop("timeout_seconds", 5.0),
        **fields,
    )
    forget_mapping_state()
    return connector


def magento_snapshot(
    client, connector: Connector, source: str, rows: Sequence[dict], *, delivery: str
):
    """POST the normalised push a Magento module would send, signed, through the endpoint."""
    body = json.dumps({"warehouse": source, "source_url": "https://m.example", "data": rows})
    return client.post(
        f"/connectors/{connector.pk}/inbound/",
        data=body,
        content_type="application/json",
        headers={
            "X-Hub-Signature-256": sign_hub_body(secret=MAGENTO_SECRET, body=body.encode()),
            "X-Hub-Delivery": delivery,
        },
    )


def process_received() -> list[str | None]:
    from connectors.inbound.queue import process_inbox_event

    ids = InboxEvent.objects.filter(state=InboxState.RECEIVED).order_by("pk")
    return [process_inbox_event(event_id=pk) for pk in ids.values_list("pk", flat=True)]


def push_all(*connectors: Connector, seconds: float = 10.0) -> None:
    """Run the push worker for each connector until nothing due is left."""
    deadline = time.monotonic() + seconds
    for connector in connectors:
        while True:
            push_outbox(connector_id=connector.pk)
            if not OutboxItem.objects.filter(
                connector=connector, state=OutboxState.PENDING
            ).exists():
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"pushes to {connector} still pending after {seconds} s")
            time.sleep(0.05)


def wait_for(condition: Callable[[], object], *, seconds: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what or condition}")
        time.sleep(0.05)
