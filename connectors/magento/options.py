"""Options of a Magento connector, checked when the connector is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SOURCE = "default"
# Magento's optional web API input limit: 20 entities per list (reference §3).
DEFAULT_MAX_ITEMS_PER_REQUEST = 20
# The separate orders read: no faster than this (each is one request to the store).
MIN_ORDER_POLL_INTERVAL_SECONDS = 2
MAX_ORDER_POLL_INTERVAL_SECONDS = 3600
# With the input limit on, pageSize above 300 is refused (reference §3).
MAX_PAGE_SIZE = 300
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class MagentoOptions:
    store_code: str = "all"
    page_size: int = DEFAULT_PAGE_SIZE
    max_items_per_request: int = DEFAULT_MAX_ITEMS_PER_REQUEST
    force_status_attribute: str = "force_stock_status"
    force_status_values: Mapping[str, str] | None = None
    is_forced_status_pushed: bool = True
    is_legacy_single_source: bool = False
    source_codes: tuple[str, ...] = ()
    # The Magento stock that stands for the connector's hub channel (None: not mapped yet).
    stock_id: int | None = None
    # Read new and changed orders this often, apart from the full poll (None: only with it).
    order_poll_interval_seconds: int | None = None

    @classmethod
    def from_config(cls, options: Mapping[str, object]) -> MagentoOptions:
        known = {
            "store_code",
            "page_size",
            "max_items_per_request",
            "force_status_attribute",
            "force_status_values",
            "is_forced_status_pushed",
            "is_legacy_single_source",
            "source_codes",
            "stock_id",
            "order_poll_interval_seconds",
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"Unknown Magento option(s): {', '.join(unknown)}")
        store_code = options.get("store_code", "all")
        if not isinstance(store_code, str) or not store_code.replace("_", "").isalnum():
            raise ValueError("store_code must be a Magento store code such as 'all' or 'default'")
        page_size = _positive_int(options, "page_size", DEFAULT_PAGE_SIZE)
        if page_size > MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be at most {MAX_PAGE_SIZE} (Magento's input limit)")
        values = options.get("force_status_values")
        if values is not None and (
            not isinstance(values, Mapping)
            or not {"in_stock", "out_of_stock"} <= set(values)
            or set(values) - {"in_stock", "out_of_stock", "none"}
        ):
            raise ValueError(
                "force_status_values maps in_stock, out_of_stock and optionally none to the "
                "attribute's stored values"
            )
        source_codes = options.get("source_codes", ())
        if not isinstance(source_codes, list | tuple) or not all(
            isinstance(code, str) and code for code in source_codes
        ):
            raise ValueError("source_codes must be a list of Magento source codes")
        attribute = options.get("force_status_attribute", "force_stock_status")
        if not isinstance(attribute, str):
            raise ValueError("force_status_attribute must be an attribute code ('' to disable)")
        order_interval = options.get("order_poll_interval_seconds")
        if order_interval is not None and (
            isinstance(order_interval, bool)
            or not isinstance(order_interval, int)
            or not MIN_ORDER_POLL_INTERVAL_SECONDS
            <= order_interval
            <= MAX_ORDER_POLL_INTERVAL_SECONDS
        ):
            raise ValueError(
                "order_poll_interval_seconds must be a whole number of seconds from "
                f"{MIN_ORDER_POLL_INTERVAL_SECONDS} to {MAX_ORDER_POLL_INTERVAL_SECONDS}"
            )
        return cls(
            store_code=store_code,
            page_size=page_size,
            max_items_per_request=_positive_int(
                options, "max_items_per_request", DEFAULT_MAX_ITEMS_PER_REQUEST
            ),
            force_status_attribute=attribute,
            force_status_values={str(k): str(v) for k, v in values.items()} if values else None,
            is_forced_status_pushed=_boolean(options, "is_forced_status_pushed", True),
            is_legacy_single_source=_boolean(options, "is_legacy_single_source", False),
            source_codes=tuple(source_codes),
            stock_id=(
                None if options.get("stock_id") is None else _positive_int(options, "stock_id", 1)
            ),
            order_poll_interval_seconds=order_interval,
        )


def _positive_int(options: Mapping[str, object], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1")
    return value


def _boolean(options: Mapping[str, object], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value
