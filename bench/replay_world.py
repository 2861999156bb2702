"""The worlds the transfer-suggestions replay (`make bench-transfers`) runs in: true demand,
opening stock, supplier receipts and lanes, all drawn up front from one seed.

Everything a policy's decisions cannot change is drawn here, before the replay starts, so
the three policies of one seed meet exactly the same demand, receipts, lanes and outage
(paired seeds). numpy only; no database.

**The generator** (`generate_world`), N warehouses x M SKUs x (28 warm-up + T) days:

- *Demand classes.* Half the SKUs (a coin per SKU) are smooth: negative binomial daily
  demand (Poisson with a gamma(4) rate factor, so CV² of the rate is 0.25) with a total
  rate per SKU drawn log-normal around 12 units a day (sigma 0.7). The other half are intermittent:
  on each warehouse-day an order occurs with probability q x share x N (q uniform in
  0.05-0.3, capped at 0.95) and its size is 1 + Poisson(z - 1), z uniform in 1.5-6.
  Cells are classed afterwards by ADI/CV² of their true demand (Syntetos-Boylan-Croston:
  ADI >= 1.32 or CV² >= 0.49 is intermittent or lumpy) for the per-class breakdown.
- *Warehouse shares that drift.* Each SKU's demand is split between warehouses by a share
  vector drawn from a Dirichlet around unequal warehouse sizes. For 60 % of the SKUs the
  shares move linearly, over the whole horizon, towards a second Dirichlet draw.
- *Supplier receipts on a fixed schedule, split by the original shares.* Every 7 days per
  warehouse (staggered by warehouse), Poisson around `supply` x 7 days of the SKU's
  expected demand x its day-0 share. Drift therefore misplaces stock: in total there is
  about enough (`supply=1.0`), but not where the demand has gone. The "scarce" variant
  receives 80 % and opens with less cover.
- *Opening stock*: 10-20 days (scarce: 6-12) of expected demand at the day-0 shares.
- *A promotion*: at one warehouse, 10 % of the SKUs sell three times their demand for
  10 days somewhere in the middle of the run; the receipts do not know about it.
- *Lanes*: every ordered pair of warehouses; lead time 1-4 days (the same both ways),
  0.2-1.0 per unit and 20-120 per shipment; 30 % of lanes have a minimum shipment of
  10-50 units (all SKUs of the lane-day together, as `transfers` counts it).
- *A lane outage*: one lane, drawn at random, is inactive for 21 days in the middle.

**The demo world** (`demo_world`) has the demo's six warehouses, its levels (who carries
which size and colour), its demand rates (product x size x colour x warehouse share,
+15 % on two weekdays, flannel ramping up through the 90 days), its lanes (the retired one
stays inactive; HQ → BAL has a lead time of 0), its opening stock rule and its purchase
orders (reorder point and carton quantity of demo/history.py, 0-5 days late), but no
returns, damage, counts or safety stock. Its purchase orders react to stock, so they are
placed during the replay (`Reorder`); their lateness is drawn up front.
"""

import math
from dataclasses import dataclass

import numpy as np

from suggestions.plan import LaneSpec

WARMUP_DAYS = 28


@dataclass(frozen=True, slots=True)
class Outage:
    lane: int  # index into World.lanes
    first_day: int
    end_day: int  # exclusive; days of the replay (0 = first day after the warm-up)


@dataclass(slots=True)
class Reorder:
    """A reorder-point purchase policy per cell (the demo's), placed during the replay."""

    reorders: np.ndarray  # (M, N) bool
    reorder_point: np.ndarray  # (M, N) int
    quantity: np.ndarray  # (M, N) int
    supplier_lead: np.ndarray  # (N,) int
    lateness: np.ndarray  # (T, M, N) int, drawn up front


@dataclass(slots=True)
class World:
    name: str
    warehouses: list[str]
    demand: np.ndarray  # (WARMUP + T, M, N) int64, true demand
    carried: np.ndarray  # (M, N) bool: the warehouse has this SKU at all
    opening: np.ndarray  # (M, N) int64: on hand at the start of replay day 0
    receipts: np.ndarray  # (T, M, N) int64: fixed supplier receipts landing that morning
    lanes: list[LaneSpec]
    outages: list[Outage]
    promo: np.ndarray  # (T, M, N) bool: promotion cells
    intermittent: np.ndarray  # (M, N) bool: ADI/CV² class of the true demand
    reorder: Reorder | None = None

    @property
    def days(self) -> int:
        return self.demand.shape[0] - WARMUP_DAYS

    @property
    def shape(self) -> tuple[int, int]:
        return self.carried.shape

    def lanes_on(self, day: int) -> list[LaneSpec]:
        closed = {o.lane for o in self.outages if o.first_day <= day < o.end_day}
        if not closed:
            return self.lanes
        return [
            LaneSpec(
                source=lane.source,
                destination=lane.destination,
                lead_time_days=lane.lead_time_days,
                cost_per_unit=lane.cost_per_unit,
                cost_per_shipment=lane.cost_per_shipment,
                minimum_quantity=lane.minimum_quantity,
                capacity=lane.capacity,
                is_active=False,
            )
            if index in closed
            else lane
            for index, lane in enumerate(self.lanes)
        ]


