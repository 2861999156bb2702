"""What a channel may sell of each SKU, and the holds and shortfalls that change it."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from django.db.models import Q, Sum
from django.utils import timezone

from stock.allocation import allocated_shares, allocation_switched_on
from stock.models import (
    OPEN_ORDER_STATUSES,
    Allocation,
    OrderLine,
    StockLevel,
    StockStatus,
    Variant,
)
from stock.models.levels import status_for
from stock.selectors.forced import forced_status_for, open_forced_statuses_by_scope
from stock.selectors.registered import TRANSFER_HOLDS, held_by
from warehouses.models import ChannelWarehouse, SalesChannel

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _LinkAnnotations(TypedDict):
    is_allocated: bool  # allocation_switched_on()


# A channel's warehouse link, read with whether allocation is on for its warehouse.
AllocatedLink: TypeAlias = "WithAnnotations[ChannelWarehouse, _LinkAnnotations]"


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
    # The part of `reserved` held by approved or picked transfers leaving this warehouse.
    held_for_transfers: int = 0


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
    (up to two more when a warehouse it shares with other channels is allocated, and one
    more for the transfer holds when a level has anything reserved).

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
    forced = open_forced_statuses_by_scope(variant.pk for variant in variants)
    shares = _shares(channel, links, levels, expired)
    shortfalls = open_shortfalls(channel.pk, [variant.pk for variant in variants])
    # A transfer's hold is a reservation: a level with nothing reserved holds nothing for one.
    transfer_holds = held_by(
        TRANSFER_HOLDS, [key for key, level in levels.items() if level.reserved]
    )
    result: dict[int, ChannelSalable] = {}
    for variant in variants:
        breakdown = _breakdown(channel, variant, links, levels, expired, shares, transfer_holds)
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


def _breakdown(
    channel: SalesChannel,
    variant: Variant,
    links: Sequence[AllocatedLink],
    levels: dict[tuple[int, int], StockLevel],
    expired: dict[int, int],
    shares: dict[tuple[int, int], int],
    transfer_holds: dict[tuple[int, int], int],
) -> list[WarehouseContribution]:
    """What each of the channel's warehouses adds for one variant, expired holds freed."""
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
                held_for_transfers=transfer_holds.get((variant.pk, link.warehouse_id), 0),
                **values,
            )
        )
    return breakdown


def _shares(
    channel: SalesChannel,
    links: Sequence[AllocatedLink],
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
