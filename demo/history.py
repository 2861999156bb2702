"""Demo data: a sheets-and-linens business with 90 days of stock history.

Everything is deterministic (one seeded random generator) and every unit of stock enters
through `apply_changes`, one call per simulated day backdated with `occurred_at`, so the
ledger, the balances and the snapshots agree exactly as they would in production. The
catalogue is created by natural key and never overwritten, so an operator's edits survive
a second load; the history is written once (detected by any ledger row from the demo
source) and each movement carries a unique reference besides.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zlib import crc32

from django.db import transaction

from stock.actors import Actor
from stock.models import (
    BackorderPolicy,
    MovementKind,
    MovementSource,
    Product,
    ReasonCode,
    StockLevel,
    StockMovement,
    Variant,
)
from stock.services.history import rebuild_snapshots, utc_today
from stock.services.ledger import LevelChange, apply_changes
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

DEMO_SEED = 20240601
HISTORY_DAYS = 90
# One apply_changes call per day, at 15:00 UTC: mid-morning in the US, afternoon in Germany.
DAY_TIME = time(15, 0, tzinfo=UTC)
ACTOR = Actor.system("demo data")


@dataclass(frozen=True)
class WarehouseSpec:
    code: str
    name: str
    address: str
    latitude: str
    longitude: str
    timezone: str
    lead_time_days: int
    daily_dispatch_capacity: int
    demand: float  # share of a product's demand this warehouse serves
    supplier_lead_days: int  # purchase order to receipt
    carries_california_king: bool = True
    colours_carried: int = 5  # each product's best-selling colours that it stocks


WAREHOUSES = [
    WarehouseSpec(
        code="BAL",
        name="Baltimore fulfilment centre",
        address="2800 Broening Highway, Baltimore, MD 21222, USA",
        latitude="39.255700",
        longitude="-76.538300",
        timezone="America/New_York",
        lead_time_days=2,
        daily_dispatch_capacity=1200,
        demand=1.0,
        supplier_lead_days=10,
    ),
    WarehouseSpec(
        code="AUS",
        name="Austin fulfilment centre",
        address="4100 Smith School Road, Austin, TX 78744, USA",
        latitude="30.206000",
        longitude="-97.720600",
        timezone="America/Chicago",
        lead_time_days=3,
        daily_dispatch_capacity=900,
        demand=0.7,
        supplier_lead_days=12,
    ),
    WarehouseSpec(
        code="RNO",
        name="Reno fulfilment centre",
        address="4800 Longley Lane, Reno, NV 89502, USA",
        latitude="39.478000",
        longitude="-119.776000",
        timezone="America/Los_Angeles",
        lead_time_days=4,
        daily_dispatch_capacity=800,
        demand=0.45,
        supplier_lead_days=12,
    ),
    WarehouseSpec(
        code="BER",
        name="Berlin fulfilment centre",
        address="Lahnstraße 30, 12055 Berlin, Germany",
        latitude="52.467700",
        longitude="13.448500",
        timezone="Europe/Berlin",
        lead_time_days=2,
        daily_dispatch_capacity=700,
        demand=0.55,
        supplier_lead_days=14,
        carries_california_king=False,
        colours_carried=3,
    ),
    WarehouseSpec(
        code="FRA",
        name="Frankfurt fulfilment centre",
        address="Cargo City Süd, Gebäude 558, 60549 Frankfurt am Main, Germany",
        latitude="50.037900",
        longitude="8.562200",
        timezone="Europe/Berlin",
        lead_time_days=2,
        daily_dispatch_capacity=600,
        demand=0.4,
        supplier_lead_days=14,
        carries_california_king=False,
        colours_carried=3,
    ),
    # The head office keeps a few units of everything for the showroom and ships as a last
    # resort on both continents.
    WarehouseSpec(
        code="HQ",
        name="Head office and showroom",
        address="63 Flushing Avenue, Building 3, Brooklyn, NY 11205, USA",
        latitude="40.700400",
        longitude="-73.971200",
        timezone="America/New_York",
        lead_time_days=5,
        daily_dispatch_capacity=40,
        demand=0.04,
        supplier_lead_days=7,
        colours_carried=1,
    ),
]


@dataclass(frozen=True)
class ChannelSpec:
    code: str
    name: str
    kind: str
    safety_buffer: int
    links: tuple[tuple[str, int], ...]  # (warehouse code, priority)


CHANNELS = [
    ChannelSpec(
        "north-america",
        "North America",
        SalesChannel.Kind.MAGENTO,
        2,
        (("BAL", 1), ("AUS", 2), ("RNO", 3), ("HQ", 4)),
    ),
    ChannelSpec(
        "europe",
        "Europe",
        SalesChannel.Kind.WOOCOMMERCE,
        1,
        (("BER", 1), ("FRA", 2), ("HQ", 3)),
    ),
]

BED_SIZES = {"T": "twin", "F": "full", "Q": "queen", "K": "king", "CK": "california king"}
CASE_SIZES = {"STD": "standard", "K": "king"}
BLANKET_SIZES = {"T": "twin", "FQ": "full/queen", "K": "king"}
SIZE_DEMAND = {
    "twin": 0.25,
    "full": 0.35,
    "queen": 1.0,
    "king": 0.6,
    "california king": 0.12,
    "standard": 1.0,
    "full/queen": 1.0,
}
# The first colour of a product sells best; each next one a little less.
COLOUR_DEMAND = (1.0, 0.55, 0.35, 0.2, 0.12)


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    description: str
    material: str
    sizes: dict[str, str]
    colours: dict[str, str]
    demand: float  # units a day of the best size and colour at the busiest warehouse
    low_stock_threshold: int = 5
    backorder_colours: frozenset[str] = frozenset()
    discontinued_colours: frozenset[str] = frozenset()
    is_seasonal: bool = False  # demand grows through the 90 days (flannel in autumn)
    manage_stock: bool = True


PRODUCTS = [
    ProductSpec(
        "PCL-SHEET",
        "Percale sheet set",
        "Crisp 300-thread-count cotton percale: flat sheet, fitted sheet, two pillowcases.",
        "cotton percale",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "SGE": "sage", "SLT": "slate", "NVY": "navy"},
        1.5,
    ),
    ProductSpec(
        "STN-SHEET",
        "Sateen sheet set",
        "Silky 400-thread-count cotton sateen with a soft sheen.",
        "cotton sateen",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "CHR": "charcoal", "BLS": "blush", "MDN": "midnight"},
        1.25,
        discontinued_colours=frozenset({"BLS"}),
    ),
    ProductSpec(
        "LIN-DUVET",
        "Linen duvet cover",
        "Stonewashed European flax linen duvet cover with coconut-shell buttons.",
        "linen",
        BED_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.6,
        backorder_colours=frozenset({"TRC"}),
    ),
    ProductSpec(
        "FLN-CASE",
        "Flannel pillowcases",
        "A pair of brushed cotton flannel pillowcases.",
        "cotton flannel",
        CASE_SIZES,
        {"RPL": "red plaid", "GRY": "grey heather", "CRM": "cream", "FST": "forest"},
        0.5,
        low_stock_threshold=8,
        is_seasonal=True,
    ),
    ProductSpec(
        "BMB-SHEET",
        "Bamboo sheet set",
        "Cool, breathable sheets woven from bamboo lyocell.",
        "bamboo lyocell",
        BED_SIZES,
        {"WHT": "white", "SND": "sand", "SKY": "sky", "GRP": "graphite"},
        0.75,
    ),
    ProductSpec(
        "LIN-SHEET",
        "Linen sheet set",
        "Stonewashed linen flat sheet, fitted sheet and pillowcases.",
        "linen",
        BED_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.75,
        backorder_colours=frozenset({"OLV"}),
    ),
    ProductSpec(
        "STN-DUVET",
        "Sateen duvet cover",
        "Cotton sateen duvet cover with a hidden zip closure.",
        "cotton sateen",
        BED_SIZES,
        {"WHT": "white", "IVR": "ivory", "CHR": "charcoal", "MDN": "midnight"},
        0.5,
    ),
    ProductSpec(
        "PCL-CASE",
        "Percale pillowcases",
        "A pair of cotton percale pillowcases with an envelope closure.",
        "cotton percale",
        CASE_SIZES,
        {"WHT": "white", "IVR": "ivory", "SGE": "sage", "SLT": "slate", "NVY": "navy"},
        0.75,
        low_stock_threshold=8,
    ),
    ProductSpec(
        "LIN-CASE",
        "Linen pillowcases",
        "A pair of stonewashed linen pillowcases.",
        "linen",
        CASE_SIZES,
        {"NAT": "natural", "WHT": "white", "TRC": "terracotta", "OLV": "olive", "STN": "stone"},
        0.5,
        low_stock_threshold=8,
    ),
    ProductSpec(
        "FLN-SHEET",
        "Flannel sheet set",
        "Brushed six-ounce cotton flannel sheets for cold nights.",
        "cotton flannel",
        BED_SIZES,
        {"RPL": "red plaid", "GRY": "grey heather", "CRM": "cream", "FST": "forest"},
        0.6,
        is_seasonal=True,
    ),
    ProductSpec(
        "WFL-BLNKT",
        "Waffle blanket",
        "A light cotton waffle-weave blanket for all seasons.",
        "cotton waffle",
        BLANKET_SIZES,
        {"WHT": "white", "OAT": "oatmeal", "SGE": "sage", "CLY": "clay"},
        0.4,
    ),
    ProductSpec(
        "DAC-COMF",
        "Down-alternative comforter",
        "Hypoallergenic microfibre fill, baffle-box stitched.",
        "microfibre",
        BLANKET_SIZES,
        {"WHT": "white"},
        0.5,
    ),
    ProductSpec(
        "MAT-PROT",
        "Mattress protector",
        "Waterproof cotton terry mattress protector with deep pockets.",
        "cotton terry",
        BED_SIZES,
        {"WHT": "white"},
        0.75,
    ),
    ProductSpec(
        "MNG-CASE",
        "Monogrammed pillowcases (made to order)",
        "Percale pillowcases embroidered with your initials; sewn after you order.",
        "cotton percale",
        CASE_SIZES,
        {"WHT": "white", "IVR": "ivory"},
        0,
        manage_stock=False,
    ),
]


@dataclass
class DemoSummary:
    today: date
    warehouses_created: int = 0
    channels_created: int = 0
    links_created: int = 0
    products_created: int = 0
    variants_created: int = 0
    history_loaded: bool = False
    history_days: int = 0
    movements_written: int = 0
    levels_stocked: int = 0
    snapshots_written: int = 0


@dataclass
class _DemoVariant:
    variant: Variant
    spec: ProductSpec
    colour_rank: int
    size: str
    colour_code: str


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


def load_demo(
    *, today: date | None = None, seed: int = DEMO_SEED, log: Callable[[str], None] = print
) -> DemoSummary:
    """Create the demo business and its history, all in one transaction, or do nothing.

    Idempotent: catalogue rows are found by natural key (code, name, SKU) and never
    updated; the history is written only when the ledger has no demo movement yet.
    """
    today = today or utc_today()
    summary = DemoSummary(today=today)
    with transaction.atomic():
        warehouses = _ensure_warehouses(summary)
        _ensure_channels(warehouses, summary)
        variants = _ensure_catalogue(summary)
        if StockMovement.objects.filter(source=MovementSource.DEMO).exists():
            log("Demo history already loaded: left as it is.")
            return summary
        simulation = _Simulation(
            variants=variants, warehouses=warehouses, today=today, rng=random.Random(seed)
        )
        summary.movements_written = simulation.run()
        summary.history_loaded = True
        summary.history_days = HISTORY_DAYS
        summary.levels_stocked = len(simulation.levels)
        summary.snapshots_written = rebuild_snapshots()
    return summary


def _ensure_warehouses(summary: DemoSummary) -> dict[str, Warehouse]:
    warehouses = {}
    for spec in WAREHOUSES:
        warehouse, created = Warehouse.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "address": spec.address,
                "latitude": Decimal(spec.latitude),
                "longitude": Decimal(spec.longitude),
                "timezone": spec.timezone,
                "lead_time_days": spec.lead_time_days,
                "daily_dispatch_capacity": spec.daily_dispatch_capacity,
            },
        )
        summary.warehouses_created += created
        warehouses[spec.code] = warehouse
    return warehouses


def _ensure_channels(warehouses: dict[str, Warehouse], summary: DemoSummary) -> None:
    for spec in CHANNELS:
        channel, created = SalesChannel.objects.get_or_create(
            code=spec.code,
            defaults={"name": spec.name, "kind": spec.kind, "safety_buffer": spec.safety_buffer},
        )
        summary.channels_created += created
        for code, priority in spec.links:
            _, created = ChannelWarehouse.objects.get_or_create(
                channel=channel, warehouse=warehouses[code], defaults={"priority": priority}
            )
            summary.links_created += created


def barcode_for(sku: str) -> str:
    """An EAN-13 in the 200-299 in-store range, so it never collides with a real GTIN."""
    digits = f"200{crc32(sku.encode()) % 10**9:09d}"
    odd_even = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - odd_even % 10) % 10)


def _ensure_catalogue(summary: DemoSummary) -> list[_DemoVariant]:
    variants = []
    for spec in PRODUCTS:
        product, created = Product.objects.get_or_create(
            name=spec.name, defaults={"description": spec.description}
        )
        summary.products_created += created
        for colour_rank, (colour_code, colour) in enumerate(spec.colours.items()):
            for size_code, size in spec.sizes.items():
                sku = f"{spec.code}-{size_code}-{colour_code}"
                if colour_code in spec.backorder_colours:
                    backorders = (
                        BackorderPolicy.ALLOW_AND_NOTIFY
                        if size == "queen"
                        else BackorderPolicy.ALLOW
                    )
                else:
                    backorders = BackorderPolicy.DENY
                variant, created = Variant.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "product": product,
                        "attributes": {"size": size, "colour": colour, "material": spec.material},
                        "barcode": barcode_for(sku),
                        "manage_stock": spec.manage_stock,
                        "backorders": backorders,
                        "low_stock_threshold": spec.low_stock_threshold,
                    },
                )
                summary.variants_created += created
                variants.append(_DemoVariant(variant, spec, colour_rank, size, colour_code))
    return variants


class _Simulation:
    """Ninety days of a linen business: opening import, sales, purchase orders, returns,
    damage, cycle counts and safety stock, one `apply_changes` call per day."""

    def __init__(
        self,
        *,
        variants: list[_DemoVariant],
        warehouses: dict[str, Warehouse],
        today: date,
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        self.specs = {spec.code: spec for spec in WAREHOUSES}
        self.levels = self._plan_levels(variants, warehouses)

    def _plan_levels(
        self, variants: list[_DemoVariant], warehouses: dict[str, Warehouse]
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
