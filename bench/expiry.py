"""Clearing a backlog of expired holds with `release_expired_holds`, per batch size and workers.

The backlog is made once: 1-unit, single-line orders spread over many SKUs, written in
bulk with the rows `place_order` writes (the reservations through the ledger engine), or
with `--place-with-service` placed by `place_order` itself in parallel processes, which
takes as long as its throughput says. Their hold expiry is then moved into the past with
a plain UPDATE (a benchmark's setup, not something the hub does). That database is the
template of a fresh copy per batch size and worker count, so every run clears the same
backlog. Each copy is then checked: every order expired, nothing reserved, and the ledger sums
equal the balances.

    make bench-expiry                  # or: .venv/bin/python -m bench.expiry --help
"""

import argparse
import math
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from bench.common import (
    Client,
    ClientFactory,
    analyze,
    configure_django,
    django_backend_pid,
    drop_database,
    machine_description,
    migrate,
    reconnect_to,
    recreate_database,
    repeat,
    run_workers,
    seed_catalogue,
    summarize,
)

HOLD_MINUTES = 1


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    orders: int
    batch_sizes: tuple[int, ...]
    worker_counts: tuple[int, ...]
    sku_count: int
    seed_workers: int
    place_with_service: bool


@dataclass(frozen=True, slots=True)
class Backlog:
    orders: int
    method: str
    seconds: float

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds


@dataclass(frozen=True, slots=True)
class Clearance:
    batch_size: int
    workers: int
    expired: int
    seconds: float
    batches: int
    longest_order_lock_seconds: float
    longest_level_lock_seconds: float
    median_level_lock_seconds: float
    is_clean: bool
    problems: list[str]

    @property
    def per_second(self) -> float:
        return self.expired / self.seconds


class BatchClock:
    """Times each expiry batch on every connection that runs one, until its commit.

    Two spans per batch: from its claim (the SELECT … FOR UPDATE SKIP LOCKED on the
    orders) and from its level lock (`LOCK_LEVELS_SQL`) to its COMMIT: how long it holds
    its order locks, and how long the level locks that orders on the same SKUs wait for.
    At the level lock an on-commit hook joins the batch's transaction; Django runs it right
    after that transaction commits. `install()` adds it to this thread's connection and to
    every connection opened later (the expiry's helper threads open their own).
    """

    def __init__(self) -> None:
        self.order_locks: list[float] = []
        self.level_locks: list[float] = []
        self._claimed = threading.local()

    def __call__(self, execute, sql, params, many, context):
        from django.db import transaction

        from stock.services.ledger.statements import LOCK_LEVELS_BY_ID_SQL as LOCK_LEVELS_SQL
        from stock.services.orders.expiry import CLAIM_EXPIRED_SQL

        if sql == CLAIM_EXPIRED_SQL:
            self._claimed.at = time.perf_counter()
        elif sql == LOCK_LEVELS_SQL:
            committed = partial(self._committed, self._claimed.at, time.perf_counter())
            transaction.on_commit(committed)
        return execute(sql, params, many, context)

    def _committed(self, claimed_at: float, locked_at: float) -> None:
        now = time.perf_counter()
        self.order_locks.append(now - claimed_at)
        self.level_locks.append(now - locked_at)

    @contextmanager
    def install(self):
        from django.db import connection
        from django.db.backends.signals import connection_created

        def attach(sender, connection, **kwargs) -> None:
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

        connection_created.connect(attach)
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            connection_created.disconnect(attach)


# --- The backlog ---------------------------------------------------------------------------


def placed_orders(*, channel_code: str, skus: list[str], orders_per_worker: int) -> ClientFactory:
    """Worker n places its share of 1-unit orders, going round the SKUs."""

    def build(worker: int) -> Client:
        from stock.actors import Actor
        from stock.services.orders import OrderLineInput, place_order
        from warehouses.models import SalesChannel

        channel = SalesChannel.objects.get(code=channel_code)
        actor = Actor.system("benchmark")
        first = worker * orders_per_worker

        def place(number: int) -> bool:
            place_order(
                channel=channel,
                reference=f"expiry/{worker}/{number}",
                lines=[OrderLineInput(sku=skus[(first + number) % len(skus)], quantity=1)],
                actor=actor,
                hold_minutes=HOLD_MINUTES,
            )
            return True

        return Client(call=place, backend_pid=django_backend_pid())

    return build


