"""The replay benchmark's world and day loop (bench/replay_world.py, bench/replay_sim.py):
small worlds, no database."""

import numpy as np

from bench.replay_sim import Run, forecast, new_state, simulate, step
from bench.replay_world import WARMUP_DAYS, demo_world, generate_world
from bench.transfers_replay import paired_bootstrap
from suggestions.plan import Move, Plan, Policy, Reason
from suggestions.rule_of_thumb import rule_of_thumb

POLICY = Policy(review_days=1)


def small_world(seed: int = 3):
    return generate_world(seed=seed, skus=40, warehouses=3, days=45)


def plan_of(*moves: tuple[int, int, int, int]) -> Plan:
    reason = Reason(
        limited_by="forecast",
        donor_cover_before_days=None,
        donor_cover_after_days=None,
        donor_minimum=0,
        receiver_cover_before_days=None,
        receiver_cover_after_days=None,
        receiver_risk_before=0.0,
        receiver_risk_after=0.0,
        expected_units_saved=0.0,
        value=0.0,
        cost=0.0,
        policy="test",
    )
    return Plan(
        moves=[
            Move(sku=s, source=a, destination=b, quantity=q, lead_time_days=1, reason=reason)
            for s, a, b, q in moves
        ]
    )


def test_paired_seeds_give_the_same_world_and_other_seeds_another():
    first, again, other = small_world(3), small_world(3), small_world(4)
    assert np.array_equal(first.demand, again.demand)
    assert np.array_equal(first.receipts, again.receipts)
    assert np.array_equal(first.opening, again.opening)
    assert first.lanes == again.lanes
    assert first.outages == again.outages
    assert not np.array_equal(first.demand, other.demand)


def test_the_generator_has_both_classes_a_promotion_and_an_outage():
    world = small_world()
    assert world.demand.shape == (WARMUP_DAYS + 45, 40, 3)
    assert world.intermittent.any() and not world.intermittent.all()
    assert world.promo.sum() == 10 * world.promo.any(axis=0).sum()
    assert len(world.outages) == 1
    assert world.outages[0].end_day - world.outages[0].first_day == 21
    assert len(world.lanes) == 3 * 2


def test_stock_is_conserved_and_never_negative_under_the_rule_of_thumb():
    world = small_world()
    state, run = new_state(world), Run()
    for day in range(world.days):
        step(world, state, rule_of_thumb, POLICY, day, run)
        assert state.on_hand.min() >= 0
    assert run.units_moved > 0
    received = int(world.receipts.sum())
    in_transit = int(state.transit[world.days :].sum())
    assert int(world.opening.sum()) + received == (
        int(state.on_hand.sum()) + run.served + in_transit
    )
    assert run.served + run.lost == run.demand == int(world.demand[WARMUP_DAYS:].sum())


def test_no_policy_sells_at_most_what_it_holds_and_loses_the_rest():
    world = small_world()
    run = simulate(world, None, POLICY)
    assert run.units_moved == run.shipments == run.reviews == 0
    assert run.transfer_cost == 0
    assert run.lost > 0
    assert run.served + run.lost == run.demand


def test_a_move_on_the_lane_in_its_outage_is_refused_and_elsewhere_shipped():
    world = small_world()
    world.opening[0, :] = 100_000
    outage = world.outages[0]
    lane = world.lanes[outage.lane]

    def always_on_that_lane(positions, lanes, policy, *, recent_moves=()):
        return plan_of((0, lane.source, lane.destination, 1))

    run = simulate(world, always_on_that_lane, POLICY)
    assert run.refused_lines == 21
    assert run.units_moved == run.shipments == world.days - 21
    expected = (world.days - 21) * (lane.cost_per_unit + lane.cost_per_shipment)
    assert round(run.transfer_cost, 6) == round(expected, 6)


def test_cut_lines_source_minimum_and_moves_back_are_counted():
    world = small_world()
    # A SKU selling at least one a day at warehouse 0: its source minimum is at least 7.
    sku = int(np.argmax(world.demand[:WARMUP_DAYS, :, 0].sum(axis=0) >= WARMUP_DAYS))
    assert world.demand[:WARMUP_DAYS, sku, 0].sum() >= WARMUP_DAYS
    world.opening[sku, 0], world.opening[sku, 1] = 5, 10_000
    world.receipts[:, sku, :] = 0
    calls = []

    def greedy(positions, lanes, policy, *, recent_moves=()):
        calls.append(recent_moves)
        if len(calls) == 1:  # more than the source has: cut to all of it, below its minimum
            return plan_of((sku, 0, 1, 1_000))
        if len(calls) == 2:  # and one back the next day
            return plan_of((sku, 1, 0, 1))
        return Plan()

    run = simulate(world, greedy, POLICY)
    assert run.cut_lines == 1
    assert run.units_moved == 6
    assert run.ping_pong_units == 1
    assert run.source_minimum_violations == 1
    assert calls[0] == ()
    assert calls[1] == ((sku, 0, 1),)
    assert set(calls[2]) == {(sku, 0, 1), (sku, 1, 0)}
    assert run.shipments == 2
    assert run.lines == 2 and run.reviews == world.days


def test_the_forecast_leaves_out_days_that_ended_out_of_stock():
    world = small_world()
    state = new_state(world)
    t = WARMUP_DAYS
    state.sales[t - 28 : t, 0, 0] = 4
    state.sales[t - 10 : t, 0, 0] = 1  # the last 10 days sold out early
    state.censored[t - 10 : t, 0, 0] = True
    mean, error = forecast(state, t)
    assert mean[0, 0] == 4.0
    assert error[0, 0] == 0.0
    state.censored[t - 28 : t, 0, 1] = True  # never in stock: every day counts
    state.sales[t - 28 : t, 0, 1] = 2
    assert forecast(state, t)[0][0, 1] == 2.0


def test_the_paired_bootstrap_of_a_constant_is_that_constant():
    mean, low, high = paired_bootstrap(np.full(20, -0.4))
    assert (round(mean, 9), round(low, 9), round(high, 9)) == (-0.4, -0.4, -0.4)
    mean, low, high = paired_bootstrap(np.arange(20, dtype=float))
    assert mean == 9.5
    assert 6 < low < 9.5 < high < 13


def test_the_demo_world_has_the_demos_warehouses_levels_and_lanes():
    world = demo_world(seed=1, days=30)
    assert world.warehouses == ["BAL", "AUS", "RNO", "BER", "FRA", "HQ"]
    assert not world.carried.all()
    assert (world.demand[:, ~world.carried] == 0).all()
    retired = [lane for lane in world.lanes if not lane.is_active]
    assert [(lane.source, lane.destination) for lane in retired] == [(1, 2)]
    run = simulate(world, rule_of_thumb, POLICY)
    assert run.served + run.lost == run.demand
    assert run.refused_lines == 0
