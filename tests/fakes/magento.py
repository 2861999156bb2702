"""A fake Magento 2.4 store with MSI, speaking the REST API as documented.

Facts come from ../shared/reference/store-protocols.md §2-3: `/rest/<store_code>/V1/…`
paths (unknown store code or route → 404 "Request does not match any route."), bearer
tokens (admin token as a bare JSON string, refused under two-factor authentication,
expiring), the `{"message", "parameters"}` error body with Magento's HTTP codes,
searchCriteria (filter groups AND, filters OR, sort orders, pageSize/currentPage, the
required-argument error), MSI sources, stocks, links and source items, salable quantity as
source quantity plus (negative) reservations, the optional web API input limit, products
with custom attributes, the legacy stockItems endpoints and orders.

State lives in plain Python objects guarded by `self.lock`; the test helpers at the end
change it behind the hub's back.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from tests.fakes.server import FakeStore, Request, Response

NO_ROUTE = "Request does not match any route."
NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."
SIGN_IN_INCORRECT = (
    "The account sign-in was incorrect or your account is disabled temporarily. "
    "Please wait and try again later."
)
TWO_FACTOR_REQUIRED = "Please use the 2fa provider-specific endpoints to obtain a token."
PRODUCT_MISSING = "The product that was requested doesn't exist. Verify the product and try again."
INPUT_LIMIT = 'Maximum items of type "%type" is %max'
PAGE_SIZE_LIMIT = "Maximum SearchCriteria pageSize is %max"
REQUIRED = '"%fieldName" is required. Enter and try again.'
WRONG_TYPE = 'The "%1" value\'s type is invalid. The "%2" type was expected. Verify and try again.'

ACL_SOURCE = "Magento_InventoryApi::source"
ACL_STOCK = "Magento_InventoryApi::stock"
ACL_LINK = "Magento_InventoryApi::stock_source_link"
ACL_SOURCE_ITEM_ASSIGN = "Magento_InventoryApi::stock_source_item_assign"
ACL_SALES_STOCK = "Magento_InventorySalesApi::stock"
ACL_LEGACY = "Magento_CatalogInventory::cataloginventory"
ACL_PRODUCTS = "Magento_Catalog::products"
ACL_ORDERS = "Magento_Sales::actions_view"

# Magento's REST layer turns camelCase keys into snake_case before it reads them.
_SNAKE = {
    "filterGroups": "filter_groups",
    "conditionType": "condition_type",
    "sortOrders": "sort_orders",
    "pageSize": "page_size",
    "currentPage": "current_page",
}


def magento_time(moment: datetime | None = None) -> str:
    """Magento's own timestamp format: UTC, no offset."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")


def error(status: int, message: str, parameters: dict | list | None = None, **extra) -> Response:
    body: dict = {"message": message}
    if parameters:
        body["parameters"] = parameters
    body.update(extra)
    return Response(status, body)


class MagentoError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.body)
        self.response = response


@dataclass
class FakeSource:
    source_code: str
    name: str
    enabled: bool = True
    country_id: str = "DE"
    postcode: str = "10115"

    def as_json(self) -> dict:
        return {
            "source_code": self.source_code,
            "name": self.name,
            "enabled": self.enabled,
            "country_id": self.country_id,
            "postcode": self.postcode,
        }


@dataclass
class FakeStock:
    stock_id: int
    name: str
    sales_channels: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "stock_id": self.stock_id,
            "name": self.name,
            "extension_attributes": {"sales_channels": self.sales_channels},
        }


@dataclass
class FakeProduct:
    id: int
    sku: str
    name: str
    type_id: str = "simple"
    manage_stock: bool = True
    custom_attributes: dict[str, object] = field(default_factory=dict)
    updated_at: str = field(default_factory=magento_time)


