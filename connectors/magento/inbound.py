"""The normalised inbound contract: what a small connector module inside a store sends.

`{"warehouse": "<source code>", "source_url": "...", "data": [{"sku", "qty_on_hand",
"qty_reserved", "available_qty", "stock_status", "force_stock_status", "updated_at"}]}`,
signed with the hex HMAC-SHA256 of the raw body in `X-Hub-Signature-256: sha256=<hex>`,
delivery id in `X-Hub-Delivery`. Magento has no outgoing webhooks of its own, so this is
how Magento-side changes reach the hub without polling.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import (
    InboundEvent,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    RemoteStatus,
    RemoteStock,
)
from connectors.engine.http import header
from connectors.magento.client import parse_magento_time

SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-Hub-Delivery"
SIGNATURE_PREFIX = "sha256="
NORMALISED_TOPIC = "stock.snapshot"


def sign_hub_body(*, secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value for a body: "sha256=" + hex HMAC-SHA256."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub_signature(*, secret: str, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
    """Constant-time check of `X-Hub-Signature-256`. No secret configured: nothing is valid."""
    given = header(headers, SIGNATURE_HEADER)
    if not secret or not given.lower().startswith(SIGNATURE_PREFIX):
        return InboundVerdict.BAD_SIGNATURE
    expected = sign_hub_body(secret=secret, body=body)
    given = SIGNATURE_PREFIX + given[len(SIGNATURE_PREFIX) :].strip().lower()
    if hmac.compare_digest(expected.encode(), given.encode()):
        return InboundVerdict.VALID
    return InboundVerdict.BAD_SIGNATURE


_STATUS_WORDS: dict[str, RemoteStatus] = {
    "in_stock": RemoteStatus.IN_STOCK,
    "instock": RemoteStatus.IN_STOCK,
    "1": RemoteStatus.IN_STOCK,
    "true": RemoteStatus.IN_STOCK,
    "out_of_stock": RemoteStatus.OUT_OF_STOCK,
    "outofstock": RemoteStatus.OUT_OF_STOCK,
    "0": RemoteStatus.OUT_OF_STOCK,
    "false": RemoteStatus.OUT_OF_STOCK,
    "backorder": RemoteStatus.BACKORDER,
    "onbackorder": RemoteStatus.BACKORDER,
}


def parse_normalised_stock(
    body: bytes,
    *,
    delivery_id: str = "",
    force_status_values: Mapping[str, RemoteStatus] | None = None,
) -> InboundEvent:
    """Read `{"warehouse", "source_url", "data": [{"sku", "qty_on_hand", …}]}`.

    `warehouse` becomes each record's location. `qty_on_hand` is required and whole;
    `qty_reserved` and `available_qty` are checked but not used (the hub computes its own);
    a missing `stock_status` follows `qty_on_hand`; `force_stock_status` is null/"" (not
    forced), "in_stock", "out_of_stock" or a value named in `force_status_values`;
    `updated_at` is ISO 8601 or Magento's "YYYY-MM-DD HH:MM:SS", UTC when it has no offset.
    Raises `MalformedInbound` naming the first field that is wrong.
    """
    payload = _json_document(body)
    if not isinstance(payload, dict):
        raise MalformedInbound("body: expected a JSON object with 'warehouse' and 'data'")
    warehouse = payload.get("warehouse")
    if not isinstance(warehouse, str) or not warehouse.strip():
        raise MalformedInbound("warehouse: required, the Magento source or warehouse code")
    source_url = payload.get("source_url")
    if source_url is not None and not isinstance(source_url, str):
        raise MalformedInbound("source_url: expected a string")
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise MalformedInbound("data: required, a list of stock records")
    forced_words: dict[str, RemoteStatus] = {
        "in_stock": RemoteStatus.IN_STOCK,
        "out_of_stock": RemoteStatus.OUT_OF_STOCK,
        **(force_status_values or {}),
    }
    records: list[RemoteStock] = []
    first_row_of: dict[str, int] = {}
    for number, row in enumerate(rows):
        where = f"data[{number}]"
        if not isinstance(row, dict):
            raise MalformedInbound(f"{where}: expected an object")
        sku = row.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            raise MalformedInbound(f"{where}.sku: required, a non-empty string")
        if sku in first_row_of:
            raise MalformedInbound(
                f"{where}.sku: {sku!r} appears twice (also data[{first_row_of[sku]}])"
            )
        first_row_of[sku] = number
        records.append(
            _stock_record(row, where, sku=sku, location=warehouse, forced_words=forced_words)
        )
    times = [record.updated_at for record in records if record.updated_at is not None]
    return InboundEvent(
        kind=InboundKind.STOCK if records else InboundKind.IGNORED,
        topic=NORMALISED_TOPIC,
        delivery_id=delivery_id,
        occurred_at=max(times) if times else None,
        stock=tuple(records),
    )


def _stock_record(
    row: dict, where: str, *, sku: str, location: str, forced_words: Mapping[str, RemoteStatus]
) -> RemoteStock:
    """One record of the push, checked field by field (`where` names it in errors)."""
    if "qty_on_hand" not in row:
        raise MalformedInbound(f"{where}.qty_on_hand: required")
    on_hand = _whole_field(row["qty_on_hand"], f"{where}.qty_on_hand")
    for name in ("qty_reserved", "available_qty"):
        if row.get(name) is not None:
            _number_field(row[name], f"{where}.{name}")
    status = _status_field(row.get("stock_status"), f"{where}.stock_status")
    if status is None:
        status = RemoteStatus.IN_STOCK if on_hand > 0 else RemoteStatus.OUT_OF_STOCK
    forced = row.get("force_stock_status")
    if forced in (None, ""):
        forced_status = None
    elif str(forced) in forced_words:
        forced_status = forced_words[str(forced)]
    else:
        raise MalformedInbound(
            f"{where}.force_stock_status: {forced!r} is not null, 'in_stock' or 'out_of_stock'"
        )
    return RemoteStock(
        sku=sku,
        remote_id=sku,
        quantity=on_hand,
        status=status,
        location=location,
        forced_status=forced_status,
        updated_at=_time_field(row.get("updated_at"), f"{where}.updated_at"),
    )


def _json_document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as failure:
        raise MalformedInbound(f"body is not JSON: {failure}") from None


def _number_field(value: object, where: str) -> float:
    if isinstance(value, bool):
        raise MalformedInbound(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise MalformedInbound(f"{where}: expected a number, got {value!r}") from None
    else:
        raise MalformedInbound(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(number):
        raise MalformedInbound(f"{where}: expected a finite number, got {value!r}")
    return number


def _whole_field(value: object, where: str) -> int:
    number = _number_field(value, where)
    if number != int(number):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number")
    if number < 0:
        raise MalformedInbound(f"{where}: {value!r} is negative")
    return int(number)


def _status_field(value: object, where: str) -> RemoteStatus | None:
    if value is None or value == "":
        return None
    word = str(value).strip().lower()
    if word not in _STATUS_WORDS:
        raise MalformedInbound(
            f"{where}: {value!r} is not one of in_stock, out_of_stock, backorder (or 1/0)"
        )
    return _STATUS_WORDS[word]


def _time_field(value: object, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    moment = parse_magento_time(value)
    if moment is None:
        raise MalformedInbound(
            f"{where}: {value!r} is not an ISO 8601 time or 'YYYY-MM-DD HH:MM:SS'"
        )
    return moment
