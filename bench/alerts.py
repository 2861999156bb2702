"""Alerts (issue 21) on 500,000 stock levels, each measure beside its baseline in one run.

1. Orders: `place_order` CPU per order (client + backend, as bench.reservations measures
   it) and throughput with no alert rule, then with 1,000 active rules of the stock
   conditions scoped to the ordered SKUs, in turns (after a warm-up cell: no rules,
   rules, rules, no rules, ...).
   The reactions note the touched levels after each commit; the evaluation they queue runs
   in a worker, not here: what is measured is what the rules cost the writer.
2. Sweeps: five stock rules over every level; the first sweep (which creates the alerts of
   every level and channel below a line) and the steady one after it, beside the raw
   scan the full pass makes (one SELECT per rule of the levels below its line).
3. Commit to dashboard, and 4. dispatch to a signed-webhook receiver: bench.alerts_live,
   in child processes with Redis (the hub's `runhub`, a webhook receiver).

    make bench-alerts      # or: .venv/bin/python -m bench.alerts --help
    SIZE=20000 make bench-alerts   # a quick check: 20,000 variants x 10 warehouses
"""

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial

from bench.common import (
    Summary,
    analyze,
    configure_django,
    machine_description,
    migrate,
    recreate_database,
    run_workers,
    seed_levels_in_server,
    summarize,
    timed_loop,
)
from bench.reservations import service_orders

HOT_STOCK = 1_000_000  # units per level of the ordered SKUs: they never run out
LOW_STOCK_THRESHOLD = 5
# The sweep's rules, as the previous one-off measurement had them.
SWEEP_RULES = {
    "sweep: below 5": {"condition": "available_below", "threshold": 5},
    "sweep: below own threshold": {"condition": "available_below"},
    "sweep: out of stock": {"condition": "out_of_stock"},
    "sweep: channel out of stock": {"condition": "channel_out_of_stock"},
    "sweep: channel below 20": {"condition": "channel_salable_below", "threshold": 20},
}
# The 1,000 rules of the order measure cycle through these (each scoped to one hot SKU).
ORDER_RULE_CONDITIONS = (
    "available_below",
    "out_of_stock",
    "back_in_stock",
    "channel_salable_below",
    "channel_out_of_stock",
    "channel_back_in_stock",
    "forced_status_contradicts",
)


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    variants: int
    warehouses: int
    hot_skus: int
    rules: int
    order_workers: int
    rounds: int
    duration: float
    warmup: float
    changes: int
    notifications: int
    dispatch_workers: int
    redis_url: str
    skip_live: bool


# --- Seeding --------------------------------------------------------------------------------


