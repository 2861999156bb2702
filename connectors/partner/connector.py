"""The partner store class: signed JSON webhooks, a CSV feed, signed JSON pushes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
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
    PushItem,
    PushNotConfigured,
    PushResult,
    RemoteAuthFailed,
    RemoteOrder,
    RemoteOrderLine,
    RemoteRejected,
    RemoteStatus,
    RemoteStock,
    RemoteUnavailable,
)
from connectors.engine.http import header, raise_for_store_independent_status
from connectors.partner.csv_feed import parse_stock_csv
from connectors.partner.fields import (
    MISSING,
    describe_path,
    get_path,
    parse_time,
    required_text,
    set_path,
    stock_status,
    whole_number,
)
from connectors.partner.options import PartnerOptions


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

    def why_push_impossible(self) -> str:
        if self.options.push_url:
            return ""
        return (
            "push_url is required while the hub owns stock this partner shows (ownership "
            "hub, or a location the hub owns): it is where the hub sends it. Set push_url, "
            "or let the partner own its stock (ownership store)."
        )

    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        if not self.options.push_url:
            raise PushNotConfigured("push_url is not configured for this partner")
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
        given = header(headers, self.options.signature_header)
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
        raw_items = get_path(payload, options.items_path)
        raw_orders = get_path(payload, options.orders_path)
        if raw_items is MISSING and raw_orders is MISSING:
            raise MalformedInbound(
                f"body has neither stock records at {describe_path(options.items_path)} "
                f"(items_path) nor orders at {describe_path(options.orders_path)} (orders_path)"
            )
        stock = self._stock_records(raw_items) if raw_items is not MISSING else ()
        orders = self._orders(raw_orders) if raw_orders is not MISSING else ()
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
        return header(headers, self.options.delivery_header)

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
        where = describe_path(self.options.items_path)
        if not isinstance(raw, list):
            raise MalformedInbound(f"{where}: expected a list of stock records")
        mapping = self.options.field_mapping
        records: list[RemoteStock] = []
        for number, row in enumerate(raw):
            here = f"{where}[{number}]"
            sku = required_text(row, mapping["sku"], here)
            quantity_value = get_path(row, mapping["quantity"])
            quantity = (
                None
                if quantity_value is MISSING or quantity_value is None
                else whole_number(quantity_value, f"{here}.{mapping['quantity']}")
            )
            status = stock_status(
                get_path(row, mapping["status"]),
                f"{here}.{mapping['status']}",
                self.options.status_values,
            )
            if status is None:
                status = RemoteStatus.IN_STOCK if (quantity or 0) > 0 else RemoteStatus.OUT_OF_STOCK
            location = get_path(row, mapping["location"])
            records.append(
                RemoteStock(
                    sku=sku,
                    remote_id=sku,
                    quantity=quantity,
                    status=status,
                    location=str(location)
                    if location not in (MISSING, None, "")
                    else self.options.default_location,
                    is_managed=quantity is not None,
                    updated_at=parse_time(
                        get_path(row, mapping["updated_at"]), f"{here}.{mapping['updated_at']}"
                    ),
                )
            )
        return records

    def _orders(self, raw: object) -> list[RemoteOrder]:
        where = describe_path(self.options.orders_path)
        if not isinstance(raw, list):
            raise MalformedInbound(f"{where}: expected a list of orders")
        mapping = self.options.field_mapping
        orders: list[RemoteOrder] = []
        for number, row in enumerate(raw):
            here = f"{where}[{number}]"
            reference = required_text(row, mapping["order_reference"], here)
            state_path = mapping["order_state"]
            state_value = get_path(row, state_path)
            if state_value is MISSING or state_value in (None, ""):
                raise MalformedInbound(f"{here}.{state_path}: required, the order's state")
            state = self.options.order_state_values.get(str(state_value).strip().lower())
            if state is None:
                known = ", ".join(sorted(self.options.order_state_values))
                raise MalformedInbound(
                    f"{here}.{state_path}: {state_value!r} is not a known order state "
                    f"(known: {known}; add it to order_state_values)"
                )
            lines_path = mapping["order_lines"]
            raw_lines = get_path(row, lines_path)
            if not isinstance(raw_lines, list):
                raise MalformedInbound(f"{here}.{lines_path}: required, a list of order lines")
            lines = []
            for line_number, line in enumerate(raw_lines):
                line_here = f"{here}.{lines_path}[{line_number}]"
                sku = required_text(line, mapping["line_sku"], line_here)
                quantity_path = mapping["line_quantity"]
                value = get_path(line, quantity_path)
                if value is MISSING:
                    raise MalformedInbound(f"{line_here}.{quantity_path}: required")
                quantity = whole_number(value, f"{line_here}.{quantity_path}")
                if quantity == 0:
                    raise MalformedInbound(f"{line_here}.{quantity_path}: must be at least 1")
                lines.append(RemoteOrderLine(sku=sku, quantity=quantity))
            orders.append(
                RemoteOrder(
                    reference=reference,
                    state=state,
                    lines=tuple(lines),
                    updated_at=parse_time(
                        get_path(row, mapping["order_updated_at"]),
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
            set_path(record, mapping["sku"], item.sku)
            set_path(record, mapping["quantity"], item.quantity)
            set_path(record, mapping["location"], item.location)
            status = item.status or (
                RemoteStatus.IN_STOCK if item.quantity > 0 else RemoteStatus.OUT_OF_STOCK
            )
            set_path(record, mapping["status"], status.value)
            records.append(record)
        body: Any = {"sent_at": datetime.now(UTC).isoformat()}
        if self.options.items_path:
            set_path(body, self.options.items_path, records)
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
        raise_for_store_independent_status(response, described)
        raise RemoteRejected(described, status=status)
