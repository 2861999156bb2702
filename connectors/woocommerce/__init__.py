"""WooCommerce: REST API v3 (`/wp-json/wc/v3/`) and the webhooks a store delivers.

Facts and their sources: ../shared/reference/store-protocols.md, section 1.

- `connector`: `WooCommerceConnector`, the store class (kind "woocommerce").
- `client`: HTTP, authentication (Basic, query-string keys, OAuth 1.0a), paging, errors.
- `payloads`: products, variations and orders read into the hub's shapes; push bodies.
- `webhooks`: topics, the delivery signature and the store's webhook records.
- `options`: the connector's options, checked when it is built.
"""

from connectors.woocommerce.client import API_PREFIX
from connectors.woocommerce.connector import WooCommerceConnector
from connectors.woocommerce.options import (
    AUTH_MODES,
    BATCH_LIMIT,
    DEFAULT_ORDER_STATES,
    KNOWN_OPTIONS,
    PAGE_LIMIT,
    WooCommerceOptions,
)
from connectors.woocommerce.payloads import (
    STATUS_FROM_WOO,
    STATUS_TO_WOO,
    STOCK_REDUCED_BY_STATUS,
)
from connectors.woocommerce.webhooks import (
    DEFAULT_WEBHOOK_TOPICS,
    PING_BODY,
    WEBHOOK_STATUSES,
    RemoteWebhook,
    webhook_signature,
)

__all__ = [
    "API_PREFIX",
    "AUTH_MODES",
    "BATCH_LIMIT",
    "DEFAULT_ORDER_STATES",
    "DEFAULT_WEBHOOK_TOPICS",
    "KNOWN_OPTIONS",
    "PAGE_LIMIT",
    "PING_BODY",
    "STATUS_FROM_WOO",
    "STATUS_TO_WOO",
    "STOCK_REDUCED_BY_STATUS",
    "WEBHOOK_STATUSES",
    "RemoteWebhook",
    "WooCommerceConnector",
    "WooCommerceOptions",
    "webhook_signature",
]
