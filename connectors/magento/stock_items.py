"""Stock on the store: MSI source items, or the legacy single-source stock items.

The hub writes physical quantities per source and sets each source item's status itself,
since MSI does not derive it from the quantity.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from connectors.base import PushItem, PushResult, RemoteStatus, RemoteStock
from connectors.magento.client import MagentoClient, MagentoRejected, path_segment
from connectors.magento.forced_status import ForcedStatuses
from connectors.magento.options import DEFAULT_SOURCE

logger = logging.getLogger(__name__)

# Order and product rows of these types only group their children, which carry the real SKUs.
COMPOSITE_TYPES = frozenset({"configurable", "bundle", "grouped"})
_INPUT_LIMIT_PREFIX = "Maximum items of type"


class SourceItemPush:
    """MSI source items pushed in chunks; a refused chunk is sent again item by item."""

    def __init__(self, client: MagentoClient, *, chunk_size: int, store_url: str) -> None:
        self.client = client
        self.chunk_size = chunk_size
        self.store_url = store_url

    def push(self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]) -> None:
        chunk_size = self.chunk_size
        position = 0
        while position < len(sendable):
            chunk = sendable[position : position + chunk_size]
            try:
                self._post([item for _, item in chunk])
            except MagentoRejected as refusal:
                limit = _input_limit(refusal)
                if limit is not None and limit < len(chunk):
                    logger.warning(
                        "Magento %s accepts at most %s items per request; lower "
                        "max_items_per_request to match",
                        self.store_url,
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
                self._post([item])
            except MagentoRejected as single:
                results[index] = PushResult(item=item, is_confirmed=False, error=str(single))
            else:
                results[index] = PushResult(
                    item=item, is_confirmed=True, confirmed_quantity=item.quantity
                )

    def _post(self, items: list[PushItem]) -> None:
        body = {
            "sourceItems": [
                {
                    "sku": item.sku,
                    "source_code": item.location,
                    "quantity": item.quantity,
                    "status": source_status(item),
                }
                for item in items
            ]
        }
        self.client.call("POST", "inventory/source-items", json_body=body)


class LegacyStockItems:
    """A legacy single-source store's stock items (the "default" source only)."""

    def __init__(self, client: MagentoClient, forced: ForcedStatuses) -> None:
        self.client = client
        self.forced = forced
        # Each SKU's stock item id, read with the products; PUT addresses an item by it.
        self.item_ids: dict[str, int] = {}

    def pull(self) -> Iterator[RemoteStock]:
        for page in self.client.pages("products", sort=[("sku", "ASC")]):
            for row in page:
                if row.get("type_id") in COMPOSITE_TYPES:
                    continue
                stock_item = (row.get("extension_attributes") or {}).get("stock_item")
                if stock_item is None:
                    stock_item = self.client.call("GET", f"stockItems/{path_segment(row['sku'])}")
                self.item_ids[row["sku"]] = int(stock_item["item_id"])
                is_managed = bool(stock_item.get("manage_stock", True))
                yield RemoteStock(
                    sku=row["sku"],
                    remote_id=row["sku"],
                    quantity=whole_units(stock_item.get("qty")) if is_managed else None,
                    status=RemoteStatus.IN_STOCK
                    if stock_item.get("is_in_stock")
                    else RemoteStatus.OUT_OF_STOCK,
                    location=DEFAULT_SOURCE,
                    is_managed=is_managed,
                    forced_status=self.forced.from_product(row),
                )

    def push(self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]) -> None:
        for index, item in sendable:
            try:
                self._put(item)
            except MagentoRejected as refusal:
                results[index] = PushResult(item=item, is_confirmed=False, error=str(refusal))
            else:
                results[index] = PushResult(
                    item=item, is_confirmed=True, confirmed_quantity=item.quantity
                )

    def _put(self, item: PushItem) -> None:
        body = {"stockItem": {"qty": item.quantity, "is_in_stock": source_status(item) == 1}}
        for attempt in (1, 2):
            item_id = self.item_ids.get(item.sku)
            if item_id is None:
                stock_item = self.client.call("GET", f"stockItems/{path_segment(item.sku)}")
                item_id = self.item_ids[item.sku] = int(stock_item["item_id"])
            resource = f"products/{path_segment(item.sku)}/stockItems/{item_id}"
            try:
                self.client.call("PUT", resource, json_body=body)
                return
            except MagentoRejected as refusal:
                # A cached item id can go stale (product deleted and created again).
                if refusal.status != 404 or attempt == 2:
                    raise
                self.item_ids.pop(item.sku, None)


def source_status(item: PushItem) -> int:
    """MSI does not derive a source item's status from its quantity: the hub sets it."""
    if item.status is not None:
        return 0 if item.status == RemoteStatus.OUT_OF_STOCK else 1
    return 1 if item.quantity > 0 else 0


def _input_limit(refusal: MagentoRejected) -> int | None:
    if refusal.status != 400 or not refusal.template.startswith(_INPUT_LIMIT_PREFIX):
        return None
    parameters = refusal.parameters if isinstance(refusal.parameters, dict) else {}
    given = parameters.get("max")
    if given is None:
        return None
    try:
        limit = int(given)
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


def whole_units(value: str | float | None) -> int | None:
    """Magento quantities are decimals; the hub counts whole units, rounded down."""
    if value is None or value == "":
        return None
    return math.floor(round(float(value), 4))
