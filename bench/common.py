"""Plumbing shared by the benchmarks: a dedicated database, worker processes, statistics.

A benchmark runs against its own PostgreSQL database (dropped and migrated on each run),
never the development or test database. Workers are separate processes, each with its own
database connection, so that Python's GIL does not make the client the bottleneck.
"""

import multiprocessing
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier

import django
import psycopg

SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Records the errors of this many calls per worker; the rest are only counted.
MAX_ERRORS_KEPT = 5
# A worker that has not reported this long after its run should have ended is stuck.
RESULT_GRACE_SECONDS = 120


def database_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


def recreate_database(name: str, *, template: str | None = None) -> None:
    """Drop `name` and create it empty, or as a copy of `template`."""
    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template is None:
            connection.execute(f'CREATE DATABASE "{name}"')
        else:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def drop_database(name: str) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure_django(database: str) -> None:
    """Point Django at the benchmark database; call once per process, before any model import.

    REDIS_URL is removed so that the channel layer and the cache are in-memory: the
    benchmark measures the database work, not a Redis round trip. DEBUG is off so that
    Django does not keep every query in memory.
    """
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "inventory_hub.settings.local"
    os.environ["DEBUG"] = "0"
    # No connection pool: the benchmarks fork workers and drop, clone and switch databases,
    # which a pool's open connections and threads would outlive. A single-threaded worker
    # keeps its one connection either way.
    os.environ["DATABASE_POOL_SIZE"] = "0"
    os.environ.pop("REDIS_URL", None)
    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def reconnect_to(database: str) -> None:
    """Switch this process's Django connection to another database (e.g. a fresh clone)."""
    from django.db import connections

    from stock.events import release_publisher_connection

    # The publisher thread keeps its own connection while busy: none may stay behind.
    release_publisher_connection()
    connections.close_all()
    connections["default"].settings_dict["NAME"] = database


# --- Catalogue and stock -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Catalogue:
    channel_code: str
    warehouse_codes: list[str]


def seed_catalogue(
    *,
    stock: dict[str, int],
    warehouse_count: int,
    first_warehouse_only: frozenset[str] = frozenset(),
    source_selection: str = "priority",
    batch_size: int = 5000,
) -> Catalogue:
    """A channel linked to `warehouse_count` warehouses (sourcing by `source_selection`),
    and a variant per SKU of `stock`.

    Each SKU gets its quantity in every warehouse, or in the first (priority 1) only when
    it is in `first_warehouse_only`. Stock enters through `apply_changes` (receipts), so
    the ledger and the balances agree from the start.
    """
    from stock.actors import Actor
    from stock.models import MovementKind, MovementSource, Product, ReasonCode, Variant
    from stock.services.ledger import LevelChange, apply_changes
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    warehouses = [
        Warehouse.objects.create(code=f"WH{number}", name=f"Benchmark warehouse {number}")
        for number in range(1, warehouse_count + 1)
    ]
    channel = SalesChannel.objects.create(
        code="BENCH", name="Benchmark channel", source_selection=source_selection
    )
    ChannelWarehouse.objects.bulk_create(
        ChannelWarehouse(channel=channel, warehouse=warehouse, priority=priority)
        for priority, warehouse in enumerate(warehouses, start=1)
    )
    product = Product.objects.create(name="Benchmark product")
    variants = Variant.objects.bulk_create(
        [Variant(product=product, sku=sku) for sku in stock], batch_size=batch_size
    )
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RECEIPT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_on_hand=stock[variant.sku],
        )
        for warehouse in warehouses
        for variant in variants
        if warehouse == warehouses[0] or variant.sku not in first_warehouse_only
    ]
    actor = Actor.system("benchmark seed")
    for start in range(0, len(changes), batch_size):
        apply_changes(
            changes[start : start + batch_size], actor=actor, source=MovementSource.MANUAL
        )
    return Catalogue(
        channel_code=channel.code, warehouse_codes=[warehouse.code for warehouse in warehouses]
    )


def level_ids(skus: Sequence[str], *, warehouse_code: str) -> list[int]:
    """The level ids of these SKUs at one warehouse, in the order of `skus`."""
    from stock.models import StockLevel

    ids = dict(
        StockLevel.objects.filter(
            variant__sku__in=skus, warehouse__code=warehouse_code
        ).values_list("variant__sku", "pk")
    )
    return [ids[sku] for sku in skus]


