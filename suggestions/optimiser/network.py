"""A SKU's candidates: which warehouses could receive, which could give, and the routes
between them, with each node's curve of value (receivers) or cost (donors) per unit."""

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np

from suggestions.optimiser import curves
from suggestions.plan import LaneSpec, Policy, Position, source_minimum


@dataclass(slots=True, eq=False)
class Node:
    """One SKU at one warehouse inside the programme: a receiver or a donor, never both."""

    position: Position
    is_receiver: bool
    # Units counted as there for its window (available + what arrives within it).
    stock: int
    lead_in: int  # fastest inbound lead time that can serve it
    supply: int = 0  # units a donor may give
    minimum: int = 0  # units a donor keeps
    # Per-unit chance of a sale won (receivers) or lost (donors), unit 1 first.
    marginal: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(slots=True, eq=False)
class Arc:
    sku: Hashable
    donor: Node
    receiver: Node
    lane: LaneSpec

    @property
    def route(self) -> tuple[Hashable, Hashable]:
        return (self.lane.source, self.lane.destination)


@dataclass(frozen=True, slots=True)
class Lanes:
    """The open lanes, and per destination its fastest lead time and cheapest unit cost."""

    by_route: dict[tuple[Hashable, Hashable], LaneSpec]
    fastest_in: dict[Hashable, int]
    cheapest_in: dict[Hashable, float]

    @classmethod
    def of(cls, lanes: Iterable[LaneSpec]) -> "Lanes":
        by_route = {(lane.source, lane.destination): lane for lane in lanes if lane.is_active}
        fastest: dict[Hashable, int] = {}
        cheapest: dict[Hashable, float] = {}
        for lane in by_route.values():
            fastest[lane.destination] = min(
                fastest.get(lane.destination, lane.lead_time_days), lane.lead_time_days
            )
            cheapest[lane.destination] = min(
                cheapest.get(lane.destination, math.inf), lane.cost_per_unit
            )
        return cls(by_route=by_route, fastest_in=fastest, cheapest_in=cheapest)


def sku_arcs(
    sku: Hashable,
    rows: list[tuple[Position, bool]],
    lanes: Lanes,
    blocked: set[tuple[Hashable, Hashable, Hashable]],
    policy: Policy,
) -> list[Arc]:
    """The routes worth considering for one SKU, with their nodes' curves filled in.

    `rows` pair each position with its receiver flag (`receiver_flags`); a warehouse that is
    not a receiver is a donor when it holds more than its minimum.
    """
    receivers, donors = _split(rows, lanes, policy)
    if not receivers or not donors:
        return []
    arcs = [
        Arc(sku=sku, donor=donor, receiver=receiver, lane=lanes.by_route[route])
        for receiver in receivers
        for donor in donors
        if (route := (donor.position.warehouse, receiver.position.warehouse)) in lanes.by_route
        and (sku, *route) not in blocked
    ]
    if not arcs:
        return []
    total_supply = sum(donor.supply for donor in donors)
    for receiver in receivers:
        _receiver_curve(
            receiver, [arc for arc in arcs if arc.receiver is receiver], total_supply, policy
        )
    arcs = [arc for arc in arcs if arc.receiver.marginal.size]
    for donor in {id(arc.donor): arc.donor for arc in arcs}.values():
        donor.marginal = curves.giving_costs(
            donor.position,
            stock=donor.stock,
            horizon=policy.review_days + donor.lead_in,
            units=donor.supply,
        )
    return arcs


def receiver_flags(positions: list[Position], lanes: Lanes, policy: Policy) -> np.ndarray:
    """Per position: could even its first unit be worth more than its cheapest inbound unit
    cost? P(D over lead + review ≥ stock + 1) bounds that value from above (all at once)."""
    review = policy.review_days
    count = len(positions)
    means, variances, stocks, thresholds = (np.zeros(count) for _ in range(4))
    for index, position in enumerate(positions):
        lead = lanes.fastest_in.get(position.warehouse)
        if lead is None:
            continue
        days = lead + review
        means[index] = max(position.daily_demand, 0.0) * days
        variances[index] = position.daily_error**2 * days
        stocks[index] = max(position.available, 0) + position.arriving_within(days)
        thresholds[index] = lanes.cheapest_in[position.warehouse]
    chances = curves.first_unit_chances(means, variances, stocks)
    return policy.cost_of_lost_sale * chances > thresholds


def _split(
    rows: list[tuple[Position, bool]], lanes: Lanes, policy: Policy
) -> tuple[list[Node], list[Node]]:
    review = policy.review_days
    receivers: list[Node] = []
    donors: list[Node] = []
    for position, is_receiver in rows:
        holding = max(position.available, 0)
        lead = lanes.fastest_in.get(position.warehouse)
        if is_receiver and lead is not None:
            stock = holding + position.arriving_within(lead + review)
            receivers.append(Node(position=position, is_receiver=True, stock=stock, lead_in=lead))
            continue
        own = holding + position.arriving_within(review)
        floor = source_minimum(position, policy)
        supply = min(holding, own - floor)
        if supply > 0:
            donors.append(
                Node(
                    position=position,
                    is_receiver=False,
                    stock=own,
                    lead_in=lead or 0,
                    supply=supply,
                    minimum=floor,
                )
            )
    return receivers, donors


def _receiver_curve(receiver: Node, feeding: list[Arc], total_supply: int, policy: Policy) -> None:
    """Values per unit over the window of its fastest feeding lane, cut where a unit no longer
    pays even the cheapest feeding lane's unit cost (but not short of a lane's minimum)."""
    if not feeding:
        return
    lead = min(arc.lane.lead_time_days for arc in feeding)
    floor_cost = min(arc.lane.cost_per_unit for arc in feeding)
    position = receiver.position
    receiver.lead_in = lead
    receiver.stock = max(position.available, 0) + position.arriving_within(
        lead + policy.review_days
    )
    units = min(
        total_supply, max(curves.upper(position, lead + policy.review_days) - receiver.stock, 0)
    )
    values = curves.window_values(
        position, stock=receiver.stock, lead=lead, review=policy.review_days, units=units
    )[1:]
    # Units a lane's minimum may require are kept even when they do not pay on their own.
    keep = max(
        int(np.count_nonzero(policy.cost_of_lost_sale * values > floor_cost)),
        min(max(arc.lane.minimum_quantity for arc in feeding), values.size),
    )
    receiver.marginal = values[:keep]
