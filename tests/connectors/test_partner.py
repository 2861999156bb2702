"""PartnerConnector: signed JSON webhooks with a field mapping, CSV feeds, signed pushes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from connectors.base import (
    ConnectorConfig,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    OrderState,
    PushItem,
    RemoteAuthFailed,
    RemoteRejected,
    RemoteStatus,
    RemoteThrottled,
    RemoteUnavailable,
)
from connectors.partner import PartnerConnector, parse_stock_csv
from tests.fakes.partner import FakePartner
from tests.fakes.server import Fault

SECRET = "partner-shared-secret"
FEED_TOKEN = "feed-token-42"


def connector(base_url: str = "https://partner.example.com", *, credentials=None, **options):
    return PartnerConnector(
        ConnectorConfig(
            base_url=base_url,
            credentials=credentials or {},
            webhook_secret=SECRET,
            options=options,
            timeout_seconds=5.0,
        )
    )


def hex_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def base64_signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# Verification ------------------------------------------------------------------------------


def test_a_hex_signature_in_the_default_header_is_valid():
    body = b'{"items": []}'

    verdict = connector().verify_inbound(
        headers={"X-Hub-Signature-256": hex_signature(body)}, body=body
    )

    assert verdict == InboundVerdict.VALID


def test_a_base64_signature_in_a_configured_header_is_valid():
    body = b'{"items": []}'
    partner = connector(signature_header="X-Partner-Hmac", signature_encoding="base64")

    verdict = partner.verify_inbound(headers={"x-partner-hmac": base64_signature(body)}, body=body)

    assert verdict == InboundVerdict.VALID


@pytest.mark.parametrize(
    ("options", "headers"),
    [
        ({}, {"X-Hub-Signature-256": hex_signature(b"{}", "other-secret")}),
        ({}, {"X-Hub-Signature-256": "sha256=not-hex"}),
        ({}, {}),
        ({}, {"X-Other": hex_signature(b"{}")}),
        ({"signature_encoding": "base64"}, {"X-Hub-Signature-256": hex_signature(b"{}")}),
        ({"signature_encoding": "base64"}, {"X-Hub-Signature-256": "%%%"}),
    ],
    ids=["other-secret", "not-hex", "missing", "wrong-header", "hex-for-base64", "not-base64"],
)
def test_anything_else_is_a_bad_signature(options, headers):
    verdict = connector(**options).verify_inbound(headers=headers, body=b"{}")

    assert verdict == InboundVerdict.BAD_SIGNATURE


# Webhook parsing ---------------------------------------------------------------------------

NESTED_MAPPING = {
    "sku": "product.sku",
    "quantity": "stock.available",
    "status": "stock.state",
    "location": "stock.warehouse",
    "updated_at": "modified",
}


def test_stock_records_are_read_through_the_field_mapping():
    partner = connector(
        items_path="payload.products", field_mapping=NESTED_MAPPING, default_location="main"
    )
    body = json.dumps(
        {
            "payload": {
                "products": [
                    {
                        "product": {"sku": "MUG"},
                        "stock": {"available": "7", "state": "InStock", "warehouse": "north"},
                        "modified": "2025-03-01T10:00:00Z",
                    },
                    {"product": {"sku": "CUP"}, "stock": {"available": 0}},
                ]
            }
        }
    ).encode()

    event = partner.parse_inbound(headers={"X-Hub-Delivery": "p-9"}, body=body)

    assert (event.kind, event.delivery_id) == (InboundKind.STOCK, "p-9")
    mug, cup = event.stock
    assert (mug.sku, mug.quantity, mug.status, mug.location) == (
        "MUG",
        7,
        RemoteStatus.IN_STOCK,
        "north",
    )
    assert mug.updated_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert (cup.sku, cup.quantity, cup.status, cup.location) == (
        "CUP",
        0,
        RemoteStatus.OUT_OF_STOCK,
        "main",
    )


def test_orders_are_read_through_the_field_mapping_and_state_words():
    partner = connector(
        orders_path="data",
        field_mapping={
            "order_reference": "order_no",
            "order_state": "fulfilment.state",
            "order_lines": "positions",
            "line_sku": "article",
            "line_quantity": "count",
        },
        order_state_values={"dispatched": "shipped"},
    )
    body = json.dumps(
        {
            "data": [
                {
                    "order_no": 1001,
                    "fulfilment": {"state": "Paid"},
                    "positions": [{"article": "MUG", "count": 2}],
                },
                {
                    "order_no": "1002",
                    "fulfilment": {"state": "dispatched"},
                    "positions": [{"article": "CUP", "count": "1"}],
                },
            ]
        }
    ).encode()

    event = partner.parse_inbound(headers={}, body=body)

    assert event.kind == InboundKind.ORDERS
    assert [(o.reference, o.state) for o in event.orders] == [
        ("1001", OrderState.PAID),
        ("1002", OrderState.SHIPPED),
    ]
    assert [(line.sku, line.quantity) for line in event.orders[0].lines] == [("MUG", 2)]


def test_a_body_that_is_the_list_itself():
    body = json.dumps([{"sku": "MUG", "quantity": 3}]).encode()

    event = connector(items_path="", orders_path="none").parse_inbound(headers={}, body=body)

    assert [(r.sku, r.quantity) for r in event.stock] == [("MUG", 3)]


def test_empty_lists_are_ignored():
    event = connector().parse_inbound(headers={}, body=b'{"items": []}')

    assert event.kind == InboundKind.IGNORED


@pytest.mark.parametrize(
    ("options", "payload", "message"),
    [
        ({}, {"products": []}, "neither stock records at items .* nor orders at orders"),
        ({}, {"items": {"sku": "MUG"}}, r"items: expected a list of stock records"),
        ({}, {"items": [{"quantity": 1}]}, r"items\[0\]\.sku: required"),
        (
            {"field_mapping": {"quantity": "stock.qty"}},
            {"items": [{"sku": "A", "stock": {"qty": 1}}, {"sku": "B", "stock": {"qty": "x"}}]},
            r"items\[1\]\.stock\.qty: 'x' is not a whole number",
        ),
        ({}, {"items": [{"sku": "A", "quantity": -3}]}, r"items\[0\]\.quantity: -3 is negative"),
        (
            {},
            {"items": [{"sku": "A", "quantity": 1, "status": "sold-out"}]},
            r"items\[0\]\.status: 'sold-out' is not a known stock status .*add it to status_values",
        ),
        (
            {},
            {"items": [{"sku": "A", "quantity": 1, "updated_at": "soon"}]},
            r"items\[0\]\.updated_at: 'soon' is not an ISO 8601 time",
        ),
        (
            {},
            {"orders": [{"id": 1, "status": "lost", "lines": []}]},
            r"orders\[0\]\.status: 'lost' is not a known order state",
        ),
        ({}, {"orders": [{"id": 1, "status": "paid"}]}, r"orders\[0\]\.lines: required"),
        (
            {},
            {"orders": [{"id": 1, "status": "paid", "lines": [{"sku": "A", "quantity": 0}]}]},
            r"orders\[0\]\.lines\[0\]\.quantity: must be at least 1",
        ),
    ],
)
def test_a_malformed_webhook_is_refused_naming_the_record_and_field(options, payload, message):
    with pytest.raises(MalformedInbound, match=message):
        connector(**options).parse_inbound(headers={}, body=json.dumps(payload).encode())


def test_a_body_that_is_not_json_is_malformed():
    with pytest.raises(MalformedInbound, match="body is not JSON"):
        connector().parse_inbound(headers={}, body=b"sku=MUG")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"field_mapping": {"skew": "sku"}}, "field_mapping: unknown field"),
        ({"csv_columns": {"sku": ""}}, "csv_columns: every value must be"),
        ({"signature_encoding": "md5"}, "signature_encoding must be 'hex' or 'base64'"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"push_batch_size": 0}, "push_batch_size must be a whole number"),
        ({"order_state_values": {"gone": "lost"}}, "order_state_values: 'lost' is not one of"),
        ({"feed": "/feed.csv"}, "Unknown partner option"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        connector(**options)


# CSV ---------------------------------------------------------------------------------------


def test_a_partner_without_push_url_says_it_cannot_push_naming_the_option():
    assert connector().why_push_impossible().startswith("push_url is required")
    assert connector(push_url="/push").why_push_impossible() == ""


def test_a_csv_is_read_with_its_column_mapping_and_delimiter():
    data = "\ufeffArticle;Stock;Depot;State\nMUG;12;north;\nCUP;0;south;backorder\n".encode()

    records = parse_stock_csv(
        data,
        columns={"sku": "Article", "quantity": "Stock", "location": "Depot", "status": "State"},
        delimiter=";",
    )

    assert [(r.sku, r.quantity, r.location, r.status) for r in records] == [
        ("MUG", 12, "north", RemoteStatus.IN_STOCK),
        ("CUP", 0, "south", RemoteStatus.BACKORDER),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        (
            "sku,stock\nMUG,1\n",
            "line 1: no column 'quantity' \\(mapped to quantity\\); the header has: sku, stock",
        ),
        (
            "sku,quantity\nMUG,1\nCUP,lots\n",
            "line 3: column 'quantity': 'lots' is not a whole number",
        ),
        ("sku,quantity\nMUG,1\n,4\n", "line 3: column 'sku' is empty"),
        ("sku,quantity\nMUG,1\nMUG,2\n", "line 3: SKU 'MUG' appears twice \\(also line 2\\)"),
        ("sku,quantity\nMUG;1\n", "line 2: 1 fields, the header has 2"),
        ("sku,quantity\nMUG,2.5\n", "line 2: column 'quantity': '2.5' is not a whole number"),
        ('sku,quantity\n"MUG,1\n', "line 2"),
    ],
)
def test_csv_problems_name_the_line(text, message):
    with pytest.raises(MalformedInbound, match=message):
        parse_stock_csv(text.encode())


def test_a_csv_that_is_not_utf8_is_refused():
    with pytest.raises(MalformedInbound, match="not UTF-8"):
        parse_stock_csv("sku,quantity\nTASSE-GRÜN,1\n".encode("latin-1"))


def test_quoted_fields_and_multiline_cells_keep_line_numbers_right():
    data = b'sku,quantity\n"MUG, large",1\n"CUP\nnote",x\n'

    with pytest.raises(MalformedInbound, match="line 4: column 'quantity': 'x'"):
        parse_stock_csv(data)


# Against the fake partner --------------------------------------------------------------------


@pytest.fixture
def partner_server():
    with FakePartner(secret=SECRET, token=FEED_TOKEN) as fake:
        yield fake


def served(partner_server: FakePartner, **options) -> PartnerConnector:
    return connector(
        partner_server.base_url,
        credentials={"token": FEED_TOKEN},
        feed_url="/feed.csv",
        push_url="/push",
        **options,
    )


def test_pull_stock_fetches_the_feed(partner_server):
    partner_server.set_feed("sku,quantity,updated_at\nMUG,4,2025-03-01T10:00:00Z\nCUP,0,\n")

    records = list(served(partner_server).pull_stock())

    assert [(r.sku, r.quantity, r.status) for r in records] == [
        ("MUG", 4, RemoteStatus.IN_STOCK),
        ("CUP", 0, RemoteStatus.OUT_OF_STOCK),
    ]
    assert partner_server.requests_to("/feed.csv")[0].headers["authorization"] == (
        f"Bearer {FEED_TOKEN}"
    )


def test_pull_stock_leaves_out_rows_dated_before_modified_after(partner_server):
    partner_server.set_feed(
        "sku,quantity,updated_at\nOLD,4,2025-03-01T09:00:00Z\nNEW,2,2025-03-01T11:00:00Z\n"
    )

    records = list(
        served(partner_server).pull_stock(modified_after=datetime(2025, 3, 1, 10, tzinfo=UTC))
    )

    assert [record.sku for record in records] == ["NEW"]


def test_a_malformed_feed_is_rejected_naming_the_line(partner_server):
    partner_server.set_feed("sku,quantity\nMUG,many\n")

    with pytest.raises(RemoteRejected, match="line 2: column 'quantity'"):
        list(served(partner_server).pull_stock())


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=500), RemoteUnavailable),
        (Fault(status=429, retry_after="3"), RemoteThrottled),
        (Fault(status=404), RemoteRejected),
    ],
)
def test_feed_errors_are_mapped(partner_server, fault, error):
    partner_server.inject(fault)

    with pytest.raises(error):
        list(served(partner_server).pull_stock())


def test_a_feed_refusing_the_token_is_an_auth_failure(partner_server):
    partner = connector(
        partner_server.base_url, credentials={"token": "wrong"}, feed_url="/feed.csv"
    )

    with pytest.raises(RemoteAuthFailed):
        list(partner.pull_stock())


def test_push_is_a_signed_json_post_the_partner_verifies(partner_server):
    items = [
        PushItem(sku="MUG", remote_id="MUG", quantity=5, location="north"),
        PushItem(sku="CUP", remote_id="CUP", quantity=0, location="north"),
    ]

    results = served(partner_server).push_stock(items)

    assert [(r.is_confirmed, r.confirmed_quantity) for r in results] == [(True, 5), (True, 0)]
    assert partner_server.rejected_signatures == 0
    assert partner_server.stock == {("MUG", "north"): 5, ("CUP", "north"): 0}
    [body] = partner_server.pushes
    assert body["items"][1] == {
        "sku": "CUP",
        "quantity": 0,
        "location": "north",
        "status": "out_of_stock",
    }
    request = partner_server.requests_to("/push")[0]
    assert request.headers["x-hub-signature-256"] == hex_signature(request.body)
    assert request.headers["x-hub-delivery"]


def test_push_is_sent_in_batches(partner_server):
    items = [PushItem(sku=f"SKU-{n}", remote_id=f"SKU-{n}", quantity=n) for n in range(5)]

    served(partner_server, push_batch_size=2).push_stock(items)

    assert [len(body["items"]) for body in partner_server.pushes] == [2, 2, 1]
    assert len(partner_server.stock) == 5


def test_push_signed_in_base64_in_a_custom_header():
    with FakePartner(
        secret=SECRET, signature_header="X-Partner-Hmac", encoding="base64", prefix=""
    ) as fake:
        partner = connector(
            fake.base_url,
            push_url="/push",
            signature_header="X-Partner-Hmac",
            signature_encoding="base64",
        )

        results = partner.push_stock([PushItem(sku="MUG", remote_id="MUG", quantity=2)])

        assert results[0].is_confirmed
        assert fake.stock == {("MUG", ""): 2}


def test_push_signed_with_a_secret_the_partner_does_not_share_is_refused(partner_server):
    partner = served(partner_server)
    partner.config = ConnectorConfig(
        base_url=partner_server.base_url,
        credentials={"token": FEED_TOKEN, "push_secret": "not-shared"},
        webhook_secret=SECRET,
        options=partner.config.options,
    )

    with pytest.raises(RemoteAuthFailed, match="401"):
        partner.push_stock([PushItem(sku="MUG", remote_id="MUG", quantity=2)])

    assert partner_server.rejected_signatures == 1
    assert partner_server.stock == {}


def test_push_without_any_secret_is_never_sent_unsigned(partner_server):
    partner = PartnerConnector(
        ConnectorConfig(base_url=partner_server.base_url, options={"push_url": "/push"})
    )

    with pytest.raises(RemoteAuthFailed, match="No secret to sign pushes"):
        partner.push_stock([PushItem(sku="MUG", remote_id="MUG", quantity=2)])

    assert partner_server.requests_to("/push") == []


def test_a_partner_refusing_a_batch_marks_its_items_unconfirmed(partner_server):
    partner_server.inject(Fault(status=422, path_contains="/push"))

    results = served(partner_server).push_stock([PushItem(sku="MUG", remote_id="MUG", quantity=2)])

    assert not results[0].is_confirmed
    assert "422" in results[0].error