def seed_levels_in_server(
    cursor, *, product_id: int, variants: int, threshold: int, on_hand_sql: str, params: list
) -> None:
    """`variants` variants SKU-000000… of one product (unit cost 10.00), a level per
    (variant, warehouse) whose on hand is `on_hand_sql` (over `v` and `w`, with `params`),
    and the receipt that explains each non-empty level: INSERT … SELECT over
    generate_series, in the server (500,000 levels in seconds, where the services take
    minutes). Shared by bench.transfers_lifecycle and bench.alerts."""
    cursor.execute(
        """
        INSERT INTO stock_variant (sku, attributes, barcode, manage_stock, backorders,
            low_stock_threshold, is_active, created_at, product_id, unit_cost)
        SELECT 'SKU-' || lpad(g::text, 6, '0'), '{}', '', true, 'deny', %s, true,
               now(), %s, 10.00
          FROM generate_series(0, %s - 1) AS g
        """,
        [threshold, product_id, variants],
    )
    cursor.execute(
        f"""
        INSERT INTO stock_stocklevel (on_hand, reserved, unsellable, safety_stock,
            inbound, is_backorder_allowed, version, updated_at, warehouse_id, variant_id)
        SELECT {on_hand_sql}, 0, 0, 0, 0, false, 1, now(), w.id, v.id
          FROM stock_variant v CROSS JOIN warehouses_warehouse w
         ORDER BY v.id, w.id
        """,
        params,
    )
    cursor.execute(
        """
        INSERT INTO stock_stockmovement (kind, reason, note, delta_on_hand,
            delta_reserved, delta_unsellable, delta_safety_stock, delta_inbound,
            on_hand_after, reserved_after, unsellable_after, safety_stock_after,
            inbound_after, actor_kind, actor_label, source, document, reference,
            occurred_at, recorded_at, level_id, warehouse_id, variant_id)
        SELECT 'receipt', 'purchase_order', '', on_hand, 0, 0, 0, 0,
               on_hand, 0, 0, 0, 0, 'system', 'benchmark seed', 'manual', '', NULL,
               now(), now(), id, warehouse_id, variant_id
          FROM stock_stocklevel WHERE on_hand > 0
        """
    )


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them on a live database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- Worker processes ----------------------------------------------------------------------


@dataclass(slots=True)
class WorkerResult:
    successes: int = 0
    refusals: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    seconds: float = 0.0  # the measured window
    cpu_seconds: float = 0.0  # the worker's and its database backend's, in the window
    backend_cpu_seconds: float = 0.0  # the backend's part of it

    def record(self, succeeded: bool, error: Exception | None, seconds: float) -> None:
        if error is not None:
            self.record_error(error)
        elif succeeded:
            self.successes += 1
            self.latencies.append(seconds)
        else:
            self.refusals += 1

    def record_error(self, error: Exception) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERRORS_KEPT:
            self.error_samples.append(f"{type(error).__name__}: {error}")


