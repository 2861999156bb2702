"""Order placement through the service layer, beside the same reservation done in raw SQL.

For one hot SKU and for many SKUs, with each number of concurrent workers, it measures
`place_order` (1-unit, single-line orders with unique references) and then the raw
transaction it has to be compared with: the conditional UPDATE of the level plus the
ledger INSERT, via psycopg. Then a race to sell-out on each path proves that neither
oversells, and the ledger is checked against the balances.

    make bench-reservations            # or: .venv/bin/python -m bench.reservations --help
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import psycopg

from bench.common import (
    Client,
    ClientFactory,
    Summary,
    analyze,
    configure_django,
    database_url,
    django_backend_pid,
    level_ids,
    machine_description,
    migrate,
    recreate_database,
    run_workers,
    seed_catalogue,
    seeded_random,
    summarize,
    timed_loop,
    until_refused,
)

HOT_SKU = "HOT"
HOT_STOCK = 10_000_000
SPREAD_STOCK = 1_000
SELL_OUT_SKUS = {"service": "SELL-OUT-SERVICE", "raw": "SELL-OUT-RAW"}

# What place_order does to the level and the ledger, and nothing else; the service also
# writes the order, its line and the allocation.
RESERVE_SQL = """
    UPDATE stock_stocklevel
       SET reserved = reserved + 1, version = version + 1, updated_at = now()
     WHERE id = %s AND on_hand - reserved - unsellable - safety_stock >= 1
 RETURNING variant_id, warehouse_id, on_hand, reserved, unsellable, safety_stock, inbound
"""
LEDGER_SQL = """
    INSERT INTO stock_stockmovement (
        level_id, variant_id, warehouse_id, kind, reason, note,
        delta_on_hand, delta_reserved, delta_unsellable, delta_safety_stock, delta_inbound,
        on_hand_after, reserved_after, unsellable_after, safety_stock_after, inbound_after,
        actor_kind, actor_label, source, document, reference, occurred_at, recorded_at
    ) VALUES (
        %s, %s, %s, 'reserve', 'order', '',
        0, 1, 0, 0, 0,
        %s, %s, %s, %s, %s,
        'system', 'benchmark', 'order', %s, %s, now(), now()
    )