def expire_all_holds() -> int:
    """Move every placed order's expiry, and its allocations' copy, a minute into the past."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE stock_order SET expires_at = now() - interval '1 minute' "
            "WHERE status = 'placed'"
        )
        expired = cursor.rowcount
        cursor.execute(
            "UPDATE stock_allocation SET expires_at = now() - interval '1 minute' "
            "WHERE status = 'held' AND expires_at IS NOT NULL"
        )
    return expired


def written_in_bulk(*, channel_code: str, skus: list[str], orders: int, chunk: int = 5000) -> None:
    """The rows `place_order` writes for 1-unit, single-line orders, written chunk by chunk.

    Orders, lines and allocations with the same values `place_order` gives them, through
    bulk_create; the reservations through the ledger engine (`apply_changes`) with the
    same kind, reason, source, document and reference, so the balances and the ledger
    are exactly what placing the orders one by one would leave.
    """
    from django.db import transaction
    from django.utils import timezone

    from stock.actors import Actor
    from stock.models import (
        Allocation,
        MovementKind,
        MovementSource,
        Order,
        OrderLine,
        ReasonCode,
        StockLevel,
        Variant,
    )
    from stock.services.ledger import LevelChange, apply_changes
    from warehouses.models import SalesChannel

    channel = SalesChannel.objects.get(code=channel_code)
    warehouse = channel.links.select_related("warehouse").get(priority=1).warehouse
    variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=skus)}
    levels = {level.variant_id: level for level in StockLevel.objects.filter(warehouse=warehouse)}
    actor = Actor.system("benchmark")
    for start in range(0, orders, chunk):
        numbers = range(start, min(start + chunk, orders))
        now = timezone.now()
        expires_at = now + timedelta(minutes=HOLD_MINUTES)
        with transaction.atomic():
            new_orders = Order.objects.bulk_create(
                Order(
                    channel=channel,
                    reference=f"expiry/{number}",
                    placed_at=now,
                    expires_at=expires_at,
                    actor_label=actor.label,
                )
                for number in numbers
            )
            lines = OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    line_number=1,
                    variant=variants[skus[number % len(skus)]],
                    quantity=1,
                )
                for order, number in zip(new_orders, numbers, strict=True)
            )
            Allocation.objects.bulk_create(
                Allocation(
                    line=line,
                    level=levels[line.variant_id],
                    warehouse=warehouse,
                    quantity=1,
                    expires_at=expires_at,
                )
                for line in lines
            )
            apply_changes(
                [
                    LevelChange(
                        variant=line.variant,
                        warehouse=warehouse,
                        kind=MovementKind.RESERVE,
                        reason=ReasonCode.ORDER,
                        delta_reserved=1,
                        document=order.document,
                        reference=f"order:{order.pk}/line:1/wh:{warehouse.pk}/reserve",
                    )
                    for order, line in zip(new_orders, lines, strict=True)
                ],
                actor=actor,
                source=MovementSource.ORDER,
                occurred_at=now,
            )


def make_backlog(settings: Settings, *, template: str) -> Backlog:
    """Create the database `template` holding the expired backlog."""
    recreate_database(template)
    configure_django(template)
    migrate()
    skus = [f"SKU-{number:05d}" for number in range(settings.sku_count)]
    per_sku = math.ceil(settings.orders / settings.sku_count)
    catalogue = seed_catalogue(stock=dict.fromkeys(skus, per_sku), warehouse_count=1)

    started = time.perf_counter()
    if settings.place_with_service:
        orders_per_worker = math.ceil(settings.orders / settings.seed_workers)
        results = run_workers(
            placed_orders(
                channel_code=catalogue.channel_code, skus=skus, orders_per_worker=orders_per_worker
            ),
            workers=settings.seed_workers,
            loop=partial(repeat, times=orders_per_worker),
            timeout=24 * 3600,
        )
        summary = summarize(results)
        if summary.errors:
            raise RuntimeError(f"Placing the backlog failed: {summary.error_samples}")
        method = f"placed with place_order by {settings.seed_workers} processes"
    else:
        written_in_bulk(channel_code=catalogue.channel_code, skus=skus, orders=settings.orders)
        method = "written in bulk (bulk_create and apply_changes)"
    seconds = time.perf_counter() - started

    from stock.selectors import ledger_differences

    if ledger_differences():
        raise RuntimeError("The backlog's ledger does not match its balances.")
    backlog = Backlog(orders=expire_all_holds(), method=method, seconds=seconds)
    analyze()
    return backlog


# --- Clearing it ---------------------------------------------------------------------------


def clear(batch_size: int, workers: int, *, database: str, template: str) -> Clearance:
    from stock.services.orders import release_expired_holds

    # Nobody may be connected to a template while it is copied.
    reconnect_to(database)
    recreate_database(database, template=template)
    with BatchClock().install() as clock:
        started = time.perf_counter()
        expired = release_expired_holds(batch_size=batch_size, workers=workers)
        seconds = time.perf_counter() - started
    problems = check_cleared(expected=expired)
    return Clearance(
        batch_size=batch_size,
        workers=workers,
        expired=expired,
        seconds=seconds,
        batches=len(clock.level_locks),
        longest_order_lock_seconds=max(clock.order_locks),
        longest_level_lock_seconds=max(clock.level_locks),
        median_level_lock_seconds=statistics.median(clock.level_locks),
        is_clean=not problems,
        problems=problems,
    )


def check_cleared(*, expected: int) -> list[str]:
    from django.db.models import Count, Sum

    from stock.models import Allocation, Order, OrderStatus, StockLevel
    from stock.selectors import ledger_differences

    problems = []
    statuses = dict(
        Order.objects.values("status").annotate(count=Count("pk")).values_list("status", "count")
    )
    if statuses != {OrderStatus.EXPIRED: expected}:
        problems.append(f"order statuses {statuses}, expected {expected:,} expired")
    held = Allocation.objects.filter(status=Allocation.Status.HELD).count()
    if held:
        problems.append(f"{held} allocations still held")
    reserved = StockLevel.objects.aggregate(total=Sum("reserved"))["total"]
    if reserved != 0:
        problems.append(f"{reserved} units still reserved")
    differences = ledger_differences()
    if differences:
        problems.append(f"ledger differs from balances: {differences[:5]}")
    return problems


def main() -> int:
    settings = parse_settings()
    template = f"{settings.database}_template"
    backlog = make_backlog(settings, template=template)
    print("\n".join(machine_description()))
    print(
        f"Backlog: {backlog.orders:,} expired orders, {backlog.method}, in "
        f"{backlog.seconds:.0f} s ({backlog.per_second:,.0f} orders/s)"
    )
    print(f"\n{HEADER}", flush=True)
    clearances = []
    for batch_size in settings.batch_sizes:
        for workers in settings.worker_counts:
            clearance = clear(batch_size, workers, database=settings.database, template=template)
            clearances.append(clearance)
            print(
                f"| {clearance.batch_size:,} | {clearance.workers} | {clearance.expired:,} "
                f"| {clearance.seconds:.2f} | {clearance.per_second:,.0f} | {clearance.batches} "
                f"| {clearance.longest_order_lock_seconds * 1000:,.0f} "
                f"| {clearance.median_level_lock_seconds * 1000:,.0f} "
                f"| {clearance.longest_level_lock_seconds * 1000:,.0f} "
                f"| {'clean' if clearance.is_clean else '; '.join(clearance.problems)} |",
                flush=True,
            )
    reconnect_to(template)
    drop_database(settings.database)
    is_correct = all(c.is_clean and c.expired == backlog.orders for c in clearances)
    return 0 if is_correct else 1


HEADER = (
    "| batch size | workers | orders expired | total s | holds/s | batches "
    "| longest order lock ms | median level lock ms | longest level lock ms | check |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "hub_bench_expiry"))
    parser.add_argument(
        "--orders",
        type=int,
        default=int(environ("BENCH_ORDERS", "100000")),
        help="expired orders in the backlog (BENCH_ORDERS, default 100000)",
    )
    parser.add_argument(
        "--batch-sizes",
        default=environ("BENCH_BATCH_SIZES", "1000,2000,5000"),
        help="comma-separated batch sizes (BENCH_BATCH_SIZES, default 1000,2000,5000)",
    )
    parser.add_argument(
        "--workers",
        default=environ("BENCH_EXPIRY_WORKERS", "1,2"),
        help="comma-separated connections clearing the backlog together, each run on every "
        "batch size (BENCH_EXPIRY_WORKERS, default 1,2; the hub uses HOLD_EXPIRY_WORKERS)",
    )
    parser.add_argument("--skus", type=int, default=int(environ("BENCH_SKUS", "10000")))
    parser.add_argument(
        "--place-with-service",
        action="store_true",
        default=environ("BENCH_PLACE_WITH_SERVICE", "") == "1",
        help="place the backlog with place_order, order by order, instead of in bulk "
        "(BENCH_PLACE_WITH_SERVICE=1; slow: it runs at place_order's throughput)",
    )
    parser.add_argument(
        "--seed-workers",
        type=int,
        default=int(environ("BENCH_SEED_WORKERS", "4")),
        help="processes placing the backlog with --place-with-service (BENCH_SEED_WORKERS)",
    )
    arguments = parser.parse_args()
    return Settings(
        database=arguments.database,
        orders=arguments.orders,
        batch_sizes=tuple(int(size) for size in arguments.batch_sizes.split(",")),
        worker_counts=tuple(int(count) for count in arguments.workers.split(",")),
        sku_count=arguments.skus,
        seed_workers=arguments.seed_workers,
        place_with_service=arguments.place_with_service,
    )


if __name__ == "__main__":
    sys.exit(main())
