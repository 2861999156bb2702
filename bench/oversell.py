"""Oversell race: two stores sell the last units they share, with and without allocation.

Issue 17 §2. One warehouse (WH1) is linked to two channels: WOO, shown by the project's
WooCommerce fake, and MAG, shown by its Magento MSI fake (source "wh1", stock 2). Each SKU
starts with `--units` (10) units, known alike to the hub and to both stores. The hub runs
for real: `manage.py runhub`, its embedded Celery worker and beat (the shape of `make
run`), against PostgreSQL. WooCommerce delivers its own webhooks to it (order.created,
product.updated, …, one delivery thread as Action Scheduler); Magento's orders reach it
only by the hub's order polling (`--magento-poll` seconds asked, beat's sweep permitting).

A round races one SKU. Each store runs a checkout at `--rate` orders per second for
`--sell` seconds. Before every sale it reads its own stock figure, as a real checkout does
(WooCommerce: the product's `stock_quantity`; Magento: salable quantity, source quantity
minus its own reservations), and sells one unit only when that figure is above 0:
WooCommerce lowers its stock and fires its webhooks, Magento adds the order and a
reservation. Meanwhile a watcher samples both figures every few milliseconds. Then the
round waits (at most `--settle` seconds) for the hub to have heard everything: every
WooCommerce delivery tried, a Magento order poll started after the last Magento sale,
nothing due in the outbox.

Reported per round and per mode (allocation off, then on with `allocation_threshold` =
`--units` on both channels): units accepted per store, held by the hub for that store's
channel, unholdable (accepted, not held), oversold (accepted beyond the units that
existed), and the notice window: from the sale of the last existing unit to each store
showing 0 for good (0 when it already did; "never" when it still showed stock when the
checkouts stopped). The last line is machine-readable:

    RESULT oversold_with_allocation=N oversold_without=N notice_window_p95_ms=N

(oversold: summed over the rounds of the mode; the notice window's p95 over both stores of
every round without allocation, the hub's own window; -1 when no round measured one.)
Exit status 1 when the harness failed (a store never showed the starting figures, the hub
did not start) or the ledger disagrees with the balances; an oversell is a result.

    make bench-oversell      # or: .venv/bin/python -m bench.oversell --help
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from bench.common import (
    configure_django,
    database_url,
    machine_description,
    migrate,
    percentile,
    recreate_database,
)

STOCK_ID = 2
SOURCE = "wh1"
WEBHOOK_SECRET = "benchmark-oversell-secret"
MAGENTO_TOKEN = "benchmark-oversell-token"
WATCH_SECONDS = 0.002
START_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    rounds: int
    units: int
    rate: float
    sell: float
    settle: float
    magento_poll: int
    magento_order_poll: int


@dataclass(slots=True)
class World:
    woo_connector_id: int
    magento_connector_id: int
    skus_without: list[str]
    skus_with: list[str]


# --- Seeding -----------------------------------------------------------------------------


def seed(settings: Settings, woo, magento) -> World:
    from connectors.models import Connector, LocationMapping
    from stock.actors import Actor
    from stock.models import Product, Variant
    from stock.services import receive_stock
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    warehouse = Warehouse.objects.create(code="WH1", name="Shared warehouse")
    woo_channel = SalesChannel.objects.create(
        code="WOO", name="WooCommerce shop", kind="woocommerce"
    )
    magento_channel = SalesChannel.objects.create(code="MAG", name="Magento site", kind="magento")
    for channel in (woo_channel, magento_channel):
        ChannelWarehouse.objects.create(channel=channel, warehouse=warehouse, priority=1)
    skus_without = [f"RACE-OFF-{number}" for number in range(1, settings.rounds + 1)]
    skus_with = [f"RACE-ON-{number}" for number in range(1, settings.rounds + 1)]
    product = Product.objects.create(name="Race product")
    magento.add_source(SOURCE)
    magento.add_stock(STOCK_ID, "Race stock", website_codes=("base",))
    magento.link(STOCK_ID, SOURCE)
    actor = Actor.system("oversell benchmark")
    for sku in skus_without + skus_with:
        variant = Variant.objects.create(product=product, sku=sku)
        receive_stock(variant=variant, warehouse=warehouse, quantity=settings.units, actor=actor)
        woo.add_product(sku, quantity=settings.units)
        magento.add_source_item(sku, SOURCE, settings.units)
    woo_connector = Connector.objects.create(
        name="race woo",
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=WEBHOOK_SECRET,
        channel=woo_channel,
        poll_interval_seconds=0,  # webhooks only: its orders arrive within a second
        push_rate_per_second=1000.0,
    )
    magento_connector = Connector.objects.create(
        name="race magento",
        kind="magento",
        base_url=magento.base_url,
        credentials={"token": MAGENTO_TOKEN},
        webhook_secret=WEBHOOK_SECRET,
        channel=magento_channel,
        poll_interval_seconds=settings.magento_poll,
        options={"order_poll_interval_seconds": settings.magento_order_poll},
        push_rate_per_second=1000.0,
    )
    LocationMapping.objects.create(
        connector=magento_connector, warehouse=warehouse, location=SOURCE
    )
    return World(
        woo_connector_id=woo_connector.pk,
        magento_connector_id=magento_connector.pk,
        skus_without=skus_without,
        skus_with=skus_with,
    )


def set_up_connectors(world: World, woo) -> None:
    """As ops would: match SKUs and register WooCommerce's webhooks at the running hub."""
    from connectors.sync.setup import set_up_connector

    for connector_id in (world.woo_connector_id, world.magento_connector_id):
        run = set_up_connector(connector_id=connector_id)
        if not run.is_ok:
            raise RuntimeError(f"setup of connector {connector_id} failed: {run.error}")
    if not woo.webhooks:
        raise RuntimeError("WooCommerce has no webhook to the hub")


