"""The optimiser's input built from the hub's rows: positions, lanes, policy and the moves
it must not reverse (`build_review_input`).

A position is one level of a managed, active variant at an active warehouse that has a
forecast. A level without a `Forecast` row is left out (the next forecast refresh adds it):
with no forecast there is neither a demand to serve nor a cover to give away. Its
`available` is the level's available (on hand - reserved, transfer holds included -
unsellable - the level's safety stock), never below zero; `arriving` is what
`suggestions.projection.arrivals_by_level` finds (transfers on the road by due date, returns,
undated inbound after the warehouse's lead time); `minimum` is 0, as the level's safety
stock is already outside `available`.

Lanes are every lane, as `LaneSpec` with warehouse ids; a lane is inactive when it is, or
when either of its warehouses is.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from stock.models import StockLevel
from stock.services.history import utc_today
from transfers.models import Lane, TransferLine, TransferState
from warehouses.models import Warehouse

from .models import Forecast
from .plan import LaneSpec, Policy, Position
from .projection import arrivals_by_level
from .selectors import current_settings

Route = tuple[int, int]  # (source_id, destination_id)


@dataclass(slots=True)
class ReviewInput:
    today: date
    positions: list[Position] = field(default_factory=list)
    lanes: list[LaneSpec] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)
    # (variant_id, source_id, destination_id) of every transfer not cancelled that was
    # created or shipped within the policy's no-return days.
    recent_moves: set[tuple[int, int, int]] = field(default_factory=set)
    lane_ids: dict[Route, int] = field(default_factory=dict)


def build_review_input(
    *, variant_ids: Iterable[int] | None = None, today: date | None = None
) -> ReviewInput:
    """Everything one review needs, in eight queries whatever the number of levels (three
    more the first time, to create the settings)."""
    today = today or utc_today()
    ids = None if variant_ids is None else list(variant_ids)
    settings = current_settings()
    policy = Policy(
        cost_of_lost_sale=float(settings.cost_of_lost_sale),
        review_days=settings.review_days,
        source_cover_days=float(settings.source_cover_days),
    )
    warehouses = Warehouse.objects.values_list("pk", "lead_time_days", "is_active")
    lead_times = {pk: days for pk, days, _ in warehouses}
    active_warehouses = {pk for pk, _, is_active in warehouses if is_active}
    review = ReviewInput(today=today, policy=policy)
    review.positions = _positions(ids, today, active_warehouses, lead_times)
    for lane in Lane.objects.order_by("pk"):
        review.lanes.append(
            LaneSpec(
                source=lane.source_id,
                destination=lane.destination_id,
                lead_time_days=lane.lead_time_days,
                cost_per_unit=float(lane.cost_per_unit),
                cost_per_shipment=float(lane.cost_per_shipment),
                minimum_quantity=lane.minimum_quantity,
                capacity=lane.capacity_units,
                is_active=lane.is_active
                and lane.source_id in active_warehouses
                and lane.destination_id in active_warehouses,
            )
        )
        review.lane_ids[lane.source_id, lane.destination_id] = lane.pk
    review.recent_moves = recent_moves(
        since=timezone.now() - timedelta(days=policy.no_return_days), variant_ids=ids
    )
    return review


def _positions(
    ids: list[int] | None, today: date, warehouses: set[int], lead_times: dict[int, int]
) -> list[Position]:
    forecasts = Forecast.objects.all()
    levels = StockLevel.objects.filter(variant__manage_stock=True, variant__is_active=True)
    if ids is not None:
        forecasts = forecasts.filter(variant_id__in=ids)
        levels = levels.filter(variant_id__in=ids)
    demand = {
        (variant_id, warehouse_id): (daily_demand, daily_error)
        for variant_id, warehouse_id, daily_demand, daily_error in forecasts.values_list(
            "variant_id", "warehouse_id", "daily_demand", "daily_error"
        )
    }
    arrivals = arrivals_by_level(today=today, variant_ids=ids, lead_times=lead_times)
    positions = []
    for variant_id, warehouse_id, available in levels.order_by(
        "variant_id", "warehouse_id"
    ).values_list("variant_id", "warehouse_id", "available"):
        key = (variant_id, warehouse_id)
        forecast = demand.get(key)
        if forecast is None or warehouse_id not in warehouses:
            continue
        positions.append(
            Position(
                sku=variant_id,
                warehouse=warehouse_id,
                available=max(available, 0),
                daily_demand=forecast[0],
                daily_error=forecast[1],
                arriving=arrivals.get(key, ()),
            )
        )
    return positions


def recent_moves(
    *, since: datetime, variant_ids: Iterable[int] | None = None
) -> set[tuple[int, int, int]]:
    """(variant_id, source_id, destination_id) of transfers not cancelled that were created
    or shipped since `since` (one query)."""
    lines = TransferLine.objects.filter(
        Q(transfer__created_at__gte=since) | Q(transfer__shipped_at__gte=since)
    ).exclude(transfer__state=TransferState.CANCELLED)
    if variant_ids is not None:
        lines = lines.filter(variant_id__in=list(variant_ids))
    return set(lines.values_list("variant_id", "transfer__source_id", "transfer__destination_id"))
