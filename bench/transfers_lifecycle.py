"""Transfer transitions through the services, beside the same row changes in raw SQL, on
500,000 stock levels; then order placement while transfers run on the same SKUs.

1. Latency: one process takes transfers through their lifecycles (received in two receipts,
   closed short after one, cancelled before shipping) and times each transition service
   (p50, p95, CPU per call). Then the raw path does the same row changes as plain SQL, one
   psycopg transaction per transition: lock the transfer and the levels (primary-key
   order), update the balances, insert the ledger rows, the lines, receipt, state and
   timeline rows.
2. Throughput: `place_order` workers on a set of hot SKUs for a measured window, with no
   transfer running, then while a second process runs transfer lifecycles between the two
   warehouses on those SKUs; beside the raw reservation of bench.reservations in the same
   two conditions.

Last, the ledger must equal the balances, and no call may have failed.

    make bench-transfers-lifecycle     # or: .venv/bin/python -m bench.transfers_lifecycle --help
    SIZE=20000 make bench-transfers-lifecycle   # a quick check: 20,000 variants x 2 warehouses
"""

import argparse
import multiprocessing
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import psycopg

from bench.common import (
    Summary,
    analyze,
    configure_django,
    database_url,
    django_backend_pid,
    level_ids,
    machine_description,
    migrate,
    percentile,
    recreate_database,
    run_workers,
    seed_levels_in_server,
    seeded_random,
    summarize,
    timed_loop,
)
from bench.reservations import raw_reservations, service_orders

TRANSITIONS = (
    "create",
    "approve",
    "pick",
    "ship",
    "receive partial",
    "receive rest",
    "close short",
    "cancel",
)
# Each lifecycle takes one of these paths, in turn.
PATHS = {
    "received": ("create", "approve", "pick", "ship", "receive partial", "receive rest"),
    "closed short": ("create", "approve", "ship", "receive partial", "close short"),
    "cancelled": ("create", "approve", "cancel"),
}
STOCK_PER_LEVEL = 1_000_000


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    variants: int
    warehouses: int
    lines: int
    lifecycles: int
    hot_skus: int
    order_workers: int
    duration: float
    warmup: float


# --- Seeding: bulk SQL, the ledger agreeing with the balances ------------------------------