def seed(settings: Settings) -> None:
    """Warehouses B0…, two channels of half the warehouses each (BENCH-0 sells from the
    first half, by priority), `variants` variants (low-stock threshold 5), a level per
    (variant, warehouse) and the receipt that explains it. The first `hot_skus` SKUs hold
    HOT_STOCK units everywhere; the others 0 to 199, spread, so that the sweep's rules find
    about one level in twenty below 5 and one in two hundred out of stock.
    Rows come from INSERT … SELECT over generate_series, in the server, as in
    bench.transfers_lifecycle."""
    from django.db import connection, transaction

    from stock.models import Product
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    started = time.perf_counter()
    with transaction.atomic():
        sites = [
            Warehouse.objects.create(code=f"B{number}", name=f"Benchmark warehouse {number}")
            for number in range(settings.warehouses)
        ]
        half = max(1, settings.warehouses // 2)
        for number, group in enumerate((sites[:half], sites[half:])):
            channel = SalesChannel.objects.create(code=f"BENCH-{number}", name=f"Bench {number}")
            ChannelWarehouse.objects.bulk_create(
                ChannelWarehouse(channel=channel, warehouse=site, priority=priority)
                for priority, site in enumerate(group, start=1)
            )
        product = Product.objects.create(name="Benchmark product")
        with connection.cursor() as cursor:
            seed_levels_in_server(
                cursor,
                product_id=product.pk,
                variants=settings.variants,
                threshold=LOW_STOCK_THRESHOLD,
                on_hand_sql=(
                    "CASE WHEN v.sku < %s THEN %s ELSE (v.id * 7919 + w.id * 104729) %% 200 END"
                ),
                params=[f"SKU-{settings.hot_skus:06d}", HOT_STOCK],
            )
    analyze()
    print(
        f"Seeded {settings.variants:,} variants x {settings.warehouses} warehouses = "
        f"{settings.variants * settings.warehouses:,} levels in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )


def hot_skus(settings: Settings) -> list[str]:
    return [f"SKU-{number:06d}" for number in range(settings.hot_skus)]


# --- 1. Orders with and without 1,000 rules -------------------------------------------------


def create_order_rules(settings: Settings) -> list[int]:
    """`settings.rules` active rules through `create_rule`, each on one hot SKU, with
    lines no order of the measure crosses (nothing fires: the cost measured is the
    reactions', not a notification's)."""
    from alerts.services import create_rule
    from stock.actors import Actor
    from stock.models import Variant

    actor = Actor.system("benchmark")
    variants = list(Variant.objects.filter(sku__in=hot_skus(settings)).order_by("sku"))
    created = []
    for number in range(settings.rules):
        condition = ORDER_RULE_CONDITIONS[number % len(ORDER_RULE_CONDITIONS)]
        values: dict[str, object] = {"condition": condition}
        if condition in ("available_below", "channel_salable_below"):
            values["threshold"] = 10
        rule = create_rule(
            actor=actor,
            name=f"orders: {condition} {number}",
            variant=variants[number % len(variants)],
            **values,
        )
        created.append(rule.pk)
    return created


def switch_rules(rule_ids: list[int], *, is_active: bool) -> None:
    from alerts.models import Rule
    from alerts.services import update_rule

    for rule in Rule.objects.filter(pk__in=rule_ids).order_by("pk"):
        update_rule(rule=rule, is_active=is_active)


def reactions_engaged(settings: Settings) -> bool:
    """One order placed here: do the reactions note its level (rules on) or not?"""
    from alerts.reactions import batch
    from stock.actors import Actor
    from stock.events import flush_publications
    from stock.services.orders import OrderLineInput, place_order
    from warehouses.models import SalesChannel

    batch.discard()
    place_order(
        channel=SalesChannel.objects.get(code="BENCH-0"),
        reference=f"check/{time.monotonic_ns()}",
        lines=[OrderLineInput(sku=hot_skus(settings)[0], quantity=1)],
        actor=Actor.system("benchmark"),
    )
    flush_publications()
    engaged = not batch.is_empty()
    batch.discard()
    return engaged


@dataclass(frozen=True, slots=True)
class OrderCell:
    rules: int
    orders: Summary
    engaged: bool


def measure_orders(settings: Settings) -> list[OrderCell]:
    rule_ids = create_order_rules(settings)
    loop = partial(timed_loop, warmup=settings.warmup, duration=settings.duration)
    cells = []
    # A first cell warms the caches and is not counted; then the two kinds alternate
    # ABBA (none, rules, rules, none, ...), so a drift of the machine's load over the run
    # weighs on both alike.
    plan = [(None, False)] + [
        (number, with_rules)
        for number in range(settings.rounds)
        for with_rules in ((False, True) if number % 2 == 0 else (True, False))
    ]
    for round_number, with_rules in plan:
        switch_rules(rule_ids, is_active=with_rules)
        analyze()
        engaged = reactions_engaged(settings)
        run = f"orders/{round_number}/{'rules' if with_rules else 'none'}"
        factory = service_orders(run=run, channel_code="BENCH-0", skus=hot_skus(settings))
        orders = summarize(
            run_workers(
                factory,
                workers=settings.order_workers,
                loop=loop,
                timeout=settings.warmup + settings.duration,
            )
        )
        cell = OrderCell(settings.rules if with_rules else 0, orders, engaged)
        print(_order_row(cell) + (" (warm-up, not counted)" if round_number is None else ""))
        if round_number is not None:
            cells.append(cell)
    switch_rules(rule_ids, is_active=False)
    return cells


ORDER_HEADER = (
    "| active rules | reactions note the level | orders/s | p50 / p95 ms "
    "| CPU ms per order (client + backend) | of which backend | errors |\n"
    "|---:|---|---:|---:|---:|---:|---:|"
)


def _order_row(cell: OrderCell) -> str:
    orders = cell.orders
    return (
        f"| {cell.rules:,} | {'yes' if cell.engaged else 'no'} | {orders.per_second:,.0f} "
        f"| {orders.p50_ms:.1f} / {orders.p95_ms:.1f} | {orders.cpu_ms:.3f} "
        f"| {orders.backend_cpu_ms:.3f} | {orders.errors} |"
    )


def order_verdict(cells: list[OrderCell]) -> str:
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    without = mean([c.orders.cpu_ms for c in cells if not c.rules])
    with_rules = mean([c.orders.cpu_ms for c in cells if c.rules])
    rate_without = mean([c.orders.per_second for c in cells if not c.rules])
    rate_with = mean([c.orders.per_second for c in cells if c.rules])
    extra = (with_rules / without - 1) * 100
    return (
        f"CPU per order, mean of the cells: {without:.3f} ms without rules, "
        f"{with_rules:.3f} ms with them: {extra:+.1f} % (goal: at most +5 %: "
        f"{'met' if extra <= 5 else 'NOT met'}); orders/s {rate_without:,.0f} without, "
        f"{rate_with:,.0f} with"
    )


# --- 2. Sweeps ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepRun:
    name: str
    seconds: float
    cpu_seconds: float  # this process's and its backend's
    levels: int
    variants: int
    findings: int
    created: int
    fired: int


def create_sweep_rules() -> None:
    from alerts.services import create_rule
    from stock.actors import Actor

    for name, values in SWEEP_RULES.items():
        create_rule(actor=Actor.system("benchmark"), name=name, **values)


def timed_sweep(name: str) -> SweepRun:
    from alerts.services.sweep import sweep
    from bench.common import django_backend_pid
    from bench.transfers_lifecycle import cpu_now

    backend = django_backend_pid()
    cpu_before, before = cpu_now(backend), time.perf_counter()
    swept = sweep()
    seconds, cpu = time.perf_counter() - before, cpu_now(backend) - cpu_before
    return SweepRun(
        name,
        seconds,
        cpu,
        swept.levels,
        swept.variants,
        swept.findings,
        swept.result.created,
        len(swept.result.fired),
    )


def raw_scan() -> SweepRun:
    """The baseline: what the full pass must read, as plain SQL (one statement per level
    rule's line, one per channel rule and channel), no alert looked at or written."""
    from django.db import connection

    from bench.common import django_backend_pid
    from bench.transfers_lifecycle import cpu_now

    backend = django_backend_pid()
    cpu_before, before = cpu_now(backend), time.perf_counter()
    found = 0
    with connection.cursor() as cursor:
        for limit in ("5", "v.low_stock_threshold + 1", "1"):
            cursor.execute(
                "SELECT l.id FROM stock_stocklevel l JOIN stock_variant v ON v.id = l.variant_id"
                f" WHERE v.manage_stock AND l.available < {limit}"
            )
            found += len(cursor.fetchall())
        cursor.execute("SELECT id FROM warehouses_saleschannel ORDER BY id")
        for (channel,) in cursor.fetchall():
            for limit in (1, 20):
                cursor.execute(
                    """
                    SELECT l.variant_id FROM stock_stocklevel l
                      JOIN warehouses_channelwarehouse cw
                        ON cw.warehouse_id = l.warehouse_id AND cw.channel_id = %s
                     GROUP BY l.variant_id HAVING SUM(GREATEST(l.available, 0)) < %s
                    """,
                    [channel, limit],
                )
                found += len(cursor.fetchall())
    seconds, cpu = time.perf_counter() - before, cpu_now(backend) - cpu_before
    return SweepRun("raw scan (baseline)", seconds, cpu, 0, 0, found, 0, 0)


def measure_sweeps() -> list[SweepRun]:
    create_sweep_rules()
    runs = [raw_scan(), timed_sweep("first sweep (creates the alerts)")]
    analyze()
    runs += [timed_sweep("steady sweep"), timed_sweep("steady sweep, again"), raw_scan()]
    for run in runs:
        print(_sweep_row(run), flush=True)
    return runs


SWEEP_HEADER = (
    "| pass | seconds | CPU s (process + backend) | levels / variants looked at "
    "| findings (raw: rows) | alerts created | fired |\n|---|---:|---:|---:|---:|---:|---:|"
)


def _sweep_row(run: SweepRun) -> str:
    return (
        f"| {run.name} | {run.seconds:.2f} | {run.cpu_seconds:.2f} "
        f"| {run.levels:,} / {run.variants:,} | {run.findings:,} | {run.created:,} "
        f"| {run.fired:,} |"
    )


# --- Main -----------------------------------------------------------------------------------


def main() -> int:
    settings = parse_settings()
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()
    seed(settings)
    print("\n".join(machine_description()))
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    print(f"uptime: {uptime.strip()}\n")
    print(
        f"1. Orders: 1-unit orders on {settings.hot_skus:,} SKUs (channel BENCH-0), "
        f"{settings.order_workers} workers, {settings.warmup:g} s warm-up then "
        f"{settings.duration:g} s measured per cell; {settings.rules:,} rules of the stock "
        "conditions, each on one of those SKUs, switched on and off between cells\n"
    )
    print(ORDER_HEADER, flush=True)
    cells = measure_orders(settings)
    print(f"\n{order_verdict(cells)}\n")
    print("2. Sweeps over every level, five stock rules\n")
    print(SWEEP_HEADER, flush=True)
    runs = measure_sweeps()
    worst = max(run.seconds for run in runs if run.name.startswith(("first", "steady")))
    print(f"\nSlowest sweep: {worst:.2f} s (goal under 10 s: {'met' if worst < 10 else 'NOT met'})")
    live = 0
    if not settings.skip_live:
        live = subprocess.run(
            [sys.executable, "-m", "bench.alerts_live", *_live_arguments(settings)], check=False
        ).returncode
    return _finish(cells, live)


def _finish(cells: list[OrderCell], live: int) -> int:
    from stock.selectors import ledger_differences

    differences = ledger_differences()
    print(f"\nLedger sums equal balances: {'yes' if not differences else differences[:10]}")
    samples = [sample for cell in cells for sample in cell.orders.error_samples]
    for sample in samples:
        print(f"Error: {sample}")
    engaged = all(cell.engaged == bool(cell.rules) for cell in cells)
    if not engaged:
        print("Error: the reactions did not note levels exactly when rules were on")
    print(f"Load average after the run: {os.getloadavg()[0]:.2f}")
    return 0 if not differences and not samples and engaged and not live else 1


def _live_arguments(settings: Settings) -> list[str]:
    return [
        f"--database={settings.database}",
        f"--redis-url={settings.redis_url}",
        f"--changes={settings.changes}",
        f"--notifications={settings.notifications}",
        f"--workers={settings.dispatch_workers}",
    ]


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "ih_bench_alerts"))
    parser.add_argument(
        "--variants", type=int, default=int(environ("SIZE", environ("BENCH_VARIANTS", "50000")))
    )
    parser.add_argument("--warehouses", type=int, default=int(environ("BENCH_WAREHOUSES", "10")))
    parser.add_argument("--hot-skus", type=int, default=int(environ("BENCH_HOT_SKUS", "1000")))
    parser.add_argument("--rules", type=int, default=int(environ("BENCH_RULES", "1000")))
    parser.add_argument(
        "--order-workers", type=int, default=int(environ("BENCH_ORDER_WORKERS", "4"))
    )
    parser.add_argument("--rounds", type=int, default=int(environ("BENCH_ROUNDS", "2")))
    parser.add_argument("--duration", type=float, default=float(environ("BENCH_DURATION", "10")))
    parser.add_argument("--warmup", type=float, default=float(environ("BENCH_WARMUP", "2")))
    parser.add_argument("--changes", type=int, default=int(environ("BENCH_CHANGES", "40")))
    parser.add_argument(
        "--notifications", type=int, default=int(environ("BENCH_NOTIFICATIONS", "2000"))
    )
    parser.add_argument(
        "--dispatch-workers", type=int, default=int(environ("BENCH_DISPATCH_WORKERS", "2"))
    )
    parser.add_argument(
        "--redis-url", default=environ("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--skip-live", action="store_true", help="skip 3 and 4")
    arguments = parser.parse_args()
    if arguments.warehouses < 2:
        parser.error("two channels need two warehouses")
    return Settings(
        database=arguments.database,
        variants=arguments.variants,
        warehouses=arguments.warehouses,
        hot_skus=min(arguments.hot_skus, arguments.variants),
        rules=arguments.rules,
        order_workers=arguments.order_workers,
        rounds=arguments.rounds,
        duration=arguments.duration,
        warmup=arguments.warmup,
        changes=arguments.changes,
        notifications=arguments.notifications,
        dispatch_workers=arguments.dispatch_workers,
        redis_url=arguments.redis_url,
        skip_live=arguments.skip_live,
    )


if __name__ == "__main__":
    sys.exit(main())