"""


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    duration: float
    warmup: float
    workers: tuple[int, ...]
    sku_count: int
    warehouse_count: int
    source_selection: str
    sell_out_stock: int
    sell_out_workers: int
    profile: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    skus: list[str]
    level_ids: list[int]  # the same SKUs' levels at the first warehouse, for the raw path


@dataclass(frozen=True, slots=True)
class Comparison:
    scenario: str
    workers: int
    service: Summary
    raw: Summary

    @property
    def ratio(self) -> float:
        return self.service.per_second / self.raw.per_second


@dataclass(frozen=True, slots=True)
class SellOut:
    path: str
    workers: int
    stock: int
    successes: int
    refusals: int
    errors: int
    available_after: int
    reserved_after: int

    @property
    def is_exact(self) -> bool:
        return (
            self.successes == self.stock
            and self.available_after == 0
            and self.reserved_after == self.stock
            and self.errors == 0
        )


# --- The two paths ------------------------------------------------------------------------


def service_orders(*, run: str, channel_code: str, skus: Sequence[str]) -> ClientFactory:
    """Each call places a 1-unit order for a random SKU of `skus` through `place_order`."""

    def build(worker: int) -> Client:
        from stock.actors import Actor
        from stock.errors import InsufficientStock
        from stock.services.orders import OrderLineInput, place_order
        from warehouses.models import SalesChannel

        channel = SalesChannel.objects.get(code=channel_code)
        actor = Actor.system("benchmark")
        choose = seeded_random(run, worker).choice

        def place(number: int) -> bool:
            try:
                place_order(
                    channel=channel,
                    reference=f"{run}/{worker}/{number}",
                    lines=[OrderLineInput(sku=choose(skus), quantity=1)],
                    actor=actor,
                )
            except InsufficientStock:
                return False
            return True

        return Client(call=place, backend_pid=django_backend_pid())

    return build


def raw_reservations(*, run: str, database: str, levels: Sequence[int]) -> ClientFactory:
    """Each call reserves 1 unit of a random level in one transaction of 4 round trips.

    BEGIN; the conditional UPDATE (oversell-safe under READ COMMITTED: a waiting UPDATE
    re-checks its WHERE on the row version it gets); the ledger INSERT; COMMIT.
    """

    def build(worker: int) -> Client:
        connection = psycopg.connect(database_url(database), autocommit=True)
        choose = seeded_random(run, worker).choice

        def reserve(number: int) -> bool:
            level_id = choose(levels)
            with connection.transaction():
                balances = connection.execute(RESERVE_SQL, (level_id,)).fetchone()
                if balances is None:
                    return False
                reference = f"raw/{run}/{worker}/{number}"
                connection.execute(
                    LEDGER_SQL, (level_id, *balances, f"benchmark {reference}", reference)
                )
            return True

        return Client(call=reserve, backend_pid=connection.info.backend_pid)

    return build


# --- Runs ---------------------------------------------------------------------------------


def compare(settings: Settings, *, channel_code: str, scenario: Scenario) -> list[Comparison]:
    loop = partial(timed_loop, warmup=settings.warmup, duration=settings.duration)
    timeout = settings.warmup + settings.duration

    def measure(factory: ClientFactory, workers: int) -> Summary:
        # Every cell starts from vacuumed tables, as autovacuum keeps them on a live database
        # (PostgreSQL on the benchmark machine runs with it off): unvacuumed, each reservation
        # left a dead level row behind and later cells paid for all of them.
        analyze()
        return summarize(run_workers(factory, workers=workers, loop=loop, timeout=timeout))

    comparisons = []
    for workers in settings.workers:
        run = f"{scenario.name}/{workers}"
        service = measure(
            service_orders(run=run, channel_code=channel_code, skus=scenario.skus), workers
        )
        raw = measure(
            raw_reservations(run=run, database=settings.database, levels=scenario.level_ids),
            workers,
        )
        comparison = Comparison(scenario=scenario.name, workers=workers, service=service, raw=raw)
        print(_row(comparison), flush=True)
        comparisons.append(comparison)
    return comparisons


def sell_out(settings: Settings, *, channel_code: str, warehouse_code: str) -> list[SellOut]:
    """Both paths race `sell_out_workers` buyers for `sell_out_stock` units to the last one."""
    from stock.models import StockLevel

    factories = {
        "service": service_orders(
            run="sell-out", channel_code=channel_code, skus=[SELL_OUT_SKUS["service"]]
        ),
        "raw": raw_reservations(
            run="sell-out",
            database=settings.database,
            levels=level_ids([SELL_OUT_SKUS["raw"]], warehouse_code=warehouse_code),
        ),
    }
    outcomes = []
    for path, factory in factories.items():
        results = run_workers(
            factory, workers=settings.sell_out_workers, loop=until_refused, timeout=300
        )
        summary = summarize(results)
        level = StockLevel.objects.get(
            variant__sku=SELL_OUT_SKUS[path], warehouse__code=warehouse_code
        )
        outcomes.append(
            SellOut(
                path=path,
                workers=settings.sell_out_workers,
                stock=settings.sell_out_stock,
                successes=summary.successes,
                refusals=summary.refusals,
                errors=summary.errors,
                available_after=level.available,
                reserved_after=level.reserved,
            )
        )
        for sample in summary.error_samples:
            print(f"  {path} sell-out error: {sample}")
    return outcomes


def profile(*, channel_code: str, scenario: Scenario, orders: int = 300) -> None:
    """Where one process's time goes in `place_order`, with no other client of ours running.

    First without a profiler: wall and CPU time per order, the round trips it makes, and
    each statement's time as the client sees it. Then under cProfile: the project's
    functions (and Django's commit hooks) by cumulative time.
    """
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    place = service_orders(
        run=f"profile/{scenario.name}", channel_code=channel_code, skus=scenario.skus
    )(0).call
    for number in range(20):
        place(number)
    clock = StatementClock()
    started, cpu_started = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as round_trips, connection.execute_wrapper(clock):
        for number in range(20, 20 + orders):
            place(number)
    wall = (time.perf_counter() - started) / orders
    cpu = (time.process_time() - cpu_started) / orders
    in_statements = sum(seconds for _, seconds in clock.statements) / orders
    print(
        f"\nplace_order, {scenario.name}, one process, {orders} orders: "
        f"{wall * 1000:.2f} ms wall and {cpu * 1000:.2f} ms client CPU per order; "
        f"{len(round_trips) / orders:.1f} round trips per order "
        f"({len(clock.statements) / orders:.1f} statements taking {in_statements * 1000:.2f} ms; "
        "a BEGIN or COMMIT is a round trip too, but is not counted here)"
    )
    by_statement: dict[str, list[float]] = {}
    for sql, seconds in clock.statements:
        by_statement.setdefault(sql[:100], []).append(seconds)
    for sql, times in by_statement.items():
        print(f"  {sum(times) / orders * 1000:6.3f} ms  {sql}")

    profiler = cProfile.Profile()
    profiler.runcall(lambda: [place(number) for number in range(20 + orders, 20 + 2 * orders)])
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(
        r"stock/|warehouses/|run_and_clear_commit_hooks|asgiref/sync.py:\d+\(__call__\)", 25
    )


class StatementClock:
    """Records each statement and its time, as seen by the client (`execute_wrapper`)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, float]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((sql, time.perf_counter() - started))