def seed(settings: Settings) -> None:
    """Warehouses WH1…, a channel over them (by priority), `variants` variants, a level per
    (variant, warehouse) with STOCK_PER_LEVEL units and the one receipt that explains it.

    Rows are made by INSERT … SELECT over generate_series, in the server: through the
    services 500,000 levels take about 7 minutes (bench.dashboard), here well under one.
    """
    from django.db import connection, transaction

    from stock.models import Product
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    started = time.perf_counter()
    with transaction.atomic():
        warehouses = [
            Warehouse.objects.create(code=f"WH{number}", name=f"Benchmark warehouse {number}")
            for number in range(1, settings.warehouses + 1)
        ]
        channel = SalesChannel.objects.create(code="BENCH", name="Benchmark channel")
        ChannelWarehouse.objects.bulk_create(
            ChannelWarehouse(channel=channel, warehouse=warehouse, priority=priority)
            for priority, warehouse in enumerate(warehouses, start=1)
        )
        product = Product.objects.create(name="Benchmark product")
        with connection.cursor() as cursor:
            seed_levels_in_server(
                cursor,
                product_id=product.pk,
                variants=settings.variants,
                threshold=5,
                on_hand_sql="%s",
                params=[STOCK_PER_LEVEL],
            )
    analyze()
    print(
        f"Seeded {settings.variants:,} variants x {settings.warehouses} warehouses = "
        f"{settings.variants * settings.warehouses:,} levels in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )


# --- Timing ---------------------------------------------------------------------------------


def cpu_now(backend_pid: int) -> float:
    """This process's CPU time plus its PostgreSQL backend's (same host), in seconds."""
    with open(f"/proc/{backend_pid}/schedstat") as schedstat:
        backend = int(schedstat.read().split()[0]) / 1e9
    return time.process_time() + backend


@dataclass(slots=True)
class Timings:
    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def timed(self, name: str, backend_pid: int, call: Callable[[], object]) -> object:
        cpu_before, before = cpu_now(backend_pid), time.perf_counter()
        result = call()
        self.wall[name].append(time.perf_counter() - before)
        self.cpu[name].append(cpu_now(backend_pid) - cpu_before)
        return result


@dataclass(frozen=True, slots=True)
class Latency:
    samples: int
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # mean, client + backend


def latency(timings: Timings, name: str) -> Latency:
    wall = sorted(timings.wall[name])
    cpu = timings.cpu[name]
    return Latency(
        samples=len(wall),
        p50_ms=percentile(wall, 0.50) * 1000,
        p95_ms=percentile(wall, 0.95) * 1000,
        cpu_ms=sum(cpu) / len(cpu) * 1000 if cpu else float("nan"),
    )


# --- The service path -----------------------------------------------------------------------


class ServiceLifecycles:
    """Takes transfers through their paths with the transfers services."""

    def __init__(self, *, run: str, skus: list[str], lines: int, worker: int = 0) -> None:
        from stock.actors import Actor
        from warehouses.models import Warehouse

        self.run, self.lines, self.worker = run, lines, worker
        self.skus = skus
        self.warehouses = list(Warehouse.objects.order_by("code")[:2])
        self.actor = Actor.system("benchmark")
        self.rng = seeded_random("transfers", run, worker)
        self.backend_pid = django_backend_pid()
        self.count = 0

    def _variants(self):
        from stock.models import Variant

        skus = self.rng.sample(self.skus, self.lines)
        return list(Variant.objects.filter(sku__in=skus))

    def lifecycle(self, path: str, timings: Timings) -> None:
        from transfers.services import (
            ReceiptLineInput,
            TransferLineInput,
            approve_transfer,
            cancel_transfer,
            close_transfer_short,
            create_transfer,
            pick_transfer,
            receive_transfer,
            ship_transfer,
        )

        self.count += 1
        source, destination = self.warehouses[:: 1 if self.count % 2 else -1]
        variants = self._variants()
        quantities = {variant.pk: self.rng.randint(1, 5) * 2 for variant in variants}
        reference = f"{self.run}/{self.worker}/{self.count}"
        actor = self.actor
        transfer = None

        def receipt(name: str, first_half: bool):
            lines = [
                ReceiptLineInput(
                    variant=variant,
                    accepted=quantities[variant.pk] // 2
                    if first_half
                    else quantities[variant.pk] - quantities[variant.pk] // 2,
                )
                for variant in variants
            ]
            return receive_transfer(
                transfer=transfer, receipt_reference=name, lines=lines, actor=actor
            )

        calls: dict[str, Callable[[], object]] = {
            "create": lambda: create_transfer(
                source=source,
                destination=destination,
                lines=[TransferLineInput(variant=v, quantity=quantities[v.pk]) for v in variants],
                reference=reference,
                actor=actor,
            ),
            "approve": lambda: approve_transfer(transfer=transfer, actor=actor),
            "pick": lambda: pick_transfer(transfer=transfer, actor=actor),
            "ship": lambda: ship_transfer(transfer=transfer, actor=actor),
            "receive partial": lambda: receipt("R1", True),
            "receive rest": lambda: receipt("R2", False),
            "close short": lambda: close_transfer_short(transfer=transfer, actor=actor),
            "cancel": lambda: cancel_transfer(transfer=transfer, actor=actor),
        }
        for name in PATHS[path]:
            result = timings.timed(name, self.backend_pid, calls[name])
            if name == "create":
                transfer = result


# --- The raw path ---------------------------------------------------------------------------

LOCK_TRANSFER = "SELECT state FROM transfers_transfer WHERE id = %s FOR UPDATE"
# Resolve and lock the levels, in primary-key order, as the ledger does.
LOCK_LEVELS = """
    SELECT l.id, l.variant_id, l.warehouse_id FROM stock_stocklevel l
      JOIN unnest(%s::bigint[], %s::bigint[]) AS c(variant_id, warehouse_id)
        ON l.variant_id = c.variant_id AND l.warehouse_id = c.warehouse_id
     ORDER BY l.id FOR NO KEY UPDATE OF l
"""
UPDATE_LEVELS = """
    UPDATE stock_stocklevel l
       SET on_hand = l.on_hand + c.d_on_hand, reserved = l.reserved + c.d_reserved,
           inbound = l.inbound + c.d_inbound, version = l.version + 1, updated_at = now()
      FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[])
           AS c(level_id, d_on_hand, d_reserved, d_inbound)
     WHERE l.id = c.level_id
       AND l.on_hand - l.reserved - l.unsellable - l.safety_stock >= GREATEST(c.d_reserved, 0)
 RETURNING l.id, l.on_hand, l.reserved, l.unsellable, l.safety_stock, l.inbound
"""
INSERT_MOVEMENTS = """
    INSERT INTO stock_stockmovement (kind, reason, note, delta_on_hand, delta_reserved,
        delta_unsellable, delta_safety_stock, delta_inbound, on_hand_after, reserved_after,
        unsellable_after, safety_stock_after, inbound_after, actor_kind, actor_label, source,
        document, reference, occurred_at, recorded_at, level_id, warehouse_id, variant_id)
    SELECT c.kind, 'transfer', '', c.d_on_hand, c.d_reserved, 0, 0, c.d_inbound,
           c.on_hand, c.reserved, c.unsellable, c.safety_stock, c.inbound,
           'system', 'benchmark', 'transfer', %s, c.reference, now(), now(),
           c.level_id, c.warehouse_id, c.variant_id
      FROM unnest(%s::text[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[],
                  %s::int[], %s::int[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])
           AS c(kind, d_on_hand, d_reserved, d_inbound, on_hand, reserved, unsellable,
                safety_stock, inbound, reference, level_id, warehouse_id, variant_id)
"""
SET_STATE = "UPDATE transfers_transfer SET state = %s, updated_at = now() WHERE id = %s"
INSERT_EVENT = """
    INSERT INTO transfers_transferevent (transfer_id, kind, actor_label, at, details)
    VALUES (%s, %s, 'benchmark', now(), '{}')
"""


@dataclass(slots=True)
class RawTransfer:
    id: int
    reference: str
    source: int
    destination: int
    lines: list[tuple[int, int, int]]  # (line id, variant id, quantity)


# One change of a line's level: (variant id, warehouse id, kind, on hand, reserved, inbound).
Change = tuple[int, int, str, int, int, int]


class RawLifecycles:
    """The same row changes as the services, as plain SQL in one transaction each."""

    def __init__(self, *, database: str, run: str, skus: list[str], lines: int) -> None:
        self.connection = psycopg.connect(database_url(database), autocommit=True)
        self.run, self.lines = run, lines
        self.rng = seeded_random("raw transfers", run)
        self.skus = skus
        self.warehouses = [
            row[0]
            for row in self.connection.execute(
                "SELECT id FROM warehouses_warehouse ORDER BY code LIMIT 2"
            )
        ]
        self.backend_pid = self.connection.info.backend_pid
        self.count = 0

    def _move(self, cursor, transfer: RawTransfer, step: str, changes: list[Change]) -> None:
        variants = [change[0] for change in changes]
        warehouses = [change[1] for change in changes]
        locked = cursor.execute(LOCK_LEVELS, (variants, warehouses)).fetchall()
        level_of = {(variant, warehouse): level for level, variant, warehouse in locked}
        levels = [
            level_of[variant, warehouse]
            for variant, warehouse in zip(variants, warehouses, strict=True)
        ]
        after = {
            row[0]: row[1:]
            for row in cursor.execute(
                UPDATE_LEVELS,
                (
                    levels,
                    [change[3] for change in changes],
                    [change[4] for change in changes],
                    [change[5] for change in changes],
                ),
            ).fetchall()
        }
        if len(after) != len(changes):
            raise RuntimeError("not enough available")
        rows = [after[level] for level in levels]
        cursor.execute(
            INSERT_MOVEMENTS,
            (
                transfer.reference,
                [change[2] for change in changes],
                [change[3] for change in changes],
                [change[4] for change in changes],
                [change[5] for change in changes],
                *([row[index] for row in rows] for index in range(5)),
                [
                    f"raw:{transfer.id}:{step}:{number}:{change[1]}"
                    for number, change in enumerate(changes)
                ],
                levels,
                warehouses,
                variants,
            ),
        )

    def _transition(self, transfer: RawTransfer, state: str, step: str, changes, extra=None):
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(LOCK_TRANSFER, (transfer.id,))
            if changes:
                self._move(cursor, transfer, step, changes)
            if extra is not None:
                extra(cursor)
            cursor.execute(SET_STATE, (state, transfer.id))
            cursor.execute(INSERT_EVENT, (transfer.id, step))

    def create(self, source: int, destination: int) -> RawTransfer:
        self.count += 1
        skus = self.rng.sample(self.skus, self.lines)
        quantities = [self.rng.randint(1, 5) * 2 for _ in skus]
        reference = f"raw/{self.run}/{self.count}"
        with self.connection.transaction(), self.connection.cursor() as cursor:
            (transfer_id,) = cursor.execute(
                """
                INSERT INTO transfers_transfer (source_system, reference, requested_by_label,
                    reason, notes, state, created_at, updated_at, source_id, destination_id)
                VALUES ('hub', %s, 'benchmark', '', '', 'draft', now(), now(), %s, %s)
                RETURNING id
                """,
                (reference, source, destination),
            ).fetchone()
            lines = cursor.execute(
                """
                INSERT INTO transfers_transferline (transfer_id, variant_id, quantity, shipped,
                    accepted, rejected, lost, returned, over_received, return_received)
                SELECT %s, v.id, c.quantity, 0, 0, 0, 0, 0, 0, 0
                  FROM unnest(%s::text[], %s::int[]) AS c(sku, quantity)
                  JOIN stock_variant v ON v.sku = c.sku
                RETURNING id, variant_id, quantity
                """,
                (transfer_id, skus, quantities),
            ).fetchall()
            cursor.execute(INSERT_EVENT, (transfer_id, "created"))
        return RawTransfer(transfer_id, reference, source, destination, lines)

    def approve(self, t: RawTransfer) -> None:
        changes = [(v, t.source, "reserve", 0, q, 0) for _, v, q in t.lines]
        self._transition(t, "approved", "approve", changes)

    def pick(self, t: RawTransfer) -> None:
        self._transition(t, "picked", "pick", [])

    def ship(self, t: RawTransfer) -> None:
        changes = [(v, t.source, "transfer_out", -q, -q, 0) for _, v, q in t.lines]
        changes += [(v, t.destination, "transfer_in", 0, 0, q) for _, v, q in t.lines]

        def lines_shipped(cursor) -> None:
            cursor.execute(
                "UPDATE transfers_transferline SET shipped = quantity WHERE transfer_id = %s",
                (t.id,),
            )

        self._transition(t, "shipped", "ship", changes, lines_shipped)

    def receive(self, t: RawTransfer, *, first_half: bool) -> None:
        accepted = [q // 2 if first_half else q - q // 2 for _, _, q in t.lines]
        changes = [
            (v, t.destination, "transfer_in", a, 0, -a)
            for (_, v, _), a in zip(t.lines, accepted, strict=True)
        ]
        name = "R1" if first_half else "R2"

        def receipt(cursor) -> None:
            (receipt_id,) = cursor.execute(
                """
                INSERT INTO transfers_transferreceipt (transfer_id, reference, is_over_receipt,
                    is_return, actor_label, received_at)
                VALUES (%s, %s, false, false, 'benchmark', now()) RETURNING id
                """,
                (t.id, name),
            ).fetchone()
            line_ids = [line for line, _, _ in t.lines]
            cursor.execute(
                """
                INSERT INTO transfers_transferreceiptline (receipt_id, line_id, accepted,
                    rejected, rejection_reason, rejected_disposition)
                SELECT %s, c.line_id, c.accepted, 0, '', ''
                  FROM unnest(%s::bigint[], %s::int[]) AS c(line_id, accepted)
                """,
                (receipt_id, line_ids, accepted),
            )
            cursor.execute(
                """
                UPDATE transfers_transferline l SET accepted = l.accepted + c.accepted
                  FROM unnest(%s::bigint[], %s::int[]) AS c(line_id, accepted)
                 WHERE l.id = c.line_id
                """,
                (line_ids, accepted),
            )

        state = "partially_received" if first_half else "received"
        self._transition(t, state, f"receive-{name}", changes, receipt)

    def close_short(self, t: RawTransfer) -> None:
        remainders = [q - q // 2 for _, _, q in t.lines]
        changes = [
            (v, t.destination, "adjustment", 0, 0, -r)
            for (_, v, _), r in zip(t.lines, remainders, strict=True)
        ]

        def lines_lost(cursor) -> None:
            cursor.execute(
                "UPDATE transfers_transferline SET lost = shipped - accepted "
                "WHERE transfer_id = %s",
                (t.id,),
            )

        self._transition(t, "closed_short", "close_short", changes, lines_lost)

    def cancel(self, t: RawTransfer) -> None:
        changes = [(v, t.source, "release", 0, -q, 0) for _, v, q in t.lines]
        self._transition(t, "cancelled", "cancel", changes)

    def lifecycle(self, path: str, timings: Timings) -> None:
        source, destination = self.warehouses[:: 1 if self.count % 2 else -1]
        transfer = timings.timed(
            "create", self.backend_pid, partial(self.create, source, destination)
        )
        calls = {
            "approve": partial(self.approve, transfer),
            "pick": partial(self.pick, transfer),
            "ship": partial(self.ship, transfer),
            "receive partial": partial(self.receive, transfer, first_half=True),
            "receive rest": partial(self.receive, transfer, first_half=False),
            "close short": partial(self.close_short, transfer),
            "cancel": partial(self.cancel, transfer),
        }
        for name in PATHS[path][1:]:
            timings.timed(name, self.backend_pid, calls[name])


# --- 1. Latency -----------------------------------------------------------------------------


def measure_latency(settings: Settings, skus: list[str]) -> tuple[Timings, Timings]:
    service = ServiceLifecycles(run="latency", skus=skus, lines=settings.lines)
    raw = RawLifecycles(database=settings.database, run="latency", skus=skus, lines=settings.lines)
    results = []
    for runner in (service, raw):
        warm = Timings()
        for number in range(min(30, settings.lifecycles)):
            runner.lifecycle(list(PATHS)[number % len(PATHS)], warm)
        timings = Timings()
        for number in range(settings.lifecycles):
            runner.lifecycle(list(PATHS)[number % len(PATHS)], timings)
        results.append(timings)
    raw.connection.close()
    return results[0], results[1]


# --- 2. Order throughput while transfers run ------------------------------------------------


@dataclass(slots=True)
class BackgroundResult:
    lifecycles: int = 0
    transitions: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _transfers_in_background(
    run: str, skus: list[str], lines: int, stop, results: multiprocessing.Queue
) -> None:
    from django.db import connections

    outcome = BackgroundResult()
    started = time.perf_counter()
    try:
        runner = ServiceLifecycles(run=run, skus=skus, lines=lines, worker=1)
        paths = list(PATHS)
        while not stop.is_set():
            timings = Timings()
            try:
                runner.lifecycle(paths[outcome.lifecycles % len(paths)], timings)
            except Exception as error:  # counted and reported, as bench.common does
                outcome.errors += 1
                if len(outcome.error_samples) < 5:
                    outcome.error_samples.append(f"{type(error).__name__}: {error}")
            outcome.lifecycles += 1
            outcome.transitions += sum(len(calls) for calls in timings.wall.values())
    finally:
        outcome.seconds = time.perf_counter() - started
        connections.close_all()
        results.put(outcome)


@dataclass(frozen=True, slots=True)
class Throughput:
    path: str
    with_transfers: bool
    orders: Summary
    background: BackgroundResult | None


def measure_throughput(settings: Settings, hot: list[str], hot_levels: list[int]):
    from django.db import connections

    loop = partial(timed_loop, warmup=settings.warmup, duration=settings.duration)
    timeout = settings.warmup + settings.duration
    factories = {
        "service": lambda run: service_orders(run=run, channel_code="BENCH", skus=hot),
        "raw": lambda run: raw_reservations(run=run, database=settings.database, levels=hot_levels),
    }
    cells = []
    for with_transfers in (False, True):
        for path, factory in factories.items():
            analyze()
            run = f"orders/{path}/{'with' if with_transfers else 'without'}"
            background = None
            if with_transfers:
                connections.close_all()
                context = multiprocessing.get_context("fork")
                stop, queue = context.Event(), context.Queue()
                process = context.Process(
                    target=_transfers_in_background,
                    args=(f"bg/{path}", hot, settings.lines, stop, queue),
                )
                process.start()
            orders = summarize(
                run_workers(
                    factory(run), workers=settings.order_workers, loop=loop, timeout=timeout
                )
            )
            if with_transfers:
                stop.set()
                background = queue.get(timeout=120)
                process.join()
            cell = Throughput(path, with_transfers, orders, background)
            print(_throughput_row(cell), flush=True)
            cells.append(cell)
    return cells


# --- Report ---------------------------------------------------------------------------------

LATENCY_HEADER = (
    "| transition | samples | service p50 / p95 ms | service CPU ms | raw p50 / p95 ms "
    "| raw CPU ms |\n|---|---:|---:|---:|---:|---:|"
)
THROUGHPUT_HEADER = (
    "| orders | transfers running | orders/s | p50 / p95 ms | CPU ms per order "
    "| transfer transitions/s beside | errors |\n|---|---|---:|---:|---:|---:|---:|"
)


def _latency_row(name: str, service: Latency, raw: Latency) -> str:
    return (
        f"| {name} | {service.samples} | {service.p50_ms:.1f} / {service.p95_ms:.1f} "
        f"| {service.cpu_ms:.2f} | {raw.p50_ms:.1f} / {raw.p95_ms:.1f} | {raw.cpu_ms:.2f} |"
    )


def _throughput_row(cell: Throughput) -> str:
    orders, background = cell.orders, cell.background
    beside = (
        f"{background.transitions / background.seconds:,.0f} ({background.lifecycles} lifecycles"
        f", {background.errors} errors)"
        if background and background.seconds
        else "—"
    )
    return (
        f"| {cell.path} | {'yes' if cell.with_transfers else 'no'} | {orders.per_second:,.0f} "
        f"| {orders.p50_ms:.1f} / {orders.p95_ms:.1f} | {orders.cpu_ms:.2f} | {beside} "
        f"| {orders.errors} |"
    )


def main() -> int:
    settings = parse_settings()
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()
    seed(settings)
    print("\n".join(machine_description()))
    every = [f"SKU-{number:06d}" for number in range(settings.variants)]
    hot = every[: settings.hot_skus]
    print(
        f"{settings.lines} lines per transfer, 2-10 units each; {settings.lifecycles} "
        f"lifecycles measured, the paths in turn (received / closed short / cancelled), SKUs "
        f"drawn from all {settings.variants:,}\n"
    )
    service, raw = measure_latency(settings, every)
    print(LATENCY_HEADER)
    for name in TRANSITIONS:
        print(_latency_row(name, latency(service, name), latency(raw, name)), flush=True)
    print(
        f"\nOrders: 1-unit orders on {settings.hot_skus:,} hot SKUs, {settings.order_workers} "
        f"workers, {settings.warmup:g} s warm-up then {settings.duration:g} s measured; "
        "'transfers running': one more process takes transfers on the same SKUs through "
        "their lifecycles, between the two warehouses, as fast as it can\n"
    )
    print(THROUGHPUT_HEADER, flush=True)
    cells = measure_throughput(settings, hot, level_ids(hot, warehouse_code="WH1"))

    from stock.selectors import ledger_differences

    differences = ledger_differences()
    print(f"\nLedger sums equal balances: {'yes' if not differences else differences[:10]}")
    failures = [
        sample
        for cell in cells
        for sample in [
            *cell.orders.error_samples,
            *(cell.background.error_samples if cell.background else []),
        ]
    ]
    for sample in failures:
        print(f"Error: {sample}")
    print(f"Load average after the run: {os.getloadavg()[0]:.2f}")
    return 0 if not differences and not failures else 1


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "ih_bench_transfers"))
    parser.add_argument(
        "--variants",
        type=int,
        default=int(environ("SIZE", environ("BENCH_VARIANTS", "250000"))),
        help="variants, each stocked in every warehouse (SIZE, default 250,000)",
    )
    parser.add_argument("--warehouses", type=int, default=int(environ("BENCH_WAREHOUSES", "2")))
    parser.add_argument("--lines", type=int, default=int(environ("BENCH_LINES", "3")))
    parser.add_argument(
        "--lifecycles",
        type=int,
        default=int(environ("BENCH_LIFECYCLES", "300")),
        help="measured lifecycles, the paths in turn (BENCH_LIFECYCLES, default 300)",
    )
    parser.add_argument("--hot-skus", type=int, default=int(environ("BENCH_HOT_SKUS", "1000")))
    parser.add_argument(
        "--order-workers", type=int, default=int(environ("BENCH_ORDER_WORKERS", "4"))
    )
    parser.add_argument("--duration", type=float, default=float(environ("BENCH_DURATION", "10")))
    parser.add_argument("--warmup", type=float, default=float(environ("BENCH_WARMUP", "2")))
    arguments = parser.parse_args()
    if arguments.warehouses < 2:
        parser.error("a transfer needs two warehouses")
    return Settings(
        database=arguments.database,
        variants=arguments.variants,
        warehouses=arguments.warehouses,
        lines=arguments.lines,
        lifecycles=arguments.lifecycles,
        hot_skus=min(arguments.hot_skus, arguments.variants),
        order_workers=arguments.order_workers,
        duration=arguments.duration,
        warmup=arguments.warmup,
    )


if __name__ == "__main__":
    sys.exit(main())
