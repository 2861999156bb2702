"""Ninety days of a linen business's stock history, written through the ledger.

Everything is deterministic (one seeded random generator) and every unit of stock enters
through `apply_changes`, one call per simulated day backdated with `occurred_at`, so the
ledger, the balances and the snapshots agree exactly as they would in production. Each
movement carries a unique reference.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from demo.catalogue import COLOUR_DEMAND, SIZE_DEMAND, WAREHOUSES, DemoVariant
from stock.actors import Actor
from stock.models import MovementKind, MovementSource, ReasonCode, StockLevel, Variant
from stock.services.ledger import LevelChange, apply_changes
from warehouses.models import Warehouse

HISTORY_DAYS = 90
# One apply_changes call per day, at 15:00 UTC: mid-morning in the US, afternoon in Germany.
DAY_TIME = time(15, 0, tzinfo=UTC)
ACTOR = Actor.system("demo data")


@dataclass
class _PurchaseOrder:
    document: str
    arrives: int  # day index
    quantity: int


@dataclass
class _Level:
    """The simulation's copy of one balance, kept in step with what the engine will write."""

    variant: Variant
    warehouse: Warehouse
    demand: float
    is_backorder_allowed: bool
    reorders: bool
    is_seasonal: bool
    threshold: int
    on_hand: int = 0
    reserved: int = 0
    unsellable: int = 0
    safety_stock: int = 0
    inbound: int = 0
    orders: list[_PurchaseOrder] = field(default_factory=list)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.unsellable - self.safety_stock

    @property
    def can_leave(self) -> int:
        """Units that may leave the sellable shelf without breaking a database constraint."""
        if self.is_backorder_allowed:
            return self.on_hand - self.unsellable
        return max(self.available, 0)


