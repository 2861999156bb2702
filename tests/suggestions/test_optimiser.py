"""The optimiser on plain data: known optima found by exhaustive search, and its hard limits
as a Hypothesis property on random small worlds, on both of its solving paths."""

import itertools
import math
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suggestions.optimiser import curves, optimise, program
from suggestions.plan import LaneSpec, Policy, Position, source_minimum
from suggestions.rule_of_thumb import rule_of_thumb

POLICY = Policy(cost_of_lost_sale=20.0, review_days=7, source_cover_days=7.0)


def _objective(quantities: dict, positions: dict, lanes: dict, policy: Policy) -> float:
    """Expected sales saved, priced, minus lane costs, straight from the curves: what the
    optimiser maximises, computed without it. Each receiver here has one inbound lead time."""
    price = policy.cost_of_lost_sale
    into: dict = defaultdict(int)
    out: dict = defaultdict(int)
    lane_units: dict = defaultdict(int)
    lead_into = {}
    for (source, destination), units in quantities.items():
        into[destination] += units
        out[source] += units
        lane_units[(source, destination)] += units
        lead_into[destination] = lanes[(source, destination)].lead_time_days
    total = 0.0
    for warehouse, units in into.items():
        position = positions[warehouse]
        lead = lead_into[warehouse]
        stock = position.available + position.arriving_within(lead + policy.review_days)
        values = curves.window_values(
            position, stock=stock, lead=lead, review=policy.review_days, units=units
        )
        total += price * float(values[1 : units + 1].sum())
    for warehouse, units in out.items():
        position = positions[warehouse]
        stock = position.available + position.arriving_within(policy.review_days)
        fastest = min(
            (lane.lead_time_days for lane in lanes.values() if lane.destination == warehouse),
            default=0,
        )
        costs = curves.giving_costs(
            position, stock=stock, horizon=policy.review_days + fastest, units=units
        )
        total -= price * float(costs.sum())
    for route, units in lane_units.items():
        lane = lanes[route]
        if units:
            total -= units * lane.cost_per_unit + lane.cost_per_shipment
    return total


def _best_by_search(positions: dict, lanes: dict, routes: list, policy: Policy, most: int):
    """The best objective over every whole-unit plan on `routes` (up to `most` units each)
    that keeps each source at its minimum and each lane within its minimum and capacity."""
    best = 0.0
    for combo in itertools.product(range(most + 1), repeat=len(routes)):
        quantities = {route: units for route, units in zip(routes, combo, strict=True) if units}
        out: dict = defaultdict(int)
        for (source, _), units in quantities.items():
            out[source] += units
        if any(
            units > positions[source].available
            or positions[source].available - units < source_minimum(positions[source], policy)
            for source, units in out.items()
        ):
            continue
        if any(
            units < lanes[route].minimum_quantity
            or (lanes[route].capacity is not None and units > lanes[route].capacity)
            for route, units in quantities.items()
        ):
            continue
        best = max(best, _objective(quantities, positions, lanes, policy))
    return best


def _plan_objective(plan, positions, lanes, policy) -> float:
    quantities: dict = defaultdict(int)
    for move in plan.moves:
        quantities[(move.source, move.destination)] += move.quantity
    return _objective(quantities, positions, lanes, policy)


def _slow(**changes) -> Position:
    fields = {"sku": "s", "warehouse": "A", "available": 0, "daily_demand": 0.3}
    fields.update(changes)
    fields.setdefault("daily_error", math.sqrt(fields["daily_demand"]))
    return Position(**fields)


@pytest.fixture(params=["exact", "lane_gate"])
def solving_path(request, monkeypatch):
    """Run a test on the exact programme and on the chunked path behind the lane gate."""
    if request.param == "lane_gate":
        monkeypatch.setattr(program, "EXACT_VARIABLES", 0)
        monkeypatch.setattr(program, "CHUNK_VARIABLES", 40)
    return request.param


