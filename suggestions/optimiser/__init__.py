"""The optimiser: positions, forecasts, lanes and a policy in, suggested moves out.

Pure: no database, no Django. The hub's reviews (`suggestions.services.reviews`) and the
replay benchmark (`bench/transfers_replay.py`) both call `optimise`.

The model (docs/adr/0012-transfer-suggestions-marginal-value.md):

- A unit sent to a receiver is worth the sale it may save there. It lands after the lane's
  lead time L and serves the demand of the review period R that the stock left by then
  does not cover: the k-th unit's chance of a sale is P(D_R - max(stock - D_L, 0) ≥ k)
  (`curves.window_values`), with Poisson or negative binomial demand from the forecast.
- A unit taken from a donor may cost it a sale before it could itself be refilled:
  P(D_H ≥ stock - k + 1) over H = R + its fastest inbound lead time.
- Both are priced at the merchant's cost of a lost sale; lanes cost per unit and per
  shipment. Values fall and costs rise unit by unit, so the moves form a transportation
  problem with concave gains, solved by HiGHS (`program.py`) with lane binaries for
  shipment costs, minimums and capacities.
- Hard limits: a source never gives below `source_minimum` nor more than it has available;
  inactive lanes are closed; a route is closed for a SKU that moved the other way within
  `policy.no_return_days` (`recent_moves`); a warehouse is a receiver or a donor of a SKU,
  never both; a lane ships nothing or at least its minimum and at most its capacity.
"""

import math
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable

import numpy as np

from suggestions.optimiser import curves
from suggestions.optimiser.network import Arc, Lanes, receiver_flags, sku_arcs
from suggestions.optimiser.program import arc_gains, plan_flows
from suggestions.plan import LaneSpec, LimitedBy, Move, Plan, Policy, Position, Reason

__all__ = ["optimise"]


def optimise(
    positions: Iterable[Position],
    lanes: Iterable[LaneSpec],
    policy: Policy,
    *,
    recent_moves: Iterable[tuple[Hashable, Hashable, Hashable]] = (),
) -> Plan:
    """Moves that maximise the expected sales saved, priced at the policy's cost of a lost
    sale, minus the lanes' costs (per unit, and per shipment once per lane).

    `recent_moves` are (sku, source, destination) moved within `policy.no_return_days`: the
    reverse route is closed for that SKU. Every move carries a `Reason`.
    """
    started = time.perf_counter()
    open_lanes = Lanes.of(lanes)
    blocked = {(sku, destination, source) for sku, source, destination in recent_moves}
    positions = list(positions)
    flags = receiver_flags(positions, open_lanes, policy)
    by_sku: dict[Hashable, list[tuple[Position, bool]]] = defaultdict(list)
    for position, is_receiver in zip(positions, flags.tolist(), strict=True):
        by_sku[position.sku].append((position, is_receiver))
    groups = [
        group
        for sku, rows in by_sku.items()
        if (group := sku_arcs(sku, rows, open_lanes, blocked, policy))
    ]
    prepared = time.perf_counter()
    stats: dict = {
        "skus": len(by_sku),
        "candidate_skus": len(groups),
        "arcs": sum(len(group) for group in groups),
    }
    moves: list[Move] = []
    if groups:
        flows, solve_stats = plan_flows(groups, policy)
        stats.update(solve_stats)
        moves = _moves(flows, policy)
    stats["moves"] = len(moves)
    stats["prepare_seconds"] = round(prepared - started, 3)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return Plan(moves=moves, stats=stats)


def _moves(flows: dict[Arc, float], policy: Policy) -> list[Move]:
    units = {arc: math.floor(flow + 1e-6) for arc, flow in flows.items()}
    # A fractional flow rounded down can leave a lane under its minimum: then it ships
    # nothing rather than break the minimum.
    lane_units: dict = defaultdict(int)
    for arc, quantity in units.items():
        lane_units[arc.route] += quantity
    for arc in units:
        if 0 < lane_units[arc.route] < arc.lane.minimum_quantity:
            units[arc] = 0
    lane_units.clear()
    given: dict = defaultdict(int)
    taken: dict = defaultdict(int)
    for arc, quantity in units.items():
        lane_units[arc.route] += quantity
        given[arc.donor] += quantity
        taken[arc.receiver] += quantity
    gains = arc_gains(units)
    windows = {
        receiver: curves.window_values(
            receiver.position,
            stock=receiver.stock,
            lead=receiver.lead_in,
            review=policy.review_days,
            units=count,
        )
        for receiver, count in taken.items()
        if count > 0
    }
    return [
        Move(
            sku=arc.sku,
            source=arc.donor.position.warehouse,
            destination=arc.receiver.position.warehouse,
            quantity=quantity,
            lead_time_days=arc.lane.lead_time_days,
            reason=_reason(
                arc,
                quantity,
                saved=gains[arc],
                window=windows[arc.receiver],
                given=given[arc.donor],
                taken=taken[arc.receiver],
                lane_units=lane_units[arc.route],
                policy=policy,
            ),
        )
        for arc, quantity in units.items()
        if quantity > 0
    ]


def _cover(stock: float, daily_demand: float) -> float | None:
    if daily_demand <= 0:
        return None
    return round(stock / daily_demand, 1)


def _limited_by(arc: Arc, *, given: int, taken: int, lane_units: int) -> LimitedBy:
    lane = arc.lane
    if lane.capacity is not None and lane_units >= lane.capacity:
        return "lane_capacity"
    if given >= arc.donor.supply:
        return "donor_minimum"
    if lane.minimum_quantity and lane_units == lane.minimum_quantity:
        return "lane_minimum"
    return "forecast"


def _reason(
    arc: Arc,
    quantity: int,
    *,
    saved: float,
    window: np.ndarray,
    given: int,
    taken: int,
    lane_units: int,
    policy: Policy,
) -> Reason:
    donor, receiver, lane = arc.donor, arc.receiver, arc.lane
    return Reason(
        limited_by=_limited_by(arc, given=given, taken=taken, lane_units=lane_units),
        donor_cover_before_days=_cover(donor.stock, donor.position.daily_demand),
        donor_cover_after_days=_cover(donor.stock - given, donor.position.daily_demand),
        donor_minimum=donor.minimum,
        receiver_cover_before_days=_cover(receiver.stock, receiver.position.daily_demand),
        receiver_cover_after_days=_cover(receiver.stock + taken, receiver.position.daily_demand),
        receiver_risk_before=round(float(window[0]), 4),
        receiver_risk_after=round(float(window[taken]), 4),
        expected_units_saved=round(saved, 2),
        value=round(saved * policy.cost_of_lost_sale, 2),
        cost=round(
            quantity * lane.cost_per_unit + lane.cost_per_shipment * quantity / max(lane_units, 1),
            2,
        ),
    )
