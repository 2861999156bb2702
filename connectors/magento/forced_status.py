"""The forced stock status, kept in a product attribute: read, written and pushed.

A select attribute stores option ids, so `force_status_values` says which stored value
stands for each forced status; any other stored value reads as "not forced".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import PushItem, PushResult, RemoteStatus
from connectors.magento.client import MagentoClient, MagentoRejected, criteria, path_segment
from connectors.magento.options import MagentoOptions

logger = logging.getLogger(__name__)


class ForcedStatuses:
    """One store's forced-status attribute (`options.force_status_attribute`)."""

    def __init__(self, client: MagentoClient, options: MagentoOptions) -> None:
        self.client = client
        self.options = options
        values = options.force_status_values or {
            "in_stock": "in_stock",
            "out_of_stock": "out_of_stock",
        }
        self.to_value: dict[RemoteStatus | None, str] = {
            RemoteStatus.IN_STOCK: values["in_stock"],
            RemoteStatus.OUT_OF_STOCK: values["out_of_stock"],
            None: values.get("none", ""),
        }
        self.from_value = {
            values["in_stock"]: RemoteStatus.IN_STOCK,
            values["out_of_stock"]: RemoteStatus.OUT_OF_STOCK,
        }

    def read(self, skus: Sequence[str]) -> dict[str, RemoteStatus | None]:
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
                found[row["sku"]] = self.from_product(row)
        # "in" splits its value on commas, so such SKUs are read one by one.
        for sku in sorted({sku for sku in skus if "," in sku}):
            try:
                row = self.client.call("GET", f"products/{path_segment(sku)}")
            except MagentoRejected as refusal:
                if refusal.status == 404:
                    continue
                raise
            found[row["sku"]] = self.from_product(row)
        return found

    def write(self, *, sku: str, status: RemoteStatus | None) -> None:
        """Set (or clear, with None) the forced status attribute of an existing product.

        Callers check the product exists first: Magento's PUT creates a missing SKU.
        """
        attribute = self.options.force_status_attribute
        if not attribute:
            raise ValueError("force_status_attribute is empty: forced statuses are not synced")
        if status not in self.to_value:
            raise ValueError(f"Magento cannot force the status {status!r}")
        body = {
            "product": {
                "sku": sku,
                "custom_attributes": [
                    {"attribute_code": attribute, "value": self.to_value[status]}
                ],
            }
        }
        self.client.call("PUT", f"products/{path_segment(sku)}", json_body=body)

    def for_page(self, skus: list[str]) -> dict[str, RemoteStatus | None]:
        """`read`, or nothing without an attribute to read (one page of a stock pull)."""
        if not self.options.force_status_attribute:
            return {}
        return self.read(skus)

    def from_product(self, product: Mapping[str, Any]) -> RemoteStatus | None:
        attribute = self.options.force_status_attribute
        if not attribute:
            return None
        for entry in product.get("custom_attributes") or []:
            if entry.get("attribute_code") != attribute:
                continue
            value = entry.get("value")
            if value in (None, ""):
                return None
            status = self.from_value.get(str(value))
            if status is None and str(value) != self.to_value[None]:
                logger.warning(
                    "Magento product %s has %s=%r, which force_status_values does not name; "
                    "read as not forced",
                    product.get("sku"),
                    attribute,
                    value,
                )
            return status
        return None

    def push(self, sendable: list[tuple[int, PushItem]], results: dict[int, PushResult]) -> None:
        """Write each confirmed item's forced status where the stored one differs.

        An item whose status could not be written is no longer confirmed.
        """
        wanted: dict[str, RemoteStatus | None] = {}
        for index, item in sendable:
            if results[index].is_confirmed:
                wanted[item.sku] = item.forced_status
        if not wanted:
            return
        current = self.read(list(wanted))
        failures: dict[str, str] = {}
        for sku, status in wanted.items():
            if sku not in current:
                if status is not None:
                    failures[sku] = f"forced status not written: no Magento product {sku!r}"
                continue
            if current[sku] == status:
                continue
            try:
                self.write(sku=sku, status=status)
            except MagentoRejected as refusal:
                failures[sku] = f"forced status not written: {refusal}"
        for index, item in sendable:
            if item.sku in failures and results[index].is_confirmed:
                results[index] = PushResult(item=item, is_confirmed=False, error=failures[item.sku])