def test_one_route_sends_what_the_exhaustive_search_finds_best(solving_path):
    positions = {
        "A": _slow(warehouse="A", available=30, daily_demand=0.2),
        "B": _slow(warehouse="B", available=0, daily_demand=0.9),
    }
    lanes = {("A", "B"): LaneSpec("A", "B", 2, cost_per_unit=1.5, cost_per_shipment=4.0)}

    plan = optimise(positions.values(), lanes.values(), POLICY)

    best = _best_by_search(positions, lanes, list(lanes), POLICY, most=12)
    assert best > 0
    assert _plan_objective(plan, positions, lanes, POLICY) == pytest.approx(best, rel=1e-6)
    assert plan.stats["method"] == solving_path


def test_two_donors_two_receivers_reach_the_known_optimum():
    positions = {
        "A": _slow(warehouse="A", available=14, daily_demand=0.1),
        "B": _slow(warehouse="B", available=12, daily_demand=0.4),
        "C": _slow(warehouse="C", available=0, daily_demand=0.7),
        "D": _slow(warehouse="D", available=1, daily_demand=0.5),
    }
    lanes = {
        ("A", "C"): LaneSpec("A", "C", 1, cost_per_unit=0.5, cost_per_shipment=6.0),
        ("B", "C"): LaneSpec("B", "C", 1, cost_per_unit=0.2, cost_per_shipment=2.0),
        ("A", "D"): LaneSpec("A", "D", 2, cost_per_unit=0.4, cost_per_shipment=3.0),
        ("B", "D"): LaneSpec("B", "D", 2, cost_per_unit=1.0, cost_per_shipment=1.0),
    }

    plan = optimise(positions.values(), lanes.values(), POLICY)

    best = _best_by_search(positions, lanes, list(lanes), POLICY, most=10)
    assert _plan_objective(plan, positions, lanes, POLICY) == pytest.approx(best, rel=1e-6)


def test_a_shipment_cost_above_the_whole_gain_sends_nothing(solving_path):
    positions = [_slow(warehouse="A", available=30), _slow(warehouse="B", daily_demand=0.5)]
    cheap = LaneSpec("A", "B", 1, cost_per_unit=0.5, cost_per_shipment=5.0)

    assert optimise(positions, [cheap], POLICY).moves != []
    dear = LaneSpec("A", "B", 1, cost_per_unit=0.5, cost_per_shipment=500.0)
    assert optimise(positions, [dear], POLICY).moves == []


def test_a_lane_minimum_is_met_or_nothing_ships(solving_path):
    positions = {
        "A": _slow(warehouse="A", available=40, daily_demand=0.1),
        "B": _slow(warehouse="B", available=0, daily_demand=0.4),
    }
    lanes = {("A", "B"): LaneSpec("A", "B", 1, cost_per_unit=0.3, minimum_quantity=8)}

    plan = optimise(positions.values(), lanes.values(), POLICY)

    assert [move.quantity for move in plan.moves] in ([], *([q] for q in range(8, 41)))
    best = _best_by_search(positions, lanes, list(lanes), POLICY, most=12)
    if solving_path == "exact":
        assert _plan_objective(plan, positions, lanes, POLICY) == pytest.approx(best, rel=1e-6)


def test_a_lane_capacity_binds_across_skus(solving_path):
    positions = []
    for sku in ("s1", "s2", "s3"):
        positions.append(_slow(sku=sku, warehouse="A", available=40, daily_demand=0.1))
        positions.append(_slow(sku=sku, warehouse="B", available=0, daily_demand=1.0))
    lane = LaneSpec("A", "B", 1, cost_per_unit=0.1, capacity=10)

    plan = optimise(positions, [lane], POLICY)

    assert sum(move.quantity for move in plan.moves) == 10
    assert {move.reason.limited_by for move in plan.moves} == {"lane_capacity"}


