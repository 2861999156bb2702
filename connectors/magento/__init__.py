"""Magento 2 with Multi-Source Inventory (MSI), through its REST API.

Facts and their sources: ../shared/reference/store-protocols.md §2-5; what this package
relies on that the reference marks unverified is said where it is used.

- `connector`: `MagentoConnector`, the store class (kind "magento").
- `client`: HTTP, tokens, searchCriteria paging, error mapping.
- `stock_items`: MSI source items pushed in chunks; legacy single-source stock items.
- `forced_status`: the forced stock status kept in a product attribute.
- `orders`: order rows and the order states the hub reads.
- `inbound`: the normalised push a connector module inside Magento sends.
- `options`: the connector's options, checked when it is built.
"""

from connectors.magento.client import MagentoRejected
from connectors.magento.connector import (
    MagentoConnector,
    MagentoSource,
    MagentoStock,
    MagentoStockSourceLink,
)
from connectors.magento.inbound import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    parse_normalised_stock,
    sign_hub_body,
    verify_hub_signature,
)
from connectors.magento.options import MagentoOptions
from connectors.magento.orders import ORDER_STATES

__all__ = [
    "DELIVERY_HEADER",
    "ORDER_STATES",
    "SIGNATURE_HEADER",
    "MagentoConnector",
    "MagentoOptions",
    "MagentoRejected",
    "MagentoSource",
    "MagentoStock",
    "MagentoStockSourceLink",
    "parse_normalised_stock",
    "sign_hub_body",
    "verify_hub_signature",
]
