"""A generic sales partner (a marketplace, a local store, an ERP or WMS) without an API of
its own kind: a signed JSON webhook with a configurable field mapping, a CSV stock feed
(uploaded, or fetched from a URL by the polling task) and a signed JSON push.

Signatures are HMAC-SHA256 of the raw body, hex or base64, in a configurable header.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests

from connectors.base import (
    Connector,
    ConnectorConfig,
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

DEFAULT_FIELD_MAPPING: dict[str, str] = {
    "sku": "sku",
    "quantity": "quantity",
    "status": "status",
    "location": "location",
    "updated_at": "updated_at",
    "order_reference": "id",
    "order_state": "status",
    "order_lines": "lines",
    "line_sku": "sku",
    "line_quantity": "quantity",
    "order_updated_at": "updated_at",
}
CSV_FIELDS = ("sku", "quantity", "status", "location", "updated_at")
# sku and quantity are required; the other columns are read when the header has them.
DEFAULT_CSV_COLUMNS: dict[str, str] = {name: name for name in CSV_FIELDS}

DEFAULT_STATUS_VALUES: dict[str, RemoteStatus] = {
    "in_stock": RemoteStatus.IN_STOCK,
    "instock": RemoteStatus.IN_STOCK,
    "out_of_stock": RemoteStatus.OUT_OF_STOCK,
    "outofstock": RemoteStatus.OUT_OF_STOCK,
    "backorder": RemoteStatus.BACKORDER,
    "onbackorder": RemoteStatus.BACKORDER,
}
DEFAULT_ORDER_STATES: dict[str, OrderState] = {
    "pending": OrderState.HOLD,
    "placed": OrderState.HOLD,
    "on-hold": OrderState.HOLD,
    "hold": OrderState.HOLD,
    "paid": OrderState.PAID,
    "processing": OrderState.PAID,
    "shipped": OrderState.SHIPPED,
    "completed": OrderState.SHIPPED,
    "cancelled": OrderState.RELEASED,
    "canceled": OrderState.RELEASED,
    "refunded": OrderState.RELEASED,
    "released": OrderState.RELEASED,
}
DEFAULT_PUSH_BATCH_SIZE = 100

_MISSING = object()


@dataclass(frozen=True, slots=True)
class PartnerOptions:
    signature_header: str = "X-Hub-Signature-256"
    signature_encoding: str = "hex"
    signature_prefix: str = "sha256="
    delivery_header: str = "X-Hub-Delivery"
    items_path: str = "items"
    orders_path: str = "orders"
    field_mapping: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_MAPPING))
    status_values: Mapping[str, RemoteStatus] = field(
        default_factory=lambda: dict(DEFAULT_STATUS_VALUES)
    )
    order_state_values: Mapping[str, OrderState] = field(
        default_factory=lambda: dict(DEFAULT_ORDER_STATES)
    )
    csv_columns: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CSV_COLUMNS))
    delimiter: str = ","
    default_location: str = ""
    feed_url: str = ""
    push_url: str = ""
    push_batch_size: int = DEFAULT_PUSH_BATCH_SIZE

    @classmethod
    def from_config(cls, options: Mapping[str, object]) -> PartnerOptions:
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown partner option(s): {', '.join(unknown)}")
        encoding = _text_option(options, "signature_encoding", "hex")
        if encoding not in ("hex", "base64"):
            raise ValueError("signature_encoding must be 'hex' or 'base64'")
        mapping = _mapping_option(options, "field_mapping", set(DEFAULT_FIELD_MAPPING))
        columns = _mapping_option(options, "csv_columns", set(CSV_FIELDS))
        delimiter = _text_option(options, "delimiter", ",")
        if len(delimiter) != 1 or delimiter in '\r\n"':
            raise ValueError("delimiter must be one character (not a quote or line break)")
        batch = options.get("push_batch_size", DEFAULT_PUSH_BATCH_SIZE)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError("push_batch_size must be a whole number of at least 1")
        return cls(
            signature_header=_text_option(options, "signature_header", "X-Hub-Signature-256")
            or "X-Hub-Signature-256",
            signature_encoding=encoding,
            signature_prefix=_text_option(
                options, "signature_prefix", "sha256=" if encoding == "hex" else ""
            ),
            delivery_header=_text_option(options, "delivery_header", "X-Hub-Delivery"),
            items_path=_text_option(options, "items_path", "items"),
            orders_path=_text_option(options, "orders_path", "orders"),
            field_mapping={**DEFAULT_FIELD_MAPPING, **mapping},
            status_values={
                **DEFAULT_STATUS_VALUES,
                **_enum_mapping(options, "status_values", RemoteStatus),
            },
            order_state_values={
                **DEFAULT_ORDER_STATES,
                **_enum_mapping(options, "order_state_values", OrderState),
            },
            csv_columns={**DEFAULT_CSV_COLUMNS, **columns},
            delimiter=delimiter,
            default_location=_text_option(options, "default_location", ""),
            feed_url=_text_option(options, "feed_url", ""),
            push_url=_text_option(options, "push_url", ""),
            push_batch_size=batch,
        )


class PartnerConnector(Connector):
    """A partner speaking signed JSON and CSV.

    `base_url`: the partner's root; `feed_url` and `push_url` may be relative to it.

    credentials (all optional):
      - `token`: sent as `Authorization: Bearer …` when fetching the feed and pushing; or
        `username` + `password` for HTTP basic authentication.
      - `push_secret`: signs pushes (default: the connector's webhook secret, which always
        verifies inbound webhooks). A push is never sent unsigned.

    options:
      - `signature_header` ("X-Hub-Signature-256"), `signature_encoding` ("hex" | "base64"),
        `signature_prefix` ("sha256=" for hex, "" for base64; inbound values are accepted
        with or without it), `delivery_header` ("X-Hub-Delivery").
      - `items_path` ("items") and `orders_path` ("orders"): dotted paths to the lists of
        stock records and orders in a webhook body ("" for a body that is the list).
      - `field_mapping`: dotted paths inside one record, over these defaults:
        sku "sku", quantity "quantity", status "status", location "location", updated_at
        "updated_at"; order_reference "id", order_state "status", order_lines "lines",
        line_sku "sku", line_quantity "quantity", order_updated_at "updated_at".
      - `status_values` / `order_state_values`: the partner's words for stock statuses
        (in_stock, out_of_stock, backorder) and order states (hold, paid, shipped,
        released), added to common defaults (compared lower-cased).
      - `csv_columns`: header names of the CSV feed for sku and quantity (required) and
        status, location, updated_at (read when present); each defaults to its own name.
        `delimiter` (",").
      - `default_location` (""): the location of records that name none.
      - `feed_url`: the CSV `pull_stock` fetches (no feed: `pull_stock` yields nothing).
      - `push_url`: where `push_stock` POSTs; `push_batch_size` (100).

    Push body: the records at `items_path`, each with sku, quantity, location and status
    (in_stock, out_of_stock or backorder) at the `field_mapping` paths, plus `sent_at`;
    `X-Hub-Delivery` carries a new id per request.
    remote_id is the SKU. The partner has no orders API: `pull_orders` yields nothing.
    """

    kind = "partner"

    def __init__(self, config: ConnectorConfig, session: requests.Session | None = None):
        super().__init__(config, session)
        self.options = PartnerOptions.from_config(config.options)

    # Connector interface ---------------------------------------------------------------
    def test_connection(self) -> None:
        """Fetch and read the feed; else send an empty signed push; else nothing to check."""
        if self.options.feed_url:
            self.fetch_feed()
        elif self.options.push_url:
            self._post_push([])

    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        """The CSV feed. Rows dated at or before `modified_after` are left out."""
        if not self.options.feed_url:
            return
        for record in self.fetch_feed():
            if (
                modified_after is not None
                and record.updated_at is not None
                and record.updated_at <= modified_after
            ):
                continue
            yield record

    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        return iter(())

    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        if not self.options.push_url:
            raise RemoteRejected("push_url is not configured for this partner")
        results: list[PushResult] = []
        size = self.options.push_batch_size
        for start in range(0, len(items), size):
            batch = list(items[start : start + size])
            try:
                self._post_push(batch)
            except RemoteAuthFailed:
                raise
            except RemoteRejected as refusal:
                results += [
                    PushResult(item=item, is_confirmed=False, error=str(refusal)) for item in batch
                ]
            else:
                results += [
                    PushResult(item=item, is_confirmed=True, confirmed_quantity=item.quantity)
                    for item in batch
                ]
        return results

    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        secret = self.config.webhook_secret
        given = _header(headers, self.options.signature_header)
        if not secret or not given:
            return InboundVerdict.BAD_SIGNATURE
        prefix = self.options.signature_prefix or "sha256="
        if given.lower().startswith(prefix.lower()):
            given = given[len(prefix) :].strip()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        try:
            if self.options.signature_encoding == "hex":
                received = bytes.fromhex(given)
            else:
                received = base64.b64decode(given, validate=True)
        except (ValueError, binascii.Error):
            return InboundVerdict.BAD_SIGNATURE
        if hmac.compare_digest(digest, received):
            return InboundVerdict.VALID
        return InboundVerdict.BAD_SIGNATURE

    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Stock records at `items_path` and/or orders at `orders_path`.

        An event with orders has kind ORDERS (and may carry stock records too); with only
        stock records, STOCK; with empty lists, IGNORED.
        """
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as failure:
            raise MalformedInbound(f"body is not JSON: {failure}") from None
        options = self.options
        raw_items = _get_path(payload, options.items_path)
        raw_orders = _get_path(payload, options.orders_path)
        if raw_items is _MISSING and raw_orders is _MISSING:
            raise MalformedInbound(
                f"body has neither stock records at {_describe_path(options.items_path)} "
                f"(items_path) nor orders at {_describe_path(options.orders_path)} (orders_path)"
            )
        stock = self._stock_records(raw_items) if raw_items is not _MISSING else ()
        orders = self._orders(raw_orders) if raw_orders is not _MISSING else ()
        if orders:
            kind = InboundKind.ORDERS
        elif stock:
            kind = InboundKind.STOCK
        else:
            kind = InboundKind.IGNORED
        times = [moment for moment in (r.updated_at for r in (*stock, *orders)) if moment]
        return InboundEvent(
            kind=kind,
            topic=kind.value,
            delivery_id=self.delivery_id(headers=headers, body=body),
            occurred_at=max(times) if times else None,
            orders=tuple(orders),
            stock=tuple(stock),
        )

    def delivery_id(self, *, headers: Mapping[str, str], body: bytes) -> str:
        return _header(headers, self.options.delivery_header)

    # CSV ---------------------------------------------------------------------------------
    def parse_csv(self, data: bytes) -> list[RemoteStock]:
        """An uploaded CSV feed, read with this partner's column mapping."""
        return parse_stock_csv(
            data,
            columns=self.options.csv_columns,
            delimiter=self.options.delimiter,
            default_location=self.options.default_location,
            status_values=self.options.status_values,
        )

    def fetch_feed(self) -> list[RemoteStock]:
        response = self._request("GET", self.options.feed_url, accept="text/csv")
        self._raise_for_status(response, "GET feed")
        try:
            return self.parse_csv(response.content)
        except MalformedInbound as problem:
            raise RemoteRejected(f"The partner's CSV feed is malformed: {problem}") from None

    # Webhook records -----------------------------------------------------------------------
    def _stock_records(self, raw: object) -> list[RemoteStock]:
        where = _describe_path(self.options.items_path)
        if not isinstance(raw, list):
            raise MalformedInbound(f"{where}: expected a list of stock records")
        mapping = self.options.field_mapping
        records: list[RemoteStock] = []
        for number, row in enumerate(raw):
            here = f"{where}[{number}]"
            sku = _required_text(row, mapping["sku"], here)
            quantity_value = _get_path(row, mapping["quantity"])
            quantity = (
                None
                if quantity_value is _MISSING or quantity_value is None
                else _whole(quantity_value, f"{here}.{mapping['quantity']}")
            )
            status = _status(
                _get_path(row, mapping["status"]),
                f"{here}.{mapping['status']}",
                self.options.status_values,
            )
            if status is None:
                status = RemoteStatus.IN_STOCK if (quantity or 0) > 0 else RemoteStatus.OUT_OF_STOCK
            location = _get_path(row, mapping["location"])
            records.append(
                RemoteStock(
                    sku=sku,
                    remote_id=sku,
                    quantity=quantity,
                    status=status,
                    location=str(location)
                    if location not in (_MISSING, None, "")
                    else self.options.default_location,
                    is_managed=quantity is not None,
                    updated_at=_time(
                        _get_path(row, mapping["updated_at"]), f"{here}.{mapping['updated_at']}"
                    ),
                )
            )
        return records

    def _orders(self, raw: object) -> list[RemoteOrder]:
        where = _describe_path(self.options.orders_path)
        if not isinstance(raw, list):
            raise MalformedInbound(f"{where}: expected a list of orders")
        mapping = self.options.field_mapping
        orders: list[RemoteOrder] = []
        for number, row in enumerate(raw):
            here = f"{where}[{number}]"
            reference = _required_text(row, mapping["order_reference"], here)
            state_path = mapping["order_state"]
            state_value = _get_path(row, state_path)
            if state_value is _MISSING or state_value in (None, ""):
                raise MalformedInbound(f"{here}.{state_path}: required, the order's state")
            state = self.options.order_state_values.get(str(state_value).strip().lower())
            if state is None:
                known = ", ".join(sorted(self.options.order_state_values))
                raise MalformedInbound(
                    f"{here}.{state_path}: {state_value!r} is not a known order state "
                    f"(known: {known}; add it to order_state_values)"
                )
            lines_path = mapping["order_lines"]
            raw_lines = _get_path(row, lines_path)
            if not isinstance(raw_lines, list):
                raise MalformedInbound(f"{here}.{lines_path}: required, a list of order lines")
            lines = []
            for line_number, line in enumerate(raw_lines):
                line_here = f"{here}.{lines_path}[{line_number}]"
                sku = _required_text(line, mapping["line_sku"], line_here)
                quantity_path = mapping["line_quantity"]
                value = _get_path(line, quantity_path)
                if value is _MISSING:
                    raise MalformedInbound(f"{line_here}.{quantity_path}: required")
                quantity = _whole(value, f"{line_here}.{quantity_path}")
                if quantity == 0:
                    raise MalformedInbound(f"{line_here}.{quantity_path}: must be at least 1")
                lines.append(RemoteOrderLine(sku=sku, quantity=quantity))
            orders.append(
                RemoteOrder(
                    reference=reference,
                    state=state,
                    lines=tuple(lines),
                    updated_at=_time(
                        _get_path(row, mapping["order_updated_at"]),
                        f"{here}.{mapping['order_updated_at']}",
                    ),
                )
            )
        return orders

    # HTTP ------------------------------------------------------------------------------
    def push_body(self, items: Sequence[PushItem]) -> bytes:
        """The exact bytes `push_stock` signs and sends for these items."""
        mapping = self.options.field_mapping
        records = []
        for item in items:
            record: dict = {}
            _set_path(record, mapping["sku"], item.sku)
            _set_path(record, mapping["quantity"], item.quantity)
            _set_path(record, mapping["location"], item.location)
            status = item.status or (
                RemoteStatus.IN_STOCK if item.quantity > 0 else RemoteStatus.OUT_OF_STOCK
            )
            _set_path(record, mapping["status"], status.value)
            records.append(record)
        body: Any = {"sent_at": datetime.now(UTC).isoformat()}
        if self.options.items_path:
            _set_path(body, self.options.items_path, records)
        else:
            body = records
        return json.dumps(body, separators=(",", ":")).encode()

    def sign(self, body: bytes, *, secret: str) -> str:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if self.options.signature_encoding == "hex":
            encoded = digest.hex()
        else:
            encoded = base64.b64encode(digest).decode()
        return self.options.signature_prefix + encoded

    def _post_push(self, items: Sequence[PushItem]) -> None:
        secret = self.config.credentials.get("push_secret") or self.config.webhook_secret
        if not secret:
            raise RemoteAuthFailed(
                "No secret to sign pushes with: set the webhook secret or credentials 'push_secret'"
            )
        body = self.push_body(items)
        response = self._request(
            "POST",
            self.options.push_url,
            data=body,
            headers={
                "Content-Type": "application/json",
                self.options.signature_header: self.sign(body, secret=secret),
                "X-Hub-Delivery": uuid.uuid4().hex,
            },
        )
        self._raise_for_status(response, "POST push")

    def _request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        target = urljoin(self.config.base_url.rstrip("/") + "/", url)
        credentials = self.config.credentials
        all_headers = {"Accept": accept, **(headers or {})}
        auth = None
        if credentials.get("token"):
            all_headers["Authorization"] = f"Bearer {credentials['token']}"
        elif credentials.get("username"):
            auth = (credentials["username"], credentials.get("password", ""))
        try:
            return self.session.request(
                method,
                target,
                data=data,
                headers=all_headers,
                auth=auth,
                timeout=self.config.timeout_seconds,
            )
        except requests.Timeout:
            raise RemoteUnavailable(
                f"The partner did not answer within {self.config.timeout_seconds:g} s"
            ) from None
        except requests.RequestException as failure:
            raise RemoteUnavailable(
                f"The partner could not be reached: {type(failure).__name__}"
            ) from None

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        described = f"The partner answered {status} to {what}: {(response.text or '')[:200]}"
        if status == 429:
            raise RemoteThrottled(
                described, retry_after_seconds=_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 500:
            raise RemoteUnavailable(described, status=status)
        if status in (401, 403):
            raise RemoteAuthFailed(described, status=status)
        raise RemoteRejected(described, status=status)


# CSV feed ---------------------------------------------------------------------------------


def parse_stock_csv(
    data: bytes,
    *,
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    default_location: str = "",
    status_values: Mapping[str, RemoteStatus] | None = None,
) -> list[RemoteStock]:
    """Stock records from a CSV file, checked as a whole.

    `columns` maps the hub's fields (sku and quantity required; status, location,
    updated_at optional) to header names. Raises `MalformedInbound` naming the line and
    column of the first problem; nothing is returned from a file with any problem.
    """
    columns = {**DEFAULT_CSV_COLUMNS, **(columns or {})}
    statuses = status_values or DEFAULT_STATUS_VALUES
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        raise MalformedInbound(
            f"the file is not UTF-8 text (byte {failure.start} cannot be read)"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header_row = next(reader, None)
        if header_row is None or not any(cell.strip() for cell in header_row):
            raise MalformedInbound("line 1: the file is empty, expected a header line")
        header_names = [cell.strip() for cell in header_row]
        positions: dict[str, int] = {}
        for name, column in columns.items():
            if column in header_names:
                positions[name] = header_names.index(column)
            elif name in ("sku", "quantity"):
                raise MalformedInbound(
                    f"line 1: no column {column!r} (mapped to {name}); the header has: "
                    f"{', '.join(header_names)}"
                )
        records: list[RemoteStock] = []
        first_line_of: dict[tuple[str, str], int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header_names):
                raise MalformedInbound(
                    f"line {line}: {len(row)} fields, the header has {len(header_names)} "
                    f"(is the delimiter {delimiter!r} right?)"
                )

            def cell(name: str, row: list[str] = row) -> str:
                return row[positions[name]].strip() if name in positions else ""

            sku = cell("sku")
            if not sku:
                raise MalformedInbound(f"line {line}: column {columns['sku']!r} is empty")
            raw_quantity = cell("quantity")
            if not raw_quantity:
                raise MalformedInbound(f"line {line}: column {columns['quantity']!r} is empty")
            quantity = _whole(raw_quantity, f"line {line}: column {columns['quantity']!r}")
            status = _status(
                cell("status") or None, f"line {line}: column {columns.get('status')!r}", statuses
            )
            if status is None:
                status = RemoteStatus.IN_STOCK if quantity > 0 else RemoteStatus.OUT_OF_STOCK
            location = cell("location") or default_location
            key = (sku, location)
            if key in first_line_of:
                raise MalformedInbound(
                    f"line {line}: SKU {sku!r}"
                    + (f" at {location!r}" if location else "")
                    + f" appears twice (also line {first_line_of[key]})"
                )
            first_line_of[key] = line
            records.append(
                RemoteStock(
                    sku=sku,
                    remote_id=sku,
                    quantity=quantity,
                    status=status,
                    location=location,
                    updated_at=_time(
                        cell("updated_at") or None,
                        f"line {line}: column {columns.get('updated_at')!r}",
                    ),
                )
            )
    except csv.Error as failure:
        raise MalformedInbound(f"line {reader.line_num}: {failure}") from None
    return records


# Helpers ----------------------------------------------------------------------------------


def _get_path(value: object, path: str) -> object:
    """Follow a dotted path ("stock.0.quantity"); "" is the value itself."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            if int(part) >= len(value):
                return _MISSING
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _set_path(target: dict, path: str, value: object) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _describe_path(path: str) -> str:
    return path or "body"


def _required_text(row: object, path: str, here: str) -> str:
    if not isinstance(row, dict):
        raise MalformedInbound(f"{here}: expected an object")
    value = _get_path(row, path)
    if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
        raise MalformedInbound(f"{here}.{path}: required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedInbound(f"{here}.{path}: expected text, got {value!r}")
    return str(value).strip()


def _whole(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number") from None
    if not math.isfinite(number) or number != int(number):
        raise MalformedInbound(f"{where}: {value!r} is not a whole number")
    if number < 0:
        raise MalformedInbound(f"{where}: {value!r} is negative")
    return int(number)


def _status(value: object, where: str, known: Mapping[str, RemoteStatus]) -> RemoteStatus | None:
    if value is _MISSING or value is None or value == "":
        return None
    word = str(value).strip().lower()
    lowered = {key.lower(): status for key, status in known.items()}
    if word not in lowered:
        raise MalformedInbound(
            f"{where}: {value!r} is not a known stock status "
            f"(known: {', '.join(sorted(lowered))}; add it to status_values)"
        )
    return lowered[word]


def _time(value: object, where: str) -> datetime | None:
    if value is _MISSING or value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedInbound(f"{where}: {value!r} is not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise MalformedInbound(f"{where}: {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value).strip()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _text_option(options: Mapping[str, object], name: str, default: str) -> str:
    value = options.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value


def _mapping_option(options: Mapping[str, object], name: str, allowed: set[str]) -> dict[str, str]:
    value = options.get(name) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must map field names to paths or columns")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(
            f"{name}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )
    if not all(isinstance(v, str) and v for v in value.values()):
        raise ValueError(f"{name}: every value must be a non-empty path or column name")
    return {str(k): v for k, v in value.items()}


def _enum_mapping(options: Mapping[str, object], name: str, enum: type) -> dict:
    value = options.get(name) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must map the partner's words to the hub's")
    result = {}
    for word, target in value.items():
        try:
            result[str(word).lower()] = enum(target)
        except ValueError:
            choices = ", ".join(member.value for member in enum)
            raise ValueError(f"{name}: {target!r} is not one of {choices}") from None
    return result
