"""Time one alerts sweep over many levels (issue 21: 500,000 levels under 10 s).

Seeds the database named by DATABASE_URL once (VARIANTS x WAREHOUSES levels, two channels
of five warehouses each, stock spread 0..199), adds a few stock rules, then times a first
sweep (which creates the alerts) and a second (the steady state: every unresolved alert
looked at again, and the full pass finding nothing new). Not for a database you care for.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ih_x \\
        .venv/bin/python scripts/bench_alerts_sweep.py [--variants 50000 --warehouses 10]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings.local")


def seed(variants: int, warehouses: int) -> None:
    from django.db import connection, transaction

    from stock.models import Product, StockLevel, Variant
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    if StockLevel.objects.count() >= variants * warehouses:
        return
    with transaction.atomic():
        product = Product.objects.create(name="Bench")
        sites = [Warehouse.objects.create(code=f"B{n}", name=f"B{n}") for n in range(warehouses)]
        for start in range(0, variants, 10_000):
            Variant.objects.bulk_create(
                Variant(product=product, sku=f"BENCH-{n}", low_stock_threshold=5)
                for n in range(start, min(start + 10_000, variants))
            )
        for number, half in enumerate((sites[: warehouses // 2], sites[warehouses // 2 :])):
            channel = SalesChannel.objects.create(code=f"bench-{number}", name=f"Bench {number}")
            for priority, site in enumerate(half, start=1):
                ChannelWarehouse.objects.create(channel=channel, warehouse=site, priority=priority)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {StockLevel._meta.db_table}
                    (on_hand, reserved, unsellable, safety_stock, inbound,
                     is_backorder_allowed, version, updated_at, warehouse_id, variant_id)
                SELECT (v.id * 7919 + w.id * 104729) %% 200, 0, 0, 0, 0, false, 1, now(),
                       w.id, v.id
                FROM {Variant._meta.db_table} v CROSS JOIN {Warehouse._meta.db_table} w
                WHERE v.product_id = %s AND w.id = ANY(%s)
                """,
                [product.pk, [site.pk for site in sites]],
            )
            cursor.execute(f"ANALYZE {StockLevel._meta.db_table}")


def rules() -> None:
    from alerts.models import Condition, Rule
    from alerts.services import create_rule
    from stock.actors import Actor

    actor = Actor.system("bench")
    wanted = {
        "bench low 5": {"condition": Condition.AVAILABLE_BELOW, "threshold": 5},
        "bench low own": {"condition": Condition.AVAILABLE_BELOW},
        "bench out": {"condition": Condition.OUT_OF_STOCK},
        "bench channel out": {"condition": Condition.CHANNEL_OUT_OF_STOCK},
        "bench channel low": {"condition": Condition.CHANNEL_SALABLE_BELOW, "threshold": 20},
    }
    for name, values in wanted.items():
        if not Rule.objects.filter(name=name).exists():
            create_rule(actor=actor, name=name, **values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--warehouses", type=int, default=10)
    options = parser.parse_args()

    import django

    django.setup()
    from alerts.models import Alert
    from alerts.services.sweep import sweep
    from stock.models import StockLevel

    started = time.perf_counter()
    seed(options.variants, options.warehouses)
    rules()
    print(f"seeded {StockLevel.objects.count()} levels in {time.perf_counter() - started:.1f} s")
    for run in ("first", "second"):
        started = time.perf_counter()
        swept = sweep()
        seconds = time.perf_counter() - started
        print(
            f"{run} sweep: {seconds:.2f} s; {swept.levels} levels and {swept.variants} variants"
            f" looked at, {swept.findings} findings, {len(swept.result.fired)} fired,"
            f" {Alert.objects.exclude(state='resolved').count()} alerts unresolved"
        )


if __name__ == "__main__":
    main()
