"""The normalised inbound contract a connector module inside Magento sends to the hub."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.base import (
    ConnectorConfig,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    RemoteStatus,
)
from connectors.magento import MagentoConnector, sign_hub_body

SECRET = "module-shared-secret"


def connector(**options) -> MagentoConnector:
    return MagentoConnector(
        ConnectorConfig(
            base_url="https://shop.example.com",
            credentials={"token": "unused"},
            webhook_secret=SECRET,
            options=options,
        )
    )


def snapshot(**overrides) -> dict:
    record = {
        "sku": "MUG",
        "qty_on_hand": 12,
        "qty_reserved": 2,
        "available_qty": 10,
        "stock_status": "in_stock",
        "force_stock_status": None,
        "updated_at": "2025-03-01T10:00:00+00:00",
    }
    record.update(overrides)
    return {"warehouse": "berlin", "source_url": "https://shop.example.com", "data": [record]}


def body_of(payload: object) -> bytes:
    return json.dumps(payload).encode()


def signed(body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_hub_body(secret=secret, body=body), "X-Hub-Delivery": "d-1"}


# Verification ------------------------------------------------------------------------------


def test_a_body_signed_with_the_secret_is_valid():
    body = body_of(snapshot())

    verdict = connector().verify_inbound(headers=signed(body), body=body)

    assert verdict == InboundVerdict.VALID


def test_the_signature_header_is_found_whatever_its_case():
    body = body_of(snapshot())
    headers = {key.lower(): value for key, value in signed(body).items()}

    assert connector().verify_inbound(headers=headers, body=body) == InboundVerdict.VALID
    assert connector().delivery_id(headers=headers, body=body) == "d-1"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": sign_hub_body(secret="another-secret", body=b"{}")},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": sign_hub_body(secret=SECRET, body=b"{}").removeprefix("sha256=")},
        {},
    ],
    ids=["other-secret", "zeros", "no-prefix", "missing"],
)
def test_anything_else_is_a_bad_signature(headers):
    body = b"{}"

    assert connector().verify_inbound(headers=headers, body=body) == InboundVerdict.BAD_SIGNATURE


def test_a_changed_body_is_a_bad_signature():
    body = body_of(snapshot())
    headers = signed(body)

    verdict = connector().verify_inbound(headers=headers, body=body.replace(b"12", b"99"))

    assert verdict == InboundVerdict.BAD_SIGNATURE


def test_without_a_configured_secret_nothing_is_valid():
    body = b"{}"
    unsigned = MagentoConnector(ConnectorConfig(base_url="https://shop.example.com"))

    verdict = unsigned.verify_inbound(headers=signed(body, secret=""), body=body)

    assert verdict == InboundVerdict.BAD_SIGNATURE


# Parsing -----------------------------------------------------------------------------------


def test_a_snapshot_becomes_stock_records_at_the_warehouse():
    body = body_of(snapshot(force_stock_status="out_of_stock"))

    event = connector().parse_inbound(headers=signed(body), body=body)

    assert event.kind == InboundKind.STOCK
    assert event.delivery_id == "d-1"
    assert event.occurred_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    [record] = event.stock
    assert (record.sku, record.remote_id, record.location, record.quantity) == (
        "MUG",
        "MUG",
        "berlin",
        12,
    )
    assert record.status == RemoteStatus.IN_STOCK
    assert record.forced_status == RemoteStatus.OUT_OF_STOCK
    assert record.updated_at == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_php_style_values_are_read():
    body = body_of(snapshot(qty_on_hand="5.0000", stock_status=0, updated_at="2025-03-01 10:00:00"))

    [record] = connector().parse_inbound(headers={}, body=body).stock

    assert record.quantity == 5
    assert record.status == RemoteStatus.OUT_OF_STOCK
    assert record.updated_at == datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_a_missing_status_follows_the_quantity():
    payload = snapshot()
    del payload["data"][0]["stock_status"]
    payload["data"].append({"sku": "CUP", "qty_on_hand": 0})

    records = connector().parse_inbound(headers={}, body=body_of(payload)).stock

    assert [record.status for record in records] == [
        RemoteStatus.IN_STOCK,
        RemoteStatus.OUT_OF_STOCK,
    ]


def test_forced_values_configured_for_the_store_are_understood():
    body = body_of(snapshot(force_stock_status="12"))
    values = {"in_stock": "11", "out_of_stock": "12", "none": "0"}

    [record] = connector(force_status_values=values).parse_inbound(headers={}, body=body).stock

    assert record.forced_status == RemoteStatus.OUT_OF_STOCK


def test_an_empty_snapshot_is_ignored():
    event = connector().parse_inbound(headers={}, body=body_of({"warehouse": "berlin", "data": []}))

    assert event.kind == InboundKind.IGNORED
    assert event.stock == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body is not JSON"),
        (body_of([1, 2]), "body: expected a JSON object"),
        (body_of({"data": []}), "warehouse: required"),
        (body_of({"warehouse": "berlin"}), "data: required, a list"),
        (body_of({"warehouse": "berlin", "data": ["MUG"]}), r"data\[0\]: expected an object"),
        (body_of(snapshot(sku="")), r"data\[0\]\.sku: required"),
        (
            body_of(snapshot(qty_on_hand="lots")),
            r"data\[0\]\.qty_on_hand: expected a number, got 'lots'",
        ),
        (body_of(snapshot(qty_on_hand=2.5)), r"data\[0\]\.qty_on_hand: 2\.5 is not a whole number"),
        (body_of(snapshot(qty_on_hand=-1)), r"data\[0\]\.qty_on_hand: -1 is negative"),
        (body_of(snapshot(qty_reserved=True)), r"data\[0\]\.qty_reserved: expected a number"),
        (
            body_of(snapshot(stock_status="maybe")),
            r"data\[0\]\.stock_status: 'maybe' is not one of",
        ),
        (body_of(snapshot(force_stock_status="yes")), r"data\[0\]\.force_stock_status: 'yes'"),
        (body_of(snapshot(updated_at="yesterday")), r"data\[0\]\.updated_at: 'yesterday'"),
    ],
)
def test_a_malformed_body_is_refused_naming_the_field(body, message):
    with pytest.raises(MalformedInbound, match=message):
        connector().parse_inbound(headers={}, body=body)


def test_a_record_without_qty_on_hand_is_refused_naming_its_position():
    payload = snapshot()
    payload["data"].append({"sku": "CUP"})

    with pytest.raises(MalformedInbound, match=r"data\[1\]\.qty_on_hand: required"):
        connector().parse_inbound(headers={}, body=body_of(payload))


def test_a_sku_twice_in_one_snapshot_is_refused():
    payload = snapshot()
    payload["data"].append({"sku": "MUG", "qty_on_hand": 1})

    with pytest.raises(
        MalformedInbound, match=r"data\[1\]\.sku: 'MUG' appears twice \(also data\[0\]\)"
    ):
        connector().parse_inbound(headers={}, body=body_of(payload))