def prepare(settings: Settings) -> tuple[str, list[Scenario], str]:
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()
    spread = [f"SKU-{number:05d}" for number in range(settings.sku_count)]
    stock = {HOT_SKU: HOT_STOCK, **dict.fromkeys(spread, SPREAD_STOCK)}
    stock |= dict.fromkeys(SELL_OUT_SKUS.values(), settings.sell_out_stock)
    catalogue = seed_catalogue(
        stock=stock,
        warehouse_count=settings.warehouse_count,
        first_warehouse_only=frozenset(SELL_OUT_SKUS.values()),
        source_selection=settings.source_selection,
    )
    first = catalogue.warehouse_codes[0]
    scenarios = [
        Scenario(
            name="hot SKU", skus=[HOT_SKU], level_ids=level_ids([HOT_SKU], warehouse_code=first)
        ),
        Scenario(
            name=f"{settings.sku_count:,} SKUs",
            skus=spread,
            level_ids=level_ids(spread, warehouse_code=first),
        ),
    ]
    return catalogue.channel_code, scenarios, first


def main() -> int:
    settings = parse_settings()
    channel_code, scenarios, first_warehouse = prepare(settings)
    print("\n".join(machine_description()))
    if settings.profile:
        for scenario in scenarios:
            profile(channel_code=channel_code, scenario=scenario)
        return 0
    print(
        f"{settings.warehouse_count} warehouse(s) linked to the channel, sourcing by "
        f"{settings.source_selection}; "
        f"{settings.warmup:g} s warm-up, then {settings.duration:g} s measured per cell\n"
    )
    print(HEADER, flush=True)
    comparisons = [
        comparison
        for scenario in scenarios
        for comparison in compare(settings, channel_code=channel_code, scenario=scenario)
    ]
    print("\nSell-out race (each buyer takes 1 unit until refused):")
    sell_outs = sell_out(settings, channel_code=channel_code, warehouse_code=first_warehouse)
    for outcome in sell_outs:
        print(
            f"  {outcome.path}: {outcome.workers} buyers, stock {outcome.stock}: "
            f"{outcome.successes} succeeded, {outcome.refusals} refused, {outcome.errors} errors; "
            f"afterwards available {outcome.available_after}, reserved {outcome.reserved_after}"
            f" -> {'exact, no oversell' if outcome.is_exact else 'WRONG'}"
        )

    from stock.selectors import ledger_differences

    differences = ledger_differences()
    print(f"\nLedger sums equal balances: {'yes' if not differences else differences[:10]}")
    errors = [c for c in comparisons if c.service.errors or c.raw.errors]
    for comparison in errors:
        print(
            f"Errors in {comparison.scenario}/{comparison.workers}: "
            f"{[*comparison.service.error_samples, *comparison.raw.error_samples]}"
        )
    print(f"Load average after the run: {os.getloadavg()[0]:.2f}")
    is_correct = not differences and not errors and all(o.is_exact for o in sell_outs)
    return 0 if is_correct else 1