def generate_world(
    *, seed: int, skus: int = 1000, warehouses: int = 5, days: int = 90, scarce: bool = False
) -> World:
    rng = np.random.default_rng(seed)
    m, n, horizon = skus, warehouses, WARMUP_DAYS + days
    size = rng.uniform(0.5, 1.5, n)
    alpha = 2.0 * n * size / size.sum()
    start_share = rng.dirichlet(alpha, m)
    end_share = np.where(rng.random((m, 1)) < 0.6, rng.dirichlet(alpha, m), start_share)
    progress = (np.arange(horizon) / max(horizon - 1, 1))[:, None, None]
    share = start_share[None] + (end_share - start_share)[None] * progress  # (H, M, N)

    intermittent_sku = rng.random(m) < 0.5
    rate = rng.lognormal(math.log(12.0), 0.7, m)  # smooth: units a day, all warehouses
    occurrence = rng.uniform(0.05, 0.3, m)
    order_size = rng.uniform(1.5, 6.0, m)
    rate = np.where(intermittent_sku, occurrence * n * order_size, rate)

    gamma = rng.gamma(4.0, 0.25, (horizon, m, n))
    smooth = rng.poisson(rate[None, :, None] * share * gamma)
    chance = np.minimum(occurrence[None, :, None] * share * n, 0.95)
    happens = rng.random((horizon, m, n)) < chance
    sizes = 1 + rng.poisson(np.broadcast_to(order_size[None, :, None] - 1, (horizon, m, n)))
    demand = np.where(intermittent_sku[None, :, None], happens * sizes, smooth).astype(np.int64)

    promo = np.zeros((days, m, n), dtype=bool)
    if days >= 31:
        first = int(rng.integers(10, days - 20))
        promoted = rng.random(m) < 0.10
        promo[first : first + 10, promoted, int(rng.integers(n))] = True
    demand[WARMUP_DAYS:] *= np.where(promo, 3, 1)

    expected = rate[:, None] * start_share  # (M, N) units a day at the day-0 shares
    supply = 0.8 if scarce else 1.0
    low, high = (6, 12) if scarce else (10, 20)
    opening = rng.poisson(expected * rng.uniform(low, high, (m, 1))).astype(np.int64)
    receipts = np.zeros((days, m, n), dtype=np.int64)
    for w in range(n):
        for day in range(w % 7, days, 7):
            receipts[day, :, w] = rng.poisson(expected[:, w] * 7 * supply)

    lanes = _lanes(rng, n)
    outages = []
    if days >= 41:
        first = int(rng.integers(10, days - 30))
        outages.append(
            Outage(lane=int(rng.integers(len(lanes))), first_day=first, end_day=first + 21)
        )
    return World(
        name=f"generated{' scarce' if scarce else ''}",
        warehouses=[f"W{w}" for w in range(n)],
        demand=demand,
        carried=np.ones((m, n), dtype=bool),
        opening=opening,
        receipts=receipts,
        lanes=lanes,
        outages=outages,
        promo=promo,
        intermittent=classify(demand),
    )


def _lanes(rng: np.random.Generator, n: int) -> list[LaneSpec]:
    lanes = []
    lead = rng.integers(1, 5, (n, n))
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            lanes.append(
                LaneSpec(
                    source=a,
                    destination=b,
                    lead_time_days=int(lead[min(a, b), max(a, b)]),
                    cost_per_unit=round(float(rng.uniform(0.2, 1.0)), 2),
                    cost_per_shipment=round(float(rng.uniform(20, 120)), 2),
                    minimum_quantity=int(rng.integers(10, 51)) if rng.random() < 0.3 else 0,
                )
            )
    return lanes


