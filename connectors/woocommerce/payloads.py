"""Reading the store's JSON into the hub's shapes, and writing pushes back as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from connectors.base import (
    OrderState,
    PushItem,
    PushResult,
    RemoteOrder,
    RemoteOrderLine,
    RemoteStatus,
    RemoteStock,
)

STATUS_FROM_WOO = {
    "instock": RemoteStatus.IN_STOCK,
    "outofstock": RemoteStatus.OUT_OF_STOCK,
    "onbackorder": RemoteStatus.BACKORDER,
}
STATUS_TO_WOO = {hub: woo for woo, hub in STATUS_FROM_WOO.items()}

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


def stock_from_payload(payload: Mapping, *, parent_id: str = "") -> RemoteStock | None:
    """A product or variation as a RemoteStock; None for items without stock of their own."""
    remote_id = str(payload_id(payload))
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


def order_from_payload(
    payload: Mapping, order_states: Mapping[str, OrderState | None]
) -> RemoteOrder | None:
    """An order as a RemoteOrder; None for a status mapped to no state (drafts, trash)."""
    reference = str(payload_id(payload))
    status = payload.get("status")
    if not isinstance(status, str):
        raise ValueError(f"order {reference} has no status")
    if status not in order_states:
        raise ValueError(
            f"order {reference} has status {status!r}, which options.order_status_map does not map"
        )
    state = order_states[status]
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


def update_body(item: PushItem) -> dict:
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


def push_result(item: PushItem, answered: object) -> PushResult:
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


def payload_id(payload: Mapping) -> int:
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


def date_filter(modified_after: datetime | None) -> dict[str, str]:
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