class FakeMagento(FakeStore):
    """Magento 2.4 + MSI. Default source `default` and Default Stock 1 always exist."""

    def __init__(
        self,
        *,
        store_codes: tuple[str, ...] = ("all", "default"),
        admin_username: str = "hub-admin",
        admin_password: str = "admin-password-1",
        integration_token: str | None = "integration-token-0123456789",
        admin_token_lifetime_seconds: float = 4 * 3600,
        products_list_includes_stock_item: bool = True,
    ) -> None:
        super().__init__()
        self.store_codes = set(store_codes)
        self.admin_username = admin_username
        self.admin_password = admin_password
        self.integration_tokens = {integration_token} if integration_token else set()
        self.admin_token_lifetime_seconds = admin_token_lifetime_seconds
        self.products_list_includes_stock_item = products_list_includes_stock_item
        self.admin_tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.two_factor: str | None = None  # None, "401" (2.4.x) or "400" (older releases)
        self.input_limit: int | None = None
        self.max_page_size = 300
        self.sources: dict[str, FakeSource] = {"default": FakeSource("default", "Default Source")}
        self.stocks: dict[int, FakeStock] = {
            1: FakeStock(1, "Default Stock", [{"type": "website", "code": "base"}])
        }
        self.links: list[dict] = [{"stock_id": 1, "source_code": "default", "priority": 1}]
        self.source_items: dict[tuple[str, str], dict] = {}
        self.products: dict[str, FakeProduct] = {}
        self.reservations: list[dict] = []
        self.orders: list[dict] = []
        self._next_product_id = 1
        self._register_routes()

    # Routing -------------------------------------------------------------------------
    def _api(self, method: str, resource: str, handler, acl: str | None) -> None:
        prefix = r"/rest(?:/(?P<store_code>[A-Za-z0-9_]+))?/V1/"

        def wrapped(request: Request) -> Response:
            store_code = request.params.pop("store_code", None) or "default"
            if store_code not in self.store_codes:
                return error(404, NO_ROUTE)
            if acl is not None and not self._is_authorised(request):
                return error(401, NOT_AUTHORIZED, {"resources": acl})
            request.params = {key: unquote(value) for key, value in request.params.items()}
            try:
                with self.lock:
                    return handler(request)
            except MagentoError as refusal:
                return refusal.response

        self.route(method, prefix + resource, wrapped)

    def not_found(self, request: Request) -> Response:
        return error(404, NO_ROUTE)

    def _register_routes(self) -> None:
        api = self._api
        api("POST", "integration/admin/token", self._admin_token, None)
        api("GET", "inventory/sources", self._list_sources, ACL_SOURCE)
        api("GET", r"inventory/sources/(?P<code>[^/]+)", self._get_source, ACL_SOURCE)
        api("GET", "inventory/stocks", self._list_stocks, ACL_STOCK)
        api("GET", r"inventory/stocks/(?P<stock_id>[^/]+)", self._get_stock, ACL_STOCK)
        api("GET", "inventory/stock-source-links", self._list_links, ACL_LINK)
        api("GET", "inventory/source-items", self._list_source_items, ACL_SOURCE)
        api("POST", "inventory/source-items", self._save_source_items, ACL_SOURCE_ITEM_ASSIGN)
        api(
            "GET",
            r"inventory/get-product-salable-quantity/(?P<sku>[^/]+)/(?P<stock_id>[^/]+)",
            self._salable_quantity,
            ACL_SALES_STOCK,
        )
        api("GET", "products", self._list_products, ACL_PRODUCTS)
        api("GET", r"products/(?P<sku>[^/]+)", self._get_product, ACL_PRODUCTS)
        api("PUT", r"products/(?P<sku>[^/]+)", self._put_product, ACL_PRODUCTS)
        api("GET", r"stockItems/(?P<sku>[^/]+)", self._get_stock_item, ACL_LEGACY)
        api(
            "PUT",
            r"products/(?P<sku>[^/]+)/stockItems/(?P<item_id>[^/]+)",
            self._put_stock_item,
            ACL_LEGACY,
        )
        api("GET", "orders", self._list_orders, ACL_ORDERS)

    # Authentication ------------------------------------------------------------------
    def _is_authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ").strip()
        if token in self.integration_tokens:
            return True
        with self.lock:
            expires = self.admin_tokens.get(token)
        return expires is not None and expires > time.monotonic()

    def _admin_token(self, request: Request) -> Response:
        body = _json_body(request)
        for name in ("username", "password"):
            if not isinstance(body.get(name), str) or not body.get(name):
                return error(400, REQUIRED, {"fieldName": name})
        if body["username"] != self.admin_username or body["password"] != self.admin_password:
            return error(401, SIGN_IN_INCORRECT)
        if self.two_factor == "400":
            return error(400, TWO_FACTOR_REQUIRED)
        if self.two_factor == "401":
            return error(401, TWO_FACTOR_REQUIRED, {"active_providers": ["google"]})
        token = secrets.token_hex(16)
        self.admin_tokens[token] = time.monotonic() + self.admin_token_lifetime_seconds
        return Response(200, token)

    # Sources, stocks, links ----------------------------------------------------------
    def _list_sources(self, request: Request) -> Response:
        rows = [source.as_json() for source in self.sources.values()]
        return Response(200, search_result(rows, search_criteria(request, required=False)))

    def _get_source(self, request: Request) -> Response:
        source = self.sources.get(request.params["code"])
        if source is None:
            raise MagentoError(
                error(
                    404,
                    'Source with code "%value" does not exist.',
                    {"value": request.params["code"]},
                )
            )
        return Response(200, source.as_json())

    def _list_stocks(self, request: Request) -> Response:
        rows = [stock.as_json() for stock in self.stocks.values()]
        return Response(200, search_result(rows, search_criteria(request, required=False)))

    def _get_stock(self, request: Request) -> Response:
        stock_id = _int_argument(request.params["stock_id"])
        stock = self.stocks.get(stock_id)
        if stock is None:
            raise MagentoError(
                error(404, 'Stock with id "%value" does not exist.', {"value": str(stock_id)})
            )
        return Response(200, stock.as_json())

    def _list_links(self, request: Request) -> Response:
        criteria = search_criteria(request, required=True)
        return Response(200, search_result([dict(link) for link in self.links], criteria))

    # Source items --------------------------------------------------------------------
    def _list_source_items(self, request: Request) -> Response:
        criteria = search_criteria(request, required=True)
        self._check_page_size(criteria)
        rows = [
            {
                "sku": sku,
                "source_code": code,
                "quantity": item["quantity"],
                "status": item["status"],
            }
            for (sku, code), item in self.source_items.items()
        ]
        return Response(200, search_result(rows, criteria, default_page_size=self._default_page()))

    def _save_source_items(self, request: Request) -> Response:
        body = _json_body(request)
        if "sourceItems" not in body:
            return error(400, REQUIRED, {"fieldName": "sourceItems"})
        items = body["sourceItems"]
        if not isinstance(items, list):
            return error(400, WRONG_TYPE, [str(items), "array"])
        if self.input_limit is not None and len(items) > self.input_limit:
            return error(
                400,
                INPUT_LIMIT,
                {
                    "type": "Magento\\InventoryApi\\Api\\Data\\SourceItemInterface[]",
                    "max": self.input_limit,
                },
            )
        if not items:
            return error(400, "Input data is empty")
        errors = []
        for item in items:
            errors.extend(_source_item_errors(item))
        if errors:
            return error(400, "Validation Failed", errors=errors)
        if any(item["source_code"] not in self.sources for item in items):
            return error(400, "Could not save Source Item")
        for item in items:
            self.source_items[(item["sku"], item["source_code"])] = {
                "quantity": float(item["quantity"]),
                "status": int(item["status"]),
            }
        return Response(200, [])

    def _salable_quantity(self, request: Request) -> Response:
        sku = request.params["sku"]
        stock_id = _int_argument(request.params["stock_id"])
        if sku not in self.products:
            return error(404, PRODUCT_MISSING)
        if self.products[sku].type_id in ("configurable", "bundle", "grouped"):
            return error(
                400, "Can't check requested quantity for products without Source Items support."
            )
        return Response(200, self.salable_quantity(sku, stock_id))

    def salable_quantity(self, sku: str, stock_id: int) -> float:
        """Σ in-stock quantities of enabled sources linked to the stock, plus reservations."""
        with self.lock:
            linked = {
                link["source_code"]
                for link in self.links
                if link["stock_id"] == stock_id and self.sources[link["source_code"]].enabled
            }
            rows = [
                item
                for (item_sku, code), item in self.source_items.items()
                if item_sku == sku and code in linked
            ]
            if not rows:
                return 0.0
            quantity = sum(item["quantity"] for item in rows if item["status"] == 1)
            reserved = sum(
                row["quantity"]
                for row in self.reservations
                if row["sku"] == sku and row["stock_id"] == stock_id
            )
            salable = quantity + reserved
            return float(salable) if salable > 0 else 0.0

    # Products ------------------------------------------------------------------------
    def _product_json(self, product: FakeProduct, *, with_stock_item: bool = True) -> dict:
        payload: dict = {
            "id": product.id,
            "sku": product.sku,
            "name": product.name,
            "attribute_set_id": 4,
            "status": 1,
            "visibility": 4,
            "type_id": product.type_id,
            "updated_at": product.updated_at,
            "extension_attributes": {"website_ids": [1]},
            "custom_attributes": [
                {"attribute_code": code, "value": value}
                for code, value in product.custom_attributes.items()
            ],
        }
        if with_stock_item:
            payload["extension_attributes"]["stock_item"] = self._stock_item_json(product)
        return payload

    def _list_products(self, request: Request) -> Response:
        criteria = search_criteria(request, required=True)
        self._check_page_size(criteria)
        rows = [
            self._product_json(product, with_stock_item=self.products_list_includes_stock_item)
            for product in self.products.values()
        ]
        return Response(200, search_result(rows, criteria, default_page_size=self._default_page()))

    def _get_product(self, request: Request) -> Response:
        product = self.products.get(request.params["sku"])
        if product is None:
            return error(404, PRODUCT_MISSING)
        return Response(200, self._product_json(product))

    def _put_product(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body.get("product"), dict):
            return error(400, REQUIRED, {"fieldName": "product"})
        data = body["product"]
        sku = request.params["sku"]
        product = self.products.get(sku)
        if product is None:  # Magento's PUT creates a product whose SKU does not exist
            product = self.add_product(sku, name=data.get("name") or sku)
        for attribute in data.get("custom_attributes") or []:
            product.custom_attributes[attribute["attribute_code"]] = attribute.get("value")
        product.updated_at = magento_time()
        return Response(200, self._product_json(product))

    # Legacy single source ------------------------------------------------------------
    def _stock_item_json(self, product: FakeProduct) -> dict:
        item = self.source_items.get((product.sku, "default"), {"quantity": 0.0, "status": 0})
        return {
            "item_id": product.id,
            "product_id": product.id,
            "stock_id": 1,
            "qty": item["quantity"],
            "is_in_stock": item["status"] == 1,
            "is_qty_decimal": False,
            "min_qty": 0,
            "backorders": 0,
            "manage_stock": product.manage_stock,
            "use_config_manage_stock": True,
        }

    def _get_stock_item(self, request: Request) -> Response:
        product = self.products.get(request.params["sku"])
        if product is None:
            return error(404, PRODUCT_MISSING)
        return Response(200, self._stock_item_json(product))

    def _put_stock_item(self, request: Request) -> Response:
        product = self.products.get(request.params["sku"])
        if product is None:
            return error(404, PRODUCT_MISSING)
        if _int_argument(request.params["item_id"]) != product.id:
            return error(
                404, 'The stock item with the "%1" ID wasn\'t found.', [request.params["item_id"]]
            )
        body = _json_body(request)
        stock_item = body.get("stockItem")
        if not isinstance(stock_item, dict):
            return error(400, REQUIRED, {"fieldName": "stockItem"})
        current = self.source_items.get((product.sku, "default"), {"quantity": 0.0, "status": 0})
        quantity = float(stock_item.get("qty", current["quantity"]))
        is_in_stock = bool(stock_item.get("is_in_stock", current["status"] == 1))
        # The legacy item and the `default` source item are kept aligned by MSI's plugins.
        self.source_items[(product.sku, "default")] = {
            "quantity": quantity,
            "status": 1 if is_in_stock else 0,
        }
        return Response(200, product.id)

    # Orders --------------------------------------------------------------------------
    def _list_orders(self, request: Request) -> Response:
        criteria = search_criteria(request, required=True)
        self._check_page_size(criteria)
        return Response(
            200,
            search_result(
                [dict(order) for order in self.orders],
                criteria,
                default_page_size=self._default_page(),
            ),
        )

    # Input limits --------------------------------------------------------------------
    def _check_page_size(self, criteria: dict) -> None:
        if self.input_limit is None or criteria.get("page_size") is None:
            return
        if criteria["page_size"] > self.max_page_size:
            raise MagentoError(error(400, PAGE_SIZE_LIMIT, {"max": self.max_page_size}))

    def _default_page(self) -> int | None:
        return 20 if self.input_limit is not None else None

    # Test helpers --------------------------------------------------------------------
    def add_source(self, source_code: str, name: str = "", *, enabled: bool = True) -> None:
        with self.lock:
            self.sources[source_code] = FakeSource(source_code, name or source_code, enabled)

    def add_stock(self, stock_id: int, name: str, *, website_codes: tuple[str, ...] = ()) -> None:
        with self.lock:
            channels = [{"type": "website", "code": code} for code in website_codes]
            self.stocks[stock_id] = FakeStock(stock_id, name, channels)

    def link(self, stock_id: int, source_code: str, priority: int = 1) -> None:
        with self.lock:
            self.links.append(
                {"stock_id": stock_id, "source_code": source_code, "priority": priority}
            )

    def add_product(
        self, sku: str, *, name: str = "", type_id: str = "simple", manage_stock: bool = True
    ) -> FakeProduct:
        with self.lock:
            product = FakeProduct(
                self._next_product_id, sku, name or sku, type_id, manage_stock=manage_stock
            )
            self._next_product_id += 1
            self.products[sku] = product
            return product

    def add_source_item(
        self, sku: str, source_code: str, quantity: float, status: int | None = None
    ) -> None:
        """Also creates the product when missing, as the admin would."""
        with self.lock:
            if source_code not in self.sources:
                self.add_source(source_code)
            if sku not in self.products:
                self.add_product(sku)
            self.set_quantity(sku, source_code, quantity, status)

    def set_quantity(
        self, sku: str, source_code: str, quantity: float, status: int | None = None
    ) -> None:
        """Change a source item behind the hub's back (as a store admin would)."""
        with self.lock:
            if status is None:
                status = 1 if quantity > 0 else 0
            self.source_items[(sku, source_code)] = {"quantity": float(quantity), "status": status}

    def source_item(self, sku: str, source_code: str) -> dict | None:
        with self.lock:
            item = self.source_items.get((sku, source_code))
            return dict(item) if item else None

    def add_reservation(self, sku: str, stock_id: int, quantity: float) -> None:
        """Negative for an order placed in Magento, positive to compensate it."""
        with self.lock:
            self.reservations.append({"sku": sku, "stock_id": stock_id, "quantity": quantity})

    def set_product_attribute(self, sku: str, code: str, value: object) -> None:
        with self.lock:
            self.products[sku].custom_attributes[code] = value

    def product_attribute(self, sku: str, code: str) -> object:
        with self.lock:
            return self.products[sku].custom_attributes.get(code)

    def add_order(
        self,
        *,
        entity_id: int,
        state: str,
        items: list[tuple[str, float]],
        updated_at: str | None = None,
        status: str | None = None,
        increment_id: str | None = None,
    ) -> dict:
        order = {
            "entity_id": entity_id,
            "increment_id": increment_id or f"{entity_id:09d}",
            "state": state,
            "status": status or state,
            "created_at": updated_at or magento_time(),
            "updated_at": updated_at or magento_time(),
            "items": [
                {
                    "item_id": entity_id * 100 + index,
                    "sku": sku,
                    "qty_ordered": float(quantity),
                    "product_type": "simple",
                    "parent_item_id": None,
                }
                for index, (sku, quantity) in enumerate(items)
            ],
        }
        with self.lock:
            self.orders.append(order)
        return order

    def enable_input_limit(self, max_items: int = 20, max_page_size: int = 300) -> None:
        with self.lock:
            self.input_limit = max_items
            self.max_page_size = max_page_size

    def require_2fa(self, *, status: str = "401") -> None:
        """Refuse admin tokens as Magento_TwoFactorAuth does (401 on 2.4, 400 before)."""
        with self.lock:
            self.two_factor = status

    def expire_admin_tokens(self) -> None:
        with self.lock:
            self.admin_tokens = dict.fromkeys(self.admin_tokens, 0.0)

    def token_requests(self) -> list[Request]:
        return self.requests_to("/integration/admin/token", "POST")