def classify(demand: np.ndarray) -> np.ndarray:
    """Intermittent or lumpy (True) per cell by ADI >= 1.32 or CV² of the non-zero sizes
    >= 0.49, over the whole horizon of true demand."""
    nonzero = demand > 0
    count = nonzero.sum(axis=0)
    adi = np.where(count > 0, demand.shape[0] / np.maximum(count, 1), np.inf)
    sizes = np.where(nonzero, demand, 0).astype(float)
    mean = sizes.sum(axis=0) / np.maximum(count, 1)
    square = (sizes**2).sum(axis=0) / np.maximum(count, 1)
    cv2 = np.where(mean > 0, (square - mean**2) / np.maximum(mean, 1e-9) ** 2, 0.0)
    return (adi >= 1.32) | (cv2 >= 0.49)


def demo_world(*, seed: int, days: int = 90) -> World:
    """A world shaped like the demo's: its warehouses, levels, rates, lanes and purchase
    orders (see the module docstring). Needs Django set up (it reads demo.catalogue)."""
    from demo.catalogue import COLOUR_DEMAND, PRODUCTS, SIZE_DEMAND, WAREHOUSES
    from demo.transfers import LANES

    rng = np.random.default_rng(seed)
    codes = [spec.code for spec in WAREHOUSES]
    cells = []  # (product, size, colour rank, colour code)
    for product in PRODUCTS:
        if not product.manage_stock:
            continue
        for size in product.sizes.values():
            for rank, colour in enumerate(product.colours):
                cells.append((product, size, rank, colour))
    m, n, horizon = len(cells), len(codes), WARMUP_DAYS + days
    base = np.zeros((m, n))
    carried = np.zeros((m, n), dtype=bool)
    reorders = np.zeros((m, n), dtype=bool)
    threshold = np.zeros((m, n), dtype=np.int64)
    seasonal = np.zeros(m, dtype=bool)
    for s, (product, size, rank, colour) in enumerate(cells):
        seasonal[s] = product.is_seasonal
        for w, spec in enumerate(WAREHOUSES):
            if size == "california king" and not spec.carries_california_king:
                continue
            if rank >= spec.colours_carried:
                continue
            carried[s, w] = True
            base[s, w] = product.demand * SIZE_DEMAND[size] * COLOUR_DEMAND[rank] * spec.demand
            reorders[s, w] = (
                colour not in product.discontinued_colours
                and colour not in product.backorder_colours
            )
            threshold[s, w] = product.low_stock_threshold
    index = np.arange(horizon) - WARMUP_DAYS  # the demo's day index (0 = first replay day)
    weekend = np.where(np.isin(index % 7, (0, 6)), 1.15, 1.0)
    ramp = np.maximum(0.5 + index / 90, 0.2)
    factor = weekend[:, None] * np.where(seasonal[None, :], ramp[:, None], 1.0)  # (H, M)
    demand = rng.poisson(base[None] * factor[:, :, None]).astype(np.int64)

    hq = codes.index("HQ")
    opening = np.where(
        reorders,
        np.maximum(
            np.ceil(base * rng.uniform(30, 50, (m, n))), threshold + rng.integers(4, 15, (m, n))
        ),
        np.ceil(base * rng.uniform(20, 35, (m, n))) + 3,
    ).astype(np.int64)
    opening[:, hq] = rng.integers(4, 11, m)
    opening[~carried] = 0
    lead = np.array([spec.supplier_lead_days for spec in WAREHOUSES])
    reorder_point = np.maximum(np.ceil(base * (lead[None] + 5)), threshold).astype(np.int64)
    quantity = np.maximum(12, 6 * np.round(base * 35 / 6)).astype(np.int64)
    reorder_point[:, hq], quantity[:, hq] = 2, 6
    lateness = rng.choice(np.array([0, 0, 0, 1, 2, 5]), (days, m, n))
    lanes = [
        LaneSpec(
            source=codes.index(spec.source),
            destination=codes.index(spec.destination),
            lead_time_days=spec.lead_time_days,
            cost_per_unit=float(spec.cost_per_unit),
            cost_per_shipment=float(spec.cost_per_shipment),
            minimum_quantity=spec.minimum_quantity,
            is_active=spec.is_active,
        )
        for spec in LANES
    ]
    return World(
        name="demo",
        warehouses=codes,
        demand=demand * carried[None],
        carried=carried,
        opening=opening,
        receipts=np.zeros((days, m, n), dtype=np.int64),
        lanes=lanes,
        outages=[],
        promo=np.zeros((days, m, n), dtype=bool),
        intermittent=classify(demand * carried[None]) & carried,
        reorder=Reorder(
            reorders=reorders & carried,
            reorder_point=reorder_point,
            quantity=quantity,
            supplier_lead=lead,
            lateness=lateness,
        ),
    )
