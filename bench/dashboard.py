"""The live dashboard: commit → websocket latency over Redis, and the stock page's server time.

Seeds a dedicated database (50,000 variants x 10 warehouses = 500,000 levels by default)
through `apply_changes` in batches, so the ledger agrees with every balance, then:

1. The stock page, in this process through Django's test client as a logged-in user: the
   server time (middleware, view, queries, template) of the first page at each page size, of
   searches as the search box sends them (htmx partials), of a status filter, a sort on a
   figure and a deep page; the median and p95 of `--requests` requests each after two
   warm-ups, and the number of SQL queries of each, which must not grow with the page size.
2. Commit → client: `manage.py runhub --web-only` (the Procfile's web process) with
   REDIS_URL set, so the channel layer is channels_redis's pub/sub, as in production. A
   child process logs in through the login page and opens `--sockets` stock-page
   websockets, each watching its own levels. This process then applies `--changes` stock
   changes through `adjust_stock`, `--spacing-ms` apart, round-robin over the sockets. The
   commit time is taken by an on_commit callback registered before the service's own (so it
   runs first, right after COMMIT, before the publish); the arrival time when the child
   receives the pushed row carrying the level's new version. Both clocks are
   CLOCK_MONOTONIC, shared by the processes of one machine.

   The consumer coalesces a socket's pushes to one per 250 ms. Round-robin over enough
   sockets keeps each socket's changes further apart than that, so the first scenario
   measures the path itself. The second sends the same number of changes to one socket at
   the same spacing: its figure is the time until the push that includes each change.

Exit status 1 if a push was lost, a page answered other than 200, the query count grew
with the page size, or the ledger disagrees with the balances.

    make bench-dashboard       # or: .venv/bin/python -m bench.dashboard --help
"""

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import django
import requests

from bench.common import (
    analyze,
    database_url,
    django_backend_pid,
    machine_description,
    migrate,
    percentile,
    recreate_database,
    seeded_random,
)

REPO = Path(__file__).resolve().parent.parent
SERVER_START_SECONDS = 60.0
# Pushes still on their way when the last change is made.
DRAIN_SECONDS = 3.0
PASSWORD = "benchmark-password-not-secret"
# A pushed stock row: <tr id="level-42" … data-version="7" …>
PUSHED_ROW = re.compile(r'<tr id="level-(\d+)"[^>]*?data-version="(\d+)"')
SIZES = ("TW", "TX", "FU", "QN", "KG", "CK", "SQ", "OQ", "CA", "EK")
PRODUCT_KINDS = (
    ("PCL", "Percale sheet set"),
    ("STN", "Sateen sheet set"),
    ("LIN", "Linen duvet cover"),
    ("BMB", "Bamboo sheet set"),
    ("FLN", "Flannel pillowcase"),
)


# --- Set-up ----------------------------------------------------------------------------------


def configure(*, database: str, redis_url: str) -> None:
    """Django on the benchmark database with Redis, as production runs; DEBUG off."""
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "inventory_hub.settings.local"
    os.environ["DEBUG"] = "0"
    django.setup()


