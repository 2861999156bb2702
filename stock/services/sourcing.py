"""Source selection: which warehouses hold each line of an order.

Pure functions over plain data, so that the rules can be read and tested on their own;
`place_order` calls `plan_allocations` with balances read under lock.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Candidate:
    warehouse_id: int
    warehouse_code: str
    priority: int
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(frozen=True, slots=True)
class LineRequest:
    line_number: int
    variant_id: int
    quantity: int
    allows_backorders: bool


@dataclass(slots=True)
class LinePlan:
    line_number: int
    allocations: list[tuple[int, int]] = field(default_factory=list)  # (warehouse id, qty)
    backordered: int = 0
    short_by: int = 0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def plan_allocations(
    *,
    strategy: str,
    candidates: list[Candidate],
    lines: list[LineRequest],
    available: dict[tuple[int, int], int],
    shipping: tuple[float, float] | None,
) -> list[LinePlan]:
    """Decide where each line is held.

    Each line comes whole from the first warehouse, in the strategy's order, that can cover
    it; it is split (filling in that order) only when none can. Among warehouses the
    strategy ranks equal, the one covering more of the order's lines goes first, so the
    order needs as few warehouses as possible. What no warehouse covers is backordered at
    the first warehouse when the variant allows it, and reported short otherwise.
    `available` maps (variant id, warehouse id) to what may still be promised.
    """
    remaining = dict(available)
    coverage = {
        candidate.warehouse_id: sum(
            1
            for line in lines
            if remaining.get((line.variant_id, candidate.warehouse_id), 0) >= line.quantity
        )
        for candidate in candidates
    }
    distance = _distances(candidates, shipping) if strategy == "distance" else {}
    plans = []
    for line in lines:
        order = sorted(
            candidates,
            key=lambda c: _rank(strategy, c, line, remaining, coverage, distance),
        )
        plan = LinePlan(line_number=line.line_number)
        whole = next(
            (
                c
                for c in order
                if remaining.get((line.variant_id, c.warehouse_id), 0) >= line.quantity
            ),
            None,
        )
        if whole is not None:
            plan.allocations.append((whole.warehouse_id, line.quantity))
            remaining[(line.variant_id, whole.warehouse_id)] -= line.quantity
        else:
            needed = line.quantity
            for candidate in order:
                key = (line.variant_id, candidate.warehouse_id)
                take = min(max(remaining.get(key, 0), 0), needed)
                if take:
                    plan.allocations.append((candidate.warehouse_id, take))
                    remaining[key] -= take
                    needed -= take
                if not needed:
                    break
            if needed and line.allows_backorders and order:
                plan.backordered = needed
                first = order[0].warehouse_id
                _add(plan.allocations, first, needed)
            elif needed:
                plan.short_by = needed
        plans.append(plan)
    return plans


def _add(allocations: list[tuple[int, int]], warehouse_id: int, quantity: int) -> None:
    for index, (existing, held) in enumerate(allocations):
        if existing == warehouse_id:
            allocations[index] = (existing, held + quantity)
            return
    allocations.append((warehouse_id, quantity))


def _distances(
    candidates: list[Candidate], shipping: tuple[float, float] | None
) -> dict[int, float]:
    if shipping is None:
        return {}
    return {
        c.warehouse_id: haversine_km(
            shipping[0], shipping[1], float(c.latitude), float(c.longitude)
        )
        for c in candidates
        if c.latitude is not None and c.longitude is not None
    }


def _rank(
    strategy: str,
    candidate: Candidate,
    line: LineRequest,
    remaining: dict[tuple[int, int], int],
    coverage: dict[int, int],
    distance: dict[int, float],
) -> tuple:
    tie_break = (-coverage[candidate.warehouse_id], candidate.priority, candidate.warehouse_code)
    if strategy == "most_stock":
        return (-remaining.get((line.variant_id, candidate.warehouse_id), 0), *tie_break)
    if strategy == "distance" and distance:
        # Whole kilometres: warehouses a few hundred metres apart count as equally near.
        # Those without coordinates go last; with no shipping address, priority decides.
        km = distance.get(candidate.warehouse_id)
        return (km is None, round(km) if km is not None else 0, *tie_break)
    return (candidate.priority, -coverage[candidate.warehouse_id], candidate.warehouse_code)
