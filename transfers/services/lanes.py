"""Lanes: the routes transfers take, with their lead time, costs, minimum quantity and
capacity.

A lane is never deleted (transfers refer to it); it is retired with `is_active=False`.
Changing a lane changes what later transfers expect, never a transfer already made.
"""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from transfers.errors import InvalidLane
from transfers.models import Lane
from warehouses.models import Warehouse

LANE_FIELDS = frozenset(
    {
        "lead_time_days",
        "cost_per_unit",
        "cost_per_shipment",
        "minimum_quantity",
        "capacity_units",
        "is_active",
    }
)
# Lead times beyond a year are a typo, not a lane.
MAX_LEAD_TIME_DAYS = 365
MAX_COST = Decimal("9999999999.99")
MAX_CAPACITY = 1_000_000_000


def create_lane(
    *, source: Warehouse, destination: Warehouse, lead_time_days: int, **details: object
) -> Lane:
    """A lane from `source` to `destination`; a route that has one already is refused."""
    if source.pk == destination.pk:
        raise InvalidLane("A lane joins two different warehouses.", {"field": "destination"})
    values = _checked({"lead_time_days": lead_time_days, **details})
    _check_capacity_holds_minimum(
        values.get("minimum_quantity", 0),
        values.get("capacity_units"),
    )
    try:
        with transaction.atomic():
            return Lane.objects.create(source=source, destination=destination, **values)
    except IntegrityError:
        raise InvalidLane(
            f"A lane from {source.code} to {destination.code} exists already.",
            {"field": "destination"},
        ) from None


def update_lane(*, lane: Lane, **changes: object) -> Lane:
    """Change a lane's lead time, costs, minimum, capacity or active flag, all or nothing."""
    values = _checked(changes)
    _check_capacity_holds_minimum(
        values.get("minimum_quantity", lane.minimum_quantity),
        values.get("capacity_units", lane.capacity_units),
    )
    with transaction.atomic():
        for name, value in values.items():
            setattr(lane, name, value)
        if values:
            lane.save(update_fields=sorted(values))
    return lane


def _checked(values: dict[str, object]) -> dict[str, object]:
    unknown = sorted(set(values) - LANE_FIELDS)
    if unknown:
        raise InvalidLane(f"Unknown lane field(s): {', '.join(unknown)}.", {"field": unknown[0]})
    checked: dict[str, object] = {}
    for name, value in values.items():
        if name == "is_active":
            if not isinstance(value, bool):
                raise InvalidLane("is_active must be true or false.", {"field": name})
            checked[name] = value
        elif name.startswith("cost_"):
            checked[name] = _cost(name, value)
        elif name == "capacity_units":
            # Empty: no limit. A capacity of 0 would be a lane nothing can travel.
            checked[name] = None if value is None else _whole(name, value, MAX_CAPACITY, low=1)
        else:
            limit = MAX_LEAD_TIME_DAYS if name == "lead_time_days" else 1_000_000_000
            checked[name] = _whole(name, value, limit)
    return checked


def _whole(name: str, value: object, limit: int, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= limit:
        raise InvalidLane(f"{name} must be a whole number from {low} to {limit}.", {"field": name})
    return value


def _check_capacity_holds_minimum(minimum: object, capacity: object) -> None:
    # A shipment must reach the minimum and fit the capacity: both at once must be possible.
    # Both were checked by _checked (whole numbers; capacity may be None).
    if isinstance(capacity, int) and isinstance(minimum, int) and capacity < minimum:
        raise InvalidLane(
            f"capacity_units ({capacity}) is below the lane's minimum quantity ({minimum}).",
            {"field": "capacity_units"},
        )


def _cost(name: str, value: object) -> Decimal:
    try:
        cost = Decimal(str(value)) if isinstance(value, int | str | Decimal) else None
    except InvalidOperation:
        cost = None
    if isinstance(value, bool) or cost is None or not cost.is_finite() or cost < 0:
        raise InvalidLane(f"{name} must be an amount of 0 or more.", {"field": name})
    if cost > MAX_COST or cost != cost.quantize(Decimal("0.01")):
        raise InvalidLane(
            f"{name} must be at most {MAX_COST}, with at most 2 decimals.", {"field": name}
        )
    return cost