def switch_allocation(threshold: int | None) -> None:
    """Through the service, as the API and the admin do: pushes are queued for every store
    (the hub's sweeper sends them, as this process's kick reaches no worker)."""
    from warehouses.models import SalesChannel
    from warehouses.services import update_channel

    for channel in SalesChannel.objects.filter(code__in=["WOO", "MAG"]).order_by("code"):
        update_channel(channel=channel, allocation_threshold=threshold)


# --- The stores' checkouts ---------------------------------------------------------------


class Stores:
    """What each store shows, and one sale as each store's checkout makes it."""

    def __init__(self, woo, magento) -> None:
        self.woo = woo
        self.magento = magento
        self.magento_ids = itertools.count(1)

    def shown(self, store: str, sku: str) -> int:
        if store == "woocommerce":
            with self.woo.lock:
                return max(self.woo.product_by_sku(sku).stock_quantity or 0, 0)
        return max(int(self.magento.salable_quantity(sku, STOCK_ID)), 0)

    def sell_if_shown(self, store: str, sku: str) -> bool:
        """Read the store's own figure and sell one unit if it shows any (one checkout)."""
        if store == "woocommerce":
            if self.shown(store, sku) <= 0:
                return False
            self.woo.create_order([(sku, 1)], status="processing")
            return True
        with self.magento.lock:
            if self.shown(store, sku) <= 0:
                return False
            self.magento.add_order(
                entity_id=next(self.magento_ids), state="processing", items=[(sku, 1)]
            )
            self.magento.add_reservation(sku, STOCK_ID, -1)
            return True


STORES = ("woocommerce", "magento")
CHANNELS = {"woocommerce": "WOO", "magento": "MAG"}


@dataclass(slots=True)
class RoundResult:
    mode: str
    sku: str
    accepted: dict[str, int]
    held: dict[str, int]
    windows_ms: dict[str, float | None]  # None: still showed stock at the end
    # Times a store's figure went up during the race. Nothing in the race adds stock or
    # cancels, so only a push can raise it: each one offers again units a store had sold.
    raised: dict[str, int]
    settled: bool
    problems: list[str] = field(default_factory=list)

    @property
    def total_accepted(self) -> int:
        return sum(self.accepted.values())

    def unholdable(self, store: str) -> int:
        return max(self.accepted[store] - self.held[store], 0)


def wait_for_figures(stores: Stores, sku: str, expected: dict[str, int]) -> bool:
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        if all(stores.shown(store, sku) == value for store, value in expected.items()):
            return True
        time.sleep(0.1)
    return False