def test_no_demand_anywhere_suggests_nothing():
    positions = [
        _slow(warehouse="A", available=50, daily_demand=0.0),
        _slow(warehouse="B", available=0, daily_demand=0.0),
    ]

    plan = optimise(positions, [LaneSpec("A", "B", 1)], POLICY)

    assert plan.moves == []


def test_a_source_keeps_its_minimum_and_says_so():
    positions = [
        _slow(warehouse="A", available=12, daily_demand=1.0, minimum=9),
        _slow(warehouse="B", available=0, daily_demand=3.0),
    ]

    plan = optimise(positions, [LaneSpec("A", "B", 1, cost_per_unit=0.1)], POLICY)

    assert [(move.quantity, move.reason.limited_by) for move in plan.moves] == [
        (12 - 9, "donor_minimum")
    ]
    assert plan.moves[0].reason.donor_minimum == 9


def test_the_reverse_of_a_recent_move_is_closed():
    positions = [
        _slow(warehouse="A", available=30, daily_demand=0.1),
        _slow(warehouse="B", available=0, daily_demand=1.0),
    ]
    lanes = [LaneSpec("A", "B", 1, cost_per_unit=0.1)]

    assert optimise(positions, lanes, POLICY).moves != []
    plan = optimise(positions, lanes, POLICY, recent_moves=[("s", "B", "A")])
    assert plan.moves == []


def test_an_inactive_lane_carries_nothing():
    positions = [
        _slow(warehouse="A", available=30, daily_demand=0.1),
        _slow(warehouse="B", available=0, daily_demand=1.0),
    ]

    plan = optimise(positions, [LaneSpec("A", "B", 1, is_active=False)], POLICY)

    assert plan.moves == []


def test_units_already_on_their_way_are_counted_before_sending_more():
    bare = _slow(warehouse="B", available=0, daily_demand=1.0)
    supplied = _slow(warehouse="B", available=0, daily_demand=1.0, arriving=((1, 12),))
    donor = _slow(warehouse="A", available=60, daily_demand=0.1)
    lane = LaneSpec("A", "B", 1, cost_per_unit=0.5)

    without = sum(move.quantity for move in optimise([donor, bare], [lane], POLICY).moves)
    with_transit = sum(move.quantity for move in optimise([donor, supplied], [lane], POLICY).moves)

    assert without > with_transit


def test_every_move_carries_a_structured_reason_and_its_sentence():
    positions = [
        _slow(warehouse="A", available=30, daily_demand=0.2),
        _slow(warehouse="B", available=0, daily_demand=1.0),
    ]

    plan = optimise(positions, [LaneSpec("A", "B", 2, 0.4, 3.0)], POLICY)

    (move,) = plan.moves
    reason = move.reason
    assert reason.receiver_risk_before > reason.receiver_risk_after
    assert reason.donor_cover_before_days > reason.donor_cover_after_days
    assert reason.value > reason.cost > 0
    assert reason.as_dict()["limited_by"] == reason.limited_by
    text = reason.text(source="Leeds", destination="Berlin")
    assert "Berlin" in text and "Leeds" in text and f"{reason.cost:.2f}" in text


# --- the hard limits, as a property --------------------------------------------------------

WAREHOUSES = ["A", "B", "C", "D"]


