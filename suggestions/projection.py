"""Projected sellable quantity by date for a level, and what arrives there by when.

The projection starts from the level's available units (on hand - reserved - unsellable -
the level's own safety stock; reserved includes what approved transfers hold), adds what
arrives each day and takes off a day of forecast demand per day. It runs out on the first
day it closes at or below zero.

What arrives, and when (`arrivals_by_level`):
- a shipped or partially received transfer's units on the road to the warehouse, on the
  UTC day of its `due_at` (shipped + the lane's lead time); an overdue one counts as
  arriving today, one without a due time after the warehouse's lead time;
- units sent back to the source after a cancellation, after the source's lead time;
- an approved or picked transfer's units (held at the source, not shipped yet), its lane's
  lead time from today, so a review does not send the same need twice;
- the rest of the level's inbound (purchase orders and other receipts announced without a
  date) after the warehouse's own lead time (`Warehouse.lead_time_days`): not today, as
  nothing says it is on the dock, and not never.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.db.models import F

from stock.models import StockLevel
from transfers.models import TransferLine, TransferState
from transfers.selectors import HOLDING_STATES, IN_TRANSIT, ON_THE_ROAD, RETURNING
from warehouses.models import Warehouse

LevelKey = tuple[int, int]  # (variant_id, warehouse_id)
# (days from today, units), soonest first.
Arrivals = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ProjectionPoint:
    day: date
    # Sellable units at the close of the day, as forecast (fractional: demand is a rate).
    quantity: float
    arriving: int


@dataclass(frozen=True, slots=True)
class Projection:
    start: int
    daily_demand: float
    points: tuple[ProjectionPoint, ...]
    # The first day the projection closes at or below zero; None: not within the horizon.
    runs_out_on: date | None


def project(
    *, today: date, available: int, daily_demand: float, arrivals: Arrivals, days: int
) -> Projection:
    """Day 0 is today as it stands (with anything overdue landed); each later day adds its
    arrivals and takes off one day of demand."""
    by_day: dict[int, int] = defaultdict(int)
    for offset, units in arrivals:
        by_day[max(offset, 0)] += units
    quantity = float(available + by_day[0])
    points = [ProjectionPoint(today, quantity, by_day[0])]
    for offset in range(1, days + 1):
        quantity += by_day[offset] - daily_demand
        points.append(ProjectionPoint(today + timedelta(days=offset), quantity, by_day[offset]))
    runs_out_on = next((point.day for point in points if point.quantity <= 0), None)
    return Projection(available, daily_demand, tuple(points), runs_out_on)


def arrivals_by_level(
    *,
    today: date,
    variant_ids: Iterable[int] | None = None,
    lead_times: dict[int, int] | None = None,
) -> dict[LevelKey, Arrivals]:
    """Per level (of `variant_ids` when given): what arrives there and when, in days from
    `today`. `lead_times` are the warehouses' own `lead_time_days` by id (read when not
    given). Approved and picked transfers count at the destination a lane's lead time from
    today. Three or four queries whatever the number of levels."""
    ids = None if variant_ids is None else list(variant_ids)
    if lead_times is None:
        lead_times = dict(Warehouse.objects.values_list("pk", "lead_time_days"))
    arriving: dict[LevelKey, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    on_transfers: dict[LevelKey, int] = defaultdict(int)

    lines = TransferLine.objects.filter(
        transfer__state__in=(*ON_THE_ROAD, TransferState.CANCELLED)
    ).annotate(units=IN_TRANSIT, back=RETURNING, state=F("transfer__state"))
    if ids is not None:
        lines = lines.filter(variant_id__in=ids)
    for variant_id, state, source_id, destination_id, due_at, units, back in lines.values_list(
        "variant_id",
        "state",
        "transfer__source_id",
        "transfer__destination_id",
        "transfer__due_at",
        "units",
        "back",
    ):
        if state == TransferState.CANCELLED:
            if back > 0:
                arriving[variant_id, source_id][lead_times.get(source_id, 0)] += back
                on_transfers[variant_id, source_id] += back
        elif units > 0:
            if due_at is None:
                offset = lead_times.get(destination_id, 0)
            else:
                offset = max((due_at.astimezone(UTC).date() - today).days, 0)
            arriving[variant_id, destination_id][offset] += units
            on_transfers[variant_id, destination_id] += units

    # Approved or picked, not shipped yet: held at the source, and due at the destination a
    # lane's lead time after it leaves (today at the earliest).
    held = TransferLine.objects.filter(transfer__state__in=HOLDING_STATES)
    if ids is not None:
        held = held.filter(variant_id__in=ids)
    for variant_id, destination_id, quantity, lane_lead in held.values_list(
        "variant_id", "transfer__destination_id", "quantity", "transfer__lane__lead_time_days"
    ):
        offset = lane_lead if lane_lead is not None else lead_times.get(destination_id, 0)
        arriving[variant_id, destination_id][offset] += quantity

    levels = StockLevel.objects.filter(inbound__gt=0)
    if ids is not None:
        levels = levels.filter(variant_id__in=ids)
    for variant_id, warehouse_id, inbound in levels.values_list(
        "variant_id", "warehouse_id", "inbound"
    ):
        key = (variant_id, warehouse_id)
        undated = inbound - on_transfers.get(key, 0)
        if undated > 0:
            arriving[key][lead_times.get(warehouse_id, 0)] += undated
    return {key: tuple(sorted(days.items())) for key, days in arriving.items()}


def total_arriving(arrivals: Sequence[tuple[int, int]]) -> int:
    return sum(units for _, units in arrivals)
