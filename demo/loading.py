"""Demo data: a sheets-and-linens business with 90 days of stock history.

The catalogue is created by natural key and never overwritten, so an operator's edits
survive a second load; the history (demo.history) is written once, detected by any ledger
row from the demo source.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zlib import crc32

from django.db import transaction

from alerts.models import Alert, AlertState
from demo.alerts import ensure_alert_rules, evaluate_demo_alerts
from demo.catalogue import CHANNELS, PRODUCTS, WAREHOUSES, DemoVariant
from demo.history import HISTORY_DAYS, HistorySimulation
from demo.suggestions import ensure_suggestions, stage_leaks
from demo.transfers import ensure_lanes, ensure_transfers, ensure_unit_costs
from stock.models import BackorderPolicy, MovementSource, Product, StockMovement, Variant
from stock.services.history import rebuild_snapshots, utc_today
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

DEMO_SEED = 20240601


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
    unit_costs_set: int = 0
    lanes_created: int = 0
    transfers_created: int = 0
    alert_rules_created: int = 0
    alert_receivers_created: int = 0
    alert_routes_created: int = 0
    alert_steps_created: int = 0
    alerts_fired: int = 0  # by the evaluation after this load
    alerts_firing: int = 0
    levels_soaked: int = 0  # by today's leak (demo.suggestions), staged with the history
    forecasts_written: int = 0  # by the first review after this load
    suggestions_made: int = 0
    suggestions_open: int = 0


def load_demo(
    *, today: date | None = None, seed: int = DEMO_SEED, log: Callable[[str], None] = print
) -> DemoSummary:
    """Create the demo business, its history, its transfers and its alert rules, all in
    one transaction, or do nothing; then evaluate the alert rules once (demo.alerts), so
    the alerts exist before the hub's first sweep, and forecast and review once
    (demo.suggestions), so transfer suggestions exist before the first daily review.

    Idempotent: catalogue rows are found by natural key (code, name, SKU) and never
    updated (a unit cost is only filled in where there is none); the history is written
    only when the ledger has no demo movement yet; lanes and transfers only when their
    route or reference is new (demo.transfers); rules, receivers, routes and escalation
    steps only when their name or position is new (demo.alerts).
    """
    today = today or utc_today()
    summary = DemoSummary(today=today)
    with transaction.atomic():
        _load(summary, seed=seed, log=log)
        setup = ensure_alert_rules()
        summary.alert_rules_created = setup.rules_created
        summary.alert_receivers_created = setup.receivers_created
        summary.alert_routes_created = setup.routes_created
        summary.alert_steps_created = setup.steps_created
    summary.alerts_fired = len(evaluate_demo_alerts().result.fired)
    summary.alerts_firing = Alert.objects.filter(state=AlertState.FIRING).count()
    suggested = ensure_suggestions(today=today)
    summary.forecasts_written = suggested.forecasts_written
    summary.suggestions_made = suggested.suggestions_made
    summary.suggestions_open = suggested.suggestions_open
    return summary


def _load(summary: DemoSummary, *, seed: int, log: Callable[[str], None]) -> None:
    today = summary.today
    warehouses = _ensure_warehouses(summary)
    _ensure_channels(warehouses, summary)
    variants = _ensure_catalogue(summary)
    summary.unit_costs_set = ensure_unit_costs()
    summary.lanes_created = ensure_lanes(warehouses)
    if StockMovement.objects.filter(source=MovementSource.DEMO).exists():
        log("Demo history already loaded: left as it is.")
        # A demo loaded before it had transfers gets them, and today's snapshots again.
        summary.transfers_created = ensure_transfers(warehouses)
        if summary.transfers_created:
            summary.snapshots_written = rebuild_snapshots(since=today)
        return
    simulation = HistorySimulation(
        variants=variants, warehouses=warehouses, today=today, rng=random.Random(seed)
    )
    summary.movements_written = simulation.run()
    summary.history_loaded = True
    summary.history_days = HISTORY_DAYS
    summary.levels_stocked = len(simulation.levels)
    # Today's transfers and leak before the snapshots, so that today's close includes them.
    summary.transfers_created = ensure_transfers(warehouses)
    summary.levels_soaked = stage_leaks(warehouses)
    summary.snapshots_written = rebuild_snapshots()


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


def _ensure_catalogue(summary: DemoSummary) -> list[DemoVariant]:
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
                variants.append(DemoVariant(variant, spec, colour_rank, size, colour_code))
    return variants