@dataclass(frozen=True, slots=True)
class Client:
    """What a worker process repeats, and the PostgreSQL backend process that serves it.

    `call` gets its call number and says whether it succeeded (False: refused, such as
    sold out); any exception it raises is counted as an error.
    """

    call: Callable[[int], bool]
    backend_pid: int

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time used so far by this process (all its threads) and by its backend
        (same host).

        On a shared machine throughput depends on what else runs; CPU time per call
        much less so, and it bounds what the cores could do.
        """
        with open(f"/proc/{self.backend_pid}/schedstat") as schedstat:
            backend_nanoseconds = int(schedstat.read().split()[0])
        return time.process_time(), backend_nanoseconds / 1e9


# Runs in a worker process: given the worker's number, connects and builds its client.
ClientFactory = Callable[[int], Client]


def timed_loop(client: Client, *, warmup: float, duration: float) -> WorkerResult:
    """Repeat the call for warm-up plus duration; count what completes in the window.

    The window runs from the first completion after the warm-up to the first completion
    after `duration` more seconds, so that its CPU time covers exactly the calls counted.
    """
    result = WorkerResult()
    started = time.perf_counter()
    window_start, window_end = started + warmup, started + warmup + duration
    opened_at = cpu_at_open = None
    number = 0
    while True:
        succeeded, error, seconds = _timed_call(client, number)
        number += 1
        finished = time.perf_counter()
        if finished < window_start:
            continue
        if opened_at is None:
            opened_at, cpu_at_open = finished, client.cpu_seconds()
        else:
            result.record(succeeded, error, seconds)
        if finished >= window_end:
            result.seconds = finished - opened_at
            (own, backend), (own_at_open, backend_at_open) = client.cpu_seconds(), cpu_at_open
            result.backend_cpu_seconds = backend - backend_at_open
            result.cpu_seconds = own - own_at_open + result.backend_cpu_seconds
            return result


def until_refused(client: Client) -> WorkerResult:
    """Repeat the call until it is refused once (sold out), or fails too often."""
    result = WorkerResult()
    number = 0
    while not result.refusals and result.errors <= MAX_ERRORS_KEPT:
        result.record(*_timed_call(client, number))
        number += 1
    return result


def repeat(client: Client, *, times: int) -> WorkerResult:
    """Make the call a fixed number of times."""
    result = WorkerResult()
    for number in range(times):
        result.record(*_timed_call(client, number))
    return result


def _timed_call(client: Client, number: int) -> tuple[bool, Exception | None, float]:
    before = time.perf_counter()
    try:
        succeeded, error = client.call(number), None
    except Exception as caught:  # a benchmark counts and reports errors, it does not stop
        succeeded, error = False, caught
    return succeeded, error, time.perf_counter() - before


def django_backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _worker_main(
    factory: ClientFactory,
    loop: Callable[[Client], WorkerResult],
    number: int,
    barrier: Barrier,
    results: multiprocessing.Queue,
) -> None:
    from django.db import connections

    try:
        client = factory(number)
        barrier.wait()
        result = loop(client)
    except Exception as error:  # reported to the parent instead of lost
        barrier.abort()
        result = WorkerResult()
        result.record_error(error)
    finally:
        connections.close_all()
    results.put(result)


def run_workers(
    factory: ClientFactory,
    *,
    workers: int,
    loop: Callable[[Client], WorkerResult],
    timeout: float,
) -> list[WorkerResult]:
    """Run `loop(factory(n))` in `workers` processes started together; gather their results.

    Processes are forked from this one after its database connections are closed, so each
    opens its own. They all wait at a barrier until every one has built its client.
    """
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_worker_main, args=(factory, loop, number, barrier, results))
        for number in range(workers)
    ]
    for process in processes:
        process.start()
    gathered = [results.get(timeout=timeout + RESULT_GRACE_SECONDS) for _ in processes]
    for process in processes:
        process.join()
    return gathered


# --- Statistics and reporting --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    successes: int
    refusals: int
    errors: int
    per_second: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # client and server CPU per success
    backend_cpu_ms: float  # the server's part of it
    error_samples: list[str]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(results: Sequence[WorkerResult]) -> Summary:
    latencies = sorted(latency for result in results for latency in result.latencies)
    successes = sum(result.successes for result in results)
    cpu_seconds = sum(result.cpu_seconds for result in results)
    backend_cpu_seconds = sum(result.backend_cpu_seconds for result in results)
    return Summary(
        successes=successes,
        refusals=sum(result.refusals for result in results),
        errors=sum(result.errors for result in results),
        per_second=sum(r.successes / r.seconds for r in results if r.seconds),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        cpu_ms=cpu_seconds / successes * 1000 if successes else float("nan"),
        backend_cpu_ms=backend_cpu_seconds / successes * 1000 if successes else float("nan"),
        error_samples=[sample for result in results for sample in result.error_samples],
    )


def machine_description() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    lines = host_description()
    lines.insert(
        2,
        f"PostgreSQL {server_version}, Python {platform.python_version()}, "
        f"Django {django.get_version()}, psycopg {psycopg.__version__}",
    )
    return lines


def host_description() -> list[str]:
    """Date, CPUs, RAM, load and commit: what a benchmark without a database prints."""
    with open("/proc/meminfo") as meminfo:
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"cpus: {os.cpu_count()}, RAM: {total_kib / 1024 / 1024:.1f} GiB, "
        f"load average before the run: {os.getloadavg()[0]:.2f}",
        f"git commit: {commit or 'unknown'}",
    ]


def seeded_random(*parts: object) -> random.Random:
    """A generator that differs per worker and per run but repeats between runs."""
    return random.Random("/".join(str(part) for part in parts))
