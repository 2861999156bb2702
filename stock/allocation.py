"""Allocation of the last shared units: each channel is offered only its share of them.

A warehouse linked to several active channels is shared. When its available units fall to
or below the highest `allocation_threshold` of those channels, the units are split between
all of them (docs/adr/0003-allocation-of-the-last-shared-units.md): the sum of what the
channels offer from it never exceeds what it has, however late a store reports a sale.

The split is stateless, computed from current data at every read:

- Each channel's units **taken** are what its orders placed in the last
  `STOCK_ALLOCATION_CLAIM_MINUTES` hold (or shipped) at the warehouse. The **pool** is the
  available units plus everything taken: what the warehouse had to share before them.
- The pool is split by **weight** (the units a channel ordered from the warehouse in the
  `STOCK_ALLOCATION_WEIGHT_DAYS` before the claim window, at least 1), largest remainder,
  each channel getting at least its `allocation_minimum` when the pool covers every
  channel's minimum. That is its **quota**.
- A channel's **share** is its quota minus what it has taken. A channel's own sale lowers
  its own share only, so a unit another store may already have sold is never handed out
  again. If a channel has taken more than its quota (orders held before the split began),
  the others' shares are scaled down, largest remainder, to what is available.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from stock.models import Allocation
from warehouses.models import ChannelWarehouse

Key = TypeVar("Key")


@dataclass(frozen=True, slots=True)
class Claim:
    """One channel's part in the split of one warehouse's units."""

    channel_id: int
    channel_code: str
    weight: int  # recent sales, at least 1
    minimum: int
    taken: int  # units its orders took from the warehouse within the claim window


def largest_remainder(
    units: int, weights: Sequence[tuple[Key, int]], minimums: Mapping[Key, int] | None = None
) -> dict[Key, int]:
    """Split `units` in proportion to the weights, in whole units that add up to `units`.

    Each key first gets its minimum when the units cover every minimum; a key whose
    proportional part would fall below its minimum gets exactly the minimum and the rest is
    split between the others. Leftover units go to the largest fractional parts; ties to
    the key listed first.
    """
    result = {key: 0 for key, _ in weights}
    if units <= 0 or not weights:
        return result
    minimums = minimums or {}
    if sum(minimums.get(key, 0) for key, _ in weights) > units:
        minimums = {}
    free = [(key, weight) for key, weight in weights]
    rest = units
    while True:
        total = sum(weight for _, weight in free)
        # Exact integer comparison of rest * weight / total with the minimum.
        low = [
            (key, weight)
            for key, weight in free
            if total == 0 or rest * weight < minimums.get(key, 0) * total
        ]
        if not low or len(low) == len(free):
            break
        for key, _ in low:
            result[key] = minimums.get(key, 0)
            rest -= result[key]
        free = [item for item in free if item not in low]
    total = sum(weight for _, weight in free)
    if total == 0:
        # Nothing to weigh by: equal parts.
        free = [(key, 1) for key, _ in free]
        total = len(free)
    remainders = []
    for position, (key, weight) in enumerate(free):
        whole, remainder = divmod(rest * weight, total)
        result[key] = whole
        remainders.append((-remainder, position, key))
    leftover = rest - sum(result[key] for key, _ in free)
    for _, _, key in sorted(remainders)[:leftover]:
        result[key] += 1
    return result


def split_warehouse(available: int, claims: Sequence[Claim]) -> dict[int, int]:
    """Each channel's share (by channel id) of a warehouse's `available` units.

    The shares add up to `available` exactly when nobody has taken more than its quota,
    and never to more.
    """
    if available <= 0:
        return {claim.channel_id: 0 for claim in claims}
    ordered = sorted(claims, key=lambda claim: (-claim.weight, claim.channel_code))
    pool = available + sum(claim.taken for claim in ordered)
    quotas = largest_remainder(
        pool,
        [(claim.channel_id, claim.weight) for claim in ordered],
        {claim.channel_id: claim.minimum for claim in ordered},
    )
    remaining = {
        claim.channel_id: max(quotas[claim.channel_id] - claim.taken, 0) for claim in ordered
    }
    if sum(remaining.values()) <= available:
        return remaining
    return largest_remainder(
        available, [(claim.channel_id, remaining[claim.channel_id]) for claim in ordered]
    )


def allocation_switched_on() -> Exists:
    """For a query over ChannelWarehouse: whether a channel selling from the same warehouse
    has allocation on (then the warehouse may be split)."""
    return Exists(
        ChannelWarehouse.objects.filter(
            warehouse=OuterRef("warehouse"),
            channel__is_active=True,
            channel__allocation_threshold__isnull=False,
        )
    )


def allocated_shares(
    *, channel_id: int, available: Mapping[tuple[int, int], int], now=None
) -> dict[tuple[int, int], int]:
    """The channel's share per (variant id, warehouse id) where the warehouse is split now.

    `available` holds each level's available units (holds past their expiry added back), for
    the active warehouses the channel sells from. Levels not split are left out. One query
    for who shares the warehouses, and one more for recent orders only when some level is
    at or below its threshold.
    """
    warehouse_ids = sorted({warehouse_id for _, warehouse_id in available})
    if not warehouse_ids:
        return {}
    sharers: dict[int, list[tuple[int, str, int | None, int]]] = {}
    for warehouse_id, sharer, code, threshold, minimum in ChannelWarehouse.objects.filter(
        warehouse_id__in=warehouse_ids, channel__is_active=True, warehouse__is_active=True
    ).values_list(
        "warehouse_id",
        "channel_id",
        "channel__code",
        "channel__allocation_threshold",
        "channel__allocation_minimum",
    ):
        sharers.setdefault(warehouse_id, []).append((sharer, code, threshold, minimum))
    thresholds = {
        warehouse_id: max(
            (threshold for _, _, threshold, _ in rows if threshold is not None), default=None
        )
        for warehouse_id, rows in sharers.items()
        if len(rows) > 1 and any(row[0] == channel_id for row in rows)
    }
    split = [
        key
        for key, units in available.items()
        if (split_at := thresholds.get(key[1])) is not None and units <= split_at
    ]
    if not split:
        return {}
    taken, earlier = _recent_orders(
        variant_ids={variant_id for variant_id, _ in split},
        warehouse_ids={warehouse_id for _, warehouse_id in split},
        channel_ids={row[0] for key in split for row in sharers[key[1]]},
        now=now or timezone.now(),
    )
    shares = {}
    for key in split:
        variant_id, warehouse_id = key
        claims = [
            Claim(
                channel_id=sharer_id,
                channel_code=code,
                weight=max(earlier.get((variant_id, warehouse_id, sharer_id), 0), 1),
                minimum=minimum,
                taken=taken.get((variant_id, warehouse_id, sharer_id), 0),
            )
            for sharer_id, code, _, minimum in sharers[warehouse_id]
        ]
        shares[key] = split_warehouse(available[key], claims)[channel_id]
    return shares


def _recent_orders(
    *, variant_ids: Iterable[int], warehouse_ids: Iterable[int], channel_ids: Iterable[int], now
) -> tuple[dict[tuple[int, int, int], int], dict[tuple[int, int, int], int]]:
    """Units per (variant, warehouse, channel) held or shipped for orders placed within the
    claim window, and in the weight window before it. Released and expired holds are not
    sales."""
    claim_since = now - timedelta(minutes=settings.STOCK_ALLOCATION_CLAIM_MINUTES)
    weigh_since = claim_since - timedelta(days=settings.STOCK_ALLOCATION_WEIGHT_DAYS)
    rows = (
        Allocation.objects.filter(
            line__variant_id__in=list(variant_ids),
            warehouse_id__in=list(warehouse_ids),
            line__order__channel_id__in=list(channel_ids),
            line__order__placed_at__gte=weigh_since,
        )
        .filter(
            Q(status=Allocation.Status.SHIPPED)
            | Q(status=Allocation.Status.HELD, expires_at__isnull=True)
            | Q(status=Allocation.Status.HELD, expires_at__gt=now)
        )
        .values("line__variant_id", "warehouse_id", "line__order__channel_id")
        .annotate(
            taken=Sum("quantity", filter=Q(line__order__placed_at__gte=claim_since)),
            earlier=Sum("quantity", filter=Q(line__order__placed_at__lt=claim_since)),
        )
    )
    taken: dict[tuple[int, int, int], int] = {}
    earlier: dict[tuple[int, int, int], int] = {}
    for row in rows:
        key = (row["line__variant_id"], row["warehouse_id"], row["line__order__channel_id"])
        taken[key] = row["taken"] or 0
        earlier[key] = row["earlier"] or 0
    return taken, earlier
