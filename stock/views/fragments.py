"""The live pages' fragments: read through selectors, render one partial per stable id.

The full page, an HTMX response and a websocket push all render the same partials from
these functions, so a row looks the same however it reached the screen. Each function
reads a fixed number of queries, whatever the number of rows.
"""

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from inventory_hub.shell.panels import overview_tiles, variant_panels
from stock.models import (
    OPEN_ORDER_STATUSES,
    Allocation,
    ForcedStatus,
    Order,
    OrderLine,
    OrderStatus,
    StockLevel,
    StockMovement,
    Variant,
)
from stock.selectors import (
    ChannelSalable,
    WarehouseKpis,
    channel_salable_many,
    open_forced_statuses,
    recent_activity,
    short_orders,
    stock_history,
    stock_levels,
)
from stock.views.charts import Chart, history_charts
from stock.views.kpis import current_kpis
from warehouses.access import can_sell_on
from warehouses.models import SalesChannel, Warehouse

FEED_LENGTH = 30
LATEST_MOVEMENTS = 20
ORDERS_PER_SECTION = 25
FORCED_HISTORY_LENGTH = 10
# A movement written down this long after (or before) it happened shows both times.
RECORDED_LATER = timedelta(minutes=1)


# --- Stock table rows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockRow:
    level: StockLevel
    # Open overrides of the variant, the variant-wide one (channel None) first.
    forced: list[ForcedStatus] = field(default_factory=list)


def stock_rows(levels: list[StockLevel]) -> list[StockRow]:
    """Rows for levels loaded with variant, product and warehouse; one query for overrides."""
    forced: dict[int, list[ForcedStatus]] = {}
    overrides = open_forced_statuses({level.variant_id for level in levels}).select_related(
        "channel"
    )
    for override in sorted(overrides, key=lambda o: (o.channel_id is not None, o.channel_id or 0)):
        forced.setdefault(override.variant_id, []).append(override)
    return [StockRow(level=level, forced=forced.get(level.variant_id, [])) for level in levels]


def stock_rows_by_id(level_ids: Iterable[int]) -> list[StockRow]:
    levels = list(stock_levels().filter(pk__in=list(level_ids)).order_by("pk"))
    return stock_rows(levels)


def render_stock_rows(rows: list[StockRow], *, oob: bool) -> str:
    return "".join(
        render_to_string("stock/partials/stock_row.html", {"row": row, "oob": oob}) for row in rows
    )


# --- Overview ---------------------------------------------------------------------------------


def overview_context(*, warehouse_id: int | None) -> dict:
    if warehouse_id is None:
        warehouse_ids = list(Warehouse.objects.order_by("code").values_list("pk", flat=True))
    else:
        warehouse_ids = [warehouse_id]
    kpis = current_kpis(warehouse_ids)
    return {
        "kpis": kpis,
        "feed": recent_activity(warehouse_id=warehouse_id, limit=FEED_LENGTH),
        "tiles": overview_tiles(warehouse_id),
        "read_at": timezone.now(),
    }


def render_tiles(*, warehouse_id: int | None, oob: bool) -> str:
    """The tiles the apps above stock registered (inventory_hub.shell.panels)."""
    return render_to_string(
        "stock/partials/overview_tiles.html",
        {"tiles": overview_tiles(warehouse_id), "oob": oob},
    )


def render_kpis(kpis: list[WarehouseKpis], *, oob: bool) -> str:
    return "".join(
        render_to_string("stock/partials/kpi_card.html", {"kpi": kpi, "oob": oob}) for kpi in kpis
    )


def render_feed(*, warehouse_id: int | None, oob: bool) -> str:
    return render_to_string(
        "stock/partials/activity_feed.html",
        {
            "feed": recent_activity(warehouse_id=warehouse_id, limit=FEED_LENGTH),
            "read_at": timezone.now(),
            "oob": oob,
        },
    )


# --- Variant detail -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldOrder:
    order: Order
    line: OrderLine
    held: list[Allocation]


def variant_levels(variant: Variant) -> list[StockLevel]:
    return list(
        StockLevel.objects.filter(variant=variant)
        .select_related("warehouse", "variant")
        .order_by("warehouse__code")
    )


def variant_channels(variant: Variant) -> list[ChannelSalable]:
    """Each channel's salable quantity with its breakdown (four queries per channel)."""
    return [
        channel_salable_many(channel, [variant])[variant.pk]
        for channel in SalesChannel.objects.order_by("code")
    ]


