"""Channel ↔ Magento stock: which Magento stock stands for a connector's hub channel.

A Magento stock sells from the sources linked to it (stock-source-links), as a hub channel
sells from its warehouses. The stock that stands for the channel is the one whose links
include every source mapped (`LocationMapping`) to a warehouse of the channel. Setup fills
the Magento option `stock_id` when exactly one stock fits; reconciliation compares
Magento's salable quantity on that stock with the hub's channel salable quantity.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TypeGuard

from connectors.capabilities import StockMappingStore
from connectors.models import Connector, LocationMapping
from warehouses.models import ChannelWarehouse


@dataclass(frozen=True, slots=True)
class StockLayout:
    """What a store holds: its stocks (id -> name) and each stock's linked source codes."""

    names: dict[int, str]
    linked: dict[int, frozenset[str]]

    @classmethod
    def read(cls, store: StockMappingStore) -> StockLayout:
        names = {stock.stock_id: stock.name for stock in store.list_stocks()}
        linked: dict[int, set[str]] = defaultdict(set)
        for link in store.list_stock_source_links():
            linked[link.stock_id].add(link.source_code)
        return cls(names, {stock_id: frozenset(codes) for stock_id, codes in linked.items()})

    def candidates(self, sources: set[str]) -> list[int]:
        """Stocks linking every one of `sources` (none when `sources` is empty: a stock
        that links nothing the hub maps says nothing about the channel)."""
        if not sources:
            return []
        return sorted(
            stock_id for stock_id in self.names if sources <= self.linked.get(stock_id, frozenset())
        )

    def describe(self, stock_ids: list[int]) -> str:
        return ", ".join(f"{stock_id} ({self.names.get(stock_id, '?')})" for stock_id in stock_ids)

    def why_not(self, stock_id: int, sources: set[str]) -> str:
        """Why `stock_id` cannot stand for a channel selling from `sources` ("" if it can)."""
        if stock_id not in self.names:
            return f"Magento stock {stock_id} does not exist on the store"
        missing = sorted(sources - self.linked.get(stock_id, frozenset()))
        if missing:
            return (
                f"Magento stock {stock_id} ({self.names[stock_id]}) does not link the mapped "
                f"source(s) {', '.join(missing)}"
            )
        return ""


def channel_sources(connector: Connector) -> set[str]:
    """The connector's locations mapped to a warehouse its hub channel sells from."""
    if connector.channel_id is None:
        return set()
    warehouses = ChannelWarehouse.objects.filter(channel_id=connector.channel_id).values(
        "warehouse_id"
    )
    return set(
        LocationMapping.objects.filter(connector=connector, warehouse_id__in=warehouses)
        .exclude(location="")
        .values_list("location", flat=True)
    )


def stock_mapping_store(store: object) -> TypeGuard[StockMappingStore]:
    """Whether the store has Magento stocks to map (MSI, not legacy single-source mode)."""
    options = getattr(store, "options", None)
    return (
        hasattr(store, "list_stocks")
        and options is not None
        and not getattr(options, "is_legacy_single_source", False)
    )


__all__ = ["StockLayout", "channel_sources", "stock_mapping_store"]