@st.composite
def worlds(draw):
    count = draw(st.integers(2, 4))
    warehouses = WAREHOUSES[:count]
    skus = [f"s{index}" for index in range(draw(st.integers(1, 4)))]
    positions = []
    for sku in skus:
        for warehouse in warehouses:
            demand = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0, 2.5, 6.0]))
            positions.append(
                Position(
                    sku=sku,
                    warehouse=warehouse,
                    available=draw(st.integers(-3, 60)),
                    daily_demand=demand,
                    daily_error=demand**0.5 * draw(st.sampled_from([1.0, 1.6])),
                    arriving=tuple(
                        draw(
                            st.lists(st.tuples(st.integers(0, 10), st.integers(1, 20)), max_size=2)
                        )
                    ),
                    minimum=draw(st.integers(0, 8)),
                )
            )
    lanes = [
        LaneSpec(
            source,
            destination,
            lead_time_days=draw(st.integers(0, 5)),
            cost_per_unit=draw(st.sampled_from([0.0, 0.3, 2.0])),
            cost_per_shipment=draw(st.sampled_from([0.0, 5.0, 40.0])),
            minimum_quantity=draw(st.sampled_from([0, 0, 3, 15])),
            capacity=draw(st.sampled_from([None, None, 4, 25])),
            is_active=draw(st.booleans()) or draw(st.booleans()),
        )
        for source in warehouses
        for destination in warehouses
        if source != destination and draw(st.booleans())
    ]
    recent = draw(
        st.lists(
            st.tuples(
                st.sampled_from(skus), st.sampled_from(warehouses), st.sampled_from(warehouses)
            ),
            max_size=3,
        )
    )
    policy = Policy(
        cost_of_lost_sale=draw(st.sampled_from([1.0, 20.0, 200.0])),
        review_days=draw(st.integers(1, 14)),
        source_cover_days=draw(st.sampled_from([0.0, 3.0, 7.0])),
    )
    return positions, lanes, recent, policy


def _assert_within_limits(plan, positions, lanes, recent, policy):
    by_key = {(position.sku, position.warehouse): position for position in positions}
    lane_of = {(lane.source, lane.destination): lane for lane in lanes}
    given: dict = defaultdict(int)
    taken: dict = defaultdict(int)
    lane_units: dict = defaultdict(int)
    routes = set()
    for move in plan.moves:
        lane = lane_of[(move.source, move.destination)]
        assert move.quantity > 0
        assert lane.is_active
        assert (move.sku, move.destination, move.source) not in set(recent)
        assert move.lead_time_days == lane.lead_time_days
        assert move.reason.limited_by in {
            "donor_minimum",
            "lane_minimum",
            "lane_capacity",
            "forecast",
        }
        given[(move.sku, move.source)] += move.quantity
        taken[(move.sku, move.destination)] += move.quantity
        lane_units[(move.source, move.destination)] += move.quantity
        routes.add((move.sku, move.source, move.destination))
    for key, units in given.items():
        position = by_key[key]
        assert units <= max(position.available, 0)
        kept = max(position.available, 0) + position.arriving_within(policy.review_days) - units
        assert kept >= source_minimum(position, policy)
        assert key not in taken, "a warehouse both gives and receives a SKU"
    for route, units in lane_units.items():
        lane = lane_of[route]
        assert units >= lane.minimum_quantity
        assert lane.capacity is None or units <= lane.capacity
    assert not any((sku, destination, source) in routes for sku, source, destination in routes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), gate=st.booleans())
def test_no_plan_breaks_a_hard_limit(world, gate):
    positions, lanes, recent, policy = world
    original = program.EXACT_VARIABLES, program.CHUNK_VARIABLES
    if gate:
        program.EXACT_VARIABLES, program.CHUNK_VARIABLES = 0, 30
    try:
        plan = optimise(positions, lanes, policy, recent_moves=recent)
    finally:
        program.EXACT_VARIABLES, program.CHUNK_VARIABLES = original

    _assert_within_limits(plan, positions, lanes, recent, policy)


@settings(max_examples=30, deadline=None)
@given(world=worlds())
def test_the_rule_of_thumb_uses_active_lanes_and_what_is_there(world):
    positions, lanes, _, policy = world

    plan = rule_of_thumb(positions, lanes, policy)

    active = {(lane.source, lane.destination) for lane in lanes if lane.is_active}
    given: dict = defaultdict(int)
    for move in plan.moves:
        assert (move.source, move.destination) in active
        given[(move.sku, move.source)] += move.quantity
    available = {(p.sku, p.warehouse): max(p.available, 0) for p in positions}
    assert all(units <= available[key] for key, units in given.items())