class HistorySimulation:
    """Ninety days of a linen business: opening import, sales, purchase orders, returns,
    damage, cycle counts and safety stock, one `apply_changes` call per day."""

    def __init__(
        self,
        *,
        variants: list[DemoVariant],
        warehouses: dict[str, Warehouse],
        today: date,
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        self.specs = {spec.code: spec for spec in WAREHOUSES}
        self.levels = self._plan_levels(variants, warehouses)

    def _plan_levels(
        self, variants: list[DemoVariant], warehouses: dict[str, Warehouse]
    ) -> list[_Level]:
        existing = {
            (level.variant_id, level.warehouse_id): level
            for level in StockLevel.objects.filter(variant__in=[item.variant for item in variants])
        }
        levels = []
        for item in variants:
            if not item.variant.manage_stock:
                continue
            for spec in WAREHOUSES:
                if item.size == "california king" and not spec.carries_california_king:
                    continue
                if item.colour_rank >= spec.colours_carried:
                    continue
                warehouse = warehouses[spec.code]
                level = _Level(
                    variant=item.variant,
                    warehouse=warehouse,
                    demand=item.spec.demand
                    * SIZE_DEMAND[item.size]
                    * COLOUR_DEMAND[item.colour_rank]
                    * spec.demand,
                    is_backorder_allowed=item.variant.allows_backorders,
                    # Discontinued colours sell out; backorder colours wait for a dye lot
                    # that is late, so they end the quarter selling below zero available.
                    reorders=item.colour_code not in item.spec.discontinued_colours
                    and not item.variant.allows_backorders,
                    is_seasonal=item.spec.is_seasonal,
                    threshold=item.variant.low_stock_threshold,
                )
                # Start from what the database holds, so the engine never refuses a change.
                current = existing.get((item.variant.pk, warehouse.pk))
                if current is not None:
                    level.on_hand = current.on_hand
                    level.reserved = current.reserved
                    level.unsellable = current.unsellable
                    level.safety_stock = current.safety_stock
                    level.inbound = current.inbound
                levels.append(level)
        levels.sort(key=lambda level: (level.variant.sku, level.warehouse.code))
        return levels

    def run(self) -> int:
        written = 0
        for index in range(HISTORY_DAYS):
            day = self.first_day + timedelta(days=index)
            changes = self._day(index, day)
            outcomes = apply_changes(
                changes,
                actor=ACTOR,
                source=MovementSource.DEMO,
                occurred_at=datetime.combine(day, DAY_TIME),
            )
            written += sum(outcome.movement is not None for outcome in outcomes)
        return written

    def _day(self, index: int, day: date) -> list[LevelChange]:
        changes: list[LevelChange] = []

        def add(level: _Level, **fields) -> None:
            changes.append(
                LevelChange(
                    variant=level.variant,
                    warehouse=level.warehouse,
                    reference=f"demo:{day.isoformat()}:{len(changes):05d}",
                    **fields,
                )
            )

        for position, level in enumerate(self.levels):
            if index == 0:
                self._open(level, add)
                continue
            self._receive(level, index, add)
            self._sell(level, index, day, add)
            self._handle_damage(level, add)
            self._count(level, index, position, add)
            self._review_safety_stock(level, index, add)
            self._reorder(level, index, day, add)
        return changes

    def _open(self, level: _Level, add) -> None:
        if level.warehouse.code == "HQ":
            quantity = self.rng.randint(4, 10)
        elif not level.reorders:
            quantity = math.ceil(level.demand * self.rng.uniform(20, 35)) + 3
        else:
            cover = math.ceil(level.demand * self.rng.uniform(30, 50))
            quantity = max(cover, level.threshold + self.rng.randint(4, 14))
        level.on_hand += quantity
        add(
            level,
            kind=MovementKind.IMPORT,
            reason=ReasonCode.IMPORT,
            note="Opening balance imported at go-live",
            document="go-live-import.csv",
            delta_on_hand=quantity,
        )
        if level.demand >= 0.2 and level.warehouse.code != "HQ":
            target = min(math.ceil(level.demand * 3), level.can_leave)
            self._set_safety_stock(level, target, "Opening safety stock", add)

    def _set_safety_stock(self, level: _Level, target: int, note: str, add) -> None:
        if target == level.safety_stock or target < 0:
            return
        if not level.is_backorder_allowed:
            target = min(target, level.safety_stock + level.available)
        if target == level.safety_stock:
            return
        level.safety_stock = target
        add(
            level,
            kind=MovementKind.ADJUSTMENT,
            reason=ReasonCode.SAFETY_STOCK,
            note=note,
            safety_stock_target=target,
        )

    def _receive(self, level: _Level, index: int, add) -> None:
        for order in [order for order in level.orders if order.arrives == index]:
            level.orders.remove(order)
            level.on_hand += order.quantity
            level.inbound -= order.quantity
            add(
                level,
                kind=MovementKind.RECEIPT,
                reason=ReasonCode.PURCHASE_ORDER,
                note="Purchase order received in full",
                document=order.document,
                delta_on_hand=order.quantity,
                delta_inbound=-order.quantity,
            )
        if level.demand > 0.15 and self.rng.random() < level.demand * 0.04:
            level.on_hand += 1
            add(
                level,
                kind=MovementKind.RECEIPT,
                reason=ReasonCode.CUSTOMER_RETURN,
                note="demo return, unopened",
                delta_on_hand=1,
            )

    def _sell(self, level: _Level, index: int, day: date, add) -> None:
        rate = level.demand * (1.15 if day.weekday() in (0, 6) else 1.0)
        if level.is_seasonal:
            rate *= 0.5 + index / HISTORY_DAYS  # flannel picks up as the nights get colder
        quantity = min(_poisson(self.rng, rate), level.can_leave)
        if quantity <= 0:
            return
        level.on_hand -= quantity
        add(
            level,
            kind=MovementKind.ADJUSTMENT,
            reason=ReasonCode.ORDER,
            note="demo sale",
            delta_on_hand=-quantity,
        )

    def _handle_damage(self, level: _Level, add) -> None:
        if level.unsellable and self.rng.random() < 0.15:
            quantity = level.unsellable
            level.unsellable = 0
            if self.rng.random() < 0.6:
                level.on_hand -= quantity
                add(
                    level,
                    kind=MovementKind.DAMAGE,
                    reason=ReasonCode.WRITTEN_OFF,
                    note="Beyond repair; disposed of",
                    delta_on_hand=-quantity,
                    delta_unsellable=-quantity,
                )
            else:
                add(
                    level,
                    kind=MovementKind.DAMAGE,
                    reason=ReasonCode.RESTORED,
                    note="Re-pressed and repackaged",
                    delta_unsellable=-quantity,
                )
        elif self.rng.random() < 0.004 * (1 + level.demand):
            quantity = min(self.rng.randint(1, 2), level.can_leave)
            if quantity <= 0:
                return
            level.unsellable += quantity
            add(
                level,
                kind=MovementKind.DAMAGE,
                reason=ReasonCode.DAMAGED,
                note=self.rng.choice(
                    ["Torn packaging", "Water damage on the pallet", "Stained in handling"]
                ),
                delta_unsellable=quantity,
            )

    def _count(self, level: _Level, index: int, position: int, add) -> None:
        # Every level is counted once a month, on a rota spread over the days; only a
        # count that differs from the balance leaves a ledger row, so only those are sent.
        if (position + index) % 30 or self.rng.random() > 0.35:
            return
        variance = self.rng.choice([-2, -1, -1, -1, 1])
        floor = level.unsellable
        if not level.is_backorder_allowed:
            floor += level.reserved + level.safety_stock
        counted = max(level.on_hand + variance, floor)
        if counted == level.on_hand:
            return
        level.on_hand = counted
        add(
            level,
            kind=MovementKind.COUNT,
            reason=ReasonCode.CYCLE_COUNT,
            note="demo cycle count",
            count=counted,
        )

    def _review_safety_stock(self, level: _Level, index: int, add) -> None:
        # Mid-quarter the planners raise safety stock on the sellers ahead of the peak.
        if index == HISTORY_DAYS // 2 and level.safety_stock and level.demand >= 0.5:
            self._set_safety_stock(
                level, level.safety_stock + 2, "Raised ahead of the holiday peak", add
            )

    def _reorder(self, level: _Level, index: int, day: date, add) -> None:
        if not level.reorders or level.orders:
            return
        supplier_lead = self.specs[level.warehouse.code].supplier_lead_days
        if level.warehouse.code == "HQ":
            # The showroom tops up a few units when it is nearly empty.
            reorder_point, quantity = 2, 6
        else:
            demand_until_arrival = math.ceil(level.demand * (supplier_lead + 5))
            reorder_point = max(demand_until_arrival, level.threshold) + level.safety_stock
            # Five weeks of demand, in cartons of six, and never less than two cartons.
            quantity = max(12, 6 * round(level.demand * 35 / 6))
        if level.available + level.inbound > reorder_point:
            return
        # Suppliers are late now and then: that is when screens show stock-outs.
        lateness = self.rng.choice([0, 0, 0, 1, 2, 5])
        # One purchase order per warehouse and day, however many SKUs it covers.
        document = f"PO-{level.warehouse.code}-{day:%Y%m%d}"
        level.orders.append(_PurchaseOrder(document, index + supplier_lead + lateness, quantity))
        level.inbound += quantity
        add(
            level,
            kind=MovementKind.ADJUSTMENT,
            reason=ReasonCode.PURCHASE_ORDER,
            note="Purchase order placed; in transit from the mill",
            document=document,
            delta_inbound=quantity,
        )


def _poisson(rng: random.Random, rate: float) -> int:
    if rate <= 0:
        return 0
    threshold, count, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count