HEADER = (
    "| scenario | workers | service orders/s | raw tx/s | ratio "
    "| service p50 / p95 ms | raw p50 / p95 ms "
    "| service / raw CPU ms per call (client + backend) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


def _row(comparison: Comparison) -> str:
    service, raw = comparison.service, comparison.raw
    return (
        f"| {comparison.scenario} | {comparison.workers} | {service.per_second:,.0f} "
        f"| {raw.per_second:,.0f} | {comparison.ratio:.2f} "
        f"| {service.p50_ms:.1f} / {service.p95_ms:.1f} | {raw.p50_ms:.1f} / {raw.p95_ms:.1f} "
        f"| {_cpu(service)} / {_cpu(raw)} |"
    )


def _cpu(summary: Summary) -> str:
    client = summary.cpu_ms - summary.backend_cpu_ms
    return f"{summary.cpu_ms:.2f} ({client:.2f} + {summary.backend_cpu_ms:.2f})"


def add_catalogue_arguments(parser: argparse.ArgumentParser) -> None:
    """The database and the catalogue it is seeded with (also bench.order_instructions)."""
    environ = os.environ.get
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "hub_bench"))
    parser.add_argument("--skus", type=int, default=int(environ("BENCH_SKUS", "10000")))
    parser.add_argument(
        "--warehouses",
        type=int,
        default=int(environ("BENCH_WAREHOUSES", "1")),
        help="warehouses linked to the channel (BENCH_WAREHOUSES, default 1)",
    )
    parser.add_argument(
        "--source-selection",
        choices=["priority", "most_stock"],
        default=environ("BENCH_SOURCE_SELECTION", "priority"),
        help="the channel's source selection (BENCH_SOURCE_SELECTION, default priority)",
    )


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_catalogue_arguments(parser)
    parser.add_argument(
        "--duration",
        type=float,
        default=float(environ("BENCH_DURATION", "10")),
        help="seconds measured per cell (BENCH_DURATION, default 10)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=float(environ("BENCH_WARMUP", "2")),
        help="seconds run before measuring (BENCH_WARMUP, default 2)",
    )
    parser.add_argument(
        "--workers",
        default=environ("BENCH_WORKERS", "1,8,32"),
        help="comma-separated worker counts (BENCH_WORKERS, default 1,8,32)",
    )
    parser.add_argument(
        "--sell-out-stock", type=int, default=int(environ("BENCH_SELL_OUT_STOCK", "1000"))
    )
    parser.add_argument(
        "--sell-out-workers", type=int, default=int(environ("BENCH_SELL_OUT_WORKERS", "32"))
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the comparison, show where one process's time goes in place_order",
    )
    arguments = parser.parse_args()
    return Settings(
        database=arguments.database,
        duration=arguments.duration,
        warmup=arguments.warmup,
        workers=tuple(int(count) for count in arguments.workers.split(",")),
        sku_count=arguments.skus,
        warehouse_count=arguments.warehouses,
        source_selection=arguments.source_selection,
        sell_out_stock=arguments.sell_out_stock,
        sell_out_workers=arguments.sell_out_workers,
        profile=arguments.profile,
    )


if __name__ == "__main__":
    sys.exit(main())
