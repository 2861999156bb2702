"""The programme HiGHS solves (`scipy.optimize.milp`), and how a big review is split.

Columns: one flow per arc (its lane's unit cost), one per segment of each node's curve
(receivers earn the cost of a lost sale times the segment's mean chance of a sale; donors
pay it), and, when lanes are coupled, one binary per lane that pays its shipment cost and
bounds its total between its minimum and its capacity. Rows: per node, the flow in (or
out) equals its segments' units.

Up to EXACT_VARIABLES columns, every SKU goes into one programme with the lane binaries:
the exact optimum (within MIP_GAP). Beyond that, SKUs are solved in chunks without lane
coupling, then a lane gate closes each lane whose expected gain does not pay its shipment
cost or whose total stays under its minimum, and re-solves the SKUs that used it; finally
the SKUs on a lane over its capacity are solved together with that lane's capacity row.
"""

import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from enum import Enum

import numpy as np
from scipy import optimize, sparse

from suggestions.optimiser.network import Arc, Node
from suggestions.plan import Policy

# Segments of a node's value curve: units beyond the first few are grouped.
BLOCKS = 12
EXACT_VARIABLES = 60_000
CHUNK_VARIABLES = 30_000
GATE_ROUNDS = 4
MIP_GAP = 1e-4
SOLVER_SECONDS = 60.0


class Coupling(Enum):
    NONE = "none"  # SKUs independent: lanes' shipment costs, minimums and capacities ignored
    CAPACITY = "capacity"  # lanes' capacities bind across SKUs
    FULL = "full"  # lane binaries: shipment costs, minimums and capacities


Flows = dict[Arc, float]


def plan_flows(groups: list[list[Arc]], policy: Policy) -> tuple[Flows, dict]:
    """Units per arc that maximise the expected sales saved, priced, minus lane costs."""
    stats: dict = {"solves": 0, "solver_seconds": 0.0, "lanes_closed_by_gate": 0}
    size = sum(_columns(group) for group in groups)
    stats["variables"] = size
    if size <= EXACT_VARIABLES:
        stats["method"] = "exact"
        return _solve(groups, policy, Coupling.FULL, stats), stats
    stats["method"] = "lane_gate"
    flows: Flows = {}
    pending = groups
    closed: set = set()
    for _ in range(GATE_ROUNDS):
        for chunk in _chunks(pending):
            flows.update(_solve(chunk, policy, Coupling.NONE, stats))
        newly = _failing_lanes(flows, policy) - closed
        if not newly:
            break
        closed |= newly
        pending = []
        for index, group in enumerate(groups):
            if any(arc.route in newly for arc in group):
                for arc in group:
                    flows[arc] = 0.0
                groups[index] = [arc for arc in group if arc.route not in closed]
                pending.append(groups[index])
        pending = [group for group in pending if group]
    stats["lanes_closed_by_gate"] = len(closed)
    over = _over_capacity(flows)
    if over:
        crowded = [group for group in groups if any(arc.route in over for arc in group)]
        flows.update(_solve(crowded, policy, Coupling.CAPACITY, stats))
    return flows, stats


def arc_gains(flows: Mapping[Arc, float]) -> dict[Arc, float]:
    """Each arc's share of its receiver's expected sales won minus its donor's expected sales
    lost, in units, for whole-unit flows."""
    taken: dict[Node, int] = defaultdict(int)
    given: dict[Node, int] = defaultdict(int)
    for arc, flow in flows.items():
        taken[arc.receiver] += int(flow)
        given[arc.donor] += int(flow)
    gains = {}
    for arc, flow in flows.items():
        units = int(flow)
        if units <= 0:
            continue
        won = (
            float(arc.receiver.marginal[: taken[arc.receiver]].sum()) * units / taken[arc.receiver]
        )
        lost = float(arc.donor.marginal[: given[arc.donor]].sum()) * units / given[arc.donor]
        gains[arc] = won - lost
    return gains


def _failing_lanes(flows: Flows, policy: Policy) -> set:
    gain: dict = defaultdict(float)
    units: dict = defaultdict(int)
    lanes = {}
    for arc, saved in arc_gains(flows).items():
        quantity = int(flows[arc])
        gain[arc.route] += saved * policy.cost_of_lost_sale - quantity * arc.lane.cost_per_unit
        units[arc.route] += quantity
        lanes[arc.route] = arc.lane
    return {
        route
        for route, lane in lanes.items()
        if gain[route] < lane.cost_per_shipment or units[route] < lane.minimum_quantity
    }


def _over_capacity(flows: Flows) -> set:
    units: dict = defaultdict(float)
    capacity = {}
    for arc, flow in flows.items():
        if arc.lane.capacity is not None:
            units[arc.route] += flow
            capacity[arc.route] = arc.lane.capacity
    return {route for route, total in units.items() if total > capacity[route] + 1e-6}


def _columns(group: list[Arc]) -> int:
    nodes = {arc.receiver for arc in group} | {arc.donor for arc in group}
    return len(group) + sum(min(BLOCKS, node.marginal.size) for node in nodes)


