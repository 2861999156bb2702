"""A fake WooCommerce store: REST API v3 at /wp-json/wc/v3/ and webhooks it delivers itself.

It follows ../shared/reference/store-protocols.md section 1 (facts tagged there with their
source); where that file marks something unverified, the choice made here is named [U].

Authentication, as WooCommerce does it (WC_REST_Authentication):
- The fake runs on plain http://127.0.0.1, so like a real store reached over HTTP it accepts
  only OAuth 1.0a one-legged signing (HMAC-SHA1 or HMAC-SHA256, parameters in the query
  string, a form body or an `Authorization: OAuth …` header, 15-minute timestamp window,
  nonces refused on re-use). `consumer_key`/`consumer_secret` in the query or HTTP Basic
  are ignored over HTTP: the request is anonymous and fails the route's permission check.
- `FakeWooCommerce(is_https=True)` plays a store behind a TLS-terminating proxy (WordPress'
  `is_ssl()` true): query keys and Basic are accepted too, and OAuth signatures are then
  computed over an https:// base URI.
- Keys carry read / write / read_write permissions.

Check order (WordPress): authentication error → key permission → route (404 rest_no_route)
→ parameters (400 rest_invalid_param) → anonymous permission (401 woocommerce_rest_cannot_*).

Stock fields follow `prepare_object_for_database()` and `validate_props()`: with
`manage_stock` the store derives `stock_status` from the quantity and `backorders` and
ignores a status sent by the client; without it the quantity is emptied. Saving a variation
re-syncs the parent (status when the parent does not manage stock, and `date_modified`).

Dates: records keep UTC to the second; `date_*` fields are in the site's time zone
(`timezone_offset`, -05:00 by default: a client that sends UTC without `dates_are_gmt=true`
then asks for changes five hours too late and misses them), `date_*_gmt` in UTC.
`modified_after` is exclusive, like WP_Date_Query.

Webhooks are delivered by the fake itself, never retried: an active webhook whose topic
matches gets a POST with the X-WC-Webhook-* headers and the resource's REST representation
(built at delivery time; `{"id": N}` for `deleted`), signed with base64 HMAC-SHA256 of the
raw body. The delivery id is `wp_hash(webhook id . unix seconds)` as in WooCommerce, so two
deliveries of one webhook within a second share it. A failure (not 200 to 302, or no answer)
increments `failure_count`; one more failure when it is already above
`max_delivery_failures` (5) disables the webhook: the 7th consecutive failure. A success
resets the count; re-activating does not. Creating a webhook sends the unsigned ping
(`webhook_id=N`, form body) before the 201 answer. Delivery runs `"sync"` (before the API
answer or helper returns; deterministic), `"background"` (one worker thread, like Action
Scheduler; `wait_for_deliveries()`), or `"queue"` (kept until `deliver_queued()`).

Orders: a status change to processing/completed/on-hold reduces managed stock once, and
cancelled/pending restores it [U: wc_maybe_reduce/increase_stock_levels]; each product save
fires `product.updated`. Set `reduces_stock_on_orders=False` to turn that off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, unquote

import requests

from tests.fakes.server import FakeStore, Request, Response

API = "/wp-json/wc/v3"
USER_AGENT = "WooCommerce/9.9.0 Hookshot (WordPress/6.8.1)"
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
BACKORDERS = ("no", "notify", "yes")
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
WEBHOOK_STATUSES = ("active", "paused", "disabled")
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")
REDUCING_ORDER_STATUSES = ("processing", "completed", "on-hold")
RESTORING_ORDER_STATUSES = ("cancelled", "pending")
BATCH_LIMIT = 100
OAUTH_WINDOW_SECONDS = 15 * 60


class WooError(Exception):
    """A WP_Error: answered as {"code", "message", "data": {"status", …}}."""

    def __init__(self, status: int, code: str, message: str, **data) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return Response(self.status, self.body(), headers or {})


def invalid_param(name: str, reason: str) -> WooError:
    return WooError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: reason},
    )


@dataclass
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"  # read | write | read_write
    nonces: dict[str, int] = field(default_factory=dict)


@dataclass
class Product:
    """A product or variation as WooCommerce stores it (times in UTC)."""

    id: int
    name: str
    sku: str
    type: str  # simple | variable | variation | grouped | external
    created: datetime
    modified: datetime
    status: str = "publish"  # publish | draft | private | trash
    manage_stock: bool = False
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"
    low_stock_amount: int | None = None
    parent_id: int = 0
    variation_ids: list[int] = field(default_factory=list)
    price: str = "10.00"


@dataclass
class OrderLine:
    id: int
    product_id: int
    variation_id: int
    name: str
    sku: str
    quantity: int
    price: str


@dataclass
class Order:
    id: int
    status: str
    lines: list[OrderLine]
    created: datetime
    modified: datetime
    paid: datetime | None = None
    completed: datetime | None = None
    is_stock_reduced: bool = False
    is_trashed: bool = False


@dataclass
class Webhook:
    id: int
    name: str
    status: str
    topic: str
    delivery_url: str
    secret: str
    created: datetime
    modified: datetime
    failure_count: int = 0
    pending_delivery: bool = True

    @property
    def resource(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        return self.topic.split(".", 1)[1]


@dataclass
class Delivery:
    """One POST the store made to a delivery URL, and what came back."""

    webhook_id: int
    topic: str  # "" for a ping
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: no answer (refused, timed out)
    error: str = ""

    @property
    def is_ping(self) -> bool:
        return self.topic == ""

    @property
    def is_success(self) -> bool:
        return self.status is not None and 200 <= self.status < 303

    def json(self):
        return json.loads(self.body)


def wp_json_encode(payload) -> bytes:
    """wp_json_encode() with default flags: compact, `/` escaped, non-ASCII as \\uXXXX."""
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def wp_specialchars_decode(text: str) -> str:
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


def webhook_signature(body: bytes, secret: str) -> str:
    key = wp_specialchars_decode(secret).encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def is_valid_topic(topic: str) -> bool:
    resource, _, event = topic.partition(".")
    if resource in WEBHOOK_RESOURCES and event in WEBHOOK_EVENTS:
        return True
    excluded = (
        "action.woocommerce_login_credentials",
        "action.woocommerce_product_csv_importer_check_import_file_path",
        "action.woocommerce_webhook_should_deliver",
    )
    return topic.startswith(("action.woocommerce_", "action.wc_")) and topic not in excluded


def _rfc3986(text: str) -> str:
    return quote(text, safe="~")


class FakeWooCommerce(FakeStore):
    def __init__(
        self,
        *,
        delivery_mode: str = "sync",
        is_https: bool = False,
        timezone_offset: timedelta = timedelta(hours=-5),
        delivery_timeout_seconds: float = 5.0,
        ping_timeout_seconds: float = 5.0,
        max_delivery_failures: int = 5,
        reduces_stock_on_orders: bool = True,
        store_manages_stock: bool = True,
        notify_no_stock_amount: int = 0,
    ) -> None:
        super().__init__()
        if delivery_mode not in ("sync", "background", "queue"):
            raise ValueError("delivery_mode must be sync, background or queue")
        self.delivery_mode = delivery_mode
        self.is_https = is_https
        self.timezone_offset = timezone_offset
        self.delivery_timeout_seconds = delivery_timeout_seconds
        self.ping_timeout_seconds = ping_timeout_seconds
        self.max_delivery_failures = max_delivery_failures
        self.reduces_stock_on_orders = reduces_stock_on_orders
        self.store_manages_stock = store_manages_stock
        self.notify_no_stock_amount = notify_no_stock_amount
        self.clock_offset = timedelta()
        self.frozen_at: datetime | None = None
        self.products: dict[int, Product] = {}
        self.orders: dict[int, Order] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self.queued: list[tuple[int, str, int]] = []
        self.api_keys: dict[str, ApiKey] = {}
        self._next_post_id = 100
        self._next_webhook_id = 1
        self._next_line_id = 1
        self._hash_salt = secrets.token_bytes(16)
        self._local = threading.local()
        self._background: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        key = self.add_api_key("read_write")
        self.consumer_key, self.consumer_secret = key.consumer_key, key.consumer_secret
        self._register_routes()

    # Lifecycle ---------------------------------------------------------------------
    def start(self) -> FakeWooCommerce:
        super().start()
        if self.delivery_mode == "background":
            self._background = queue.Queue()
            self._worker = threading.Thread(target=self._work, daemon=True)
            self._worker.start()
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.put(None)
            self._background = None
        super().stop()

    @property
    def credentials(self) -> dict[str, str]:
        return {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}

    @property
    def home_url(self) -> str:
        host_and_port = self.base_url.split("://", 1)[1]
        return f"{'https' if self.is_https else 'http'}://{host_and_port}"

    def now(self) -> datetime:
        moment = self.frozen_at or datetime.now(UTC).replace(microsecond=0)
        return moment + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the store's clock (record dates and delivery ids; OAuth uses real time)."""
        self.clock_offset += timedelta(seconds=seconds)

    def freeze_clock(self) -> None:
        """Stop the store's clock, e.g. to show two deliveries sharing a second."""
        self.frozen_at = datetime.now(UTC).replace(microsecond=0)

    def add_api_key(self, permissions: str = "read_write") -> ApiKey:
        key = ApiKey(
            consumer_key=f"ck_{secrets.token_hex(20)}",
            consumer_secret=f"cs_{secrets.token_hex(20)}",
            permissions=permissions,
        )
        with self.lock:
            self.api_keys[key.consumer_key] = key
        return key

    # Test helpers: the store's own admin, behind the hub's back -------------------------
    def add_product(
        self,
        sku: str,
        *,
        quantity: int | None = None,
        manage_stock: bool | None = None,
        stock_status: str = "instock",
        backorders: str = "no",
        product_type: str = "simple",
        name: str = "",
    ) -> int:
        """A published product; `manage_stock` defaults to whether a quantity is given."""
        fields = {
            "sku": sku,
            "name": name or sku,
            "type": product_type,
            "manage_stock": quantity is not None if manage_stock is None else manage_stock,
            "stock_status": stock_status,
            "backorders": backorders,
        }
        if quantity is not None:
            fields["stock_quantity"] = quantity
        with self._operation():
            return self._create_product(fields).id

    def add_variation(
        self,
        parent_id: int,
        sku: str,
        *,
        quantity: int | None = None,
        manage_stock: bool | None = None,
        stock_status: str = "instock",
        backorders: str = "no",
    ) -> int:
        fields = {
            "sku": sku,
            "manage_stock": quantity is not None if manage_stock is None else manage_stock,
            "stock_status": stock_status,
            "backorders": backorders,
        }
        if quantity is not None:
            fields["stock_quantity"] = quantity
        with self._operation():
            return self._create_variation(parent_id, fields).id

    def set_stock(self, product_id: int, **fields) -> None:
        """Edit stock fields as a shop manager would (fires product.updated)."""
        with self._operation(), self.lock:
            product = self._product_or_error(product_id, status=404)
            self._write_stock_fields(product, fields)
            self._save_product(product, is_new=False)

    def trash_product(self, product_id: int) -> None:
        with self._operation(), self.lock:
            product = self._product_or_error(product_id, status=404)
            product.status = "trash"
            product.modified = self.now()
            self._fire("product.deleted", product.id)

    def product_json(self, product_id: int) -> dict:
        with self.lock:
            return self._product_json(self.products[product_id])

    def product_by_sku(self, sku: str) -> Product:
        with self.lock:
            return next(p for p in self.products.values() if p.sku == sku)

    def create_order(self, lines, *, status: str = "pending") -> int:
        """`lines`: (sku, quantity) pairs. Fires order.created (and product.updated)."""
        with self._operation(), self.lock:
            order = self._create_order([{"sku": sku, "quantity": qty} for sku, qty in lines])
            self._set_order_status(order, status)
            return order.id

    def update_order_status(self, order_id: int, status: str) -> None:
        with self._operation(), self.lock:
            order = self._order_or_error(order_id, status=404)
            self._set_order_status(order, status)
            order.modified = self.now()
            self._fire("order.updated", order.id)

    def trash_order(self, order_id: int) -> None:
        with self._operation(), self.lock:
            order = self._order_or_error(order_id, status=404)
            order.is_trashed = True
            order.modified = self.now()
            self._fire("order.deleted", order.id)

    def restore_order(self, order_id: int) -> None:
        with self._operation(), self.lock:
            order = self._order_or_error(order_id, status=404)
            order.is_trashed = False
            order.modified = self.now()
            self._fire("order.restored", order.id)

    def order_json(self, order_id: int) -> dict:
        with self.lock:
            return self._order_json(self.orders[order_id])

    def webhook(self, webhook_id: int) -> Webhook:
        with self.lock:
            return self.webhooks[int(webhook_id)]

    def deliveries_for(self, topic: str | None = None, *, pings: bool = False) -> list[Delivery]:
        with self.lock:
            return [
                d
                for d in self.deliveries
                if d.is_ping == pings and (topic is None or d.topic == topic)
            ]

    def deliver_queued(self) -> None:
        with self.lock:
            items, self.queued = self.queued, []
        for item in items:
            self._deliver(*item)

    def wait_for_deliveries(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._background is not None and self._background.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            time.sleep(0.01)

    # Dispatch: WordPress' order of checks ------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        with self._operation():
            try:
                key = self._authenticate(request)
                if key is not None:
                    self._check_key_permission(key, request.method)
                request.api_key = key
                return super().dispatch(request)
            except WooError as error:
                headers = {}
                if error.status == 401 and getattr(request, "auth_method", "") == "basic_auth":
                    headers["WWW-Authenticate"] = (
                        'Basic realm="WooCommerce API. Use a consumer key in the username field '
                        'and a consumer secret in the password field."'
                    )
                return error.response(headers)

    def not_found(self, request: Request) -> Response:
        return WooError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        ).response()

    def _register_routes(self) -> None:
        editable = ("POST", "PUT", "PATCH")
        self.route("GET", f"{API}/products", self._list_products)
        self.route("POST", f"{API}/products", self._post_product)
        for method in editable:
            self.route(method, f"{API}/products/batch", self._batch_products)
        self.route("GET", rf"{API}/products/(?P<id>\d+)", self._get_product)
        for method in editable:
            self.route(method, rf"{API}/products/(?P<id>\d+)", self._put_product)
        self.route("DELETE", rf"{API}/products/(?P<id>\d+)", self._delete_product)
        variations = rf"{API}/products/(?P<parent>\d+)/variations"
        self.route("GET", variations, self._list_variations)
        self.route("POST", variations, self._post_variation)
        for method in editable:
            self.route(method, f"{variations}/batch", self._batch_variations)
        self.route("GET", rf"{variations}/(?P<id>\d+)", self._get_variation)
        for method in editable:
            self.route(method, rf"{variations}/(?P<id>\d+)", self._put_variation)
        self.route("GET", f"{API}/orders", self._list_orders)
        self.route("POST", f"{API}/orders", self._post_order)
        self.route("GET", rf"{API}/orders/(?P<id>\d+)", self._get_order)
        for method in editable:
            self.route(method, rf"{API}/orders/(?P<id>\d+)", self._put_order)
        self.route("DELETE", rf"{API}/orders/(?P<id>\d+)", self._delete_order)
        self.route("GET", f"{API}/webhooks", self._list_webhooks)
        self.route("POST", f"{API}/webhooks", self._post_webhook)
        self.route("GET", rf"{API}/webhooks/(?P<id>\d+)", self._get_webhook)
        for method in editable:
            self.route(method, rf"{API}/webhooks/(?P<id>\d+)", self._put_webhook)
        self.route("DELETE", rf"{API}/webhooks/(?P<id>\d+)", self._delete_webhook)

    # Authentication ------------------------------------------------------------------
    def _authenticate(self, request: Request) -> ApiKey | None:
        if self.is_https:
            key = self._basic_authentication(request)
            if key is not None:
                return key
        return self._oauth_authentication(request)

    def _basic_authentication(self, request: Request) -> ApiKey | None:
        request.auth_method = "basic_auth"
        consumer_key = request.arg("consumer_key") or ""
        consumer_secret = request.arg("consumer_secret") or ""
        if not (consumer_key and consumer_secret):
            consumer_key = consumer_secret = ""
            header = request.headers.get("authorization", "")
            if header.startswith("Basic "):
                try:
                    decoded = base64.b64decode(header[6:]).decode()
                except ValueError:
                    decoded = ""
                consumer_key, _, consumer_secret = decoded.partition(":")
        if not (consumer_key and consumer_secret):
            return None
        with self.lock:
            key = self.api_keys.get(consumer_key)
        if key is None:
            return None  # an unknown key sets no error: the request is anonymous
        if not hmac.compare_digest(key.consumer_secret, consumer_secret):
            raise WooError(
                401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
            )
        return key

    def _oauth_authentication(self, request: Request) -> ApiKey | None:
        request.auth_method = "oauth1"
        params = {name: values[-1] for name, values in request.query.items()}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qs(request.body.decode(errors="replace"), keep_blank_values=True)
            params.update({name: values[-1] for name, values in form.items()})
        header = request.headers.get("authorization", "").strip()
        if header.startswith("OAuth "):
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))', header):
                params[name] = unquote(quoted or bare)
        required = (
            "oauth_consumer_key",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_signature",
            "oauth_signature_method",
        )
        missing = [name for name in required if not params.get(name)]
        if len(missing) == len(required):
            return None
        if missing:
            label = "parameter" if len(missing) == 1 else "parameters"
            raise WooError(
                401,
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth {label} {', '.join(missing)}",
            )
        with self.lock:
            key = self.api_keys.get(params["oauth_consumer_key"])
        if key is None:
            raise WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        self._check_oauth_signature(request, key, params)
        self._check_oauth_timestamp_and_nonce(key, params)
        return key

    def _check_oauth_signature(self, request: Request, key: ApiKey, params: dict) -> None:
        given = unquote(params.pop("oauth_signature").replace(" ", "+"))
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise WooError(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - signature method is invalid.",
            )
        pairs = [f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items())]
        base_string = "&".join(
            [
                request.method,
                _rfc3986(self.home_url + request.path),
                "%26".join(_rfc3986(pair) for pair in pairs),
            ]
        )
        digest = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
        expected = base64.b64encode(
            hmac.new(f"{key.consumer_secret}&".encode(), base_string.encode(), digest).digest()
        ).decode()
        if not hmac.compare_digest(expected, given):
            raise WooError(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )

    def _check_oauth_timestamp_and_nonce(self, key: ApiKey, params: dict) -> None:
        now = int(time.time())
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError:
            timestamp = 0
        if abs(now - timestamp) > OAUTH_WINDOW_SECONDS:
            raise WooError(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        nonce = params["oauth_nonce"]
        with self.lock:
            if nonce in key.nonces:
                raise WooError(
                    401,
                    "woocommerce_rest_authentication_error",
                    "Invalid nonce - nonce has already been used.",
                )
            key.nonces[nonce] = timestamp
            for used, stamp in list(key.nonces.items()):
                if stamp < now - OAUTH_WINDOW_SECONDS:
                    del key.nonces[used]

    def _check_key_permission(self, key: ApiKey, method: str) -> None:
        if method in ("GET", "HEAD") and key.permissions not in ("read", "read_write"):
            raise WooError(
                401,
                "woocommerce_rest_authentication_error",
                "The API key provided does not have read permissions.",
            )
        if method in ("POST", "PUT", "PATCH", "DELETE") and key.permissions not in (
            "write",
            "read_write",
        ):
            raise WooError(
                401,
                "woocommerce_rest_authentication_error",
                "The API key provided does not have write permissions.",
            )

    @staticmethod
    def _require(request: Request, code: str, message: str) -> None:
        if getattr(request, "api_key", None) is None:
            raise WooError(401, code, message)

    def _require_read_list(self, request: Request) -> None:
        self._require(request, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")

    def _require_read(self, request: Request) -> None:
        self._require(
            request, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
        )

    def _require_edit(self, request: Request) -> None:
        self._require(
            request,
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        )

    def _require_create(self, request: Request) -> None:
        self._require(
            request,
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        )

    def _require_delete(self, request: Request) -> None:
        self._require(
            request,
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        )

    def _require_batch(self, request: Request) -> None:
        self._require(
            request,
            "woocommerce_rest_cannot_batch",
            "Sorry, you are not allowed to batch manipulate this resource.",
        )

    # Parameters ----------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> dict:
        """Request parameters with WordPress' precedence: JSON body > form body > query."""
        params = {name: values[-1] for name, values in request.query.items()}
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(request.body.decode(errors="replace"), keep_blank_values=True)
            params.update({name: values[-1] for name, values in form.items()})
        elif "json" in content_type and request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
            if isinstance(body, dict):
                params.update(body)
        return params

    @staticmethod
    def _int_arg(
        request: Request, name: str, default: int, minimum: int, maximum: int | None = None
    ):
        raw = request.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_param(name, f"{name} is not of type integer.") from None
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                raise invalid_param(name, f"{name} must be greater than or equal to {minimum}")
            raise invalid_param(
                name, f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
            )
        return value

    def _date_arg(self, request: Request, name: str, *, gmt: bool) -> datetime | None:
        """A date filter as UTC; naive values are read in the column's zone."""
        raw = request.arg(name)
        if not raw:
            return None
        match = re.fullmatch(
            r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:\d{2})?",
            raw,
        )
        if not match:
            raise invalid_param(name, "Invalid date.")
        try:
            value = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise invalid_param(name, "Invalid date.") from None
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(microsecond=0)
        naive = value.replace(microsecond=0)
        return (
            naive.replace(tzinfo=UTC) if gmt else (naive - self.timezone_offset).replace(tzinfo=UTC)
        )

    @staticmethod
    def _bool_arg(request: Request, name: str) -> bool:
        return (request.arg(name) or "").lower() in ("1", "true", "yes")

    def _collection(self, request: Request, items: list, *, sort_keys: dict, to_json) -> Response:
        per_page = self._int_arg(request, "per_page", 10, 1, 100)
        page = self._int_arg(request, "page", 1, 1)
        offset = self._int_arg(request, "offset", -1, 0)
        order = request.arg("order") or "desc"
        if order not in ("asc", "desc"):
            raise invalid_param("order", "order is not one of asc and desc.")
        orderby = request.arg("orderby") or "date"
        if orderby not in sort_keys:
            raise invalid_param("orderby", f"orderby is not one of {', '.join(sort_keys)}.")
        gmt = self._bool_arg(request, "dates_are_gmt")
        modified_after = self._date_arg(request, "modified_after", gmt=gmt)
        modified_before = self._date_arg(request, "modified_before", gmt=gmt)
        if modified_after is not None:
            items = [item for item in items if item.modified > modified_after]
        if modified_before is not None:
            items = [item for item in items if item.modified < modified_before]
        items = sorted(
            items, key=lambda item: (sort_keys[orderby](item), item.id), reverse=order == "desc"
        )
        total = len(items)
        total_pages = math.ceil(total / per_page)
        start = offset if offset >= 0 else (page - 1) * per_page
        body = [to_json(item) for item in items[start : start + per_page]]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(total_pages)}
        links = []
        base = f"{self.home_url}{request.path}"
        if page > 1:
            links.append(f'<{base}?page={min(page - 1, max(total_pages, 1))}>; rel="prev"')
        if total_pages > page:
            links.append(f'<{base}?page={page + 1}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return Response(200, body, headers)

    # Products ------------------------------------------------------------------------
    _product_sort = {
        "date": lambda p: p.created,
        "id": lambda p: p.id,
        "include": lambda p: p.id,
        "title": lambda p: p.name,
        "slug": lambda p: p.name.lower(),
        "modified": lambda p: p.modified,
    }

    def _list_products(self, request: Request) -> Response:
        with self.lock:
            items = [p for p in self.products.values() if p.status != "trash"]
            sku = request.arg("sku")
            if sku:
                wanted = {s.strip().lower() for s in sku.split(",")} | {sku.lower()}
                items = [p for p in items if p.sku and p.sku.lower() in wanted]
            else:
                items = [p for p in items if p.type != "variation"]
            for name in ("type", "stock_status"):
                value = request.arg(name)
                if value:
                    items = [p for p in items if getattr(p, name) == value]
            status = request.arg("status")
            if status and status != "any":
                items = [p for p in items if p.status == status]
            include = request.arg("include")
            if include:
                ids = {int(i) for i in include.split(",") if i.strip().isdigit()}
                items = [p for p in items if p.id in ids]
            response = self._collection(
                request, items, sort_keys=self._product_sort, to_json=self._product_json
            )
        self._require_read_list(request)
        return response

    def _get_product(self, request: Request) -> Response:
        self._require_read(request)
        with self.lock:
            product = self._product_or_error(int(request.params["id"]), status=404)
            return Response(200, self._product_json(product))

    def _post_product(self, request: Request) -> Response:
        body = self._body(request)
        self._require_create(request)
        with self.lock:
            product = self._create_product(body)
            return Response(201, self._product_json(product))

    def _put_product(self, request: Request) -> Response:
        body = self._body(request)
        self._require_edit(request)
        with self.lock:
            product = self._update_product(int(request.params["id"]), body)
            return Response(200, self._product_json(product))

    def _delete_product(self, request: Request) -> Response:
        self._require_delete(request)
        with self.lock:
            product = self._product_or_error(int(request.params["id"]), status=404)
            previous = self._product_json(product)
            if self._bool_arg(request, "force"):
                del self.products[product.id]  # a permanent delete sends no webhook
                return Response(200, previous)
            if product.status == "trash":
                raise WooError(
                    410, "woocommerce_rest_already_trashed", "The product has already been deleted."
                )
            product.status = "trash"
            product.modified = self.now()
            self._fire("product.deleted", product.id)
            return Response(200, self._product_json(product))

    def _batch_products(self, request: Request) -> Response:
        return self._batch(request, create=self._create_product, update=self._update_product)

    def _batch(self, request: Request, *, create, update) -> Response:
        body = self._body(request)
        self._require_batch(request)
        operations = {name: body.get(name) or [] for name in ("create", "update", "delete")}
        if sum(len(items) for items in operations.values()) > BATCH_LIMIT:
            raise WooError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
            )
        answer: dict[str, list] = {}
        with self.lock:
            if "create" in body:
                answer["create"] = []
                for item in operations["create"]:
                    try:
                        answer["create"].append(self._product_json(create(item)))
                    except WooError as error:
                        answer["create"].append({"id": 0, "error": error.body()})
            if "update" in body:
                answer["update"] = []
                for item in operations["update"]:
                    item_id = item.get("id") if isinstance(item, dict) else None
                    try:
                        if not isinstance(item_id, int) or isinstance(item_id, bool):
                            raise WooError(
                                400, "woocommerce_rest_product_invalid_id", "Invalid ID."
                            )
                        answer["update"].append(self._product_json(update(item_id, item)))
                    except WooError as error:
                        answer["update"].append({"id": item_id, "error": error.body()})
            if "delete" in body:
                answer["delete"] = []
                for item_id in operations["delete"]:
                    product = self.products.get(item_id) if isinstance(item_id, int) else None
                    if product is None:
                        error = WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                        answer["delete"].append({"id": item_id, "error": error.body()})
                        continue
                    answer["delete"].append(self._product_json(product))
                    del self.products[item_id]  # batch deletes are forced: no webhook
        return Response(200, answer)

    def _create_product(self, fields: dict) -> Product:
        if fields.get("id"):
            raise WooError(
                400, "woocommerce_rest_product_exists", "Cannot create existing product."
            )
        product_type = fields.get("type", "simple")
        if product_type not in ("simple", "variable", "grouped", "external"):
            raise invalid_param(
                "type", "type is not one of simple, grouped, external, and variable."
            )
        now = self.now()
        product = Product(
            id=self._new_post_id(),
            name=str(fields.get("name", "")),
            sku="",
            type=product_type,
            created=now,
            modified=now,
        )
        self._apply_fields(product, fields)
        self.products[product.id] = product
        self._save_product(product, is_new=True)
        return product

    def _update_product(self, product_id: int, fields: dict) -> Product:
        product = self._product_or_error(product_id, status=400)
        if product.type == "variation":
            raise WooError(
                404,
                "woocommerce_rest_invalid_product_id",
                "To manipulate product variations you should use the "
                "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.",
            )
        self._apply_fields(product, fields)
        self._save_product(product, is_new=False)
        return product

    # Variations ----------------------------------------------------------------------
    def _parent_or_error(self, request: Request) -> Product:
        parent = self.products.get(int(request.params["parent"]))
        if parent is None or parent.type != "variable" or parent.status == "trash":
            raise WooError(
                404, "woocommerce_rest_product_variation_invalid_parent", "Invalid parent product."
            )
        return parent

    def _variation_or_error(self, parent: Product, variation_id: int, *, status: int) -> Product:
        variation = self.products.get(variation_id)
        if variation is None or variation.type != "variation" or variation.status == "trash":
            raise WooError(status, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        if variation.parent_id != parent.id:  # [U] exact error for a foreign variation
            raise WooError(status, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return variation

    def _list_variations(self, request: Request) -> Response:
        with self.lock:
            parent = self._parent_or_error(request)
            items = [
                self.products[v]
                for v in parent.variation_ids
                if v in self.products and self.products[v].status != "trash"
            ]
            sku = request.arg("sku")
            if sku:
                items = [p for p in items if p.sku.lower() == sku.lower()]
            response = self._collection(
                request, items, sort_keys=self._product_sort, to_json=self._product_json
            )
        self._require_read_list(request)
        return response

    def _get_variation(self, request: Request) -> Response:
        self._require_read(request)
        with self.lock:
            parent = self._parent_or_error(request)
            variation = self._variation_or_error(parent, int(request.params["id"]), status=404)
            return Response(200, self._product_json(variation))

    def _post_variation(self, request: Request) -> Response:
        body = self._body(request)
        self._require_create(request)
        with self.lock:
            parent = self._parent_or_error(request)
            return Response(201, self._product_json(self._create_variation(parent.id, body)))

    def _put_variation(self, request: Request) -> Response:
        body = self._body(request)
        self._require_edit(request)
        with self.lock:
            parent = self._parent_or_error(request)
            variation = self._variation_or_error(parent, int(request.params["id"]), status=400)
            self._apply_fields(variation, body)
            self._save_product(variation, is_new=False)
            return Response(200, self._product_json(variation))

    def _batch_variations(self, request: Request) -> Response:
        with self.lock:
            parent = self._parent_or_error(request)

        def update(variation_id: int, fields: dict) -> Product:
            variation = self._variation_or_error(parent, variation_id, status=400)
            self._apply_fields(variation, fields)
            self._save_product(variation, is_new=False)
            return variation

        return self._batch(
            request, create=lambda fields: self._create_variation(parent.id, fields), update=update
        )

    def _create_variation(self, parent_id: int, fields: dict) -> Product:
        with self.lock:
            parent = self.products.get(parent_id)
            if parent is None or parent.type != "variable":
                raise WooError(
                    404,
                    "woocommerce_rest_product_variation_invalid_parent",
                    "Invalid parent product.",
                )
            now = self.now()
            variation = Product(
                id=self._new_post_id(),
                name=parent.name,
                sku="",
                type="variation",
                created=now,
                modified=now,
                parent_id=parent.id,
            )
            self._apply_fields(variation, fields)
            self.products[variation.id] = variation
            parent.variation_ids.append(variation.id)
            self._save_product(variation, is_new=True)
            return variation

    # Writing stock fields: prepare_object_for_database() + validate_props() ----------
    def _apply_fields(self, product: Product, fields: dict) -> None:
        if "sku" in fields:
            sku = str(fields["sku"] or "")
            clash = next(
                (
                    p
                    for p in self.products.values()
                    if sku and p.id != product.id and p.sku.lower() == sku.lower()
                ),
                None,
            )
            if clash is not None:
                raise WooError(
                    400,
                    "product_invalid_sku",
                    "Invalid or duplicated SKU.",
                    resource_id=clash.id,
                    unique_sku=sku,
                )
            product.sku = sku
        if "name" in fields and product.type != "variation":
            product.name = str(fields["name"])
        if "price" in fields or "regular_price" in fields:
            product.price = str(fields.get("regular_price", fields.get("price")))
        self._write_stock_fields(product, fields)

    def _write_stock_fields(self, product: Product, fields: dict) -> None:
        requested_status = fields.get("stock_status", product.stock_status)
        if requested_status not in STOCK_STATUSES:
            raise invalid_param(
                "stock_status", "stock_status is not one of instock, outofstock, and onbackorder."
            )
        if "manage_stock" in fields and not isinstance(fields["manage_stock"], bool):
            raise invalid_param("manage_stock", "manage_stock is not of type boolean.")
        if "backorders" in fields and fields["backorders"] not in BACKORDERS:
            raise invalid_param("backorders", "backorders is not one of no, notify, and yes.")
        for name in ("stock_quantity", "inventory_delta", "low_stock_amount"):
            value = fields.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise invalid_param(name, f"{name} is not of type integer.")
        if not self.store_manages_stock:
            if product.type != "variable":
                product.stock_status = requested_status
            return
        if "manage_stock" in fields:
            product.manage_stock = fields["manage_stock"]
        if "backorders" in fields:
            product.backorders = fields["backorders"]
        if product.type == "grouped":
            product.manage_stock, product.stock_quantity = False, None
            product.stock_status = requested_status
        elif product.type == "external":
            product.manage_stock, product.stock_quantity = False, None
            product.stock_status = "instock"
        elif product.manage_stock:
            if product.type != "variable":
                product.stock_status = requested_status
            if fields.get("stock_quantity") is not None:
                product.stock_quantity = fields["stock_quantity"]
            elif fields.get("inventory_delta") is not None:
                product.stock_quantity = (product.stock_quantity or 0) + fields["inventory_delta"]
            if "low_stock_amount" in fields:
                product.low_stock_amount = fields["low_stock_amount"]
        else:
            product.stock_quantity = None
            product.stock_status = requested_status
            product.low_stock_amount = None

    def _validate_props(self, product: Product) -> None:
        if not product.manage_stock:
            product.stock_quantity = None
            product.backorders = "no"
            product.low_stock_amount = None
            if product.type == "variable":
                product.stock_status = self._children_status(product)
            return
        if float(product.stock_quantity or 0) > abs(float(self.notify_no_stock_amount)):
            product.stock_status = "instock"
        elif product.backorders != "no":
            product.stock_status = "onbackorder"
        else:
            product.stock_status = "outofstock"

    def _children_status(self, parent: Product) -> str:
        statuses = {
            self._effective(self.products[v])[1]
            for v in parent.variation_ids
            if v in self.products and self.products[v].status != "trash"
        }
        if "instock" in statuses:
            return "instock"
        if "onbackorder" in statuses:
            return "onbackorder"
        return "outofstock"

    def _effective(self, product: Product) -> tuple[bool | str, str, int | None]:
        """(manage_stock, stock_status, stock_quantity) as the REST API shows them."""
        if product.type == "variation" and not product.manage_stock:
            parent = self.products.get(product.parent_id)
            if parent is not None and parent.manage_stock:
                return "parent", parent.stock_status, parent.stock_quantity
        return product.manage_stock, product.stock_status, product.stock_quantity

    def _save_product(self, product: Product, *, is_new: bool) -> None:
        product.modified = self.now()
        self._validate_props(product)
        self._fire("product.created" if is_new else "product.updated", product.id)
        if product.type == "variation":
            parent = self.products.get(product.parent_id)
            if parent is not None:
                parent.modified = product.modified
                self._validate_props(parent)
                self._fire("product.updated", parent.id)

    def _product_or_error(self, product_id: int, *, status: int) -> Product:
        product = self.products.get(product_id)
        if product is None or (product.status == "trash" and status == 400):
            raise WooError(status, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return product

    def _product_json(self, product: Product) -> dict:
        manage_stock, stock_status, stock_quantity = self._effective(product)
        backorders_allowed = product.backorders in ("yes", "notify")
        body = {
            "id": product.id,
            "name": product.name,
            "slug": re.sub(r"[^a-z0-9]+", "-", product.name.lower()).strip("-"),
            "permalink": f"{self.home_url}/?p={product.id}",
            "type": product.type,
            "status": product.status,
            "sku": product.sku,
            "price": product.price,
            "regular_price": product.price,
            "manage_stock": manage_stock,
            "stock_quantity": stock_quantity,
            "stock_status": stock_status,
            "backorders": product.backorders,
            "backorders_allowed": backorders_allowed,
            "backordered": stock_status == "onbackorder",
            "low_stock_amount": product.low_stock_amount,
            "parent_id": product.parent_id,
            "variations": list(product.variation_ids) if product.type == "variable" else [],
            **self._dates("date_created", product.created),
            **self._dates("date_modified", product.modified),
            "meta_data": [],
        }
        if product.type == "variation":
            href = f"{self.home_url}{API}/products/{product.parent_id}/variations"
            body["_links"] = {
                "self": [{"href": f"{href}/{product.id}"}],
                "collection": [{"href": href}],
                "up": [{"href": f"{self.home_url}{API}/products/{product.parent_id}"}],
            }
        else:
            body["_links"] = {
                "self": [{"href": f"{self.home_url}{API}/products/{product.id}"}],
                "collection": [{"href": f"{self.home_url}{API}/products"}],
            }
        return body

    def _dates(self, name: str, value: datetime | None) -> dict:
        if value is None:
            return {name: None, f"{name}_gmt": None}
        local = (value + self.timezone_offset).replace(tzinfo=None)
        return {
            name: local.isoformat(timespec="seconds"),
            f"{name}_gmt": value.replace(tzinfo=None).isoformat(timespec="seconds"),
        }

    def _new_post_id(self) -> int:
        self._next_post_id += 1
        return self._next_post_id

    # Orders --------------------------------------------------------------------------
    _order_sort = {
        "date": lambda o: o.created,
        "id": lambda o: o.id,
        "include": lambda o: o.id,
        "title": lambda o: o.id,
        "slug": lambda o: o.id,
        "modified": lambda o: o.modified,
    }

    def _list_orders(self, request: Request) -> Response:
        statuses = [s for s in (request.arg("status") or "any").split(",") if s]
        allowed = (*ORDER_STATUSES, "any", "trash")
        if any(status not in allowed for status in statuses):
            raise invalid_param("status", f"status[0] is not one of {', '.join(allowed)}.")
        with self.lock:
            items = list(self.orders.values())
            if "trash" in statuses:
                items = [o for o in items if o.is_trashed]
            else:
                items = [o for o in items if not o.is_trashed]
                if "any" not in statuses:
                    items = [o for o in items if o.status in statuses]
            response = self._collection(
                request, items, sort_keys=self._order_sort, to_json=self._order_json
            )
        self._require_read_list(request)
        return response

    def _get_order(self, request: Request) -> Response:
        self._require_read(request)
        with self.lock:
            order = self._order_or_error(int(request.params["id"]), status=404)
            return Response(200, self._order_json(order))

    def _post_order(self, request: Request) -> Response:
        body = self._body(request)
        self._require_create(request)
        with self.lock:
            order = self._create_order(body.get("line_items") or [])
            self._set_order_status(order, body.get("status", "pending"))
            return Response(201, self._order_json(order))

    def _put_order(self, request: Request) -> Response:
        body = self._body(request)
        self._require_edit(request)
        with self.lock:
            order = self._order_or_error(int(request.params["id"]), status=400)
            if "status" in body:
                self._set_order_status(order, body["status"])
            order.modified = self.now()
            self._fire("order.updated", order.id)
            return Response(200, self._order_json(order))

    def _delete_order(self, request: Request) -> Response:
        self._require_delete(request)
        with self.lock:
            order = self._order_or_error(int(request.params["id"]), status=404)
            previous = self._order_json(order)
            if self._bool_arg(request, "force"):
                del self.orders[order.id]
                return Response(200, previous)
            order.is_trashed = True
            order.modified = self.now()
            self._fire("order.deleted", order.id)
            return Response(200, self._order_json(order))

    def _create_order(self, line_items: list) -> Order:
        lines = []
        for item in line_items:
            product = None
            if item.get("variation_id"):
                product = self.products.get(int(item["variation_id"]))
            elif item.get("product_id"):
                product = self.products.get(int(item["product_id"]))
            elif item.get("sku"):
                product = next(
                    (
                        p
                        for p in self.products.values()
                        if p.sku == item["sku"] and p.status != "trash"
                    ),
                    None,
                )
            if product is None:
                raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid product.")
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or quantity < 1:
                raise invalid_param("line_items", "quantity must be a positive integer.")
            is_variation = product.type == "variation"
            lines.append(
                OrderLine(
                    id=self._next_line_id,
                    product_id=product.parent_id if is_variation else product.id,
                    variation_id=product.id if is_variation else 0,
                    name=product.name,
                    sku=product.sku,
                    quantity=quantity,
                    price=product.price,
                )
            )
            self._next_line_id += 1
        now = self.now()
        order = Order(
            id=self._new_post_id(), status="pending", lines=lines, created=now, modified=now
        )
        self.orders[order.id] = order
        self._fire("order.created", order.id)
        return order

    def _set_order_status(self, order: Order, status: str) -> None:
        if status not in ORDER_STATUSES:
            raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.")
        order.status = status
        now = self.now()
        if status in ("processing", "completed") and order.paid is None:
            order.paid = now
        if status == "completed":
            order.completed = now
        if not self.reduces_stock_on_orders:
            return
        if status in REDUCING_ORDER_STATUSES and not order.is_stock_reduced:
            self._change_stock_for(order, sign=-1)
            order.is_stock_reduced = True
        elif status in RESTORING_ORDER_STATUSES and order.is_stock_reduced:
            self._change_stock_for(order, sign=+1)
            order.is_stock_reduced = False

    def _change_stock_for(self, order: Order, *, sign: int) -> None:
        for line in order.lines:
            product = self.products.get(line.variation_id or line.product_id)
            if product is None:
                continue
            if product.type == "variation" and not product.manage_stock:
                product = self.products.get(product.parent_id)  # stock managed by the parent
            if product is None or not product.manage_stock:
                continue
            product.stock_quantity = (product.stock_quantity or 0) + sign * line.quantity
            self._save_product(product, is_new=False)

    def _order_or_error(self, order_id: int, *, status: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise WooError(status, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def _order_json(self, order: Order) -> dict:
        total = sum(float(line.price) * line.quantity for line in order.lines)
        return {
            "id": order.id,
            "parent_id": 0,
            "number": str(order.id),
            "order_key": f"wc_order_{order.id}",
            "created_via": "checkout",
            "status": "trash" if order.is_trashed else order.status,
            "currency": "EUR",
            **self._dates("date_created", order.created),
            **self._dates("date_modified", order.modified),
            **self._dates("date_paid", order.paid),
            **self._dates("date_completed", order.completed),
            "total": f"{total:.2f}",
            "customer_id": 0,
            "billing": {"first_name": "", "last_name": "", "email": ""},
            "shipping": {"first_name": "", "last_name": ""},
            "line_items": [
                {
                    "id": line.id,
                    "name": line.name,
                    "product_id": line.product_id,
                    "variation_id": line.variation_id,
                    "quantity": line.quantity,
                    "tax_class": "",
                    "subtotal": f"{float(line.price) * line.quantity:.2f}",
                    "total": f"{float(line.price) * line.quantity:.2f}",
                    "sku": line.sku,
                    "price": float(line.price),
                    "meta_data": [],
                }
                for line in order.lines
            ],
            "_links": {
                "self": [{"href": f"{self.home_url}{API}/orders/{order.id}"}],
                "collection": [{"href": f"{self.home_url}{API}/orders"}],
            },
        }

    # Webhooks resource ---------------------------------------------------------------
    _webhook_sort = {
        "date": lambda w: w.created,
        "id": lambda w: w.id,
        "include": lambda w: w.id,
        "title": lambda w: w.name,
        "slug": lambda w: w.name,
        "modified": lambda w: w.modified,
    }

    def _list_webhooks(self, request: Request) -> Response:
        status = request.arg("status") or "all"
        if status not in (*WEBHOOK_STATUSES, "all"):
            raise invalid_param("status", "status is not one of all, active, paused, and disabled.")
        with self.lock:
            items = [w for w in self.webhooks.values() if status in ("all", w.status)]
            show_secret = request.arg("context") == "edit"
            response = self._collection(
                request,
                items,
                sort_keys=self._webhook_sort,
                to_json=lambda w: self._webhook_json(w, show_secret=show_secret),
            )
        self._require_read_list(request)
        return response

    def _get_webhook(self, request: Request) -> Response:
        self._require_read(request)
        with self.lock:
            webhook = self.webhooks.get(int(request.params["id"]))
            if webhook is None:
                raise WooError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
            return Response(
                200, self._webhook_json(webhook, show_secret=request.arg("context") == "edit")
            )

    def _post_webhook(self, request: Request) -> Response:
        body = self._body(request)
        self._require_create(request)
        topic = str(body.get("topic") or "").lower()
        if not topic or not is_valid_topic(topic):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        delivery_url = str(body.get("delivery_url") or "")
        if not re.match(r"^https?://[^/\s]+", delivery_url):
            raise WooError(
                400,
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        status = body.get("status", "active")
        if status not in WEBHOOK_STATUSES:
            raise invalid_param("status", "status is not one of active, paused, and disabled.")
        with self.lock:
            now = self.now()
            webhook = Webhook(
                id=self._next_webhook_id,
                name=str(body.get("name") or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}"),
                status=status,
                topic=topic,
                delivery_url=delivery_url,
                secret=str(body.get("secret") or secrets.token_urlsafe(38)[:50]),
                created=now,
                modified=now,
            )
            self._next_webhook_id += 1
            self.webhooks[webhook.id] = webhook
            answer = self._webhook_json(webhook, show_secret=True)
        self._ping(webhook)  # WooCommerce pings before it answers 201, and ignores the result
        return Response(201, answer, {"Location": f"{self.home_url}{API}/webhooks/{webhook.id}"})

    def _put_webhook(self, request: Request) -> Response:
        body = self._body(request)
        self._require_edit(request)
        with self.lock:
            webhook = self.webhooks.get(int(request.params["id"]))
            if webhook is None:
                raise WooError(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
            topic = str(body.get("topic") or "").lower()
            if topic and not is_valid_topic(topic):
                raise WooError(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_topic",
                    "Webhook topic must be valid.",
                )
            delivery_url = str(body.get("delivery_url") or "")
            if delivery_url and not re.match(r"^https?://[^/\s]+", delivery_url):
                raise WooError(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_delivery_url",
                    "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                )
            status = str(body.get("status") or "").lower()
            if status and status not in WEBHOOK_STATUSES:
                raise WooError(
                    400,
                    "woocommerce_rest_shop_webhook_invalid_status",
                    "Webhook status must be valid.",
                )
            is_url_changed = bool(delivery_url) and delivery_url != webhook.delivery_url
            webhook.topic = topic or webhook.topic
            webhook.delivery_url = delivery_url or webhook.delivery_url
            webhook.secret = str(body.get("secret") or webhook.secret)
            webhook.status = status or webhook.status
            if body.get("name"):
                webhook.name = str(body["name"])
            webhook.modified = self.now()
            # failure_count is left as it is: re-activating does not reset it.
            should_ping = webhook.status == "active" and (
                is_url_changed or webhook.pending_delivery
            )
        if should_ping:
            self._ping(webhook)
        with self.lock:
            return Response(200, self._webhook_json(webhook, show_secret=True))

    def _delete_webhook(self, request: Request) -> Response:
        self._require_delete(request)
        if not self._bool_arg(request, "force"):
            raise WooError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        with self.lock:
            webhook = self.webhooks.pop(int(request.params["id"]), None)
            if webhook is None:
                raise WooError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
            return Response(200, self._webhook_json(webhook, show_secret=True))

    def _webhook_json(self, webhook: Webhook, *, show_secret: bool) -> dict:
        body = {
            "id": webhook.id,
            "name": webhook.name,
            "status": webhook.status,
            "topic": webhook.topic,
            "resource": webhook.resource,
            "event": webhook.event,
            "hooks": [],
            "delivery_url": webhook.delivery_url,
            **self._dates("date_created", webhook.created),
            **self._dates("date_modified", webhook.modified),
            "_links": {
                "self": [{"href": f"{self.home_url}{API}/webhooks/{webhook.id}"}],
                "collection": [{"href": f"{self.home_url}{API}/webhooks"}],
            },
        }
        if show_secret:
            body["secret"] = webhook.secret
        return body

    # Webhook delivery ----------------------------------------------------------------
    def _operation(self):
        """Collect the events one request or helper fires; deliver them when it ends."""
        store = self

        class _Operation:
            def __enter__(self_inner):
                depth = getattr(store._local, "depth", 0)
                if depth == 0:
                    store._local.events = []
                store._local.depth = depth + 1

            def __exit__(self_inner, *exc):
                store._local.depth -= 1
                if store._local.depth == 0:
                    events, store._local.events = store._local.events, []
                    store._dispatch_events(events)

        return _Operation()

    def _fire(self, topic: str, resource_id: int) -> None:
        events = getattr(self._local, "events", None)
        if events is None:
            self._local.events = events = []
        events.append((topic, resource_id))

    def _dispatch_events(self, events: list[tuple[str, int]]) -> None:
        deliveries: list[tuple[int, str, int]] = []
        with self.lock:
            active = sorted(
                (w for w in self.webhooks.values() if w.status == "active"), key=lambda w: w.id
            )
            # Like WC_Webhook::is_already_processed(): one delivery per webhook and resource
            # per request, however many hooks fired for it.
            processed: set[tuple[int, int]] = set()
            for topic, resource_id in events:
                for webhook in active:
                    if webhook.topic == topic and (webhook.id, resource_id) not in processed:
                        processed.add((webhook.id, resource_id))
                        deliveries.append((webhook.id, topic, resource_id))
            if self.delivery_mode == "queue":
                self.queued.extend(deliveries)
                return
        for delivery in deliveries:
            if self.delivery_mode == "background" and self._background is not None:
                self._background.put(delivery)
            else:
                self._deliver(*delivery)

    def _work(self) -> None:
        work_queue = self._background
        while work_queue is not None:
            item = work_queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                work_queue.task_done()

    def _deliver(self, webhook_id: int, topic: str, resource_id: int) -> None:
        with self.lock:
            webhook = self.webhooks.get(webhook_id)
            if webhook is None:
                return
            resource, _, event = topic.partition(".")
            if event == "deleted":
                payload = {"id": resource_id}
            elif resource == "product" and resource_id in self.products:
                payload = self._product_json(self.products[resource_id])
            elif resource == "order" and resource_id in self.orders:
                payload = self._order_json(self.orders[resource_id])
            else:
                payload = {"id": resource_id}
            body = wp_json_encode(payload)
            headers = {
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
                "X-WC-Webhook-Source": f"{self.home_url}/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(body, webhook.secret),
                "X-WC-Webhook-ID": str(webhook.id),
                "X-WC-Webhook-Delivery-ID": self._delivery_id(webhook.id),
            }
            url = webhook.delivery_url
        status, error = self._post(url, body, headers, self.delivery_timeout_seconds)
        delivery = Delivery(webhook_id, topic, url, headers, body, status, error)
        with self.lock:
            self.deliveries.append(delivery)
            if delivery.is_success:
                webhook.failure_count = 0
            elif webhook.failure_count > self.max_delivery_failures:
                webhook.status = "disabled"
            else:
                webhook.failure_count += 1

    def _ping(self, webhook: Webhook) -> None:
        with self.lock:
            url = webhook.delivery_url
            body = f"webhook_id={webhook.id}".encode()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        status, error = self._post(url, body, headers, self.ping_timeout_seconds)
        with self.lock:
            self.deliveries.append(Delivery(webhook.id, "", url, headers, body, status, error))
            if status == 200:
                webhook.pending_delivery = False

    @staticmethod
    def _post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str]:
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            return None, type(exc).__name__
        return response.status_code, ""

    def _delivery_id(self, webhook_id: int) -> str:
        # wp_hash( id . strtotime('now') ): one id per webhook per second, not per delivery.
        message = f"{webhook_id}{int(self.now().timestamp())}".encode()
        return hmac.new(self._hash_salt, message, hashlib.md5).hexdigest()


class WebhookReceiver(FakeStore):
    """A delivery URL for tests: records every POST to /hooks and answers 200.

    Make it fail with `inject(Fault(status=500, times=N))` or hang past the store's
    delivery timeout with `Fault(status=0, hang_seconds=…)`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.route("POST", "/hooks", lambda request: Response(200, raw=b""))

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks"

    def received(self, topic: str | None = None) -> list[Request]:
        """Deliveries (not pings) that reached /hooks, oldest first."""
        return [
            request
            for request in self.requests_to("/hooks", "POST")
            if "x-wc-webhook-topic" in request.headers
            and (topic is None or request.headers["x-wc-webhook-topic"] == topic)
        ]

    def pings(self) -> list[Request]:
        return [
            r for r in self.requests_to("/hooks", "POST") if "x-wc-webhook-topic" not in r.headers
        ]