def seed(*, variants: int, warehouses: int, batch_size: int) -> None:
    """Warehouses WH01…, one channel over the first half, 10 variants per product, stock."""
    from stock.actors import Actor
    from stock.models import MovementKind, MovementSource, Product, ReasonCode, Variant
    from stock.services.ledger import LevelChange, apply_changes
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    rng = seeded_random("dashboard seed")
    stores = [
        Warehouse.objects.create(code=f"WH{number:02d}", name=f"Benchmark warehouse {number}")
        for number in range(1, warehouses + 1)
    ]
    channel = SalesChannel.objects.create(code="BENCH", name="Benchmark channel")
    ChannelWarehouse.objects.bulk_create(
        ChannelWarehouse(channel=channel, warehouse=warehouse, priority=priority)
        for priority, warehouse in enumerate(stores[: max(1, warehouses // 2)], start=1)
    )
    product_count = -(-variants // len(SIZES))
    products = Product.objects.bulk_create(
        [
            Product(name=f"{PRODUCT_KINDS[number % len(PRODUCT_KINDS)][1]} {number:05d}")
            for number in range(product_count)
        ],
        batch_size=batch_size,
    )
    catalogue = Variant.objects.bulk_create(
        [
            Variant(
                product=products[number // len(SIZES)],
                sku=f"{PRODUCT_KINDS[(number // len(SIZES)) % len(PRODUCT_KINDS)][0]}-"
                f"{number // len(SIZES):05d}-{SIZES[number % len(SIZES)]}",
                attributes={"size": SIZES[number % len(SIZES)]},
            )
            for number in range(variants)
        ],
        batch_size=batch_size,
    )
    actor = Actor.system("benchmark seed")
    changes = [
        LevelChange(
            variant=variant,
            warehouse=warehouse,
            kind=MovementKind.RECEIPT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_on_hand=rng.randint(1, 60),
        )
        for warehouse in stores
        for variant in catalogue
    ]
    started = time.perf_counter()
    for start in range(0, len(changes), batch_size):
        apply_changes(
            changes[start : start + batch_size], actor=actor, source=MovementSource.MANUAL
        )
        done = start + batch_size
        if done % (batch_size * 10) == 0:
            print(f"  {done:,} levels in {time.perf_counter() - started:.0f} s", flush=True)


def bench_user(username: str = "bench-ops"):
    """An ops-staff user (a superuser counts as ops staff) with a known password."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"is_superuser": True, "is_staff": True}
    )
    user.set_password(PASSWORD)
    user.save()
    return user


# --- 1. The stock page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageCase:
    label: str
    url: str
    partial: bool = False  # as htmx asks for it: only #stock-results


@dataclass(frozen=True, slots=True)
class PageResult:
    case: PageCase
    median_ms: float
    p95_ms: float
    max_ms: float
    cpu_ms: float  # median CPU of this process and its PostgreSQL backend per request
    queries: int
    rows: int
    bytes: int
    statuses: frozenset[int]


def page_cases() -> list[PageCase]:
    from warehouses.models import Warehouse

    codes = list(Warehouse.objects.order_by("code").values_list("pk", flat=True))
    first, last = codes[0], codes[-1]
    narrow = "-04213-"  # one product's variants
    return [
        PageCase("first page, 25 rows", "/stock/?size=25"),
        PageCase("first page, 50 rows (default)", "/stock/"),
        PageCase("first page, 100 rows", "/stock/?size=100"),
        PageCase(
            f"search q={narrow} in one warehouse", f"/stock/?q={narrow}&warehouse={first}", True
        ),
        PageCase(f"search q={narrow}, all warehouses", f"/stock/?q={narrow}", True),
        PageCase("search q=QN (a tenth of all)", "/stock/?q=QN", True),
        PageCase("search q=Linen (product name)", "/stock/?q=Linen", True),
        PageCase("search q=zzz (no match)", "/stock/?q=zzz", True),
        PageCase("status=low, one warehouse", f"/stock/?status=low&warehouse={last}", True),
        # Figure sorts are offered within one warehouse (stock/views/stock_table.py).
        PageCase(
            "sorted by available, descending, one warehouse",
            f"/stock/?sort=-available&warehouse={first}",
            True,
        ),
        PageCase(
            "sorted by on hand, one warehouse", f"/stock/?sort=on_hand&warehouse={first}", True
        ),
        PageCase("sorted by warehouse, descending", "/stock/?sort=-warehouse", True),
        PageCase("sorted by product name", "/stock/?sort=product", True),
        PageCase("page 100 of 100 rows", "/stock/?size=100&page=100", True),
    ]


def time_pages(*, repeats: int) -> list[PageResult]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user())
    backend_pid = django_backend_pid()
    results = []
    for case in page_cases():
        headers = (
            {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "stock-results"} if case.partial else {}
        )
        get = partial(client.get, case.url, **headers)
        statuses = {get().status_code for _ in range(2)}  # warm-up
        seconds, cpu = [], []
        for _ in range(repeats):
            cpu_before = cpu_seconds(backend_pid)
            started = time.perf_counter()
            response = get()
            seconds.append(time.perf_counter() - started)
            cpu.append(cpu_seconds(backend_pid) - cpu_before)
            statuses.add(response.status_code)
        with CaptureQueriesContext(connection) as queries:
            response = get()
        statuses.add(response.status_code)
        ordered = sorted(seconds)
        results.append(
            PageResult(
                case=case,
                median_ms=statistics.median(ordered) * 1000,
                p95_ms=percentile(ordered, 0.95) * 1000,
                max_ms=ordered[-1] * 1000,
                cpu_ms=statistics.median(cpu) * 1000,
                queries=len(queries),
                rows=response.content.count(b'data-testid="stock-row"'),
                bytes=len(response.content),
                statuses=frozenset(statuses),
            )
        )
        print(f"  {case.label}: {results[-1].median_ms:.1f} ms", flush=True)
    return results


def cpu_seconds(backend_pid: int) -> float:
    """CPU used so far by this process and its PostgreSQL backend: on a busy machine the
    wall time of a request depends on what else runs, its CPU time much less."""
    with open(f"/proc/{backend_pid}/schedstat") as schedstat:
        backend_nanoseconds = int(schedstat.read().split()[0])
    return time.process_time() + backend_nanoseconds / 1e9


# --- 2. Commit → client -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebServer:
    """`manage.py runhub --web-only` in its own process: uvicorn, HTTP and WebSocket."""

    def __init__(self, *, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_POOL_SIZE", None)  # the hub runs as deployed, with its pool
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runhub", "--web-only", "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"runhub exited with {self.process.returncode}: see {self.log_path}"
                )
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url("/login/"), timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"runhub did not answer within {SERVER_START_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def session_cookie(server: WebServer, username: str) -> str:
    """Log in through the login page, as a browser does; returns the session id."""
    with requests.Session() as browser:
        browser.get(server.url("/login/"), timeout=10).raise_for_status()
        answer = browser.post(
            server.url("/login/"),
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": server.url("/login/")},
            timeout=10,
            allow_redirects=False,
        )
        if answer.status_code != 302 or "sessionid" not in browser.cookies:
            raise RuntimeError(f"Login failed with {answer.status_code}")
        return browser.cookies["sessionid"]


@dataclass(slots=True)
class Arrival:
    at: float  # time.monotonic() in the client process
    rows: list[tuple[int, int]]  # (level id, version) of each pushed row


def client_main(
    *,
    port: int,
    cookie: str,
    watches: list[list[int]],
    ready: multiprocessing.Event,
    stop: multiprocessing.Event,
    results: multiprocessing.Queue,
) -> None:
    """One stock-page socket per watch list; every push is timestamped as it arrives."""
    import websockets

    arrivals: list[Arrival] = []

    async def listen(connection) -> None:
        async for message in connection:
            at = time.monotonic()
            rows = [(int(level), int(version)) for level, version in PUSHED_ROW.findall(message)]
            arrivals.append(Arrival(at=at, rows=rows))

    async def main() -> None:
        url = f"ws://127.0.0.1:{port}/ws/live/stock/"
        headers = {"Cookie": f"sessionid={cookie}"}
        origin = f"http://127.0.0.1:{port}"
        async with contextlib.AsyncExitStack() as stack:
            connections = []
            for levels in watches:
                connection = await stack.enter_async_context(
                    websockets.connect(url, additional_headers=headers, origin=origin)
                )
                await connection.send(f'{{"type": "watch", "levels": {levels}}}')
                connections.append(connection)
            listeners = [asyncio.create_task(listen(connection)) for connection in connections]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            for listener in listeners:
                listener.cancel()

    try:
        asyncio.run(main())
    finally:
        results.put(arrivals)


@dataclass(frozen=True, slots=True)
class Change:
    level_id: int
    version: int
    committed_at: float  # time.monotonic() just after COMMIT
    returned_at: float  # when the service returned, its publish done


def change_once(level, *, delta: int) -> Change:
    """One adjustment through the service; the time of its commit and the version it made."""
    from django.db import transaction

    from stock.actors import Actor
    from stock.models import ReasonCode
    from stock.services import adjust_stock

    stamp: list[float] = []
    with transaction.atomic():
        # Registered before the service's publish, so it runs first, right after COMMIT.
        transaction.on_commit(lambda: stamp.append(time.monotonic()))
        outcome = adjust_stock(
            variant=level.variant,
            warehouse=level.warehouse,
            delta=delta,
            reason=ReasonCode.FOUND if delta > 0 else ReasonCode.LOST,
            actor=Actor.system("benchmark"),
        )
    return Change(
        level_id=level.pk,
        version=outcome.level.version,
        committed_at=stamp[0],
        returned_at=time.monotonic(),
    )


@dataclass(slots=True)
class PushScenario:
    label: str
    changes: list[Change] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    pushes: int = 0

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        publish = statistics.median(c.returned_at - c.committed_at for c in self.changes)
        return (
            f"| {self.label} | {len(self.changes):,} | {self.pushes:,} | "
            f"{percentile(ordered, 0.5) * 1000:.1f} | {percentile(ordered, 0.95) * 1000:.1f} | "
            f"{percentile(ordered, 0.99) * 1000:.1f} | {ordered[-1] * 1000:.1f} | {self.lost} | "
            f"{publish * 1000:.1f} |"
        )


def run_changes(
    plan: list, *, spacing: float, make: Callable[[object, int], Change]
) -> list[Change]:
    """Apply one change per planned level, each starting `spacing` after the previous one."""
    changes = []
    distinct = len(set(plan))
    started = time.monotonic()
    for number, level in enumerate(plan):
        wait = started + number * spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        # +1 then -1 on each level: figures stay where they were, versions keep rising.
        changes.append(make(level, 1 if number // distinct % 2 == 0 else -1))
    return changes


def match(scenario: PushScenario, arrivals: list[Arrival]) -> None:
    """Each change's latency: to the first push showing its level at its version or later."""
    by_level: dict[int, list[tuple[float, int]]] = {}
    for arrival in sorted(arrivals, key=lambda item: item.at):
        for level_id, version in arrival.rows:
            by_level.setdefault(level_id, []).append((arrival.at, version))
    for change in scenario.changes:
        arrived = next(
            (
                at
                for at, version in by_level.get(change.level_id, [])
                if version >= change.version and at >= change.committed_at
            ),
            None,
        )
        if arrived is None:
            scenario.lost += 1
        else:
            scenario.latencies.append(arrived - change.committed_at)


def measure_pushes(
    *, server: WebServer, changes: int, sockets: int, per_socket: int, spacing: float
) -> list[PushScenario]:
    from stock.models import StockLevel

    cookie = session_cookie(server, bench_user().username)
    levels = list(
        StockLevel.objects.filter(warehouse__code="WH01")
        .select_related("variant", "warehouse")
        .order_by("pk")[: sockets * per_socket]
    )
    watches = [
        [level.pk for level in levels[start : start + per_socket]]
        for start in range(0, len(levels), per_socket)
    ]
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    client = context.Process(
        target=client_main,
        kwargs={
            "port": server.port,
            "cookie": cookie,
            "watches": watches,
            "ready": ready,
            "stop": stop,
            "results": results,
        },
    )
    client.start()
    if not ready.wait(30):
        client.kill()
        raise RuntimeError("The websocket client did not connect within 30 s")
    # The consumer joins its groups after reading the watch message; give it a moment, then
    # warm every socket's path (render, template, connections) with one change each.
    time.sleep(1.0)
    warm_up = PushScenario("warm-up: one change per socket")
    warm_up.changes = run_changes(
        [watch_levels[0] for watch_levels in _chunks(levels, per_socket)],
        spacing=spacing,
        make=lambda level, delta: change_once(level, delta=delta),
    )
    time.sleep(1.0)
    # Round-robin: socket i gets changes i, i + sockets, …, each sockets x spacing apart.
    spread = [
        levels[(number % sockets) * per_socket + (number // sockets) % per_socket]
        for number in range(changes)
    ]
    spaced = PushScenario(
        f"{sockets} sockets, round-robin ({sockets * spacing * 1000:.0f} ms between a "
        "socket's changes)"
    )
    spaced.changes = run_changes(
        spread, spacing=spacing, make=lambda level, delta: change_once(level, delta=delta)
    )
    time.sleep(1.0)
    burst = PushScenario(f"1 socket, every change ({spacing * 1000:.0f} ms apart): coalesced")
    burst.changes = run_changes(
        [levels[number % per_socket] for number in range(changes)],
        spacing=spacing,
        make=lambda level, delta: change_once(level, delta=delta),
    )
    time.sleep(DRAIN_SECONDS)
    stop.set()
    arrivals: list[Arrival] = results.get(timeout=30)
    client.join(timeout=30)
    scenarios = [warm_up, spaced, burst]
    for scenario in scenarios:
        match(scenario, arrivals)
        first, last = scenario.changes[0].committed_at, scenario.changes[-1].committed_at
        scenario.pushes = sum(
            1 for arrival in arrivals if first <= arrival.at <= last + DRAIN_SECONDS
        )
    return scenarios


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# --- Main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants", type=int, default=int(os.environ.get("BENCH_VARIANTS", 50_000))
    )
    parser.add_argument(
        "--warehouses", type=int, default=int(os.environ.get("BENCH_WAREHOUSES", 10))
    )
    parser.add_argument("--changes", type=int, default=int(os.environ.get("BENCH_CHANGES", 1000)))
    parser.add_argument(
        "--spacing-ms", type=float, default=float(os.environ.get("BENCH_SPACING_MS", 20))
    )
    parser.add_argument("--sockets", type=int, default=int(os.environ.get("BENCH_SOCKETS", 16)))
    parser.add_argument("--levels-per-socket", type=int, default=25)
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 20)))
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "hub_bench_dash"))
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Keep the database of an earlier run instead of recreating and seeding it.",
    )
    options = parser.parse_args()

    if not options.reuse:
        recreate_database(options.database)
    configure(database=options.database, redis_url=options.redis_url)
    print("\n".join(machine_description()))
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "stock", "templates", "static", "inventory_hub"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    ).stdout.split("\n")
    changed = [line[3:] for line in dirty if line.strip() and not line.startswith("??")]
    if changed:
        print(f"uncommitted changes measured too: {', '.join(changed)}")
    failures = []
    if not options.reuse:
        migrate()
        print(
            f"Seeding {options.variants:,} variants x {options.warehouses} warehouses", flush=True
        )
        started = time.perf_counter()
        seed(
            variants=options.variants, warehouses=options.warehouses, batch_size=options.batch_size
        )
        print(f"Seeded in {time.perf_counter() - started:.0f} s", flush=True)
        analyze()

    from django.db import connection

    from stock.models import StockLevel
    from stock.selectors import ledger_differences

    level_count = StockLevel.objects.count()
    print(f"\n## Stock page ({level_count:,} levels), {options.requests} requests each\n")
    print(f"load average before: {load_average()}")
    pages = time_pages(repeats=options.requests)
    print("| request | median ms | p95 ms | max ms | median CPU ms | queries | rows | KiB |")
    print("|---|---|---|---|---|---|---|---|")
    for result in pages:
        print(
            f"| {result.case.label} | {result.median_ms:.1f} | {result.p95_ms:.1f} | "
            f"{result.max_ms:.1f} | {result.cpu_ms:.1f} | {result.queries} | {result.rows} | "
            f"{result.bytes / 1024:.0f} |"
        )
        if result.statuses != {200}:
            failures.append(f"{result.case.url} answered {sorted(result.statuses)}")
    by_size = {result.rows: result.queries for result in pages[:3]}
    if len(set(by_size.values())) != 1:
        failures.append(f"query count grows with the page size: {by_size}")

    connection.close()
    server = WebServer(log_path=Path(os.environ.get("TMPDIR", "/tmp")) / "bench-dashboard-web.log")
    server.start()
    try:
        print(
            f"\n## Commit → client: {options.changes:,} changes, {options.spacing_ms:g} ms "
            f"apart, Redis pub/sub channel layer\n",
            flush=True,
        )
        print(f"load average before: {load_average()}")
        scenarios = measure_pushes(
            server=server,
            changes=options.changes,
            sockets=options.sockets,
            per_socket=options.levels_per_socket,
            spacing=options.spacing_ms / 1000,
        )
    finally:
        server.stop()
    print(
        "| scenario | changes | pushes | median ms | p95 ms | p99 ms | max ms | lost | publish ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for scenario in scenarios:
        print(scenario.summary())
        if scenario.lost:
            failures.append(f"{scenario.label}: {scenario.lost} changes never pushed")

    differences = ledger_differences()
    print(f"\nledger differences: {len(differences)}")
    if differences:
        failures.append(f"{len(differences)} balances differ from the ledger")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
