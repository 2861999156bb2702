"""The Magento store class: stock per MSI source (or legacy single source), forced
status through a product attribute, orders, and the reads the engine's mapping needs.

The hub writes *physical* quantities per source (`POST /V1/inventory/source-items`), never
a salable figure: Magento subtracts its own reservations from what it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import requests

from connectors.base import (
    Connector,
    ConnectorConfig,
    InboundEvent,
    InboundVerdict,
    PushItem,
    PushResult,
    RemoteOrder,
    RemoteStatus,
    RemoteStock,
)
from connectors.engine.http import header
from connectors.magento.client import (
    MagentoClient,
    criteria,
    magento_time,
    path_segment,
)
from connectors.magento.forced_status import ForcedStatuses
from connectors.magento.inbound import (
    DELIVERY_HEADER,
    parse_normalised_stock,
    verify_hub_signature,
)
from connectors.magento.options import DEFAULT_SOURCE, MagentoOptions
from connectors.magento.orders import order_from_row
from connectors.magento.stock_items import LegacyStockItems, SourceItemPush, whole_units

logger = logging.getLogger(__name__)


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
        self.forced = ForcedStatuses(self.client, self.options)
        self.source_items = SourceItemPush(
            self.client,
            chunk_size=self.options.max_items_per_request,
            store_url=config.base_url,
        )
        self.legacy_stock = LegacyStockItems(self.client, self.forced)

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
            yield from self.legacy_stock.pull()
            return
        filters = []
        if self.options.source_codes:
            filters.append([("source_code", ",".join(self.options.source_codes), "in")])
        sort = [("sku", "ASC"), ("source_code", "ASC")]
        for page in self.client.pages("inventory/source-items", filters=filters, sort=sort):
            forced = self.forced.for_page([row["sku"] for row in page])
            for row in page:
                yield RemoteStock(
                    sku=row["sku"],
                    remote_id=row["sku"],
                    quantity=whole_units(row.get("quantity")),
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
                order = order_from_row(row)
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
            self.legacy_stock.push(sendable, results)
        else:
            self.source_items.push(sendable, results)
        if self.options.force_status_attribute and self.options.is_forced_status_pushed:
            self.forced.push(sendable, results)
        return [results[index] for index in range(len(items))]

    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        return verify_hub_signature(secret=self.config.webhook_secret, headers=headers, body=body)

    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return parse_normalised_stock(
            body,
            delivery_id=self.delivery_id(headers=headers, body=body),
            force_status_values=self.forced.from_value,
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
        return self.forced.read(skus)

    def write_forced_status(self, *, sku: str, status: RemoteStatus | None) -> None:
        """Set (or clear, with None) the forced status attribute of an existing product.

        Callers check the product exists first: Magento's PUT creates a missing SKU.
        """
        self.forced.write(sku=sku, status=status)

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
        if item.forced_status is not None and item.forced_status not in self.forced.to_value:
            return f"Magento cannot force the status {item.forced_status}"
        return ""
