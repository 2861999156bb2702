"""The inbound endpoint's ASGI fast path (connectors.fast_inbound), over real HTTP.

The hub's own ASGI application (inventory_hub.asgi: the fast path in front of Django) is
served by uvicorn on a thread of the test process, against the test database; deliveries
are committed, so the tests use `django_db(transaction=True)`. Which path answered is seen
from Django's `request_started` signal: the fast path never starts a Django request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import uvicorn
from celery.signals import before_task_publish
from django.core.signals import request_started

from connectors.fast_inbound import FastInbound
from connectors.models import Connector, InboxEvent, InboxState, SyncProblem, SyncProblemKind
from connectors.woocommerce import webhook_signature
from inventory_hub.asgi import application
from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedWorker
from stock.models import Order
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import SECRET, make_hub, sign

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("engine_kinds"),
]
engine_kinds = engine_fakes.engine_kinds
fake_store = engine_fakes.fake_store
DRAIN_TASK = "connectors.tasks.process_connector_inbox_task"


class ServedHub:
    """`inventory_hub.asgi.application` served by uvicorn on a thread of this process."""

    def __init__(self) -> None:
        self.fast: FastInbound = application.application_mapping["http"]
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="test-hub", daemon=True)
        self.session = requests.Session()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.socket]))

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        # The fast path's own connections must be closed before the test database is dropped.
        asyncio.run_coroutine_threadsafe(self.fast.aclose(), self.loop).result(timeout=10)
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.session.close()

    def post(self, connector_id: int, body: bytes, headers: dict[str, str]) -> requests.Response:
        return self.session.post(
            f"http://127.0.0.1:{self.port}/connectors/{connector_id}/inbound/",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )


@pytest.fixture
def hub_http():
    served = ServedHub()
    served.start()
    yield served
    served.stop()


@pytest.fixture
def django_requests():
    """How many requests reached Django (the fast path answers without one)."""
    started: list[object] = []

    def count(sender, **kwargs) -> None:
        started.append(sender)

    request_started.connect(count, weak=False)
    yield started
    request_started.disconnect(count)


@pytest.fixture
def drain_messages():
    """Every process_connector_inbox_task message published, by connector id."""
    published: list[int] = []

    def record(sender=None, body=None, **kwargs) -> None:
        if sender == DRAIN_TASK:
            published.append(body[0][0])

    before_task_publish.connect(record, weak=False)
    yield published
    before_task_publish.disconnect(record)


def signed(payload: dict, *, delivery: str, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    return body, {"X-Test-Signature": "sha256=" + sign(secret, body), "X-Test-Delivery": delivery}


def order(reference: str, state: str, sku: str, quantity: int = 1) -> dict:
    return {
        "topic": "order",
        "orders": [
            {"reference": reference, "state": state, "lines": [{"sku": sku, "quantity": quantity}]}
        ],
    }


STORED_FIELDS = (
    "connector_id",
    "delivery_id",
    "topic",
    "headers",
    "body",
    "occurred_at",
    "state",
    "attempts",
    "last_error",
    "result",
    "processed_at",
)


def test_fast_path_stores_the_row_and_answers_as_the_django_view_does(
    hub_http, django_requests, settings
):
    connector = Connector.objects.create(
        name="woo", kind="woocommerce", base_url="http://shop.example", webhook_secret="s3cret"
    )
    body = json.dumps(
        {"id": 42, "status": "processing", "line_items": [{"sku": "A", "quantity": 2}]}
    ).encode()
    headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": "77",
        "X-WC-Webhook-Signature": webhook_signature(body, "s3cret"),
        "Authorization": "Bearer not-kept",
    }

    fast = hub_http.post(connector.pk, body, headers)
    fast_row = InboxEvent.objects.values(*STORED_FIELDS).get()
    InboxEvent.objects.all().delete()
    settings.CONNECTORS_FAST_INBOUND = False
    slow = hub_http.post(connector.pk, body, headers)
    slow_row = InboxEvent.objects.values(*STORED_FIELDS).get()

    assert len(django_requests) == 1  # the second request only
    assert fast.status_code == slow.status_code == 200
    assert fast.json()["status"] == slow.json()["status"] == "accepted"
    assert fast_row == slow_row
    assert fast_row["state"] == InboxState.RECEIVED
    assert "Authorization" not in fast_row["headers"]
    ignored = {"date", "server", "content-length"}
    assert {k: v for k, v in fast.headers.items() if k.lower() not in ignored} == {
        k: v for k, v in slow.headers.items() if k.lower() not in ignored
    }


def test_valid_delivery_is_stored_before_the_200_without_django(hub_http, django_requests):
    hub = make_hub(None)
    body, headers = signed(order("1001", "hold", hub.variant.sku), delivery="abc")

    response = hub_http.post(hub.connector.pk, body, headers)

    event = InboxEvent.objects.get()
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event": event.pk}
    assert (event.delivery_id, event.topic, event.state) == ("abc", "order", InboxState.RECEIVED)
    assert event.body == body.decode()
    assert django_requests == []


def test_duplicate_delivery_is_200_and_stored_once(hub_http, django_requests):
    hub = make_hub(None)
    body, headers = signed(order("2001", "hold", hub.variant.sku), delivery="dup-1")

    first = hub_http.post(hub.connector.pk, body, headers)
    second = hub_http.post(hub.connector.pk, body, headers)

    assert first.json()["status"] == "accepted"
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "delivery_id": "dup-1"}
    assert InboxEvent.objects.count() == 1
    assert django_requests == []


def test_bad_signature_is_401_logged_and_nothing_stored(hub_http, caplog):
    hub = make_hub(None)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="x", secret="forged")

    response = hub_http.post(hub.connector.pk, body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert InboxEvent.objects.count() == 0
    assert SyncProblem.objects.get(connector=hub.connector).kind == SyncProblemKind.BAD_SIGNATURE
    assert "bad signature" in caplog.text


def test_malformed_body_is_400_with_the_reason_and_kept(hub_http):
    hub = make_hub(None)
    body = b'{"topic": "stock", "stock": [{"sku":'
    headers = {"X-Test-Signature": "sha256=" + sign(SECRET, body), "X-Test-Delivery": "m-1"}

    response = hub_http.post(hub.connector.pk, body, headers)

    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    event = InboxEvent.objects.get()
    assert (event.state, event.body) == (InboxState.MALFORMED, body.decode())
    assert event.headers["x-hub-original-delivery-id"] == "m-1"


def test_unknown_and_inactive_connectors_are_404(hub_http):
    hub = make_hub(None)
    Connector.objects.filter(pk=hub.connector.pk).update(is_active=False)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="i-1")

    inactive = hub_http.post(hub.connector.pk, body, headers)
    unknown = hub_http.post(hub.connector.pk + 1000, body, headers)

    assert (inactive.status_code, unknown.status_code) == (404, 404)
    assert InboxEvent.objects.count() == 0


def test_deactivated_connector_is_refused_once_the_cache_time_passed(hub_http, settings):
    settings.CONNECTORS_INBOUND_CACHE_SECONDS = 0.5
    hub = make_hub(None)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="before")
    assert hub_http.post(hub.connector.pk, body, headers).status_code == 200

    Connector.objects.filter(pk=hub.connector.pk).update(is_active=False)
    time.sleep(0.6)
    body, headers = signed(order("2", "hold", hub.variant.sku), delivery="after")
    response = hub_http.post(hub.connector.pk, body, headers)

    assert response.status_code == 404
    assert list(InboxEvent.objects.values_list("delivery_id", flat=True)) == ["before"]


def test_old_secret_stops_working_within_the_cache_time(hub_http, settings):
    settings.CONNECTORS_INBOUND_CACHE_SECONDS = 0.5
    hub = make_hub(None)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="cached")
    assert hub_http.post(hub.connector.pk, body, headers).status_code == 200

    Connector.objects.filter(pk=hub.connector.pk).update(webhook_secret="rotated")
    time.sleep(0.6)
    body, headers = signed(order("2", "hold", hub.variant.sku), delivery="old-secret")
    response = hub_http.post(hub.connector.pk, body, headers)

    assert response.status_code == 401
    assert list(InboxEvent.objects.values_list("delivery_id", flat=True)) == ["cached"]


def test_new_secret_works_at_once_and_the_old_one_stops(hub_http, settings):
    settings.CONNECTORS_INBOUND_CACHE_SECONDS = 60
    hub = make_hub(None)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="cached")
    assert hub_http.post(hub.connector.pk, body, headers).status_code == 200

    Connector.objects.filter(pk=hub.connector.pk).update(webhook_secret="rotated")
    body, headers = signed(order("2", "hold", hub.variant.sku), delivery="new", secret="rotated")
    new = hub_http.post(hub.connector.pk, body, headers)
    body, headers = signed(order("3", "hold", hub.variant.sku), delivery="old")
    old = hub_http.post(hub.connector.pk, body, headers)

    assert (new.status_code, old.status_code) == (200, 401)
    assert sorted(InboxEvent.objects.values_list("delivery_id", flat=True)) == ["cached", "new"]


def test_a_disallowed_host_goes_to_django_and_is_refused(hub_http, django_requests):
    hub = make_hub(None)
    body, headers = signed(order("1", "hold", hub.variant.sku), delivery="h-1")

    response = hub_http.post(hub.connector.pk, body, {**headers, "Host": "evil.example"})

    assert response.status_code == 400
    assert len(django_requests) == 1
    assert InboxEvent.objects.count() == 0


@pytest.fixture
def worker():
    celery_app.control.purge()  # the memory broker is shared by the whole test process
    running = EmbeddedWorker(app=celery_app)
    running.start()
    yield running
    running.stop()
    celery_app.control.purge()


@pytest.mark.slow
def test_kicks_coalesce_and_every_delivery_is_processed(hub_http, worker, drain_messages, settings):
    settings.CONNECTORS_KICK_INTERVAL_SECONDS = 0.3
    count = 40
    hub = make_hub(None, skus=[f"K{number}" for number in range(count)], on_hand=5)
    deliveries = [
        signed(order(f"k-{number}", "hold", variant.sku), delivery=f"k-{number}")
        for number, variant in enumerate(hub.variants)
    ]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda delivery: hub_http.post(hub.connector.pk, *delivery), deliveries)
        )
    posting = time.monotonic() - started
    deadline = time.monotonic() + 30
    while InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists():
        assert time.monotonic() < deadline, "deliveries were left unprocessed"
        time.sleep(0.1)

    assert [answer.json()["status"] for answer in answers] == ["accepted"] * count
    assert Order.objects.filter(channel=hub.channel).count() == count
    assert set(drain_messages) == {hub.connector.pk}
    # One kick per interval while posting, and a drain queues itself again at most once
    # per run: far fewer messages than deliveries.
    kicks_allowed = int(posting / settings.CONNECTORS_KICK_INTERVAL_SECONDS) + 2
    assert len(drain_messages) <= 2 * kicks_allowed
    assert len(drain_messages) < count