def race(settings: Settings, world: World, stores: Stores, sku: str, mode: str) -> RoundResult:
    stop = threading.Event()
    sales: list[tuple[float, str]] = []
    sales_lock = threading.Lock()
    watched: dict[str, list[tuple[float, int]]] = {store: [] for store in STORES}
    errors: list[str] = []

    def checkout(store: str) -> None:
        spacing = 1.0 / settings.rate
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                if stores.sell_if_shown(store, sku):
                    with sales_lock:
                        sales.append((time.monotonic(), store))
            except Exception as error:  # counted and reported; the race goes on
                errors.append(f"{store}: {type(error).__name__}: {error}")
            next_at += spacing
            time.sleep(max(next_at - time.monotonic(), 0))

    def watch() -> None:
        last = {store: None for store in STORES}
        while not stop.is_set():
            for store in STORES:
                value = stores.shown(store, sku)
                if value != last[store]:
                    watched[store].append((time.monotonic(), value))
                    last[store] = value
            time.sleep(WATCH_SECONDS)

    threads = [threading.Thread(target=checkout, args=(store,)) for store in STORES]
    threads.append(threading.Thread(target=watch))
    for thread in threads:
        thread.start()
    time.sleep(settings.sell)
    stop.set()
    for thread in threads:
        thread.join()
    settled = wait_until_heard(settings, world, after=datetime.now().astimezone())
    accepted = {store: sum(1 for _, seller in sales if seller == store) for store in STORES}
    held = held_units(sku)
    windows = notice_windows(settings, sales, watched)
    raised = {
        store: sum(1 for (_, before), (_, after) in itertools.pairwise(seen) if after > before)
        for store, seen in watched.items()
    }
    problems = errors[:3]
    if not settled:
        problems.append(f"the hub had not heard everything after {settings.settle:g} s")
    return RoundResult(
        mode=mode,
        sku=sku,
        accepted=accepted,
        held=held,
        windows_ms=windows,
        raised=raised,
        settled=settled,
        problems=problems,
    )


def notice_windows(
    settings: Settings,
    sales: list[tuple[float, str]],
    watched: dict[str, list[tuple[float, int]]],
) -> dict[str, float | None]:
    """From the sale of the last unit that existed to each store showing 0 for good."""
    ordered = sorted(at for at, _ in sales)
    if len(ordered) < settings.units:
        return {store: None for store in STORES}
    last_unit_at = ordered[settings.units - 1]
    windows: dict[str, float | None] = {}
    for store, changes in watched.items():
        if not changes or changes[-1][1] != 0:
            windows[store] = None
            continue
        zero_since = changes[-1][0]
        windows[store] = max(zero_since - last_unit_at, 0.0) * 1000
    return windows


def wait_until_heard(settings: Settings, world: World, *, after: datetime) -> bool:
    """Every WooCommerce delivery tried once, a Magento order poll begun after `after` and
    finished, and nothing due in the outbox: what the hub will ever hold, it holds."""
    from django.db import connections
    from django.utils import timezone

    from connectors.models import InboxEvent, InboxState, OutboxItem, OutboxState, SyncRun

    deadline = time.monotonic() + settings.settle
    try:
        while time.monotonic() < deadline:
            untried = InboxEvent.objects.filter(
                connector_id=world.woo_connector_id, state=InboxState.RECEIVED
            ).exists()
            polled = SyncRun.objects.filter(
                connector_id=world.magento_connector_id,
                kind="poll",
                started_at__gt=after,
                finished_at__isnull=False,
            ).exists()
            due = OutboxItem.objects.filter(
                state=OutboxState.PENDING, due_at__lte=timezone.now()
            ).exists()
            if polled and not untried and not due:
                return True
            time.sleep(0.2)
        return False
    finally:
        connections.close_all()


def held_units(sku: str) -> dict[str, int]:
    from django.db.models import Sum

    from stock.models import Allocation

    held = {}
    for store, channel in CHANNELS.items():
        held[store] = (
            Allocation.objects.filter(line__variant__sku=sku, line__order__channel__code=channel)
            .exclude(status=Allocation.Status.RELEASED)
            .aggregate(units=Sum("quantity"))["units"]
            or 0
        )
    return held


# --- Reporting ---------------------------------------------------------------------------


