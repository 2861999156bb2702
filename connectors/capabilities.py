"""What some store classes can do beyond `connectors.base.Connector`, for the type checker.

The sync jobs find these abilities by name (`hasattr`, `getattr`) on the store class or
object before they use them: only WooCommerce manages webhooks, only a partner reads CSV
feeds, only Magento (MSI) has stocks to map. These protocols say what the jobs then call;
a store is narrowed to one only behind such a check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from connectors.base import RemoteStock


class CsvFeedStore(Protocol):
    def parse_csv(self, data: bytes) -> list[RemoteStock]: ...


class Webhook(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def delivery_url(self) -> str: ...


class WebhookStore(Protocol):
    def register_webhooks(
        self, delivery_url: str, topics: Sequence[str] = ..., secret: str = ...
    ) -> Sequence[Webhook]: ...
    def list_webhooks(self) -> Sequence[Webhook]: ...
    def set_webhook_status(self, webhook_id: str | int, status: str) -> Webhook: ...


class StockOptions(Protocol):
    @property
    def stock_id(self) -> int | None: ...
    @property
    def is_legacy_single_source(self) -> bool: ...


class Stock(Protocol):
    @property
    def stock_id(self) -> int: ...
    @property
    def name(self) -> str: ...


class StockSourceLink(Protocol):
    @property
    def stock_id(self) -> int: ...
    @property
    def source_code(self) -> str: ...


class StockMappingStore(Protocol):
    """A store with stocks that sell from linked sources (Magento MSI)."""

    @property
    def options(self) -> StockOptions: ...
    def list_stocks(self) -> Sequence[Stock]: ...
    def list_stock_source_links(self) -> Sequence[StockSourceLink]: ...
    def salable_quantity(self, *, sku: str, stock_id: int) -> float: ...
