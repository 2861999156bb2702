"""Reads shared by the admin, the API, live pages and tasks. Nothing here writes."""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from stock.allocation import allocated_shares, allocation_switched_on
from stock.errors import UnknownChannel, UnknownSku, UnknownWarehouse
from stock.models import (
    HOLD_EXPIRED_NOTE,
    OPEN_ORDER_STATUSES,
    Allocation,
    DailyStockSnapshot,
    ForcedStatus,
    OrderLine,
    StockLevel,
    StockStatus,
    Variant,
)
from stock.models.levels import status_for
from warehouses.access import readable_channel_ids
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse


def get_variant_by_sku(sku: str) -> Variant:
    try:
        return Variant.objects.select_related("product").get(sku=sku)
    except Variant.DoesNotExist:
        raise UnknownSku(f"No variant has SKU {sku!r}.", {"sku": sku}) from None


def get_warehouse_by_code(code: str) -> Warehouse:
    try:
        return Warehouse.objects.get(code=code)
    except Warehouse.DoesNotExist:
        raise UnknownWarehouse(f"No warehouse has code {code!r}.", {"warehouse": code}) from None


def get_channel_by_code(code: str) -> SalesChannel:
    try:
        return SalesChannel.objects.get(code=code)
    except SalesChannel.DoesNotExist:
        raise UnknownChannel(f"No sales channel has code {code!r}.", {"channel": code}) from None


def stock_levels() -> QuerySet[StockLevel]:
    return StockLevel.objects.select_related("variant", "variant__product", "warehouse")


def levels_below_threshold(queryset: QuerySet[StockLevel]) -> QuerySet[StockLevel]:
    """Levels at or under their own threshold, or the variant's when they set none."""
    return queryset.filter(
        Q(low_stock_threshold__isnull=False, available__lte=F("low_stock_threshold"))
        | Q(low_stock_threshold__isnull=True, available__lte=F("variant__low_stock_threshold"))
    )


def levels_with_status(queryset: QuerySet[StockLevel], status: str) -> QuerySet[StockLevel]:
    """The levels whose `status` property is `status`, decided by the database."""
    if status == StockStatus.OUT_OF_STOCK:
        return queryset.filter(available__lte=0, is_backorder_allowed=False)
    if status == StockStatus.BACKORDER:
        return queryset.filter(available__lte=0, is_backorder_allowed=True)
    if status == StockStatus.LOW_STOCK:
        return levels_below_threshold(queryset).filter(available__gt=0)
    if status == StockStatus.IN_STOCK:
        # Thresholds are never negative, so above the threshold is also above zero.
        return queryset.alias(
            effective_threshold=Coalesce("low_stock_threshold", "variant__low_stock_threshold")
        ).filter(available__gt=F("effective_threshold"))
    return queryset


# --- Forced status ------------------------------------------------------------------------


