"""Options of a WooCommerce connector, checked when the connector is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.base import OrderState

BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit; more is refused with 413
PAGE_LIMIT = 100  # per_page maximum
AUTH_MODES = ("auto", "basic", "query", "oauth1")
# Every option the connector reads (see WooCommerceConnector's docstring); any other key
# is refused.
KNOWN_OPTIONS = ("auth", "batch_size", "order_status_map", "page_size")

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


@dataclass(frozen=True, slots=True)
class WooCommerceOptions:
    auth_mode: str = "auto"
    page_size: int = PAGE_LIMIT
    batch_size: int = BATCH_LIMIT
    # WooCommerce status -> the hub's order state; None: not an order to follow.
    order_states: dict[str, OrderState | None] = field(
        default_factory=lambda: dict(DEFAULT_ORDER_STATES)
    )

    @classmethod
    def from_config(cls, options: Mapping[str, object]) -> WooCommerceOptions:
        """The options read from a connector row; ValueError names the first bad one."""
        unknown = sorted(set(options) - set(KNOWN_OPTIONS))
        if unknown:
            raise ValueError(
                f"Unknown WooCommerce option(s): {', '.join(unknown)}; known: "
                + ", ".join(KNOWN_OPTIONS)
            )
        auth_mode = str(options.get("auth", "auto"))
        if auth_mode not in AUTH_MODES:
            raise ValueError(f"options.auth must be one of {', '.join(AUTH_MODES)}")
        page_size = _bounded_option(options, "page_size", PAGE_LIMIT)
        batch_size = _bounded_option(options, "batch_size", BATCH_LIMIT)
        return cls(
            auth_mode=auth_mode,
            page_size=page_size,
            batch_size=batch_size,
            order_states=_order_states(options.get("order_status_map") or {}),
        )


def _order_states(custom: object) -> dict[str, OrderState | None]:
    order_states = dict(DEFAULT_ORDER_STATES)
    if not isinstance(custom, Mapping):
        raise ValueError("options.order_status_map must map WooCommerce statuses to states")
    for woo_status, state in custom.items():
        if state == "ignore":
            order_states[str(woo_status)] = None
        elif state in {member.value for member in OrderState}:
            order_states[str(woo_status)] = OrderState(state)
        else:
            raise ValueError(
                f"options.order_status_map[{woo_status!r}] must be one of "
                "hold, paid, shipped, released, ignore"
            )
    return order_states


def _bounded_option(options: Mapping[str, object], name: str, maximum: int) -> int:
    value = options.get(name, maximum)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ValueError(f"options.{name} must be a whole number from 1 to {maximum}")
    return value