ROUND_HEADER = (
    "| allocation | SKU | accepted Woo | accepted Magento | held Woo | held Magento "
    "| unholdable | oversold | raised by a push | Woo shows 0 after ms "
    "| Magento shows 0 after ms | check |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def window_text(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}"


def round_row(settings: Settings, result: RoundResult) -> str:
    unholdable = sum(result.unholdable(store) for store in STORES)
    oversold = max(result.total_accepted - settings.units, 0)
    return (
        f"| {result.mode} | {result.sku} | {result.accepted['woocommerce']} "
        f"| {result.accepted['magento']} | {result.held['woocommerce']} "
        f"| {result.held['magento']} | {unholdable} | {oversold} "
        f"| {sum(result.raised.values())} "
        f"| {window_text(result.windows_ms['woocommerce'])} "
        f"| {window_text(result.windows_ms['magento'])} "
        f"| {'; '.join(result.problems) or 'ok'} |"
    )


@dataclass(frozen=True, slots=True)
class ModeSummary:
    accepted: int
    held: int
    unholdable: int
    oversold: int
    raised: int
    windows: list[float]
    never: int

    def line(self, mode: str, rounds: int, units: int) -> str:
        ordered = sorted(self.windows)
        p50 = percentile(ordered, 0.5) if ordered else float("nan")
        p95 = percentile(ordered, 0.95) if ordered else float("nan")
        return (
            f"- allocation {mode}: {rounds} rounds of {units} units; accepted {self.accepted}, "
            f"held {self.held}, unholdable {self.unholdable}, oversold {self.oversold}, "
            f"store figures raised by a push {self.raised}; "
            f"notice window p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(ordered)} store "
            f"figures ({self.never} still showing stock when the checkouts stopped)"
        )


def summarize_mode(settings: Settings, results: list[RoundResult]) -> ModeSummary:
    windows = [
        value for result in results for value in result.windows_ms.values() if value is not None
    ]
    return ModeSummary(
        accepted=sum(result.total_accepted for result in results),
        held=sum(sum(result.held.values()) for result in results),
        unholdable=sum(result.unholdable(store) for result in results for store in STORES),
        oversold=sum(max(result.total_accepted - settings.units, 0) for result in results),
        raised=sum(sum(result.raised.values()) for result in results),
        windows=windows,
        never=sum(1 for result in results for value in result.windows_ms.values() if value is None),
    )


# --- Main --------------------------------------------------------------------------------


def offered_by_the_hub(sku: str) -> dict[str, int]:
    from django.db import connections

    from stock.selectors import channel_salable, get_channel_by_code, get_variant_by_sku

    variant = get_variant_by_sku(sku)
    offered = {
        store: channel_salable(get_channel_by_code(code), variant).salable
        for store, code in CHANNELS.items()
    }
    connections.close_all()
    return offered


def run_mode(
    settings: Settings, world: World, stores: Stores, skus: list[str], mode: str
) -> list[RoundResult] | None:
    results = []
    for sku in skus:
        expected = offered_by_the_hub(sku)
        if not wait_for_figures(stores, sku, expected):
            shown = {store: stores.shown(store, sku) for store in STORES}
            print(f"{sku}: the stores show {shown}, not {expected}; stopping", flush=True)
            return None
        result = race(settings, world, stores, sku, mode)
        results.append(result)
        print(round_row(settings, result), flush=True)
    return results


def main() -> int:
    settings = parse_settings()
    from bench.connectors import REPO, Hub

    url = database_url(settings.database)
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()
    from django.conf import settings as django_settings
    from django.db import connections

    from tests.fakes.magento import FakeMagento
    from tests.fakes.woocommerce import FakeWooCommerce

    (REPO / "var").mkdir(exist_ok=True)
    hub = Hub(
        database_url=url, redis_url="", web_only=False, log=REPO / "var" / "bench-oversell.log"
    )
    # The hub registers WooCommerce's webhooks at its own address (setup and watchdog).
    os.environ["HUB_PUBLIC_BASE_URL"] = hub.url("")
    django_settings.HUB_PUBLIC_BASE_URL = hub.url("")
    with (
        FakeWooCommerce(delivery_mode="background") as woo,
        FakeMagento(integration_token=MAGENTO_TOKEN) as magento,
    ):
        world = seed(settings, woo, magento)
        print("\n".join(machine_description()))
        print(
            f"Two stores (WooCommerce and Magento fakes) share {settings.units} units of each SKU "
            f"through one warehouse; checkouts at {settings.rate:g} orders/s per store for "
            f"{settings.sell:g} s; Magento polled every {settings.magento_poll} s, its orders "
            f"every {settings.magento_order_poll} s.",
            flush=True,
        )
        connections.close_all()
        hub.start()
        try:
            set_up_connectors(world, woo)
            print(f"\n{ROUND_HEADER}", flush=True)
            stores = Stores(woo, magento)
            without = run_mode(settings, world, stores, world.skus_without, "off")
            switch_allocation(settings.units)
            with_allocation = (
                run_mode(settings, world, stores, world.skus_with, "on")
                if without is not None
                else None
            )
            connections.close_all()
        finally:
            hub.stop()
    if without is None or with_allocation is None:
        return 1
    off = summarize_mode(settings, without)
    on = summarize_mode(settings, with_allocation)
    print()
    print(off.line("off", settings.rounds, settings.units))
    print(on.line("on", settings.rounds, settings.units))
    from stock.selectors import ledger_differences

    differences = ledger_differences()
    if differences:
        print(f"Ledger differs from balances: {differences[:5]}")
    ordered = sorted(off.windows)
    p95 = round(percentile(ordered, 0.95)) if ordered else -1
    print(
        f"Goal: allocation on, 0 units oversold "
        f"({'met' if on.oversold == 0 else 'NOT met'}); allocation off, no sold unit offered "
        f"again by a push ({'met' if off.raised == 0 else 'NOT met'}: {off.raised} raised), "
        f"only the hub's notice window left."
    )
    print(
        f"RESULT oversold_with_allocation={on.oversold} oversold_without={off.oversold} "
        f"notice_window_p95_ms={p95}"
    )
    return 1 if differences else 0


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "hub_bench_oversell"))
    parser.add_argument(
        "--rounds",
        type=int,
        default=int(environ("BENCH_ROUNDS", "3")),
        help="races per mode, one SKU each (BENCH_ROUNDS, default 3)",
    )
    parser.add_argument(
        "--units",
        type=int,
        default=int(environ("BENCH_UNITS", "10")),
        help="units shared per SKU, and the allocation threshold (BENCH_UNITS, default 10)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(environ("BENCH_RATE", "20")),
        help="checkouts per second per store (BENCH_RATE, default 20)",
    )
    parser.add_argument(
        "--sell",
        type=float,
        default=float(environ("BENCH_SELL", "8")),
        help="seconds the checkouts run per round (BENCH_SELL, default 8)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=float(environ("BENCH_SETTLE", "40")),
        help="at most this long for the hub to hear every sale (BENCH_SETTLE, default 40)",
    )
    parser.add_argument(
        "--magento-poll",
        type=int,
        default=int(environ("BENCH_MAGENTO_POLL", "5")),
        help="the Magento connector's poll_interval_seconds (BENCH_MAGENTO_POLL, default 5)",
    )
    parser.add_argument(
        "--magento-order-poll",
        type=int,
        default=int(environ("BENCH_MAGENTO_ORDER_POLL", "2")),
        help="the Magento connector's order_poll_interval_seconds "
        "(BENCH_MAGENTO_ORDER_POLL, default 2)",
    )
    arguments = parser.parse_args()
    if not (1 <= arguments.rounds <= 20 and 2 <= arguments.units <= 1000):
        parser.error("--rounds must be 1-20 and --units 2-1000")
    if not (0 < arguments.rate <= 200 and 0 < arguments.sell <= 120):
        parser.error("--rate must be in (0, 200] and --sell in (0, 120]")
    if not (0 < arguments.settle <= 300 and arguments.magento_poll >= 1):
        parser.error("--settle must be in (0, 300] and --magento-poll at least 1")
    if not 2 <= arguments.magento_order_poll <= 3600:
        parser.error("--magento-order-poll must be 2-3600 (the option's range)")
    return Settings(
        database=arguments.database,
        rounds=arguments.rounds,
        units=arguments.units,
        rate=arguments.rate,
        sell=arguments.sell,
        settle=arguments.settle,
        magento_poll=arguments.magento_poll,
        magento_order_poll=arguments.magento_order_poll,
    )


if __name__ == "__main__":
    sys.exit(main())
