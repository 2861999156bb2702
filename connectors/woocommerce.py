"""WooCommerce: REST API v3 (`/wp-json/wc/v3/`) and the webhooks a store delivers.

Facts and their sources: ../shared/reference/store-protocols.md, section 1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

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
    RemoteUnavailable,
)
from connectors.engine.http import raise_for_store_independent_status

logger = logging.getLogger(__name__)

API_PREFIX = "/wp-json/wc/v3"
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit; more is refused with 413
PAGE_LIMIT = 100  # per_page maximum
DEFAULT_WEBHOOK_TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "product.created",
    "product.updated",
    "product.deleted",
)
WEBHOOK_STATUSES = ("active", "paused", "disabled")
AUTH_MODES = ("auto", "basic", "query", "oauth1")
# Every option the class reads (see the class docstring); any other key is refused.
KNOWN_OPTIONS = ("auth", "batch_size", "order_status_map", "page_size")

STATUS_FROM_WOO = {
    "instock": RemoteStatus.IN_STOCK,
    "outofstock": RemoteStatus.OUT_OF_STOCK,
    "onbackorder": RemoteStatus.BACKORDER,
}
STATUS_TO_WOO = {hub: woo for woo, hub in STATUS_FROM_WOO.items()}

DEFAULT_ORDER_STATES: dict[str, OrderState | None] = {
    "pending": OrderState.HOLD,
    "on-hold": OrderState.HOLD,
    "processing": OrderState.PAID,
    "completed": OrderState.SHIPPED,
    "cancelled": OrderState.RELEASED,
    "refunded": OrderState.RELEASED,
    "failed": OrderState.RELEASED,
    # Drafts are not orders yet (WooCommerce sends no webhook for them); trash is order.deleted.
    "checkout-draft": None,
    "draft": None,
    "auto-draft": None,
    "trash": None,
}

# Whether WooCommerce has taken an order's lines from its own stock in each status
# (wc_maybe_reduce_stock_levels on processing, on-hold and completed; restored on cancelled
# and pending). Others (refunded, failed, plugins' statuses) leave it as it was.
STOCK_REDUCED_BY_STATUS: dict[str, bool] = {
    "processing": True,
    "on-hold": True,
    "completed": True,
    "pending": False,
    "cancelled": False,
}

PING_BODY = re.compile(rb"webhook_id=\d+")


@dataclass(frozen=True, slots=True)
class RemoteWebhook:
    """A webhook registered on the store (its secret is never read back)."""

    id: str
    topic: str
    status: str  # active | paused | disabled
    delivery_url: str
    name: str = ""


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
        options = config.options
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise ValueError(
                f"Unknown WooCommerce option(s): {', '.join(unknown)}; known: "
                + ", ".join(KNOWN_OPTIONS)
            )
        self.auth_mode = str(options.get("auth", "auto"))
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(f"options.auth must be one of {', '.join(AUTH_MODES)}")
        self.page_size = _bounded_option(options, "page_size", PAGE_LIMIT)
        self.batch_size = _bounded_option(options, "batch_size", BATCH_LIMIT)
        self.order_states = dict(DEFAULT_ORDER_STATES)
        custom = options.get("order_status_map") or {}
        if not isinstance(custom, Mapping):
            raise ValueError("options.order_status_map must map WooCommerce statuses to states")
        for woo_status, state in custom.items():
            if state == "ignore":
                self.order_states[str(woo_status)] = None
            elif state in {member.value for member in OrderState}:
                self.order_states[str(woo_status)] = OrderState(state)
            else:
                raise ValueError(
                    f"options.order_status_map[{woo_status!r}] must be one of "
                    "hold, paid, shipped, released, ignore"
                )
        parts = urlsplit(config.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an http:// or https:// address of the store")
        self.base_url = config.base_url.rstrip("/")

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
        response = self._request("GET", "/products", params={"per_page": 1})
        if not isinstance(self._json(response, "GET /products"), list):
            raise RemoteRejected("WooCommerce answered GET /products with something not a list")

    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        date_filter = _date_filter(modified_after)
        for product in self._pages("/products", date_filter):
            product_type = product.get("type")
            if product_type in ("grouped", "external"):
                continue  # no stock of their own
            if product_type != "variable" or product.get("manage_stock") is True:
                yield from self._stock_or_skip(product)
            if product_type == "variable" and product.get("variations"):
                # Saving a variation also saves its parent, so the parent's date_modified
                # moves with every variation change and the same filter finds both.
                path = f"/products/{_id(product)}/variations"
                for variation in self._pages(path, date_filter):
                    yield from self._stock_or_skip(variation, parent_id=str(_id(product)))

    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        for payload in self._pages("/orders", _date_filter(modified_after)):
            try:
                order = self._order(payload)
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
        headers = _lower(headers)
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
        lowered = _lower(headers)
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
        header = _lower(headers).get("x-wc-webhook-delivery-id", "").strip()
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
                response = self._request("POST", "/webhooks", json=body)
            else:
                response = self._request("PUT", f"/webhooks/{int(hook.id)}", json=body)
            registered.append(_webhook(self._json(response, "a webhook request")))
        return registered

    def list_webhooks(self) -> list[RemoteWebhook]:
        return [_webhook(payload) for payload in self._pages("/webhooks", {})]

    def set_webhook_status(self, webhook_id: str | int, status: str) -> RemoteWebhook:
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"status must be one of {', '.join(WEBHOOK_STATUSES)}")
        response = self._request("PUT", f"/webhooks/{int(webhook_id)}", json={"status": status})
        return _webhook(self._json(response, "PUT /webhooks/<id>"))

    def delete_webhook(self, webhook_id: str | int) -> None:
        self._request("DELETE", f"/webhooks/{int(webhook_id)}", params={"force": "true"})

    # Reading payloads -------------------------------------------------------------------
    def _parse_resource(
        self, topic: str, resource: str, event: str, payload: dict, delivery_id: str
    ) -> InboundEvent:
        if event == "deleted":
            reference = str(_id(payload))
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
            order = self._order(payload)
            if order is None:
                return InboundEvent(kind=InboundKind.IGNORED, topic=topic, delivery_id=delivery_id)
            return InboundEvent(
                kind=InboundKind.ORDERS,
                topic=topic,
                delivery_id=delivery_id,
                occurred_at=order.updated_at,
                orders=(order,),
            )
        stock = _stock(payload)
        if stock is None:
            return InboundEvent(kind=InboundKind.IGNORED, topic=topic, delivery_id=delivery_id)
        return InboundEvent(
            kind=InboundKind.STOCK,
            topic=topic,
            delivery_id=delivery_id,
            occurred_at=stock.updated_at,
            stock=(stock,),
        )

    def _order(self, payload: Mapping) -> RemoteOrder | None:
        reference = str(_id(payload))
        status = payload.get("status")
        if not isinstance(status, str):
            raise ValueError(f"order {reference} has no status")
        if status not in self.order_states:
            raise ValueError(
                f"order {reference} has status {status!r}, which options.order_status_map "
                "does not map"
            )
        state = self.order_states[status]
        if state is None:
            return None
        raw_lines = payload.get("line_items")
        if not isinstance(raw_lines, list):
            raise ValueError(f"order {reference} has no line_items list")
        lines = []
        for number, line in enumerate(raw_lines, start=1):
            if not isinstance(line, Mapping):
                raise ValueError(f"order {reference} line {number} is not an object")
            quantity = line.get("quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise ValueError(
                    f"order {reference} line {number} has quantity {quantity!r}, not a whole number"
                )
            sku = line.get("sku") or ""
            if not isinstance(sku, str):
                raise ValueError(f"order {reference} line {number} has a sku that is not text")
            lines.append(RemoteOrderLine(sku=sku, quantity=quantity))
        return RemoteOrder(
            reference=reference,
            state=state,
            lines=tuple(lines),
            updated_at=_gmt(payload, "date_modified_gmt"),
            is_stock_reduced=STOCK_REDUCED_BY_STATUS.get(status),
        )

    def _stock_or_skip(self, payload: Mapping, parent_id: str = "") -> Iterator[RemoteStock]:
        try:
            stock = _stock(payload, parent_id=parent_id)
        except ValueError as error:
            # One odd product (a plugin's own stock status, say) must not stop the pull.
            logger.warning("WooCommerce product skipped: %s", error)
            return
        if stock is not None:
            yield stock

    # Pushing -----------------------------------------------------------------------
    def _push_chunk(self, path: str, items: list[PushItem]) -> list[PushResult]:
        updates = [_update_body(item) for item in items]
        try:
            response = self._request("POST", path, json={"update": updates})
        except (RemoteUnavailable, RemoteAuthFailed):
            raise
        except RemoteRejected as error:
            # A missing parent product refuses its whole chunk; the other chunks go on.
            return [PushResult(item=item, is_confirmed=False, error=str(error)) for item in items]
        answer = self._json(response, f"POST {_path_shape(path)}")
        answered = answer.get("update") if isinstance(answer, dict) else None
        if not isinstance(answered, list) or len(answered) != len(items):
            raise RemoteUnavailable(
                f"WooCommerce answered POST {_path_shape(path)} without one result per item"
            )
        return [_push_result(item, obj) for item, obj in zip(items, answered, strict=True)]

    # HTTP ----------------------------------------------------------------------------
    def _pages(self, path: str, params: Mapping[str, str]) -> Iterator[dict]:
        page = 1
        while True:
            query = {
                **params,
                "per_page": self.page_size,
                "page": page,
                "orderby": "id",
                "order": "asc",
            }
            response = self._request("GET", path, params=query)
            items = self._json(response, f"GET {_path_shape(path)}")
            if not isinstance(items, list):
                raise RemoteUnavailable(
                    f"WooCommerce answered GET {_path_shape(path)} with something not a list"
                )
            yield from (item for item in items if isinstance(item, dict))
            total_pages = _int_header(response, "X-WP-TotalPages")
            if total_pages is None:
                if len(items) < self.page_size:
                    return
            elif page >= total_pages:
                return
            if not items:
                return
            page += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
    ) -> requests.Response:
        url = f"{self.base_url}{API_PREFIX}{path}"
        shown = f"{method} {_path_shape(path)}"
        query = {key: str(value) for key, value in (params or {}).items()}
        auth = None
        mode = self.auth_mode
        if mode == "auto":
            mode = "basic" if url.startswith("https://") else "oauth1"
        key, secret = self._credentials()
        if mode == "basic":
            auth = (key, secret)
        elif mode == "query":
            query |= {"consumer_key": key, "consumer_secret": secret}
        else:
            query |= _oauth_parameters(method, url, query, key, secret)
        started = time.monotonic()
        failure = ""
        response = None
        try:
            response = self.session.request(
                method,
                url,
                params=query,
                json=json,
                auth=auth,
                timeout=self.config.timeout_seconds,
                allow_redirects=False,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            failure = f"did not answer {shown} within {self.config.timeout_seconds:g} s"
        except requests.RequestException as error:
            # The exception's text holds the full URL, query-string keys included.
            failure = f"could not be reached for {shown} ({type(error).__name__})"
        # Raised outside the except blocks so no exception chain carries the URL along.
        if failure:
            raise RemoteUnavailable(f"WooCommerce {failure}")
        assert response is not None
        logger.debug(
            "WooCommerce %s -> %s in %.0f ms",
            shown,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        self._raise_for_status(
            response, shown, is_auto_oauth=self.auth_mode == "auto" and mode == "oauth1"
        )
        return response

    def _raise_for_status(
        self, response: requests.Response, shown: str, *, is_auto_oauth: bool = False
    ) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        code, message = _error_details(response)
        detail = self._redact(f"{code}: {message}" if code else message)
        text = f"WooCommerce answered {status} to {shown}" + (f" ({detail})" if detail else "")
        if is_auto_oauth and status in (401, 403):
            # A merchant who gave a working key sees 401 and suspects the key; say what
            # was actually sent, since a plain-http store cannot accept anything else.
            text += (
                '. Auth "auto" signed it with OAuth 1.0a because base_url is plain http: '
                "WooCommerce accepts HTTP Basic and query-string keys only over HTTPS. Check "
                "the consumer key and secret and the store's clock (signatures hold 15 "
                "minutes), or use an https:// base_url"
            )
        raise_for_store_independent_status(response, text, code=code)
        if 300 <= status < 400:
            raise RemoteRejected(
                f"{text}: the store redirects elsewhere; check base_url (http or https, www)",
                status=status,
                code=code,
            )
        raise RemoteRejected(text, status=status, code=code)

    def _json(self, response: requests.Response, shown: str):
        try:
            return response.json()
        except ValueError:
            # A maintenance page or a proxy's error page: try again later.
            raise RemoteUnavailable(
                f"WooCommerce answered {shown} with something not JSON"
            ) from None

    def _credentials(self) -> tuple[str, str]:
        key = str(self.config.credentials.get("consumer_key") or "")
        secret = str(self.config.credentials.get("consumer_secret") or "")
        if not key or not secret:
            raise RemoteAuthFailed("credentials need both consumer_key and consumer_secret")
        return key, secret

    def _redact(self, text: str) -> str:
        for value in self.config.credentials.values():
            if value and len(str(value)) >= 4:
                text = text.replace(str(value), "***")
        return text[:300]


# Shapes ------------------------------------------------------------------------------
def webhook_signature(body: bytes, secret: str) -> str:
    """X-WC-Webhook-Signature: base64 of the HMAC-SHA256 of the raw body.

    WooCommerce decodes HTML entities in the secret before using it as the key.
    """
    key = _specialchars_decode(secret).encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def _stock(payload: Mapping, *, parent_id: str = "") -> RemoteStock | None:
    """A product or variation as a RemoteStock; None for items without stock of their own."""
    remote_id = str(_id(payload))
    product_type = payload.get("type")
    manage_stock = payload.get("manage_stock")
    if product_type in ("grouped", "external"):
        return None
    if product_type == "variable" and manage_stock is not True:
        return None  # its status is derived from its variations, which carry the stock
    stock_status = payload.get("stock_status")
    status = STATUS_FROM_WOO.get(stock_status) if isinstance(stock_status, str) else None
    if status is None:
        raise ValueError(
            f"product {remote_id} has stock_status {payload.get('stock_status')!r}, "
            "not instock, outofstock or onbackorder"
        )
    sku = payload.get("sku") or ""
    if not isinstance(sku, str):
        raise ValueError(f"product {remote_id} has a sku that is not text")
    is_variation = product_type == "variation"
    if is_variation and not parent_id:
        parent = payload.get("parent_id")
        if not isinstance(parent, int) or isinstance(parent, bool) or parent <= 0:
            raise ValueError(f"variation {remote_id} has no parent_id")
        parent_id = str(parent)
    # manage_stock "parent": the variation shows its parent's stock and holds none itself.
    is_managed = manage_stock is True
    quantity = None
    if is_managed:
        raw = payload.get("stock_quantity")
        if raw is None:
            quantity = 0  # WooCommerce reads an empty managed quantity as 0
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
            raise ValueError(f"product {remote_id} has stock_quantity {raw!r}, not a whole number")
        else:
            quantity = int(raw)
    return RemoteStock(
        sku=sku,
        remote_id=remote_id,
        quantity=quantity,
        status=status,
        parent_id=parent_id if is_variation else "",
        is_managed=is_managed,
        updated_at=_gmt(payload, "date_modified_gmt"),
    )


def _update_body(item: PushItem) -> dict:
    body: dict[str, object] = {"id": int(item.remote_id)}
    if item.is_managed and item.delta is not None:
        body["inventory_delta"] = item.delta
    elif item.is_managed:
        body["stock_quantity"] = item.quantity
    else:
        body["stock_status"] = STATUS_TO_WOO[_unmanaged_status(item)]
    return body


def _unmanaged_status(item: PushItem) -> RemoteStatus:
    if item.forced_status is not None:
        return item.forced_status
    if item.status is not None:
        return item.status
    return RemoteStatus.IN_STOCK if item.quantity > 0 else RemoteStatus.OUT_OF_STOCK


def _push_result(item: PushItem, answered: object) -> PushResult:
    if not isinstance(answered, Mapping):
        return PushResult(item=item, is_confirmed=False, error="the store answered no object")
    error = answered.get("error")
    if error:
        if isinstance(error, Mapping):
            text = f"{error.get('code', '')}: {error.get('message', '')}"
        else:
            text = str(error)
        return PushResult(item=item, is_confirmed=False, error=text[:300])
    if str(answered.get("id")) != item.remote_id:
        return PushResult(
            item=item,
            is_confirmed=False,
            error=f"the store answered for id {answered.get('id')!r}",
        )
    manage_stock = answered.get("manage_stock")
    quantity = answered.get("stock_quantity")
    confirmed_quantity = int(quantity) if isinstance(quantity, int | float) else None
    if item.is_managed:
        if manage_stock is not True:
            return PushResult(
                item=item,
                is_confirmed=False,
                error="the store does not manage stock for this item: map it as unmanaged",
            )
        if item.delta is not None and confirmed_quantity is not None:
            # Applied to what the store held by then: its own sales since show in the figure.
            return PushResult(item=item, is_confirmed=True, confirmed_quantity=confirmed_quantity)
        if confirmed_quantity != item.quantity:
            return PushResult(
                item=item,
                is_confirmed=False,
                confirmed_quantity=confirmed_quantity,
                error=f"the store holds {confirmed_quantity} after the push",
            )
        return PushResult(item=item, is_confirmed=True, confirmed_quantity=confirmed_quantity)
    if manage_stock is True:
        return PushResult(
            item=item,
            is_confirmed=False,
            confirmed_quantity=confirmed_quantity,
            error="the store manages stock for this item and ignores a status: map it as managed",
        )
    wanted = STATUS_TO_WOO[_unmanaged_status(item)]
    if answered.get("stock_status") != wanted:
        return PushResult(
            item=item,
            is_confirmed=False,
            error=f"the store shows {answered.get('stock_status')!r} after the push",
        )
    return PushResult(item=item, is_confirmed=True)


def _webhook(payload: object) -> RemoteWebhook:
    if not isinstance(payload, Mapping) or "id" not in payload:
        raise RemoteUnavailable("WooCommerce answered a webhook request without a webhook")
    return RemoteWebhook(
        id=str(payload["id"]),
        topic=str(payload.get("topic", "")),
        status=str(payload.get("status", "")),
        delivery_url=str(payload.get("delivery_url", "")),
        name=str(payload.get("name", "")),
    )


def _id(payload: Mapping) -> int:
    value = payload.get("id")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"the payload has no positive id (id={value!r})")
    return value


def _gmt(payload: Mapping, name: str) -> datetime | None:
    value = payload.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} {value!r} is not a date")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _date_filter(modified_after: datetime | None) -> dict[str, str]:
    if modified_after is None:
        return {}
    if modified_after.tzinfo is None:
        modified_after = modified_after.replace(tzinfo=UTC)
    # WooCommerce keeps whole seconds and `modified_after` is exclusive: step back one
    # second so a change made in the same second as the cursor is read again, not lost.
    moment = modified_after.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return {
        "modified_after": moment.replace(tzinfo=None).isoformat(timespec="seconds"),
        "dates_are_gmt": "true",
    }


def _oauth_parameters(
    method: str, url: str, query: Mapping[str, str], key: str, secret: str
) -> dict[str, str]:
    """OAuth 1.0a one-legged, as WC_REST_Authentication::check_oauth_signature() checks it."""
    oauth = {
        "oauth_consumer_key": key,
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": str(int(time.time())),
    }
    params = {**query, **oauth}
    pairs = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
    base_string = "&".join([method.upper(), _rfc3986(url), _rfc3986(pairs)])
    digest = hmac.new(f"{secret}&".encode(), base_string.encode(), hashlib.sha256).digest()
    return {**oauth, "oauth_signature": base64.b64encode(digest).decode()}


def _rfc3986(text: str) -> str:
    return quote(str(text), safe="~")


def _specialchars_decode(text: str) -> str:
    for entity, char in (
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&#039;", "'"),
        ("&#x27;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return text


def _error_details(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None


def _path_shape(path: str) -> str:
    """The path with ids replaced, for messages that must not grow per product."""
    return re.sub(r"/\d+", "/<id>", path)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in headers.items()}


def _bounded_option(options: Mapping[str, object], name: str, maximum: int) -> int:
    value = options.get(name, maximum)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ValueError(f"options.{name} must be a whole number from 1 to {maximum}")
    return value
