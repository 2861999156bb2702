"""A tiny store protocol of the engine tests' own, spoken over real HTTP.

The real store classes (WooCommerce, Magento, partner) are tested in their own files; the
engine's tests need a store whose every answer they control. `EngineFakeStore` is a
`FakeStore` holding absolute quantities per (remote id, location) and a log of what it
applied; `EngineTestConnector` is the matching store class, registered as kind
"enginetest" (channel salable quantity) and "enginetest_sources" (per source, like
Magento) by `register_test_kinds`.

Protocol: POST /stock {"items": [{remote_id, location, quantity, status, forced_status}]}
(at most `max_items` per request) answers {"items": [{remote_id, location, quantity}]};
inbound deliveries are JSON signed with HMAC-SHA256 (hex) in `X-Test-Signature:
sha256=<hex>`, delivery id in `X-Test-Delivery`; an unsigned `X-Test-Ping: 1` is a ping.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import pytest
import requests

from connectors.base import (
    Connector,
    InboundEvent,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    OrderState,
    PushItem,
    PushResult,
    RemoteAuthFailed,
    RemoteOrder,
    RemoteOrderLine,
    RemoteRejected,
    RemoteStatus,
    RemoteStock,
    RemoteThrottled,
    RemoteUnavailable,
)
from connectors.models import Connector as ConnectorRow
from connectors.models import LocationMapping, SkuMapping
from connectors.outbox import forget_mapping_state
from connectors.registry import ConnectorKindSpec, PushMode, register_kind, unregister_kind
from tests.fakes.server import FakeStore, Request, Response
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

KIND = "enginetest"
SOURCES_KIND = "enginetest_sources"


class EngineFakeStore(FakeStore):
    def __init__(self, *, max_items: int = 50) -> None:
        super().__init__()
        self.max_items = max_items
        self.values: dict[tuple[str, str], int] = {}
        self.statuses: dict[tuple[str, str], dict] = {}
        self.applied: list[tuple[str, str, int]] = []  # every item applied, in order
        self.rejected_ids: set[str] = set()
        self.route("POST", "/stock", self._push)
        self.route("GET", "/ping", lambda request: Response(200, {"ok": True}))

    def _push(self, request: Request) -> Response:
        items = request.json()["items"]
        if len(items) > self.max_items:
            return Response(400, {"message": f"At most {self.max_items} items per request."})
        bad = [item["remote_id"] for item in items if item["remote_id"] in self.rejected_ids]
        if bad:
            return Response(400, {"message": f"Unknown product(s): {', '.join(bad)}"})
        answers = []
        with self.lock:
            for item in items:
                key = (item["remote_id"], item["location"])
                self.values[key] = item["quantity"]
                self.statuses[key] = {
                    "status": item.get("status"),
                    "forced_status": item.get("forced_status"),
                }
                self.applied.append((item["remote_id"], item["location"], item["quantity"]))
                answers.append({**key_dict(key), "quantity": item["quantity"]})
        return Response(200, {"items": answers})

    def applied_to(self, remote_id: str, location: str = "") -> list[int]:
        with self.lock:
            return [q for r, loc, q in self.applied if r == remote_id and loc == location]


def key_dict(key: tuple[str, str]) -> dict:
    return {"remote_id": key[0], "location": key[1]}


class EngineTestConnector(Connector):
    kind = KIND

    def _post(self, path: str, payload: dict) -> dict:
        try:
            response = self.session.post(
                f"{self.config.base_url}{path}",
                json=payload,
                timeout=self.config.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise RemoteUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
            raise RemoteThrottled(
                "Throttled",
                retry_after_seconds=float(retry_after) if retry_after is not None else None,
            )
        if response.status_code >= 500:
            raise RemoteUnavailable(f"HTTP {response.status_code}", status=response.status_code)
        if response.status_code in (401, 403):
            raise RemoteAuthFailed("Refused", status=response.status_code)
        if response.status_code >= 400:
            raise RemoteRejected(response.json().get("message", ""), status=response.status_code)
        return response.json()

    def test_connection(self) -> None:
        self.session.get(f"{self.config.base_url}/ping", timeout=self.config.timeout_seconds)

    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        return iter(())

    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        return iter(())

    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        results = []
        size = int(self.config.options.get("max_items", 50))
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            answer = self._post(
                "/stock",
                {
                    "items": [
                        {
                            "remote_id": item.remote_id,
                            "location": item.location,
                            "quantity": item.quantity,
                            "status": item.status and str(item.status),
                            "forced_status": item.forced_status and str(item.forced_status),
                        }
                        for item in chunk
                    ]
                },
            )
            confirmed = {
                (row["remote_id"], row["location"]): row["quantity"] for row in answer["items"]
            }
            for item in chunk:
                quantity = confirmed.get((item.remote_id, item.location))
                results.append(
                    PushResult(
                        item=item,
                        is_confirmed=quantity is not None,
                        confirmed_quantity=quantity,
                        error="" if quantity is not None else "not in the answer",
                    )
                )
        return results

    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        signature = headers.get("X-Test-Signature", "")
        if not signature and headers.get("X-Test-Ping") == "1":
            return InboundVerdict.PING
        expected = "sha256=" + sign(self.config.webhook_secret, body)
        if hmac.compare_digest(signature, expected):
            return InboundVerdict.VALID
        return InboundVerdict.BAD_SIGNATURE

    def delivery_id(self, *, headers: Mapping[str, str], body: bytes) -> str:
        return headers.get("X-Test-Delivery", "")

    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedInbound(f"The body is not JSON: {exc}.") from None
        if not isinstance(data, dict) or "topic" not in data:
            raise MalformedInbound("The body must be an object with a 'topic'.")
        try:
            occurred_at = _time(data.get("occurred_at"))
            stock = tuple(
                RemoteStock(
                    sku=row["sku"],
                    remote_id=row.get("remote_id", ""),
                    quantity=row["quantity"],
                    status=RemoteStatus.IN_STOCK,
                    location=row.get("location", ""),
                    updated_at=_time(row.get("updated_at")),
                )
                for row in data.get("stock", [])
            )
            orders = tuple(
                RemoteOrder(
                    reference=row["reference"],
                    state=OrderState(row["state"]),
                    lines=tuple(
                        RemoteOrderLine(sku=line["sku"], quantity=line["quantity"])
                        for line in row["lines"]
                    ),
                )
                for row in data.get("orders", [])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedInbound(f"Unreadable item: {exc!r}.") from None
        if data["topic"] == "explode":
            # Lets a test make processing fail after the delivery was accepted.
            raise RuntimeError("The store class could not read this delivery.")
        kind = InboundKind.ORDERS if orders else InboundKind.STOCK if stock else InboundKind.IGNORED
        return InboundEvent(
            kind=kind,
            topic=data["topic"],
            delivery_id=headers.get("X-Test-Delivery", ""),
            occurred_at=occurred_at,
            orders=orders,
            stock=stock,
            deleted_remote_ids=tuple(data.get("deleted_remote_ids", ())),
        )


def _time(value) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def register_test_kinds() -> None:
    path = f"{__name__}.EngineTestConnector"
    register_kind(ConnectorKindSpec(KIND, path, PushMode.CHANNEL))
    register_kind(ConnectorKindSpec(SOURCES_KIND, path, PushMode.PER_SOURCE))


# --- Fixtures and builders shared by tests/connectors/test_engine_*.py ---------------------


SECRET = "engine-test-secret"
FAST_PUSH = {
    "backoff_seconds": 0.05,
    "max_backoff_seconds": 0.2,
    "breaker_cooldown_seconds": 0.2,
    "breaker_max_cooldown_seconds": 0.4,
    "failures_to_open": 3,
    "default_retry_after_seconds": 0.3,
    "time_budget_seconds": 10.0,
}
_names = itertools.count(1)


@pytest.fixture
def engine_kinds():
    register_test_kinds()
    forget_mapping_state()
    yield
    unregister_kind(KIND)
    unregister_kind(SOURCES_KIND)
    forget_mapping_state()


@pytest.fixture
def fake_store():
    with EngineFakeStore() as store:
        yield store


@pytest.fixture
def fast_push(settings):
    settings.CONNECTORS_PUSH = dict(FAST_PUSH)
    return settings.CONNECTORS_PUSH


def make_hub(
    store: EngineFakeStore | None,
    *,
    skus: Sequence[str] = ("SKU-A",),
    on_hand: int = 10,
    kind: str = KIND,
    ownership: str = "hub",
    locations: Sequence[tuple[str, bool | None]] = (),
    **connector_fields,
):
    """A warehouse selling on one channel, stocked variants, and a connector mapping them.

    Stock is received before the mappings exist, so it leaves no outbox row. `locations`
    maps each extra warehouse's location code (and its store-owned override) one by one.
    """
    number = next(_names)
    warehouse = WarehouseFactory(code=f"ENG{number}")
    channel = SalesChannelFactory(code=f"eng-{number}")
    ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    variants = []
    for sku in skus:
        variant = VariantFactory(sku=f"{sku}-{number}")
        if on_hand:
            stocked(variant, warehouse, on_hand)
        variants.append(variant)
    connector = ConnectorRow.objects.create(
        name=f"engine test {number}",
        kind=kind,
        base_url=store.base_url if store else "http://127.0.0.1:9",
        webhook_secret=SECRET,
        channel=channel,
        ownership=ownership,
        push_rate_per_second=connector_fields.pop("push_rate_per_second", 1000.0),
        timeout_seconds=connector_fields.pop("timeout_seconds", 1.0),
        **connector_fields,
    )
    warehouses = [warehouse]
    for index, (location, store_owned) in enumerate(locations):
        target = warehouse if index == 0 else WarehouseFactory(code=f"ENG{number}-{index}")
        if index:
            warehouses.append(target)
        LocationMapping.objects.create(
            connector=connector, warehouse=target, location=location, is_store_owned=store_owned
        )
    mappings = [
        SkuMapping.objects.create(
            connector=connector, variant=variant, remote_id=f"r-{variant.sku}"
        )
        for variant in variants
    ]
    forget_mapping_state()
    return Hub(connector, channel, warehouses, variants, mappings)


class Hub:
    def __init__(self, connector, channel, warehouses, variants, mappings):
        self.connector = connector
        self.channel = channel
        self.warehouse = warehouses[0]
        self.warehouses = warehouses
        self.variants = variants
        self.variant = variants[0] if variants else None
        self.mappings = mappings
        self.mapping = mappings[0] if mappings else None
