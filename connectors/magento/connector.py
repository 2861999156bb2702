"""The Magento store class: stock per MSI source (or legacy single source), forced
status through a product attribute, orders, and the reads the engine's mapping needs.

The hub writes *physical* quantities per source (`POST /V1/inventory/source-items`), never
a salable figure: Magento subtracts its own reservations from what it is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from connectors.base import (
    Connector,
    ConnectorConfig,
    InboundEvent,
    InboundVerdict,
    OrderState,
    PushItem,
    PushResult,
    RemoteOrder,
    RemoteOrderLine,
    RemoteStatus,
    RemoteStock,
)
from connectors.engine.http import header
from connectors.magento.client import (
    MagentoClient,
    MagentoRejected,
    criteria,
    magento_time,
    parse_magento_time,
    path_segment,
)
from connectors.magento.inbound import (
    DELIVERY_HEADER,
    parse_normalised_stock,
    verify_hub_signature,
)
from connectors.magento.options import DEFAULT_SOURCE, MagentoOptions

logger = logging.getLogger(__name__)

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
_INPUT_LIMIT_PREFIX = "Maximum items of type"


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
      - `stock_id` (unset): the Magento stock that stands for the connector's hub channel;
        setup fills it when exactly one stock links every mapped source of that channel.
      - `order_poll_interval_seconds` (unset; 2 to 3600): read new and changed orders this
        often, one incremental request (`updated_at` filter) apart from the full poll, so
        a sale on Magento reaches the hub within seconds.

    remote_id is the SKU; location is the source code ("default" in legacy mode).
    """

    kind = "magento"

    def __init__(self, config: ConnectorConfig, session: requests.Session | None = None):
        super().__init__(config, session)
        self.options = MagentoOptions.from_config(config.options)
        self.client = MagentoClient(config, self.session, self.options)
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

    @property
    def reports_forced_status(self) -> bool:
        return bool(self.options.force_status_attribute)

    def missing_credentials(self) -> str:
        credentials = self.config.credentials
        if credentials.get("token") or (
            credentials.get("username") and credentials.get("password")
        ):
            return ""
        return (
            "credentials.token (an integration token), or credentials.username and "
            "credentials.password (an admin user), are required to switch a Magento "
            "connector on."
        )

    # Connector interface ---------------------------------------------------------------
    def test_connection(self) -> None:
        if self.options.is_legacy_single_source:
            self.client.call("GET", "products", params=criteria(page_size=1, current_page=1))
        else:
            self.client.call(
                "GET", "inventory/sources", params=criteria(page_size=1, current_page=1)
            )

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
        for page in self.client.pages("inventory/source-items", filters=filters, sort=sort):
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
        for page in self.client.pages("orders", filters=filters, sort=sort):
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
            for page in self.client.pages("inventory/sources", sort=[("source_code", "ASC")])
            for row in page
        ]

    def list_stocks(self) -> list[MagentoStock]:
        stocks = []
        for page in self.client.pages("inventory/stocks", sort=[("stock_id", "ASC")]):
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
            for page in self.client.pages("inventory/stock-source-links", sort=sort)
            for row in page
        ]

    def salable_quantity(self, *, sku: str, stock_id: int) -> float:
        """What Magento would sell from a stock: source quantities minus its reservations."""
        resource = f"inventory/get-product-salable-quantity/{path_segment(sku)}/{int(stock_id)}"
        return float(self.client.call("GET", resource))

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
            params = criteria(
                filters=[[("sku", ",".join(chunk), "in")]], page_size=len(chunk), current_page=1
            )
            for row in self.client.call("GET", "products", params=params).get("items") or []:
                found[row["sku"]] = self._forced_from_product(row)
        # "in" splits its value on commas, so such SKUs are read one by one.
        for sku in sorted({sku for sku in skus if "," in sku}):
            try:
                row = self.client.call("GET", f"products/{path_segment(sku)}")
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
        self.client.call("PUT", f"products/{path_segment(sku)}", json_body=body)

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
                        self.config.base_url,
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
        self.client.call("POST", "inventory/source-items", json_body=body)

    # Stock: legacy single source ---------------------------------------------------------
    def _pull_legacy_stock(self) -> Iterator[RemoteStock]:
        for page in self.client.pages("products", sort=[("sku", "ASC")]):
            for row in page:
                if row.get("type_id") in _COMPOSITE_TYPES:
                    continue
                stock_item = (row.get("extension_attributes") or {}).get("stock_item")
                if stock_item is None:
                    stock_item = self.client.call("GET", f"stockItems/{path_segment(row['sku'])}")
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
                stock_item = self.client.call("GET", f"stockItems/{path_segment(item.sku)}")
                item_id = self._legacy_item_ids[item.sku] = int(stock_item["item_id"])
            resource = f"products/{path_segment(item.sku)}/stockItems/{item_id}"
            try:
                self.client.call("PUT", resource, json_body=body)
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
