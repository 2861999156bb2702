"""Magento 2 with Multi-Source Inventory (MSI), through its REST API.

Facts and their sources: ../shared/reference/store-protocols.md §2-5. What this class
relies on that the reference marks unverified is said where it is used.

The hub writes *physical* quantities per source (`POST /V1/inventory/source-items`), never
a salable figure: Magento subtracts its own reservations from what it is given. Magento
has no outgoing webhooks, so stock changes made in Magento reach the hub either by polling
(`pull_stock`) or as the normalised push a small connector module inside Magento sends
(`parse_inbound`, see `parse_normalised_stock`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

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

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "default"
# Magento's optional web API input limit: 20 entities per list (reference §3).
DEFAULT_MAX_ITEMS_PER_REQUEST = 20
# With the input limit on, pageSize above 300 is refused (reference §3).
MAX_PAGE_SIZE = 300
DEFAULT_PAGE_SIZE = 100

SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-Hub-Delivery"
SIGNATURE_PREFIX = "sha256="
NORMALISED_TOPIC = "stock.snapshot"

# Magento\Sales\Model\Order::STATE_* (a fixed set; custom *statuses* each belong to one of
# these states, so the state is what the hub reads).
#   new, pending_payment, payment_review, holded: placed, not paid  -> hold
#   processing: invoiced (or shipped before invoicing)                 -> paid
#   complete: invoiced and shipped                                     -> shipped
#   canceled, closed (fully refunded by credit memo)                   -> released
# "processing" also covers an order shipped before it was invoiced: the hub sees it as paid
# until it becomes "complete".
ORDER_STATES: dict[str, OrderState] = {
    "new": OrderState.HOLD,
    "pending_payment": OrderState.HOLD,
    "payment_review": OrderState.HOLD,
    "holded": OrderState.HOLD,
    "processing": OrderState.PAID,
    "complete": OrderState.SHIPPED,
    "canceled": OrderState.RELEASED,
    "closed": OrderState.RELEASED,
}
# Order lines of these types only group their children, which carry the real SKUs.
_COMPOSITE_TYPES = frozenset({"configurable", "bundle", "grouped"})

_TWO_FACTOR_HINT = "2fa"
_NO_ROUTE = "Request does not match any route."
_INPUT_LIMIT_PREFIX = "Maximum items of type"

# Admin tokens outlive one connector object (the engine builds one per task): shared per
# store and user, so a worker does not ask for a new token on every run. Only tokens are
# kept, never the password.
_admin_tokens: dict[tuple[str, str, str], str] = {}
_admin_tokens_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class MagentoSource:
    source_code: str
    name: str
    is_enabled: bool


@dataclass(frozen=True, slots=True)
class MagentoStock:
    stock_id: int
    name: str
    website_codes: tuple[str, ...]  # the sales channels of type "website" assigned to it


@dataclass(frozen=True, slots=True)
class MagentoStockSourceLink:
    stock_id: int
    source_code: str
    priority: int


class MagentoRejected(RemoteRejected):
    """A 4xx from Magento, keeping its message template and parameters."""

    def __init__(self, message: str, *, status: int, template: str, parameters: Any) -> None:
        super().__init__(message, status=status, code=template)
        self.template = template
        self.parameters = parameters


@dataclass(frozen=True, slots=True)
class MagentoOptions:
    store_code: str = "all"
    page_size: int = DEFAULT_PAGE_SIZE
    max_items_per_request: int = DEFAULT_MAX_ITEMS_PER_REQUEST
    force_status_attribute: str = "force_stock_status"
    force_status_values: Mapping[str, str] | None = None
    is_forced_status_pushed: bool = True
    is_legacy_single_source: bool = False
    source_codes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, options: Mapping[str, object]) -> MagentoOptions:
        known = {
            "store_code",
            "page_size",
            "max_items_per_request",
            "force_status_attribute",
            "force_status_values",
            "is_forced_status_pushed",
            "is_legacy_single_source",
            "source_codes",
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"Unknown Magento option(s): {', '.join(unknown)}")
        store_code = options.get("store_code", "all")
        if not isinstance(store_code, str) or not store_code.replace("_", "").isalnum():
            raise ValueError("store_code must be a Magento store code such as 'all' or 'default'")
        page_size = _positive_int(options, "page_size", DEFAULT_PAGE_SIZE)
        if page_size > MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be at most {MAX_PAGE_SIZE} (Magento's input limit)")
        values = options.get("force_status_values")
        if values is not None and (
            not isinstance(values, Mapping)
            or not {"in_stock", "out_of_stock"} <= set(values)
            or set(values) - {"in_stock", "out_of_stock", "none"}
        ):
            raise ValueError(
                "force_status_values maps in_stock, out_of_stock and optionally none to the "
                "attribute's stored values"
            )
        source_codes = options.get("source_codes", ())
        if not isinstance(source_codes, list | tuple) or not all(
            isinstance(code, str) and code for code in source_codes
        ):
            raise ValueError("source_codes must be a list of Magento source codes")
        attribute = options.get("force_status_attribute", "force_stock_status")
        if not isinstance(attribute, str):
            raise ValueError("force_status_attribute must be an attribute code ('' to disable)")
        return cls(
            store_code=store_code,
            page_size=page_size,
            max_items_per_request=_positive_int(
                options, "max_items_per_request", DEFAULT_MAX_ITEMS_PER_REQUEST
            ),
            force_status_attribute=attribute,
            force_status_values={str(k): str(v) for k, v in values.items()} if values else None,
            is_forced_status_pushed=_boolean(options, "is_forced_status_pushed", True),
            is_legacy_single_source=_boolean(options, "is_legacy_single_source", False),
            source_codes=tuple(source_codes),
        )


class MagentoConnector(Connector):
    """Magento 2.4 with MSI (or a legacy single-source store).

    `base_url`: the store's root, where `/rest/…` lives (e.g. https://shop.example.com).

    credentials (one of):
      - `token`: an integration's access token, preferred. Magento accepts it as a plain
        bearer token only with Stores > Configuration > Services > OAuth > "Allow OAuth
        Access Tokens to be used as standalone Bearer tokens" on.
      - `username` + `password`: an admin user; the hub fetches an admin token, keeps it in
        memory and fetches a new one when Magento answers 401 (admin tokens expire after 4 h
        by default). Refused when two-factor authentication is on for admins.

    options:
      - `store_code` ("all"): the `/rest/<store_code>/V1/` prefix; "all" writes global values.
      - `page_size` (100, at most 300): rows per read.
      - `max_items_per_request` (20): source items per push request. Lowered by itself when a
        store refuses a list with "Maximum items of type … is N".
      - `force_status_attribute` ("force_stock_status"): the product attribute holding the
        forced stock status; "" to neither read nor write it.
      - `force_status_values` ({"in_stock": "in_stock", "out_of_stock": "out_of_stock",
        "none": ""}): the attribute's stored value for each forced status (a select
        attribute stores option ids). Other stored values read as "not forced".
      - `is_forced_status_pushed` (true): push writes each item's forced status (None
        clears it); false leaves the attribute to Magento.
      - `is_legacy_single_source` (false): use the `stockItems` endpoints (default source
        only) instead of MSI source items.
      - `source_codes` ([]): read only these sources in `pull_stock` (all when empty).

    remote_id is the SKU; location is the source code ("default" in legacy mode).
    """

    kind = "magento"

    def __init__(self, config: ConnectorConfig, session: requests.Session | None = None):
        super().__init__(config, session)
        self.options = MagentoOptions.from_config(config.options)
        self._root = config.base_url.rstrip("/")
        self._legacy_item_ids: dict[str, int] = {}
        values = self.options.force_status_values or {
            "in_stock": "in_stock",
            "out_of_stock": "out_of_stock",
        }
        self._forced_to_value: dict[RemoteStatus | None, str] = {
            RemoteStatus.IN_STOCK: values["in_stock"],
            RemoteStatus.OUT_OF_STOCK: values["out_of_stock"],
            None: values.get("none", ""),
        }
        self._value_to_forced = {
            values["in_stock"]: RemoteStatus.IN_STOCK,
            values["out_of_stock"]: RemoteStatus.OUT_OF_STOCK,
        }

    # Connector interface ---------------------------------------------------------------
    def test_connection(self) -> None:
        if self.options.is_legacy_single_source:
            self._call("GET", "products", params=_criteria(page_size=1, current_page=1))
        else:
            self._call("GET", "inventory/sources", params=_criteria(page_size=1, current_page=1))

    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        """Every source item, page by page until `total_count`.

        Always a full read: source items carry no update time, and a product's
        `updated_at` does not follow its source items (so `modified_after` is ignored).
        """
        if self.options.is_legacy_single_source:
            yield from self._pull_legacy_stock()
            return
        filters = []
        if self.options.source_codes:
            filters.append([("source_code", ",".join(self.options.source_codes), "in")])
        sort = [("sku", "ASC"), ("source_code", "ASC")]
        for page in self._pages("inventory/source-items", filters=filters, sort=sort):
            forced = self._forced_for_page([row["sku"] for row in page])
            for row in page:
                yield RemoteStock(
                    sku=row["sku"],
                    remote_id=row["sku"],
                    quantity=_whole(row.get("quantity")),
                    status=RemoteStatus.IN_STOCK
                    if int(row.get("status") or 0) == 1
                    else RemoteStatus.OUT_OF_STOCK,
                    location=row["source_code"],
                    forced_status=forced.get(row["sku"]),
                )

    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        """Orders by `updated_at` (from `modified_after`, inclusive: a replay is harmless)."""
        filters = []
        if modified_after is not None:
            filters.append([("updated_at", magento_time(modified_after), "gteq")])
        sort = [("updated_at", "ASC"), ("entity_id", "ASC")]
        for page in self._pages("orders", filters=filters, sort=sort):
            for row in page:
                order = self._order_from_row(row)
                if order is not None:
                    yield order

    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        """Physical quantities per source, in chunks of `max_items_per_request`.

        A chunk Magento refuses as a whole is sent again item by item, so one bad item
        does not hold back the others. Forced statuses are written afterwards through
        each product's custom attribute, only where the stored value differs.
        """
        results: dict[int, PushResult] = {}
        sendable: list[tuple[int, PushItem]] = []
        for index, item in enumerate(items):
            problem = self._push_problem(item)
            if problem:
                results[index] = PushResult(item=item, is_confirmed=False, error=problem)
            else:
                sendable.append((index, item))
        if self.options.is_legacy_single_source:
            self._push_legacy(sendable, results)
        else:
            self._push_source_items(sendable, results)
        if self.options.force_status_attribute and self.options.is_forced_status_pushed:
            self._push_forced_statuses(sendable, results)
        return [results[index] for index in range(len(items))]

    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        return verify_hub_signature(secret=self.config.webhook_secret, headers=headers, body=body)

    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return parse_normalised_stock(
            body,
            delivery_id=self.delivery_id(headers=headers, body=body),
            force_status_values=self._value_to_forced,
        )

    def delivery_id(self, *, headers: Mapping[str, str], body: bytes) -> str:
        return header(headers, DELIVERY_HEADER)

    # Reads the engine uses for mappings --------------------------------------------------
    def list_sources(self) -> list[MagentoSource]:
        return [
            MagentoSource(
                source_code=row["source_code"],
                name=row.get("name") or row["source_code"],
                is_enabled=bool(row.get("enabled", True)),
            )
            for page in self._pages("inventory/sources", sort=[("source_code", "ASC")])
            for row in page
        ]

    def list_stocks(self) -> list[MagentoStock]:
        stocks = []
        for page in self._pages("inventory/stocks", sort=[("stock_id", "ASC")]):
            for row in page:
                channels = (row.get("extension_attributes") or {}).get("sales_channels") or []
                stocks.append(
                    MagentoStock(
                        stock_id=int(row["stock_id"]),
                        name=row.get("name") or "",
                        website_codes=tuple(
                            channel["code"]
                            for channel in channels
                            if channel.get("type") == "website"
                        ),
                    )
                )
        return stocks

    def list_stock_source_links(self) -> list[MagentoStockSourceLink]:
        sort = [("stock_id", "ASC"), ("priority", "ASC")]
        return [
            MagentoStockSourceLink(
                stock_id=int(row["stock_id"]),
                source_code=row["source_code"],
                priority=int(row.get("priority") or 0),
            )
            for page in self._pages("inventory/stock-source-links", sort=sort)
            for row in page
        ]

    def salable_quantity(self, *, sku: str, stock_id: int) -> float:
        """What Magento would sell from a stock: source quantities minus its reservations."""
        resource = f"inventory/get-product-salable-quantity/{_path(sku)}/{int(stock_id)}"
        return float(self._call("GET", resource))

    def read_forced_statuses(self, skus: Sequence[str]) -> dict[str, RemoteStatus | None]:
        """The forced status of each SKU that exists as a product (missing SKUs are absent)."""
        attribute = self.options.force_status_attribute
        if not attribute or not skus:
            return {}
        found: dict[str, RemoteStatus | None] = {}
        plain = sorted({sku for sku in skus if "," not in sku})
        size = self.options.page_size
        for start in range(0, len(plain), size):
            chunk = plain[start : start + size]
            params = _criteria(
                filters=[[("sku", ",".join(chunk), "in")]], page_size=len(chunk), current_page=1
            )
            for row in self._call("GET", "products", params=params).get("items") or []:
                found[row["sku"]] = self._forced_from_product(row)
        # "in" splits its value on commas, so such SKUs are read one by one.
        for sku in sorted({sku for sku in skus if "," in sku}):
            try:
                row = self._call("GET", f"products/{_path(sku)}")
            except MagentoRejected as refusal:
                if refusal.status == 404:
                    continue
                raise
            found[row["sku"]] = self._forced_from_product(row)
        return found

    def write_forced_status(self, *, sku: str, status: RemoteStatus | None) -> None:
        """Set (or clear, with None) the forced status attribute of an existing product.

        Callers check the product exists first: Magento's PUT creates a missing SKU.
        """
        attribute = self.options.force_status_attribute
        if not attribute:
            raise ValueError("force_status_attribute is empty: forced statuses are not synced")
        if status not in self._forced_to_value:
            raise ValueError(f"Magento cannot force the status {status!r}")
        body = {
            "product": {
                "sku": sku,
                "custom_attributes": [
                    {"attribute_code": attribute, "value": self._forced_to_value[status]}
                ],
            }
        }
        self._call("PUT", f"products/{_path(sku)}", json_body=body)

    # Stock: MSI ----------------------------------------------------------------------
    def _push_problem(self, item: PushItem) -> str:
        if item.quantity < 0:
            return f"quantity {item.quantity} is negative"
        if self.options.is_legacy_single_source:
            if item.location not in ("", DEFAULT_SOURCE):
                return (
                    f"location {item.location!r}: a legacy single-source store has only the "
                    f"{DEFAULT_SOURCE!r} source"
                )
        elif not item.location:
            return "no Magento source code (location) for this item"
        if item.forced_status is not None and item.forced_status not in self._forced_to_value:
            return f"Magento cannot force the status {item.forced_status}"
        return ""

    def _push_source_items(
        self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]
    ) -> None:
        chunk_size = self.options.max_items_per_request
        position = 0
        while position < len(sendable):
            chunk = sendable[position : position + chunk_size]
            try:
                self._post_source_items([item for _, item in chunk])
            except MagentoRejected as refusal:
                limit = _input_limit(refusal)
                if limit is not None and limit < len(chunk):
                    logger.warning(
                        "Magento %s accepts at most %s items per request; lower "
                        "max_items_per_request to match",
                        self._root,
                        limit,
                    )
                    chunk_size = limit
                    continue
                self._push_one_by_one(chunk, results, refusal)
            else:
                for index, item in chunk:
                    results[index] = PushResult(
                        item=item, is_confirmed=True, confirmed_quantity=item.quantity
                    )
            position += len(chunk)

    def _push_one_by_one(
        self,
        chunk: list[tuple[int, PushItem]],
        results: dict[int, PushResult],
        refusal: MagentoRejected,
    ) -> None:
        if len(chunk) == 1:
            index, item = chunk[0]
            results[index] = PushResult(item=item, is_confirmed=False, error=str(refusal))
            return
        for index, item in chunk:
            try:
                self._post_source_items([item])
            except MagentoRejected as single:
                results[index] = PushResult(item=item, is_confirmed=False, error=str(single))
            else:
                results[index] = PushResult(
                    item=item, is_confirmed=True, confirmed_quantity=item.quantity
                )

    def _post_source_items(self, items: list[PushItem]) -> None:
        body = {
            "sourceItems": [
                {
                    "sku": item.sku,
                    "source_code": item.location,
                    "quantity": item.quantity,
                    "status": _source_status(item),
                }
                for item in items
            ]
        }
        self._call("POST", "inventory/source-items", json_body=body)

    # Stock: legacy single source ---------------------------------------------------------
    def _pull_legacy_stock(self) -> Iterator[RemoteStock]:
        for page in self._pages("products", sort=[("sku", "ASC")]):
            for row in page:
                if row.get("type_id") in _COMPOSITE_TYPES:
                    continue
                stock_item = (row.get("extension_attributes") or {}).get("stock_item")
                if stock_item is None:
                    stock_item = self._call("GET", f"stockItems/{_path(row['sku'])}")
                self._legacy_item_ids[row["sku"]] = int(stock_item["item_id"])
                is_managed = bool(stock_item.get("manage_stock", True))
                yield RemoteStock(
                    sku=row["sku"],
                    remote_id=row["sku"],
                    quantity=_whole(stock_item.get("qty")) if is_managed else None,
                    status=RemoteStatus.IN_STOCK
                    if stock_item.get("is_in_stock")
                    else RemoteStatus.OUT_OF_STOCK,
                    location=DEFAULT_SOURCE,
                    is_managed=is_managed,
                    forced_status=self._forced_from_product(row),
                )

    def _push_legacy(
        self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]
    ) -> None:
        for index, item in sendable:
            try:
                self._put_legacy_stock_item(item)
            except MagentoRejected as refusal:
                results[index] = PushResult(item=item, is_confirmed=False, error=str(refusal))
            else:
                results[index] = PushResult(
                    item=item, is_confirmed=True, confirmed_quantity=item.quantity
                )

    def _put_legacy_stock_item(self, item: PushItem) -> None:
        body = {"stockItem": {"qty": item.quantity, "is_in_stock": _source_status(item) == 1}}
        for attempt in (1, 2):
            item_id = self._legacy_item_ids.get(item.sku)
            if item_id is None:
                stock_item = self._call("GET", f"stockItems/{_path(item.sku)}")
                item_id = self._legacy_item_ids[item.sku] = int(stock_item["item_id"])
            resource = f"products/{_path(item.sku)}/stockItems/{item_id}"
            try:
                self._call("PUT", resource, json_body=body)
                return
            except MagentoRejected as refusal:
                # A cached item id can go stale (product deleted and created again).
                if refusal.status != 404 or attempt == 2:
                    raise
                self._legacy_item_ids.pop(item.sku, None)

    # Forced status -------------------------------------------------------------------------
    def _forced_for_page(self, skus: list[str]) -> dict[str, RemoteStatus | None]:
        if not self.options.force_status_attribute:
            return {}
        return self.read_forced_statuses(skus)

    def _forced_from_product(self, product: Mapping[str, Any]) -> RemoteStatus | None:
        attribute = self.options.force_status_attribute
        if not attribute:
            return None
        for entry in product.get("custom_attributes") or []:
            if entry.get("attribute_code") != attribute:
                continue
            value = entry.get("value")
            if value in (None, ""):
                return None
            status = self._value_to_forced.get(str(value))
            if status is None and str(value) != self._forced_to_value[None]:
                logger.warning(
                    "Magento product %s has %s=%r, which force_status_values does not name; "
                    "read as not forced",
                    product.get("sku"),
                    attribute,
                    value,
                )
            return status
        return None

    def _push_forced_statuses(
        self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]
    ) -> None:
        wanted: dict[str, RemoteStatus | None] = {}
        for index, item in sendable:
            if results[index].is_confirmed:
                wanted[item.sku] = item.forced_status
        if not wanted:
            return
        current = self.read_forced_statuses(list(wanted))
        failures: dict[str, str] = {}
        for sku, status in wanted.items():
            if sku not in current:
                if status is not None:
                    failures[sku] = f"forced status not written: no Magento product {sku!r}"
                continue
            if current[sku] == status:
                continue
            try:
                self.write_forced_status(sku=sku, status=status)
            except MagentoRejected as refusal:
                failures[sku] = f"forced status not written: {refusal}"
        for index, item in sendable:
            if item.sku in failures and results[index].is_confirmed:
                results[index] = PushResult(item=item, is_confirmed=False, error=failures[item.sku])

    # Orders ----------------------------------------------------------------------------
    def _order_from_row(self, row: Mapping[str, Any]) -> RemoteOrder | None:
        state = ORDER_STATES.get(str(row.get("state") or ""))
        if state is None:
            logger.warning(
                "Magento order %s has state %r, which the hub does not map; skipped",
                row.get("entity_id"),
                row.get("state"),
            )
            return None
        lines = tuple(
            RemoteOrderLine(sku=line["sku"], quantity=_whole(line.get("qty_ordered")) or 0)
            for line in row.get("items") or []
            if line.get("product_type") not in _COMPOSITE_TYPES
        )
        return RemoteOrder(
            reference=str(row["entity_id"]),
            state=state,
            lines=lines,
            updated_at=parse_magento_time(row.get("updated_at")),
        )

    # HTTP ------------------------------------------------------------------------------
    def _pages(
        self,
        resource: str,
        *,
        filters: list[list[tuple[str, str, str]]] | None = None,
        sort: list[tuple[str, str]] | None = None,
    ) -> Iterator[list[dict]]:
        """Pages of a `getList`, until `total_count` rows were seen.

        Magento ≤ 2.3 answered a page past the end with the last page again, so the count,
        not an empty page, ends the loop (an empty page also ends it, against a count that
        shrank meanwhile).
        """
        page_number = 1
        seen = 0
        while True:
            params = _criteria(
                filters=filters,
                sort=sort,
                page_size=self.options.page_size,
                current_page=page_number,
            )
            answer = self._call("GET", resource, params=params)
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise RemoteUnavailable(f"Magento answered {resource} without a list of items")
            rows = answer["items"]
            total = int(answer.get("total_count") or 0)
            if rows:
                yield rows
            seen += len(rows)
            if not rows or seen >= total:
                return
            page_number += 1

    def _call(
        self,
        method: str,
        resource: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: object = None,
    ) -> Any:
        url = f"{self._root}/rest/{self.options.store_code}/V1/{resource}"
        uses_admin_token = not self.config.credentials.get("token")
        for attempt in (1, 2):
            token = self._bearer_token()
            response = self._send(
                method,
                url,
                params=params,
                json_body=json_body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
            if response.status_code == 401 and uses_admin_token and attempt == 1:
                # Expired (4 h by default) or purged: fetch a new one, once.
                self._forget_admin_token(token)
                continue
            return self._decode(method, resource, response)
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json_body: object = None,
        headers: Mapping[str, str],
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=dict(headers),
                timeout=self.config.timeout_seconds,
            )
        except requests.Timeout:
            raise RemoteUnavailable(
                f"Magento {self._root} did not answer within {self.config.timeout_seconds:g} s"
            ) from None
        except requests.RequestException as failure:
            raise RemoteUnavailable(
                f"Magento {self._root} could not be reached: {type(failure).__name__}"
            ) from None

    def _decode(self, method: str, resource: str, response: requests.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise RemoteUnavailable(
                    f"Magento answered {method} {resource} with a body that is not JSON"
                ) from None
        body = _json_or_none(response)
        message = render_message(body) if body else (response.text or "")[:200]
        described = f"Magento answered {status} to {method} {resource}: {message}"
        if status == 429:
            raise RemoteThrottled(
                described,
                retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise RemoteUnavailable(described, status=status)
        if status in (401, 403):
            raise RemoteAuthFailed(described, status=status)
        if message == _NO_ROUTE:
            described += (
                f" (is store code {self.options.store_code!r} right, and is "
                f"{'the catalog inventory' if self.options.is_legacy_single_source else 'MSI'}"
                " installed?)"
            )
        raise MagentoRejected(
            described,
            status=status,
            template=(body or {}).get("message", "") if isinstance(body, dict) else "",
            parameters=(body or {}).get("parameters") if isinstance(body, dict) else None,
        )

    # Tokens ----------------------------------------------------------------------------
    def _token_key(self) -> tuple[str, str, str]:
        credentials = self.config.credentials
        secret = f"{credentials.get('username', '')}\0{credentials.get('password', '')}"
        return (
            self._root,
            credentials.get("username", ""),
            hashlib.sha256(secret.encode()).hexdigest(),
        )

    def _bearer_token(self) -> str:
        credentials = self.config.credentials
        if credentials.get("token"):
            return credentials["token"]
        if not credentials.get("username") or not credentials.get("password"):
            raise RemoteAuthFailed(
                "Magento credentials need either 'token' (an integration token) or "
                "'username' and 'password' (an admin user)"
            )
        key = self._token_key()
        with _admin_tokens_lock:
            token = _admin_tokens.get(key)
        if token:
            return token
        token = self._fetch_admin_token()
        with _admin_tokens_lock:
            _admin_tokens[key] = token
        return token

    def _forget_admin_token(self, token: str) -> None:
        key = self._token_key()
        with _admin_tokens_lock:
            if _admin_tokens.get(key) == token:
                del _admin_tokens[key]

    def _fetch_admin_token(self) -> str:
        url = f"{self._root}/rest/{self.options.store_code}/V1/integration/admin/token"
        credentials = self.config.credentials
        response = self._send(
            "POST",
            url,
            json_body={"username": credentials["username"], "password": credentials["password"]},
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 401):
            body = _json_or_none(response)
            message = render_message(body) if body else ""
            if _TWO_FACTOR_HINT in message.lower():
                raise RemoteAuthFailed(
                    "Magento refuses admin tokens because two-factor authentication is on for "
                    "admin users. Use an integration token instead (credentials {'token': …}, "
                    "with 'Allow OAuth Access Tokens to be used as standalone Bearer tokens' "
                    f"enabled). Magento said: {message}",
                    status=response.status_code,
                    code="two_factor_required",
                )
            if response.status_code == 401:
                raise RemoteAuthFailed(
                    f"Magento refused the admin username and password: {message}",
                    status=401,
                )
        token = self._decode("POST", "integration/admin/token", response)
        if not isinstance(token, str) or not token:
            raise RemoteUnavailable("Magento answered the admin token request without a token")
        logger.info("Fetched a new Magento admin token for %s", self._root)
        return token


# The normalised inbound contract ----------------------------------------------------------


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
        records.append(
            RemoteStock(
                sku=sku,
                remote_id=sku,
                quantity=on_hand,
                status=status,
                location=warehouse,
                forced_status=forced_status,
                updated_at=_time_field(row.get("updated_at"), f"{where}.updated_at"),
            )
        )
    times = [record.updated_at for record in records if record.updated_at is not None]
    return InboundEvent(
        kind=InboundKind.STOCK if records else InboundKind.IGNORED,
        topic=NORMALISED_TOPIC,
        delivery_id=delivery_id,
        occurred_at=max(times) if times else None,
        stock=tuple(records),
    )


# Small helpers -------------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the case of the mapping's keys ("" when absent)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value).strip()


def render_message(body: object) -> str:
    """Magento's message with its %placeholders filled from `parameters` (and `errors`)."""
    if not isinstance(body, dict):
        return str(body)
    message = _fill(str(body.get("message") or ""), body.get("parameters"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        details = "; ".join(
            _fill(str(entry.get("message") or ""), entry.get("parameters"))
            for entry in errors
            if isinstance(entry, dict)
        )
        message = f"{message}: {details}" if message else details
    return message


def _fill(message: str, parameters: object) -> str:
    if isinstance(parameters, dict):
        for name in sorted(parameters, key=len, reverse=True):
            message = message.replace(f"%{name}", str(parameters[name]))
    elif isinstance(parameters, list):
        for position in range(len(parameters), 0, -1):
            message = message.replace(f"%{position}", str(parameters[position - 1]))
    return message


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (None if unreadable)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def magento_time(moment: datetime) -> str:
    """Magento compares its UTC "YYYY-MM-DD HH:MM:SS" timestamps as text."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_magento_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _criteria(
    *,
    filters: list[list[tuple[str, str, str]]] | None = None,
    sort: list[tuple[str, str]] | None = None,
    page_size: int | None = None,
    current_page: int | None = None,
) -> list[tuple[str, str]]:
    """searchCriteria as query parameters: each inner list is one OR group; groups AND."""
    params: list[tuple[str, str]] = []
    for group_number, group in enumerate(filters or []):
        for filter_number, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{group_number}][filters][{filter_number}]"
            params += [
                (f"{prefix}[field]", field),
                (f"{prefix}[value]", value),
                (f"{prefix}[condition_type]", condition),
            ]
    for number, (field, direction) in enumerate(sort or []):
        params += [
            (f"searchCriteria[sortOrders][{number}][field]", field),
            (f"searchCriteria[sortOrders][{number}][direction]", direction),
        ]
    if page_size is not None:
        params.append(("searchCriteria[pageSize]", str(page_size)))
    if current_page is not None:
        params.append(("searchCriteria[currentPage]", str(current_page)))
    return params or [("searchCriteria", "")]


def _path(value: str) -> str:
    return quote(value, safe="")


def _source_status(item: PushItem) -> int:
    """MSI does not derive a source item's status from its quantity: the hub sets it."""
    if item.status is not None:
        return 0 if item.status == RemoteStatus.OUT_OF_STOCK else 1
    return 1 if item.quantity > 0 else 0


def _input_limit(refusal: MagentoRejected) -> int | None:
    if refusal.status != 400 or not refusal.template.startswith(_INPUT_LIMIT_PREFIX):
        return None
    parameters = refusal.parameters if isinstance(refusal.parameters, dict) else {}
    try:
        limit = int(parameters.get("max"))
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


def _whole(value: object) -> int | None:
    """Magento quantities are decimals; the hub counts whole units, rounded down."""
    if value is None or value == "":
        return None
    return math.floor(round(float(value), 4))


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


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


def _positive_int(options: Mapping[str, object], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1")
    return value


def _boolean(options: Mapping[str, object], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value