def open_forced_statuses(variant_ids: Iterable[int]) -> QuerySet[ForcedStatus]:
    now = timezone.now()
    return ForcedStatus.objects.filter(
        variant_id__in=list(variant_ids), ended_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _forced_lookup(
    variant_ids: Iterable[int],
) -> dict[tuple[int, int | None], ForcedStatus]:
    return {
        (forced.variant_id, forced.channel_id): forced
        for forced in open_forced_statuses(variant_ids).select_related("channel")
    }


def forced_status_for(
    forced: dict[tuple[int, int | None], ForcedStatus], variant_id: int, channel_id: int | None
) -> ForcedStatus | None:
    """A channel's own override wins over the variant-wide one."""
    if channel_id is not None and (variant_id, channel_id) in forced:
        return forced[(variant_id, channel_id)]
    return forced.get((variant_id, None))


# --- Channel salable quantity ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WarehouseContribution:
    warehouse_code: str
    warehouse_name: str
    priority: int
    is_active: bool
    on_hand: int
    reserved: int
    unsellable: int
    safety_stock: int
    available: int
    counted: int  # what this warehouse adds to the channel: max(available, 0) when active
    # The channel's share of a shared warehouse's last units (stock.allocation); None: not split.
    share: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelSalable:
    """A channel's salable quantity for one SKU, and how it was reached."""

    sku: str
    channel_code: str
    manage_stock: bool
    allows_backorders: bool
    total_available: int
    buffer: int
    cap: int | None
    salable: int
    status: StockStatus
    forced_status: str | None
    forced_reason: str
    # Units of the channel's open store orders the hub could not hold: already sold.
    shortfall: int = 0
    breakdown: list[WarehouseContribution] = field(default_factory=list)

    @property
    def shown_status(self) -> str:
        return self.forced_status or self.status


def channel_salable(channel: SalesChannel, variant: Variant) -> ChannelSalable:
    return channel_salable_many(channel, [variant])[variant.pk]


def channel_salable_many(
    channel: SalesChannel, variants: Iterable[Variant]
) -> dict[int, ChannelSalable]:
    """Salable quantity per variant on one channel, in five queries whatever the count
    (up to two more when a warehouse it shares with other channels is allocated).

    Salable = Σ over the channel's active linked warehouses of max(available, 0), or the
    channel's share where that warehouse's last units are split (stock.allocation), minus
    the channel's safety buffer, minus the channel's open shortfalls (units its store sold
    that the hub could not hold), capped by its maximum, never negative. Holds past their
    expiry no longer count, even before the expiry task has released them.
    """
    variants = list(variants)
    links = list(
        ChannelWarehouse.objects.filter(channel=channel)
        .select_related("warehouse")
        .annotate(is_allocated=allocation_switched_on())
        .order_by("priority", "warehouse__code")
    )
    levels = {
        (level.variant_id, level.warehouse_id): level
        for level in StockLevel.objects.filter(
            variant__in=variants, warehouse_id__in=[link.warehouse_id for link in links]
        )
    }
    expired = expired_held_quantity([level.pk for level in levels.values()])
    forced = _forced_lookup(variant.pk for variant in variants)
    shares = _shares(channel, links, levels, expired)
    shortfalls = open_shortfalls(channel.pk, [variant.pk for variant in variants])
    result: dict[int, ChannelSalable] = {}
    for variant in variants:
        breakdown = []
        for link in links:
            level = levels.get((variant.pk, link.warehouse_id))
            values = {
                name: getattr(level, name, 0) if level else 0
                for name in ("on_hand", "reserved", "unsellable", "safety_stock", "available")
            }
            if level is not None and level.pk in expired:
                values["reserved"] -= expired[level.pk]
                values["available"] += expired[level.pk]
            is_active = link.warehouse.is_active and channel.is_active
            share = shares.get((variant.pk, link.warehouse_id))
            breakdown.append(
                WarehouseContribution(
                    warehouse_code=link.warehouse.code,
                    warehouse_name=link.warehouse.name,
                    priority=link.priority,
                    is_active=is_active,
                    counted=(max(values["available"], 0) if share is None else share)
                    if is_active
                    else 0,
                    share=share,
                    **values,
                )
            )
        total = sum(item.counted for item in breakdown)
        salable = max(total - channel.safety_buffer, 0)
        shortfall = shortfalls.get(variant.pk, 0)
        salable = max(salable - shortfall, 0)
        if channel.max_salable_quantity is not None:
            salable = min(salable, channel.max_salable_quantity)
        override = forced_status_for(forced, variant.pk, channel.pk)
        status = (
            StockStatus.IN_STOCK
            if not variant.manage_stock
            else status_for(
                available=salable,
                threshold=variant.low_stock_threshold,
                allows_backorders=variant.allows_backorders,
            )
        )
        result[variant.pk] = ChannelSalable(
            sku=variant.sku,
            channel_code=channel.code,
            manage_stock=variant.manage_stock,
            allows_backorders=variant.allows_backorders,
            total_available=total,
            buffer=channel.safety_buffer,
            cap=channel.max_salable_quantity,
            salable=salable,
            status=status,
            forced_status=override.status if override else None,
            forced_reason=override.reason if override else "",
            shortfall=shortfall,
            breakdown=breakdown,
        )
    return result


def _shares(
    channel: SalesChannel,
    links: list[ChannelWarehouse],
    levels: dict[tuple[int, int], StockLevel],
    expired: dict[int, int],
) -> dict[tuple[int, int], int]:
    """The channel's allocated share per (variant, warehouse); no query unless a channel
    sharing one of its warehouses has allocation on."""
    allocated = {
        link.warehouse_id for link in links if link.is_allocated and link.warehouse.is_active
    }
    if not channel.is_active or not allocated:
        return {}
    return allocated_shares(
        channel_id=channel.pk,
        available={
            key: level.available + expired.get(level.pk, 0)
            for key, level in levels.items()
            if key[1] in allocated
        },
    )


def open_shortfalls(
    channel_id: int, variant_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, int]:
    """Per variant, the units of this channel's orders that were sold but not held: open
    short lines of open orders whose hold has not expired (one indexed query)."""
    variant_ids = list(variant_ids)
    if not variant_ids:
        return {}
    rows = (
        OrderLine.objects.filter(
            variant_id__in=variant_ids,
            short_quantity__gt=0,
            status=OrderLine.Status.OPEN,
            order__channel_id=channel_id,
            order__status__in=OPEN_ORDER_STATUSES,
        )
        .filter(Q(order__expires_at__isnull=True) | Q(order__expires_at__gt=now or timezone.now()))
        .values("variant_id")
        .annotate(quantity=Sum("short_quantity"))
        .order_by()
    )
    return {row["variant_id"]: row["quantity"] for row in rows}


def short_orders(queryset: QuerySet | None = None) -> QuerySet:
    """Open orders with an open short line: incidents for ops to resolve."""
    queryset = queryset if queryset is not None else Order.objects.all()
    return queryset.filter(status__in=OPEN_ORDER_STATUSES).filter(
        Exists(
            OrderLine.objects.filter(
                order=OuterRef("pk"), status=OrderLine.Status.OPEN, short_quantity__gt=0
            )
        )
    )


def orders_readable_by(user, queryset: QuerySet | None = None) -> QuerySet:
    """The orders `user` may read: an integration its channels' only (warehouses.access)."""
    queryset = queryset if queryset is not None else Order.objects.all()
    channel_ids = readable_channel_ids(user)
    return queryset if channel_ids is None else queryset.filter(channel_id__in=channel_ids)


def expired_held_quantity(
    level_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, int]:
    """Units still counted as reserved on each level though their hold has expired."""
    level_ids = list(level_ids)
    if not level_ids:
        return {}
    rows = (
        Allocation.objects.filter(
            level_id__in=level_ids,
            status=Allocation.Status.HELD,
            expires_at__lte=now or timezone.now(),
        )
        .values("level_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {row["level_id"]: row["quantity"] for row in rows}


# --- Ledger verification ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerDifference:
    level_id: int
    sku: str
    warehouse_code: str
    quantity: str
    balance: int
    ledger: int


def ledger_differences() -> list[LedgerDifference]:
    """Every (level, quantity) whose balance differs from the sum of its ledger deltas."""
    names = ("on_hand", "reserved", "unsellable", "safety_stock", "inbound")
    annotated = StockLevel.objects.annotate(
        **{f"ledger_{name}": Coalesce(Sum(f"movements__delta_{name}"), 0) for name in names}
    ).values("pk", "variant__sku", "warehouse__code", *names, *(f"ledger_{n}" for n in names))
    differences = []
    for row in annotated.order_by("pk").iterator(chunk_size=2000):
        for name in names:
            if row[name] != row[f"ledger_{name}"]:
                differences.append(
                    LedgerDifference(
                        level_id=row["pk"],
                        sku=row["variant__sku"],
                        warehouse_code=row["warehouse__code"],
                        quantity=name,
                        balance=row[name],
                        ledger=row[f"ledger_{name}"],
                    )
                )
    return differences


# --- History --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    day: date
    on_hand: int
    available: int


@dataclass(frozen=True, slots=True)
class HistorySeries:
    """One warehouse's daily closes for a variant; the last point is the live balance."""

    warehouse_id: int
    warehouse_code: str
    warehouse_name: str
    points: list[HistoryPoint]


def stock_history(variant: Variant, *, days: int = 90) -> list[HistorySeries]:
    """On hand and available per warehouse over the last `days` UTC days, in two queries.

    Past days come from DailyStockSnapshot (closes derived from the ledger); today is the
    level itself, so the chart ends on the figure every other screen shows. A series starts
    at its first snapshot in the window; a day missing inside it repeats the day before.
    """
    today = timezone.now().astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    levels = list(
        StockLevel.objects.filter(variant=variant)
        .select_related("warehouse")
        .order_by("warehouse__code")
    )
    closes: dict[int, dict[date, HistoryPoint]] = {level.pk: {} for level in levels}
    snapshots = DailyStockSnapshot.objects.filter(
        level__variant=variant, day__gte=first_day, day__lt=today
    ).values_list("level_id", "day", "on_hand", "reserved", "unsellable", "safety_stock")
    for level_id, day, on_hand, reserved, unsellable, safety_stock in snapshots:
        available = on_hand - reserved - unsellable - safety_stock
        closes[level_id][day] = HistoryPoint(day=day, on_hand=on_hand, available=available)

    series = []
    for level in levels:
        by_day = closes[level.pk]
        points: list[HistoryPoint] = []
        day = min(by_day, default=today)
        while day < today:
            known = by_day.get(day)
            if known is not None:
                points.append(known)
            else:
                points.append(replace(points[-1], day=day))
            day += timedelta(days=1)
        points.append(HistoryPoint(day=today, on_hand=level.on_hand, available=level.available))
        series.append(
            HistorySeries(
                warehouse_id=level.warehouse_id,
                warehouse_code=level.warehouse.code,
                warehouse_name=level.warehouse.name,
                points=points,
            )
        )
    return series


# --- Live dashboard -------------------------------------------------------------------------
# Imported here rather than at the top so this section stays one appended block; hoist them
# when the module is next reorganised.
from django.db.models import Count, Exists, OuterRef, Subquery  # noqa: E402

from stock.models import MovementKind, Order, StockMovement  # noqa: E402


@dataclass(frozen=True, slots=True)
class WarehouseKpis:
    warehouse_id: int
    code: str
    name: str
    is_active: bool
    skus: int  # levels, i.e. variants stocked or once stocked here
    on_hand: int
    reserved: int
    inbound: int
    out_of_stock: int
    low_stock: int


def warehouse_kpis(*, warehouse_ids: Iterable[int] | None = None) -> list[WarehouseKpis]:
    """Per warehouse (by code): levels, units on hand, reserved and inbound, and how many
    levels are out of stock or low, exactly as `levels_with_status` decides them.
    Warehouses without levels are listed with zeros.

    Three queries. The sums read each level once, without joins; only levels at or under
    the highest variant threshold are joined to their variant, for the low-stock count of
    levels that have no threshold of their own (half the time of one joined aggregate at
    500,000 levels).
    """
    warehouses = Warehouse.objects.order_by("code")
    levels = StockLevel.objects.order_by()
    if warehouse_ids is not None:
        warehouse_ids = list(warehouse_ids)
        warehouses = warehouses.filter(pk__in=warehouse_ids)
        levels = levels.filter(warehouse_id__in=warehouse_ids)
    totals = {
        row.pop("warehouse_id"): row
        for row in levels.values("warehouse_id").annotate(
            skus=Count("pk"),
            on_hand=Sum("on_hand"),
            reserved=Sum("reserved"),
            inbound=Sum("inbound"),
            out_of_stock=Count("pk", filter=Q(available__lte=0, is_backorder_allowed=False)),
            low_stock=Count(
                "pk",
                filter=Q(
                    low_stock_threshold__isnull=False,
                    available__gt=0,
                    available__lte=F("low_stock_threshold"),
                ),
            ),
        )
    }
    highest_threshold = Variant.objects.order_by("-low_stock_threshold").values(
        "low_stock_threshold"
    )[:1]
    low_by_variant = dict(
        levels.filter(low_stock_threshold__isnull=True, available__gt=0)
        .filter(available__lte=Subquery(highest_threshold))
        .filter(available__lte=F("variant__low_stock_threshold"))
        .values("warehouse_id")
        .annotate(low=Count("pk"))
        .values_list("warehouse_id", "low")
    )
    empty = {"skus": 0, "on_hand": 0, "reserved": 0, "inbound": 0, "out_of_stock": 0}
    result = []
    for warehouse in warehouses.values("pk", "code", "name", "is_active"):
        figures = {**empty, "low_stock": 0, **totals.get(warehouse["pk"], {})}
        figures["low_stock"] += low_by_variant.get(warehouse["pk"], 0)
        result.append(
            WarehouseKpis(
                warehouse_id=warehouse["pk"],
                code=warehouse["code"],
                name=warehouse["name"],
                is_active=warehouse["is_active"],
                **figures,
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class ActivityLine:
    sku: str
    warehouse_code: str
    delta_on_hand: int
    delta_reserved: int
    delta_unsellable: int
    on_hand_after: int

    @property
    def units(self) -> int:
        """How many units moved, whichever quantity they moved in."""
        return abs(self.delta_on_hand or self.delta_reserved or self.delta_unsellable)


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """One line of the activity feed: a movement, several of one document, or a payment."""

    key: str  # stable from one read to the next: the feed line's element id
    at: datetime
    kind: str  # a MovementKind value, or "paid"
    is_expiry: bool  # a release because the hold ran out, not a cancellation
    document: str
    actor: str
    lines: list[ActivityLine]


def recent_activity(*, warehouse_id: int | None = None, limit: int = 30) -> list[ActivityEntry]:
    """The newest movements and order payments, newest first, in two queries.

    Movements that one write recorded for one document (an order's lines, say) form one
    entry. Payments move no stock, so they come from the orders themselves.
    """
    movements = StockMovement.objects.select_related("variant", "warehouse").order_by(
        "-recorded_at", "-id"
    )
    if warehouse_id is not None:
        movements = movements.filter(warehouse_id=warehouse_id)
    entries: list[ActivityEntry] = []
    group: list[StockMovement] = []

    def close_group() -> None:
        if not group:
            return
        first = group[-1]  # the oldest of the group has the lowest id: a stable key
        entries.append(
            ActivityEntry(
                key=f"m{first.pk}",
                at=first.recorded_at,
                kind=first.kind,
                is_expiry=first.kind == MovementKind.RELEASE and first.note == HOLD_EXPIRED_NOTE,
                document=first.document,
                actor=first.actor_label,
                lines=[
                    ActivityLine(
                        sku=movement.variant.sku,
                        warehouse_code=movement.warehouse.code,
                        delta_on_hand=movement.delta_on_hand,
                        delta_reserved=movement.delta_reserved,
                        delta_unsellable=movement.delta_unsellable,
                        on_hand_after=movement.on_hand_after,
                    )
                    for movement in reversed(group)
                ],
            )
        )
        group.clear()

    for movement in movements[: limit * 3]:
        if group and not (
            movement.document
            and (movement.document, movement.kind, movement.recorded_at)
            == (group[0].document, group[0].kind, group[0].recorded_at)
        ):
            close_group()
        group.append(movement)
    close_group()
    entries = entries[:limit]

    oldest = entries[-1].at if len(entries) == limit else None
    payments = Order.objects.select_related("channel").filter(paid_at__isnull=False)
    if oldest is not None:
        payments = payments.filter(paid_at__gte=oldest)
    if warehouse_id is not None:
        payments = payments.filter(
            Exists(Allocation.objects.filter(line__order=OuterRef("pk"), warehouse_id=warehouse_id))
        )
    for order in payments.order_by("-paid_at")[:limit]:
        entries.append(
            ActivityEntry(
                key=f"paid{order.pk}",
                at=order.paid_at,
                kind="paid",
                is_expiry=False,
                document=order.document,
                actor=order.actor_label,
                lines=[],
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