def _chunks(groups: list[list[Arc]]) -> Iterator[list[list[Arc]]]:
    chunk: list[list[Arc]] = []
    size = 0
    for group in groups:
        columns = _columns(group)
        if chunk and size + columns > CHUNK_VARIABLES:
            yield chunk
            chunk, size = [], 0
        chunk.append(group)
        size += columns
    if chunk:
        yield chunk


def _segments(marginal: np.ndarray) -> tuple[list[int], list[float]]:
    """At most BLOCKS segments of a per-unit curve: (units, mean chance per unit)."""
    if marginal.size <= BLOCKS:
        return [1] * marginal.size, marginal.tolist()
    starts = np.linspace(0, marginal.size, BLOCKS + 1).astype(int)
    sizes = np.diff(starts)
    means = np.add.reduceat(marginal, starts[:-1]) / sizes
    return sizes.tolist(), means.tolist()


class _Programme:
    def __init__(self) -> None:
        self.costs: list[float] = []
        self.upper: list[float] = []
        self.integral: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower_rows: list[float] = []
        self.upper_rows: list[float] = []

    def column(self, cost: float, bound: float, *, integral: bool = False) -> int:
        self.costs.append(cost)
        self.upper.append(bound)
        self.integral.append(1 if integral else 0)
        return len(self.costs) - 1

    def row(self, terms: list[tuple[int, float]], lower: float, upper: float) -> None:
        index = len(self.lower_rows)
        for column, value in terms:
            self.rows.append(index)
            self.cols.append(column)
            self.vals.append(value)
        self.lower_rows.append(lower)
        self.upper_rows.append(upper)

    def solve(self):
        matrix = sparse.csr_array(
            (self.vals, (self.rows, self.cols)), shape=(len(self.lower_rows), len(self.costs))
        )
        return optimize.milp(
            c=np.asarray(self.costs),
            integrality=np.asarray(self.integral),
            bounds=optimize.Bounds(np.zeros(len(self.costs)), np.asarray(self.upper, dtype=float)),
            constraints=optimize.LinearConstraint(matrix, self.lower_rows, self.upper_rows),
            options={"time_limit": SOLVER_SECONDS, "mip_rel_gap": MIP_GAP},
        )


def _solve(groups: list[list[Arc]], policy: Policy, coupling: Coupling, stats: dict) -> Flows:
    programme = _Programme()
    price = policy.cost_of_lost_sale
    arcs = [arc for group in groups for arc in group]
    column_of: dict[Arc, int] = {}
    for arc in arcs:
        bound = min(arc.donor.supply, arc.receiver.marginal.size)
        if arc.lane.capacity is not None:
            bound = min(bound, arc.lane.capacity)
        column_of[arc] = programme.column(arc.lane.cost_per_unit, bound)
    touching: dict[Node, list[int]] = defaultdict(list)
    for arc in arcs:
        touching[arc.receiver].append(column_of[arc])
        touching[arc.donor].append(column_of[arc])
    for node, flow_columns in touching.items():
        units, chances = _segments(node.marginal)
        sign = -1.0 if node.is_receiver else 1.0
        segments = [
            programme.column(sign * price * chance, size)
            for size, chance in zip(units, chances, strict=True)
        ]
        terms = [(column, 1.0) for column in flow_columns] + [(column, -1.0) for column in segments]
        programme.row(terms, 0.0, 0.0)
    if coupling is not Coupling.NONE:
        _couple_lanes(programme, arcs, column_of, coupling)
    started = time.perf_counter()
    result = programme.solve()
    stats["solves"] += 1
    stats["solver_seconds"] = round(stats["solver_seconds"] + time.perf_counter() - started, 3)
    stats["solver_status"] = int(result.status)
    if result.x is None:
        stats["solver_failed"] = str(result.message)
        return dict.fromkeys(arcs, 0.0)
    return {arc: float(result.x[column_of[arc]]) for arc in arcs}


def _couple_lanes(
    programme: _Programme, arcs: list[Arc], column_of: dict, coupling: Coupling
) -> None:
    by_lane: dict = defaultdict(list)
    for arc in arcs:
        by_lane[arc.route].append(arc)
    for members in by_lane.values():
        lane = members[0].lane
        flows = [(column_of[arc], 1.0) for arc in members]
        if coupling is Coupling.CAPACITY:
            if lane.capacity is not None:
                programme.row(flows, -np.inf, float(lane.capacity))
            continue
        if not (
            lane.cost_per_shipment > 0 or lane.minimum_quantity > 0 or lane.capacity is not None
        ):
            continue
        most = sum(programme.upper[column_of[arc]] for arc in members)
        if lane.capacity is not None:
            most = min(most, lane.capacity)
        if most < max(lane.minimum_quantity, 1):
            for arc in members:
                programme.upper[column_of[arc]] = 0.0
            continue
        ships = programme.column(lane.cost_per_shipment, 1, integral=True)
        # The lane ships (ships = 1) or carries nothing; shipping, its total is within
        # [minimum, capacity].
        programme.row([*flows, (ships, -float(most))], -np.inf, 0.0)
        programme.row([*flows, (ships, -float(lane.minimum_quantity))], 0.0, np.inf)
