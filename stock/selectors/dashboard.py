"""The live dashboard's reads: per-warehouse figures and the activity feed."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum

from stock.models import (
    HOLD_EXPIRED_NOTE,
    Allocation,
    MovementKind,
    Order,
    StockLevel,
    StockMovement,
    Variant,
)
from warehouses.models import Warehouse


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
                at=cast(datetime, order.paid_at),  # filtered on paid_at__isnull=False
                kind="paid",
                is_expiry=False,
                document=order.document,
                actor=order.actor_label,
                lines=[],
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