def variant_charts(variant: Variant) -> list[Chart]:
    return history_charts(stock_history(variant))


def variant_movements(variant: Variant) -> list[StockMovement]:
    """The latest entries of the ledger, each marked `recorded_later` when it was written
    down well after it happened (a backdated count or import): the page then shows both."""
    movements = list(
        StockMovement.objects.filter(variant=variant)
        .select_related("warehouse")
        .order_by("-recorded_at", "-id")[:LATEST_MOVEMENTS]
    )
    for movement in movements:
        later = abs(movement.recorded_at - movement.occurred_at) >= RECORDED_LATER
        # A display attribute the template reads, not a field (so unknown to the stubs).
        movement.recorded_later = later  # type: ignore[attr-defined]
    return movements


def variant_open_orders(variant: Variant) -> list[HeldOrder]:
    """Open order lines for this variant with the units each still holds, oldest first."""
    lines = (
        OrderLine.objects.filter(
            variant=variant, status=OrderLine.Status.OPEN, order__status__in=OPEN_ORDER_STATUSES
        )
        .select_related("order", "order__channel")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=Allocation.objects.filter(status=Allocation.Status.HELD)
                .select_related("warehouse")
                .order_by("warehouse__code"),
                to_attr="held",
            )
        )
        .order_by("order__placed_at", "order__pk")
    )
    return [HeldOrder(order=line.order, line=line, held=line.held) for line in lines]


@dataclass(frozen=True, slots=True)
class ForcedPanel:
    """A variant's open overrides (variant-wide first), and the latest that ended or expired."""

    open: list[ForcedStatus]
    history: list[ForcedStatus]


def variant_forced(variant: Variant) -> ForcedPanel:
    shown = open_forced_statuses([variant.pk]).select_related("channel")
    past = (
        ForcedStatus.objects.filter(variant=variant)
        .exclude(pk__in=shown.values("pk"))
        .select_related("channel")
        .order_by("-created_at", "-pk")[:FORCED_HISTORY_LENGTH]
    )
    return ForcedPanel(
        open=sorted(
            shown,
            key=lambda o: (o.channel is not None, o.channel.code if o.channel is not None else ""),
        ),
        history=list(past),
    )


# "panels": what the apps above stock registered (inventory_hub.shell.panels).
VARIANT_PARTS = ("levels", "panels", "channels", "chart", "movements", "orders", "forced")


def variant_context(variant: Variant, *, parts: Iterable[str] = VARIANT_PARTS) -> dict:
    readers = {
        "levels": variant_levels,
        "channels": variant_channels,
        "chart": variant_charts,
        "movements": variant_movements,
        "orders": variant_open_orders,
        "forced": variant_forced,
        "panels": lambda variant: variant_panels(variant.pk),
    }
    context: dict = {"variant": variant, "read_at": timezone.now()}
    for part in parts:
        context[part] = readers[part](variant)
    return context


@dataclass(frozen=True, slots=True)
class VariantPush:
    """Out-of-band fragments of the variant page, kept apart by kind.

    Table rows and other elements cannot share one fragment: an HTML parser that starts a
    fragment in a row context drops what is not a row, and the other way round. A websocket
    message carries one kind (htmx's ws extension swaps each top-level element); an HTTP
    answer wraps the rows in <template>, which htmx unwraps for out-of-band swaps.
    """

    rows: str
    sections: str
    context: dict

    @property
    def for_http(self) -> str:
        return self.sections + (f"<template>{self.rows}</template>" if self.rows else "")


def render_variant_parts(
    variant: Variant,
    *,
    parts: Iterable[str],
    level_ids: Iterable[int] | None = None,
    extra: dict | None = None,
) -> str:
    return variant_parts(variant, parts=parts, level_ids=level_ids, extra=extra).for_http


def variant_parts(
    variant: Variant,
    *,
    parts: Iterable[str],
    level_ids: Iterable[int] | None = None,
    extra: dict | None = None,
) -> VariantPush:
    """Whole sections, and of the levels table only the rows of `level_ids` (all rows when
    None), read into one context. `extra` adds to it (what the viewer may do decides the
    buttons shown)."""
    parts = [part for part in VARIANT_PARTS if part in set(parts)]
    context = {**variant_context(variant, parts=parts), **(extra or {})}
    rows, sections = [], []
    for part in parts:
        if part == "levels":
            wanted = None if level_ids is None else set(level_ids)
            for level in context["levels"]:
                if wanted is None or level.pk in wanted:
                    rows.append(
                        render_to_string(
                            "stock/partials/variant_level_row.html", {"level": level, "oob": True}
                        )
                    )
            continue
        sections.append(
            render_to_string(f"stock/partials/variant_{part}.html", {**context, "oob": True})
        )
    return VariantPush(rows="".join(rows), sections="".join(sections), context=context)