# searchCriteria ------------------------------------------------------------------------


def _snake(key: str) -> str:
    return _SNAKE.get(key, key)


def _int_argument(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise MagentoError(error(400, WRONG_TYPE, [str(value), "int"])) from None


def _json_body(request: Request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise MagentoError(error(400, "Decoding error.")) from None
    if not isinstance(body, dict):
        raise MagentoError(error(400, "Decoding error."))
    return body


def _source_item_errors(item: object) -> list[dict]:
    if not isinstance(item, dict):
        return [{"message": '"%field" can not be empty.', "parameters": {"field": "sku"}}]
    errors = []
    sku = item.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        errors.append({"message": '"%field" can not be empty.', "parameters": {"field": "sku"}})
    elif sku != sku.strip():
        errors.append(
            {
                "message": '"%field" can not contain leading or trailing spaces.',
                "parameters": {"field": "sku"},
            }
        )
    code = item.get("source_code")
    if not isinstance(code, str) or not code or re.search(r"\s", code):
        errors.append(
            {"message": '"%field" can not be empty.', "parameters": {"field": "source_code"}}
        )
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        errors.append(
            {"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}}
        )
    status = item.get("status")
    if status not in (0, 1) or isinstance(status, bool):
        errors.append({"message": '"%field" should be numeric.', "parameters": {"field": "status"}})
    return errors


def search_criteria(request: Request, *, required: bool) -> dict:
    """The searchCriteria query parameters as a nested dict with snake_case keys."""
    keys = [
        key for key in request.query if key == "searchCriteria" or key.startswith("searchCriteria[")
    ]
    if not keys:
        if required:
            raise MagentoError(error(400, REQUIRED, {"fieldName": "searchCriteria"}))
        return {}
    tree: dict = {}
    for key in keys:
        parts = [_snake(part) for part in re.findall(r"\[([^\]]*)\]", key)]
        if not parts:
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = request.query[key][0]
    criteria: dict = {"filter_groups": [], "sort_orders": []}
    for _, group in sorted(
        (tree.get("filter_groups") or {}).items(), key=lambda pair: int(pair[0])
    ):
        filters = [
            {
                "field": row.get("field", ""),
                "value": row.get("value", ""),
                "condition_type": row.get("condition_type", "eq"),
            }
            for _, row in sorted(
                (group.get("filters") or {}).items(), key=lambda pair: int(pair[0])
            )
        ]
        criteria["filter_groups"].append({"filters": filters})
    for _, row in sorted((tree.get("sort_orders") or {}).items(), key=lambda pair: int(pair[0])):
        criteria["sort_orders"].append(
            {"field": row.get("field", ""), "direction": (row.get("direction") or "DESC").upper()}
        )
    for name in ("page_size", "current_page"):
        if name in tree:
            criteria[name] = _int_argument(tree[name])
    return criteria


def _compare(actual: object, expected: str) -> int:
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            number = float(expected)
        except ValueError:
            return -1
        return (actual > number) - (actual < number)
    text = "" if actual is None else str(actual)
    return (text > expected) - (text < expected)


def _like(actual: object, pattern: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return re.match(regex, "" if actual is None else str(actual), re.IGNORECASE) is not None


def _matches(row: dict, flt: dict) -> bool:
    actual = row.get(flt["field"])
    value = flt["value"]
    condition = flt["condition_type"]
    if condition == "eq":
        return _compare(actual, value) == 0
    if condition == "neq":
        return _compare(actual, value) != 0
    if condition in ("gt", "moreq"):
        return actual is not None and _compare(actual, value) > (0 if condition == "gt" else -1)
    if condition in ("gteq", "from"):
        return actual is not None and _compare(actual, value) >= 0
    if condition == "lt":
        return actual is not None and _compare(actual, value) < 0
    if condition in ("lteq", "to"):
        return actual is not None and _compare(actual, value) <= 0
    if condition == "in":
        return any(_compare(actual, part) == 0 for part in value.split(","))
    if condition == "nin":
        return all(_compare(actual, part) != 0 for part in value.split(","))
    if condition == "like":
        return _like(actual, value)
    if condition == "nlike":
        return not _like(actual, value)
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    raise MagentoError(error(400, 'Invalid condition type "%1".', [condition]))


def search_result(
    rows: list[dict], criteria: dict, *, default_page_size: int | None = None
) -> dict:
    """Filter, sort and page like a Magento `getList`, with its echo of the criteria."""
    for group in criteria.get("filter_groups", []):
        if group["filters"]:
            rows = [row for row in rows if any(_matches(row, flt) for flt in group["filters"])]
    for order in reversed(criteria.get("sort_orders", [])):
        rows.sort(
            key=lambda row, name=order["field"]: (row.get(name) is None, row.get(name)),
            reverse=order["direction"] == "DESC",
        )
    total = len(rows)
    page_size = criteria.get("page_size", default_page_size)
    if page_size:
        page = criteria.get("current_page") or 1
        # Magento 2.4 answers a page past the last one with no items (2.3 repeated the last).
        rows = rows[(page - 1) * page_size : page * page_size]
    echo: dict = {
        "filter_groups": [
            {"filters": [dict(flt) for flt in group["filters"]]}
            for group in criteria.get("filter_groups", [])
        ]
    }
    if criteria.get("sort_orders"):
        echo["sort_orders"] = criteria["sort_orders"]
    for name in ("page_size", "current_page"):
        if name in criteria:
            echo[name] = criteria[name]
    return {"items": rows, "search_criteria": echo, "total_count": total}
