"""Hostile webhook bodies, signed like the real stores, are refused at the door over real HTTP.

Each is answered 400 naming what is wrong before anything is acknowledged, kept as a
`malformed` inbox event (never applied) with the reason, and reported as a problem. A
valid delivery still takes the fast path, and the signature is still checked first.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from connectors.inbound.queue import process_connector_inbox
from connectors.magento import sign_hub_body
from connectors.models import Connector, InboxEvent, InboxState, SyncProblem, SyncProblemKind
from connectors.woocommerce import webhook_signature
from tests.connectors.test_fast_inbound import ServedHub

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SECRET = "s3cret"
ORDER = {"id": 42, "status": "processing", "line_items": [{"sku": "A", "quantity": 2}]}
PRODUCT = {
    "id": 9,
    "type": "simple",
    "sku": "A",
    "manage_stock": True,
    "stock_quantity": 2,
    "stock_status": "instock",
}


@pytest.fixture
def hub_http():
    served = ServedHub()
    served.start()
    yield served
    served.stop()


@pytest.fixture
def woo():
    return Connector.objects.create(
        name="woo", kind="woocommerce", base_url="http://shop.example", webhook_secret=SECRET
    )


@pytest.fixture
def magento():
    return Connector.objects.create(
        name="magento", kind="magento", base_url="http://m2.example", webhook_secret=SECRET
    )


def woo_headers(topic: str, body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Delivery-ID": "77",
        "X-WC-Webhook-Signature": webhook_signature(body, secret),
    }


def assert_refused_and_kept(response, connector: Connector, reason: str) -> None:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed"
    assert reason in error["message"]
    event = InboxEvent.objects.get(connector=connector)
    assert event.state == InboxState.MALFORMED
    assert reason in event.last_error
    assert event.processed_at is None
    problem = SyncProblem.objects.get(connector=connector)
    assert problem.kind == SyncProblemKind.MALFORMED_INBOUND
    assert f"inbox event {event.pk}" in problem.message
    process_connector_inbox(connector_id=connector.pk)
    assert InboxEvent.objects.get(pk=event.pk).state == InboxState.MALFORMED  # never applied


NESTED = b'{"id": 42, "status": "processing", "meta": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("order.created", NESTED, "nested deeper than 64 levels"),
        (
            "order.created",
            json.dumps({**ORDER, "line_items": [{"sku": "A\x00B", "quantity": 2}]}).encode(),
            "line_items[0].sku: contains NUL",
        ),
        (
            "order.created",
            json.dumps({**ORDER, "line_items": [{"sku": "A", "quantity": 2**70}]}).encode(),
            "line_items[0].quantity: 1180591620717411303424 is out of range",
        ),
        (
            "order.created",
            json.dumps({**ORDER, "line_items": [{"sku": "A", "quantity": 2**40}]}).encode(),
            "orders[0].lines[0].quantity: 1099511627776 is out of range (0 to 1000000000)",
        ),
        (
            "product.updated",
            json.dumps({**PRODUCT, "stock_quantity": 1e308}).encode(),
            "stock_quantity: 1e+308 is out of range",
        ),
        (
            "product.updated",
            json.dumps({**PRODUCT, "stock_quantity": float("nan")}).encode(),
            "NaN is not a JSON number",
        ),
        (
            "product.updated",
            json.dumps({**PRODUCT, "stock_status": ["instock"]}).encode(),
            "product 9 has stock_status ['instock']",
        ),
    ],
    ids=["nested", "nul", "2^70", "2^40", "1e308", "nan", "wrong-type"],
)
def test_a_hostile_woocommerce_delivery_is_400_kept_refused_and_never_applied(
    hub_http, woo, topic, body, reason
):
    response = hub_http.post(woo.pk, body, woo_headers(topic, body))

    assert_refused_and_kept(response, woo, reason)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"qty_on_hand": "1e308"}, "stock[0].quantity: 1.000e+308 is out of range"),
        ({"qty_on_hand": 2**70}, "data[0].qty_on_hand: 1180591620717411303424 is out of range"),
        ({"sku": "MUG\x00"}, "data[0].sku: contains NUL"),
    ],
    ids=["1e308-text", "2^70", "nul"],
)
def test_a_hostile_magento_delivery_is_400_kept_refused_and_never_applied(
    hub_http, magento, record, reason
):
    payload = {"warehouse": "berlin", "data": [{"sku": "MUG", "qty_on_hand": 1, **record}]}
    body = json.dumps(payload).encode()
    headers = {
        "X-Hub-Signature-256": sign_hub_body(secret=SECRET, body=body),
        "X-Hub-Delivery": "d",
    }

    response = hub_http.post(magento.pk, body, headers)

    assert_refused_and_kept(response, magento, reason)


def test_a_hostile_body_with_a_bad_signature_is_401_and_nothing_is_kept(hub_http, woo):
    response = hub_http.post(woo.pk, NESTED, woo_headers("order.created", NESTED, secret="x"))

    assert response.status_code == 401
    assert not InboxEvent.objects.exists()


def test_refused_deliveries_are_listed_in_the_admin_with_why(hub_http, woo, admin_client):
    body = json.dumps({**PRODUCT, "stock_quantity": 1e308}).encode()
    hub_http.post(woo.pk, body, woo_headers("product.updated", body))

    page = admin_client.get(
        reverse("admin:connectors_inboxevent_changelist"), {"state__exact": "malformed"}
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "stock_quantity: 1e+308 is out of range" in html


def test_a_delivery_over_the_size_limit_is_a_json_413_and_nothing_is_kept(hub_http, woo, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({**ORDER, "note": "x" * 2000}).encode()

    response = hub_http.post(woo.pk, body, woo_headers("order.created", body))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not InboxEvent.objects.exists()