# --- Orders -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderSection:
    key: str
    title: str
    orders: list[Order]
    total: int
    empty_text: str


def orders_context(*, channel_id: int | None) -> dict:
    """Short orders (incidents) first, when there are any; then open holds by expiry, and the
    latest paid, shipped, cancelled and expired orders."""
    now = timezone.now()
    base = Order.objects.select_related("channel")
    if channel_id is not None:
        base = base.filter(channel_id=channel_id)
    totals = _status_totals(base)
    placed = list(base.filter(status=OrderStatus.PLACED).order_by("expires_at", "pk")[:100])
    paid = list(
        base.filter(status__in=[OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED]).order_by(
            "-paid_at", "-pk"
        )[:ORDERS_PER_SECTION]
    )
    closed = {
        status: list(base.filter(status=status).order_by("-placed_at", "-pk")[:ORDERS_PER_SECTION])
        for status in (OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)
    }
    short = list(short_orders(base).order_by("placed_at", "pk")[:ORDERS_PER_SECTION])
    everything = short + placed + paid + [o for orders in closed.values() for o in orders]
    _attach_lines(everything)
    sections = []
    if short:
        sections.append(
            OrderSection(
                key="short",
                title="Short orders: sold on a store, not all held",
                orders=short,
                total=short_orders(base).count(),
                empty_text="",
            )
        )
    sections += [
        OrderSection(
            key="placed",
            title="Open holds",
            orders=placed,
            total=totals.get(OrderStatus.PLACED, 0),
            empty_text="No order is holding stock unpaid.",
        ),
        OrderSection(
            key="paid",
            title="Paid, waiting to ship",
            orders=paid,
            total=totals.get(OrderStatus.PAID, 0) + totals.get(OrderStatus.PARTIALLY_SHIPPED, 0),
            empty_text="Nothing paid is waiting to ship.",
        ),
        OrderSection(
            key="shipped",
            title="Shipped",
            orders=closed[OrderStatus.SHIPPED],
            total=totals.get(OrderStatus.SHIPPED, 0),
            empty_text="No order has shipped yet.",
        ),
        OrderSection(
            key="cancelled",
            title="Cancelled",
            orders=closed[OrderStatus.CANCELLED],
            total=totals.get(OrderStatus.CANCELLED, 0),
            empty_text="No order was cancelled.",
        ),
        OrderSection(
            key="expired",
            title="Expired holds",
            orders=closed[OrderStatus.EXPIRED],
            total=totals.get(OrderStatus.EXPIRED, 0),
            empty_text="No hold has expired.",
        ),
    ]
    return {"sections": sections, "now": now, "read_at": now}


def _status_totals(orders) -> dict[str, int]:
    return {
        row["status"]: row["total"]
        for row in orders.order_by().values("status").annotate(total=Count("pk"))
    }


def _attach_lines(orders: list[Order]) -> None:
    """Give each order `shown_lines` (with their held allocations) in two queries."""
    lines = (
        OrderLine.objects.filter(order__in=[order.pk for order in orders])
        .select_related("variant")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=Allocation.objects.select_related("warehouse").order_by("pk"),
                to_attr="all_allocations",
            )
        )
        .order_by("order_id", "line_number")
    )
    by_order: dict[int, list[OrderLine]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    for order in orders:
        # A display attribute the template reads, not a field (so unknown to the stubs).
        order.shown_lines = by_order.get(order.pk, [])  # type: ignore[attr-defined]


def resolvable_channel_ids(user) -> set[int]:
    """Channels whose short orders this user may fill or cut down: the API's order rights."""
    return {channel.pk for channel in SalesChannel.objects.all() if can_sell_on(user, channel)}


def render_orders(
    *, channel_id: int | None, oob: bool, resolvable_channel_ids: AbstractSet[int] = frozenset()
) -> str:
    return render_to_string(
        "stock/partials/orders_region.html",
        {
            **orders_context(channel_id=channel_id),
            "resolvable_channel_ids": resolvable_channel_ids,
            "oob": oob,
        },
    )
