"""`WooCommerceConnector`, the store class of kind "woocommerce"."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

import requests

from connectors.base import (
    Connector,
    ConnectorConfig,
    InboundEvent,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    PushItem,
    PushResult,
    RemoteAuthFailed,
    RemoteOrder,
    RemoteRejected,
    RemoteStock,
    RemoteUnavailable,
)
from connectors.woocommerce.client import WooCommerceClient, path_shape
from connectors.woocommerce.options import WooCommerceOptions
from connectors.woocommerce.payloads import (
    date_filter,
    order_from_payload,
    payload_id,
    push_result,
    stock_from_payload,
    update_body,
)
from connectors.woocommerce.webhooks import (
    DEFAULT_WEBHOOK_TOPICS,
    PING_BODY,
    WEBHOOK_STATUSES,
    RemoteWebhook,
    lowered_headers,
    webhook_from_payload,
    webhook_signature,
)

logger = logging.getLogger(__name__)


class WooCommerceConnector(Connector):
    """A WooCommerce store through REST API v3 and its webhooks.

    credentials:
        consumer_key, consumer_secret: a REST API key with read_write permission.

    options:
        auth: "auto" (default): HTTP Basic over https, OAuth 1.0a one-legged signing over
            plain http, which is all WooCommerce accepts there. "basic", "query" (keys in the
            query string, for https hosts that drop the Authorization header) and "oauth1"
            force one method.
        page_size: items per list request, 1 to 100 (default 100).
        batch_size: items per batch push, 1 to 100 (default 100).
        order_status_map: {"<woo status>": "hold" | "paid" | "shipped" | "released" |
            "ignore"} for statuses plugins add, or to override the defaults
            (pending/on-hold → hold, processing → paid, completed → shipped,
            cancelled/refunded/failed → released).

    Ids: remote_id is the product or variation id; parent_id the parent product id of a
    variation ("" for a product); location is always "".

    Pushes send `stock_status` to items that do not manage stock, and a quantity to those
    that do (WooCommerce derives their status): `inventory_delta` for a relative change
    (`PushItem.delta`, the hub's usual push, which never undoes a sale the store made
    meanwhile), `stock_quantity` for an absolute one; never a status and a quantity both.
    Credentials never appear in log lines or exception messages; request URLs (which may
    carry query-string keys) are never logged.
    """

    kind = "woocommerce"

    def __init__(self, config: ConnectorConfig, session: requests.Session | None = None):
        super().__init__(config, session)
        options = WooCommerceOptions.from_config(config.options)
        self.auth_mode = options.auth_mode
        self.page_size = options.page_size
        self.batch_size = options.batch_size
        self.order_states = options.order_states
        parts = urlsplit(config.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an http:// or https:// address of the store")
        self.base_url = config.base_url.rstrip("/")
        self.client = WooCommerceClient(
            config,
            self.session,
            base_url=self.base_url,
            auth_mode=self.auth_mode,
            page_size=self.page_size,
        )

    def missing_credentials(self) -> str:
        missing = [
            f"credentials.{name}"
            for name in ("consumer_key", "consumer_secret")
            if not self.config.credentials.get(name)
        ]
        if not missing:
            return ""
        return (
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required to "
            "switch a WooCommerce connector on (a REST API key with read_write permission)."
        )

    # Interface ---------------------------------------------------------------------
    def test_connection(self) -> None:
        response = self.client.request("GET", "/products", params={"per_page": 1})
        if not isinstance(self.client.json(response, "GET /products"), list):
            raise RemoteRejected("WooCommerce answered GET /products with something not a list")

    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        modified_filter = date_filter(modified_after)
        for product in self.client.pages("/products", modified_filter):
            product_type = product.get("type")
            if product_type in ("grouped", "external"):
                continue  # no stock of their own
            if product_type != "variable" or product.get("manage_stock") is True:
                yield from self._stock_or_skip(product)
            if product_type == "variable" and product.get("variations"):
                # Saving a variation also saves its parent, so the parent's date_modified
                # moves with every variation change and the same filter finds both.
                path = f"/products/{payload_id(product)}/variations"
                for variation in self.client.pages(path, modified_filter):
                    yield from self._stock_or_skip(variation, parent_id=str(payload_id(product)))

    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        for payload in self.client.pages("/orders", date_filter(modified_after)):
            try:
                order = order_from_payload(payload, self.order_states)
            except ValueError as error:
                logger.warning("WooCommerce order skipped: %s", error)
                continue
            if order is not None:
                yield order

    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        results: list[PushResult | None] = [None] * len(items)
        groups: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            if not item.remote_id.isdigit() or not (item.parent_id or "0").isdigit():
                results[index] = PushResult(
                    item=item,
                    is_confirmed=False,
                    error="remote_id and parent_id must be WooCommerce ids (digits)",
                )
                continue
            groups[item.parent_id].append(index)
        for parent_id, indexes in groups.items():
            path = f"/products/{parent_id}/variations/batch" if parent_id else "/products/batch"
            for start in range(0, len(indexes), self.batch_size):
                chunk = indexes[start : start + self.batch_size]
                for index, result in zip(
                    chunk, self._push_chunk(path, [items[i] for i in chunk]), strict=True
                ):
                    results[index] = result
        return [result for result in results if result is not None]

    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        headers = lowered_headers(headers)
        signature = headers.get("x-wc-webhook-signature", "")
        if not signature and "x-wc-webhook-topic" not in headers and PING_BODY.fullmatch(body):
            return InboundVerdict.PING
        if not signature or not self.config.webhook_secret:
            return InboundVerdict.BAD_SIGNATURE
        expected = webhook_signature(body, self.config.webhook_secret)
        if hmac.compare_digest(expected.encode(), signature.strip().encode()):
            return InboundVerdict.VALID
        return InboundVerdict.BAD_SIGNATURE

    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        lowered = lowered_headers(headers)
        delivery_id = self.delivery_id(headers=headers, body=body)
        if "x-wc-webhook-topic" not in lowered and PING_BODY.fullmatch(body):
            return InboundEvent(kind=InboundKind.PING)
        topic = lowered.get("x-wc-webhook-topic", "").strip()
        if not topic:
            raise MalformedInbound("the X-WC-Webhook-Topic header is missing")
        resource, _, event = topic.partition(".")
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise MalformedInbound(f"the {topic} body is not JSON ({error})") from None
        if not isinstance(payload, dict):
            raise MalformedInbound(f"the {topic} body is not a JSON object")
        if resource not in ("order", "product"):
            return InboundEvent(kind=InboundKind.IGNORED, topic=topic, delivery_id=delivery_id)
        try:
            return self._parse_resource(topic, resource, event, payload, delivery_id)
        except ValueError as error:
            raise MalformedInbound(f"{topic}: {error}") from None

    def delivery_id(self, *, headers: Mapping[str, str], body: bytes) -> str:
        """X-WC-Webhook-Delivery-ID plus a digest of the body.

        WooCommerce makes the id from the webhook id and the current second, so deliveries
        of one webhook within a second share it: two orders placed in the same second, or
        the product.updated echoes of one batch push. The body digest keeps those apart
        while a true repeat (same id, same bytes) still collapses into one.
        """
        header = lowered_headers(headers).get("x-wc-webhook-delivery-id", "").strip()
        if not header:
            return ""
        return f"{header[:40]}:{hashlib.sha256(body).hexdigest()[:16]}"

    # Webhook management (for the engine's set-up and watchdog) -------------------------
    def register_webhooks(
        self,
        delivery_url: str,
        topics: Sequence[str] = DEFAULT_WEBHOOK_TOPICS,
        secret: str = "",
    ) -> list[RemoteWebhook]:
        """Make sure one active webhook per topic delivers to `delivery_url` with `secret`.

        Existing webhooks for the same URL and topic are updated (re-activated, secret
        replaced) instead of duplicated, so calling this again is safe. WooCommerce pings
        the URL while it creates a webhook and waits for the answer (up to 5 s), so call
        this from a worker, not from inside a request the hub itself must answer.
        """
        secret = secret or self.config.webhook_secret
        if not secret:
            raise ValueError("a webhook secret is needed to sign deliveries")
        existing = {(hook.topic, hook.delivery_url): hook for hook in self.list_webhooks()}
        registered = []
        for topic in topics:
            body = {"status": "active", "secret": secret, "name": f"Inventory Hub: {topic}"}
            hook = existing.get((topic, delivery_url))
            if hook is None:
                body |= {"topic": topic, "delivery_url": delivery_url}
                response = self.client.request("POST", "/webhooks", json=body)
            else:
                response = self.client.request("PUT", f"/webhooks/{int(hook.id)}", json=body)
            registered.append(webhook_from_payload(self.client.json(response, "a webhook request")))
        return registered

    def list_webhooks(self) -> list[RemoteWebhook]:
        return [webhook_from_payload(payload) for payload in self.client.pages("/webhooks", {})]

    def set_webhook_status(self, webhook_id: str | int, status: str) -> RemoteWebhook:
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"status must be one of {', '.join(WEBHOOK_STATUSES)}")
        response = self.client.request(
            "PUT", f"/webhooks/{int(webhook_id)}", json={"status": status}
        )
        return webhook_from_payload(self.client.json(response, "PUT /webhooks/<id>"))

    def delete_webhook(self, webhook_id: str | int) -> None:
        self.client.request("DELETE", f"/webhooks/{int(webhook_id)}", params={"force": "true"})

    # Reading payloads -------------------------------------------------------------------
    def _parse_resource(
        self, topic: str, resource: str, event: str, payload: dict, delivery_id: str
    ) -> InboundEvent:
        if event == "deleted":
            reference = str(payload_id(payload))
            if resource == "order":
                return InboundEvent(
                    kind=InboundKind.ORDERS,
                    topic=topic,
                    delivery_id=delivery_id,
                    deleted_order_references=(reference,),
                )
            return InboundEvent(
                kind=InboundKind.STOCK,
                topic=topic,
                delivery_id=delivery_id,
                deleted_remote_ids=(reference,),
            )
        if resource == "order":
            order = order_from_payload(payload, self.order_states)
            if order is None:
                return InboundEvent(kind=InboundKind.IGNORED, topic=topic, delivery_id=delivery_id)
            return InboundEvent(
                kind=InboundKind.ORDERS,
                topic=topic,
                delivery_id=delivery_id,
                occurred_at=order.updated_at,
                orders=(order,),
            )
        stock = stock_from_payload(payload)
        if stock is None:
            return InboundEvent(kind=InboundKind.IGNORED, topic=topic, delivery_id=delivery_id)
        return InboundEvent(
            kind=InboundKind.STOCK,
            topic=topic,
            delivery_id=delivery_id,
            occurred_at=stock.updated_at,
            stock=(stock,),
        )

    def _stock_or_skip(self, payload: Mapping, parent_id: str = "") -> Iterator[RemoteStock]:
        try:
            stock = stock_from_payload(payload, parent_id=parent_id)
        except ValueError as error:
            # One odd product (a plugin's own stock status, say) must not stop the pull.
            logger.warning("WooCommerce product skipped: %s", error)
            return
        if stock is not None:
            yield stock

    # Pushing -----------------------------------------------------------------------
    def _push_chunk(self, path: str, items: list[PushItem]) -> list[PushResult]:
        updates = [update_body(item) for item in items]
        try:
            response = self.client.request("POST", path, json={"update": updates})
        except (RemoteUnavailable, RemoteAuthFailed):
            raise
        except RemoteRejected as error:
            # A missing parent product refuses its whole chunk; the other chunks go on.
            return [PushResult(item=item, is_confirmed=False, error=str(error)) for item in items]
        answer = self.client.json(response, f"POST {path_shape(path)}")
        answered = answer.get("update") if isinstance(answer, dict) else None
        if not isinstance(answered, list) or len(answered) != len(items):
            raise RemoteUnavailable(
                f"WooCommerce answered POST {path_shape(path)} without one result per item"
            )
        return [push_result(item, obj) for item, obj in zip(items, answered, strict=True)]
