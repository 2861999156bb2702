"""One policy replayed through one world, day by day (`make bench-transfers`).

Each replay day d (after 28 warm-up days whose demand was all served):

1. Arrivals land: transfers due today and supplier receipts join on hand.
2. The review (every day): the policy sees the stock on hand this morning, what is on its
   way (transfers in transit by arrival day, supplier receipts due within 14 days or
   purchase orders already placed) and a forecast per SKU x warehouse made from the sales
   of the 28 days up to yesterday. The forecast is the mean of the days that did not end
   out of stock (a day that ended at zero is censored: its sales understate demand), and
   its error the standard deviation of those days; with no such day, all 28 days count.
   Every policy gets exactly these positions (`Position.minimum` is 0, so a source's floor
   is `source_minimum`: `Policy.source_cover_days` of its forecast).
3. Its moves are checked and shipped the same day (no decision latency beyond the day of
   data the review lacks): a move on a missing or inactive lane, or to a warehouse that
   does not carry the SKU, is refused; a quantity above what the source has left is cut
   to it. A move that leaves the source below its `source_minimum` is shipped but counted
   as a violation. Units leave the source now and land on the morning of day d + lead
   time (a lead time of 0 lands before today's demand).
4. Demand is served from on hand; what is not served is lost.
5. (Demo world only) purchase orders are placed by the demo's reorder-point rule.

The lane-day's units are one shipment: it pays the lane's cost per shipment once, and it
is counted below the lane's minimum (or over its capacity) as a lane violation.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench.replay_world import WARMUP_DAYS, World
from suggestions.plan import LaneSpec, Plan, Policy, Position, source_minimum

ForecastWindow = 28
ReceiptHorizon = 14
Decide = Callable[..., Plan]


@dataclass(slots=True)
class Run:
    """What one policy did in one world."""

    demand: int = 0
    served: int = 0
    lost: int = 0
    stockout_days: int = 0
    units_moved: int = 0
    shipments: int = 0
    transfer_cost: float = 0.0
    ping_pong_units: int = 0
    source_minimum_violations: int = 0
    lane_violations: int = 0
    refused_lines: int = 0
    cut_lines: int = 0
    lines: int = 0
    reviews: int = 0
    on_hand_sum: float = 0.0
    policy_seconds: float = 0.0
    policy_cpu_seconds: float = 0.0
    # Stockout-days by where they happened (see `breakdown`).
    by_feature: dict[str, int] = field(default_factory=dict)

    @property
    def fill(self) -> float:
        return self.served / self.demand if self.demand else 1.0

    def mean_on_hand(self, cells: int, days: int) -> float:
        return self.on_hand_sum / (cells * days) if cells and days else 0.0


@dataclass(slots=True)
class State:
    on_hand: np.ndarray  # (M, N)
    transit: np.ndarray  # (T + max lead + 1, M, N): transfers landing that replay day
    supply: np.ndarray  # (T + max supplier lead + 1, M, N): receipts landing that day
    sales: np.ndarray  # (WARMUP + T, M, N) observed sales
    censored: np.ndarray  # (WARMUP + T, M, N) the day ended with nothing on hand
    open_order: np.ndarray  # (M, N) bool: a purchase order is on its way (demo)
    recent: deque = field(default_factory=deque)  # (day, sku, source, destination, units)


def new_state(world: World) -> State:
    m, n = world.shape
    days = world.days
    longest = max((lane.lead_time_days for lane in world.lanes), default=0)
    late = 0 if world.reorder is None else int(world.reorder.supplier_lead.max()) + 5
    supply = np.zeros((days + max(late, ReceiptHorizon) + 1, m, n), dtype=np.int64)
    supply[:days] = world.receipts
    sales = np.zeros_like(world.demand)
    sales[:WARMUP_DAYS] = world.demand[:WARMUP_DAYS]
    return State(
        on_hand=world.opening.copy(),
        transit=np.zeros((days + max(longest, ReceiptHorizon) + 1, m, n), dtype=np.int64),
        supply=supply,
        sales=sales,
        censored=np.zeros(world.demand.shape, dtype=bool),
        open_order=np.zeros((m, n), dtype=bool),
    )


# "trailing" (the mean below) or "smoothed" (exponential smoothing over the same window).
FORECAST = "trailing"
SMOOTHING = 0.15


# The hub's own forecaster's window (SuggestionSettings.history_days defaults to 90).
HubHistory = 90


def forecast(state: State, t: int) -> tuple[np.ndarray, np.ndarray]:
    if FORECAST == "hub":
        return hub_forecast(state, t)
    if FORECAST == "smoothed":
        return smoothed_forecast(state, t)
    return trailing_forecast(state, t)


def hub_forecast(state: State, t: int) -> tuple[np.ndarray, np.ndarray]:
    """What the hub itself would forecast: `suggestions.forecasting.forecast_many` (statsforecast
    by demand class) on up to 90 days of sales, censored days imputed as the hub does (the
    in-stock days' mean, or what the day sold if more)."""
    from suggestions.forecasting import forecast_many

    start = max(0, t - HubHistory)
    sales = state.sales[start:t].astype(float)
    censored = state.censored[start:t]
    in_stock = (~censored).sum(axis=0)
    rate = np.where(in_stock > 0, (sales * ~censored).sum(axis=0) / np.maximum(in_stock, 1), 0.0)
    imputed = np.where(censored, np.maximum(sales, rate[None]), sales)
    m, n = imputed.shape[1:]
    results = forecast_many(
        imputed[:, sku, warehouse] for sku in range(m) for warehouse in range(n)
    )
    mean = np.array([result.daily_demand for result in results]).reshape(m, n)
    error = np.array([result.daily_error for result in results]).reshape(m, n)
    return mean, error


def smoothed_forecast(state: State, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Simple exponential smoothing of the days t-28 .. t-1 (the hub's smooth-series model,
    ETS(A,N,N), with a fixed weight): it follows a level that moves, where the trailing
    mean lags. A censored day leaves the level where it was unless it sold more. The error
    is the smoothed root mean square of the one-step residuals."""
    sales = state.sales[t - ForecastWindow : t].astype(float)
    censored = state.censored[t - ForecastWindow : t]
    level = sales[:7].mean(axis=0)
    square = sales[:7].var(axis=0) + level
    for day in range(7, ForecastWindow):
        observed = sales[day]
        residual = observed - level
        use = ~censored[day] | (residual > 0)
        square = np.where(use, square + SMOOTHING * (residual**2 - square), square)
        level = np.where(use, level + SMOOTHING * residual, level)
    return np.maximum(level, 0.0), np.sqrt(square)


def trailing_forecast(state: State, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily demand and its error per cell from the sales of days t-28 .. t-1."""
    sales = state.sales[t - ForecastWindow : t].astype(float)
    counted = ~state.censored[t - ForecastWindow : t]
    count = counted.sum(axis=0)
    use = np.where(count[None] > 0, counted, True)
    days = use.sum(axis=0)
    mean = (sales * use).sum(axis=0) / days
    variance = (((sales - mean[None]) ** 2) * use).sum(axis=0) / days
    return mean, np.sqrt(variance)


def positions_for(world: World, state: State, day: int) -> list[Position]:
    """The positions of every carried cell, in (sku, warehouse) order."""
    t = WARMUP_DAYS + day
    mean, error = forecast(state, t)
    horizon = ReceiptHorizon if world.reorder is None else state.supply.shape[0]
    coming = state.supply[day + 1 : day + 1 + horizon].copy()
    transit = state.transit[day + 1 : day + 1 + horizon]
    coming[: len(transit)] += transit
    # Non-zero arrivals in (sku, warehouse, day) order: one pass groups them per cell.
    by_cell = coming.transpose(1, 2, 0)
    skus, warehouses, ahead = np.nonzero(by_cell)
    units = by_cell[skus, warehouses, ahead].tolist()
    n = world.shape[1]
    keys = (skus * n + warehouses).tolist()
    arriving: dict[int, tuple[tuple[int, int], ...]] = {}
    start = 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start]:
            arriving[keys[start]] = tuple(
                (k + 1, u) for k, u in zip(ahead[start:end].tolist(), units[start:end], strict=True)
            )
            start = end
    cells = np.flatnonzero(world.carried.ravel()).tolist()
    on_hand = state.on_hand.ravel()[cells].tolist()
    demand = mean.ravel()[cells].tolist()
    spread = error.ravel()[cells].tolist()
    empty: tuple[tuple[int, int], ...] = ()
    return [
        Position(
            sku=cell // n,
            warehouse=cell % n,
            available=available,
            daily_demand=daily_demand,
            daily_error=daily_error,
            arriving=arriving.get(cell, empty),
        )
        for cell, available, daily_demand, daily_error in zip(
            cells, on_hand, demand, spread, strict=True
        )
    ]


def simulate(world: World, decide: Decide | None, policy: Policy) -> Run:
    run = Run()
    state = new_state(world)
    features = _feature_masks(world)
    run.by_feature = dict.fromkeys(features, 0)
    for day in range(world.days):
        step(world, state, decide, policy, day, run, features)
    return run


def step(
    world: World,
    state: State,
    decide: Decide | None,
    policy: Policy,
    day: int,
    run: Run,
    features: dict[str, Callable[[int], np.ndarray]] | None = None,
) -> None:
    """One replay day: arrivals, the review and its shipments, demand, purchase orders."""
    t = WARMUP_DAYS + day
    state.on_hand += state.transit[day] + state.supply[day]
    if decide is not None:
        _review(world, state, decide, policy, day, run)
    demand = world.demand[t]
    served = np.minimum(state.on_hand, demand)
    state.on_hand -= served
    state.sales[t] = served
    state.censored[t] = (state.on_hand == 0) & world.carried
    lost = demand - served
    short = lost > 0
    run.demand += int(demand.sum())
    run.served += int(served.sum())
    run.lost += int(lost.sum())
    run.stockout_days += int(short.sum())
    for name, mask in (features or {}).items():
        run.by_feature[name] += int((short & mask(day)).sum())
    run.on_hand_sum += float(state.on_hand.sum())
    if world.reorder is not None:
        _reorder(world, state, day)


def _feature_masks(world: World) -> dict[str, Callable[[int], np.ndarray]]:
    m, n = world.shape
    masks: dict[str, Callable[[int], np.ndarray]] = {
        "smooth cells": lambda day: world.carried & ~world.intermittent,
        "intermittent cells": lambda day: world.intermittent,
    }
    if world.promo.any():
        masks["promotion cells, promo days"] = lambda day: world.promo[day]
    for outage in world.outages:
        lane = world.lanes[outage.lane]
        destination = np.zeros((m, n), dtype=bool)
        destination[:, lane.destination] = True
        # The outage and the lead time after it, when nothing sent on it could have landed.
        end = outage.end_day + lane.lead_time_days
        nothing = np.zeros((m, n), dtype=bool)
        masks["outage lane's destination, outage days"] = (
            lambda day, o=outage, e=end, d=destination, z=nothing: (
                d if o.first_day <= day < e else z
            )
        )
    return masks


def _review(world: World, state: State, decide: Decide, policy: Policy, day: int, run: Run) -> None:
    positions = positions_for(world, state, day)
    lanes = world.lanes_on(day)
    while state.recent and state.recent[0][0] <= day - policy.no_return_days:
        state.recent.popleft()
    routes = {(s, a, b) for _, s, a, b, _ in state.recent}
    recent = tuple(routes)
    started, cpu = time.perf_counter(), time.process_time()
    plan = decide(positions, lanes, policy, recent_moves=recent)
    run.policy_seconds += time.perf_counter() - started
    run.policy_cpu_seconds += time.process_time() - cpu
    run.reviews += 1
    run.lines += len(plan.moves)
    _ship(world, state, plan, lanes, positions, routes, policy, day, run)


def _ship(
    world: World,
    state: State,
    plan: Plan,
    lanes: list[LaneSpec],
    positions: list[Position],
    moved_back: set[tuple[int, int, int]],
    policy: Policy,
    day: int,
    run: Run,
) -> None:
    by_route = {(lane.source, lane.destination): lane for lane in lanes}
    # positions are the carried cells in (sku, warehouse) order: a cell's index is the
    # number of carried cells before it.
    index = np.cumsum(world.carried.ravel()) - 1
    n = world.shape[1]
    lane_units: dict[tuple[int, int], int] = {}
    for move in plan.moves:
        lane = by_route.get((move.source, move.destination))
        s, a, b = int(move.sku), int(move.source), int(move.destination)
        if lane is None or not lane.is_active or not world.carried[s, b] or move.quantity <= 0:
            run.refused_lines += 1
            continue
        quantity = int(move.quantity)
        if quantity > state.on_hand[s, a]:
            run.cut_lines += 1
            quantity = int(state.on_hand[s, a])
            if quantity <= 0:
                continue
        if state.on_hand[s, a] - quantity < source_minimum(positions[index[s * n + a]], policy):
            run.source_minimum_violations += 1
        if (s, b, a) in moved_back:
            run.ping_pong_units += quantity
        state.on_hand[s, a] -= quantity
        if lane.lead_time_days == 0:
            state.on_hand[s, b] += quantity
        else:
            state.transit[day + lane.lead_time_days, s, b] += quantity
        lane_units[(a, b)] = lane_units.get((a, b), 0) + quantity
        run.units_moved += quantity
        run.transfer_cost += quantity * lane.cost_per_unit
        state.recent.append((day, s, a, b, quantity))
    for route, units in lane_units.items():
        lane = by_route[route]
        run.shipments += 1
        run.transfer_cost += lane.cost_per_shipment
        if units < lane.minimum_quantity or (lane.capacity is not None and units > lane.capacity):
            run.lane_violations += 1


def _reorder(world: World, state: State, day: int) -> None:
    """The demo's purchase orders: at most one open per cell, placed when on hand plus what
    is on order falls to the reorder point, landing after the supplier's lead time plus
    the lateness drawn for that cell and day."""
    reorder = world.reorder
    assert reorder is not None
    landed = state.supply[day] > 0
    state.open_order &= ~landed
    due = reorder.reorders & ~state.open_order & (state.on_hand <= reorder.reorder_point)
    skus, warehouses = np.nonzero(due)
    arrive = day + reorder.supplier_lead[warehouses] + reorder.lateness[day, skus, warehouses]
    fits = arrive < state.supply.shape[0]
    state.supply[arrive[fits], skus[fits], warehouses[fits]] += reorder.quantity[
        skus[fits], warehouses[fits]
    ]
    state.open_order[skus[fits], warehouses[fits]] = True
