"""Connectors: inbound webhooks accepted per second by one hub process, and the time from an
inbound event to the push reaching a second store.

Seeds a dedicated database: `--skus` SKUs with a million units each in one warehouse, a
WooCommerce connector (channel BENCH) and a Magento MSI connector (channel BENCH-M, source
"wh1" mapped to the warehouse), every SKU mapped on both, each mapping knowing what its
store holds (so nothing is pushed until something changes). The two stores are the
project's fake stores (tests/fakes), real HTTP servers in this process.

1. Inbound acceptance: one hub process, `manage.py runhub --web-only` with REDIS_URL set
   (`--redis-url`, the Procfile's web process: it verifies, stores and queues; nothing
   consumes the queue meanwhile), or with `--redis-url ''` the embedded `runhub` of
   `make run`, whose worker then processes the events in the same process. Measured
   twice: through the ASGI fast path (connectors.fast_inbound, the default), then through
   the Django view alone (CONNECTORS_FAST_INBOUND=0; `--no-baseline` skips it), so the
   ratio comes from one run. `--clients` processes POST signed WooCommerce
   `order.created` deliveries (each with its own delivery id) over keep-alive connections
   for `--duration` seconds after `--warmup`; counted are the answers 200 "accepted"
   (verified, stored in the inbox, processing queued). The clients write raw HTTP/1.1 over
   a socket: `requests` would spend about a millisecond of the two shared cores per call.
   Also shown: latency p50/p95, CPU per accepted delivery of the hub process, of its
   PostgreSQL backends, and of everything else on the machine (the clients and whatever
   else runs), and the load average. Check: every accepted delivery is in the inbox.
2. Inbound to outbound, in two shapes: the embedded `runhub` (server, worker and beat in
   one process, as `make run`), and `runhub` with REDIS_URL (production's shape: worker
   and beat as their own processes, started from the Procfile; skipped with
   `--redis-url ''`). `--events` order webhooks, one unit each of a different SKU,
   `--rate` per second; for each, the time from starting its POST to the Magento fake
   receiving the SKU's new per-source quantity. Median, p95 and max; lost if it never
   arrives within `--drain` seconds.

Exit status 1 if a delivery was refused or errored, an accepted one is missing from the
inbox, an event never reached Magento, or the ledger disagrees with the balances.

    make bench-connectors      # or: .venv/bin/python -m bench.connectors --help
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from bench.common import (
    Client,
    configure_django,
    machine_description,
    migrate,
    percentile,
    recreate_database,
    run_workers,
    seed_catalogue,
    summarize,
    timed_loop,
)

REPO = Path(__file__).resolve().parent.parent
SERVER_START_SECONDS = 90.0
WEBHOOK_SECRET = "benchmark-webhook-secret"
MAGENTO_TOKEN = "benchmark-integration-token"
ON_HAND = 1_000_000
SOURCE = "wh1"
BODIES_PER_CLIENT = 64


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    skus: int
    clients: int
    duration: float
    warmup: float
    events: int
    rate: float
    drain: float
    redis_url: str
    baseline: bool


@dataclass(slots=True)
class World:
    woo_connector_id: int
    skus: list[str]


# --- Fake stores -------------------------------------------------------------------------------


def timed_magento():
    """The Magento fake, noting when each (sku, source, quantity) first arrives."""
    from tests.fakes.magento import FakeMagento

    class TimedMagento(FakeMagento):
        def __init__(self) -> None:
            super().__init__(integration_token=MAGENTO_TOKEN)
            self.arrivals: dict[tuple[str, str, int], float] = {}
            self.arrived = threading.Condition()

        def _save_source_items(self, request):
            response = super()._save_source_items(request)
            if response.status == 200:
                now = time.monotonic()
                with self.arrived:
                    for item in request.json()["sourceItems"]:
                        key = (item["sku"], item["source_code"], int(item["quantity"]))
                        self.arrivals.setdefault(key, now)
                    self.arrived.notify_all()
            return response

    return TimedMagento()


# --- Seeding -----------------------------------------------------------------------------------


def seed(settings: Settings, woo, magento) -> World:
    from connectors.models import Connector, LocationMapping, SkuMapping
    from stock.models import Variant
    from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

    skus = [f"B{number:06d}" for number in range(settings.skus)]
    catalogue = seed_catalogue(stock=dict.fromkeys(skus, ON_HAND), warehouse_count=1)
    warehouse = Warehouse.objects.get(code=catalogue.warehouse_codes[0])
    channel = SalesChannel.objects.get(code=catalogue.channel_code)
    magento_channel = SalesChannel.objects.create(code="BENCH-M", name="Benchmark Magento")
    ChannelWarehouse.objects.create(channel=magento_channel, warehouse=warehouse, priority=1)
    product_ids = {sku: woo.add_product(sku, quantity=ON_HAND) for sku in skus}
    magento.add_source(SOURCE)
    for sku in skus:
        magento.add_source_item(sku, SOURCE, ON_HAND)
    woo_connector = Connector.objects.create(
        name="bench woo",
        kind="woocommerce",
        base_url=woo.base_url,
        credentials=woo.credentials,
        webhook_secret=WEBHOOK_SECRET,
        channel=channel,
        poll_interval_seconds=0,
        push_rate_per_second=1000.0,
    )
    magento_connector = Connector.objects.create(
        name="bench magento",
        kind="magento",
        base_url=magento.base_url,
        credentials={"token": MAGENTO_TOKEN},
        webhook_secret=WEBHOOK_SECRET,
        channel=magento_channel,
        poll_interval_seconds=0,
        push_rate_per_second=1000.0,
    )
    LocationMapping.objects.create(
        connector=magento_connector, warehouse=warehouse, location=SOURCE
    )
    variants = dict(Variant.objects.filter(sku__in=skus).values_list("sku", "pk"))
    SkuMapping.objects.bulk_create(
        [
            SkuMapping(
                connector=woo_connector,
                variant_id=variants[sku],
                remote_id=str(product_ids[sku]),
                last_confirmed={"": ON_HAND},
                last_confirmed_status={"": {"status": None, "forced_status": None}},
            )
            for sku in skus
        ]
        + [
            SkuMapping(
                connector=magento_connector,
                variant_id=variants[sku],
                remote_id=sku,
                last_confirmed={SOURCE: ON_HAND},
                last_confirmed_status={SOURCE: {"status": "in_stock", "forced_status": None}},
            )
            for sku in skus
        ],
        batch_size=5000,
    )
    return World(woo_connector_id=woo_connector.pk, skus=skus)


# --- Deliveries --------------------------------------------------------------------------------


def order_body(order_id: int, sku: str) -> bytes:
    """A WooCommerce order.created body as the store sends it (compact JSON)."""
    payload = {
        "id": order_id,
        "status": "processing",
        "date_modified_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "line_items": [{"id": 1, "product_id": 1, "sku": sku, "quantity": 1}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def delivery_headers(body: bytes, delivery_id: str) -> dict[str, str]:
    from connectors.woocommerce import webhook_signature

    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.9.0 Hookshot (WordPress/6.8.1)",
        "X-WC-Webhook-Source": "http://bench.example/",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Signature": webhook_signature(body, WEBHOOK_SECRET),
    }


# --- The hub process ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Hub:
    """`manage.py runhub` in its own process, on the benchmark database."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        web_only: bool,
        log: Path,
        fast_inbound: bool = True,
    ) -> None:
        self.port = free_port()
        self.database_url = database_url
        self.redis_url = redis_url
        self.web_only = web_only
        self.fast_inbound = fast_inbound
        self.log_path = log
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.local",
            "DATABASE_URL": self.database_url,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "CONNECTORS_FAST_INBOUND": "1" if self.fast_inbound else "0",
            # A beat of its own (Redis mode): not the schedule file of a hub run by hand.
            "HUB_BEAT_SCHEDULE_FILE": str(REPO / "var" / "bench-connectors-beat-schedule"),
        }
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_POOL_SIZE", None)  # the hub runs as deployed, with its pool
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        argv = [sys.executable, "manage.py", "runhub", "--port", str(self.port)]
        if self.web_only:
            argv.append("--web-only")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"runhub exited with {self.process.returncode}: see {self.log_path}"
                )
            with contextlib.suppress(requests.ConnectionError):
                # "ok", not only 200: a hub still waiting for its worker answers "degraded".
                reply = requests.get(self.url("/healthz"), timeout=2)
                if self.web_only or reply.json().get("status") == "ok":
                    return
            time.sleep(0.2)
        raise RuntimeError(f"runhub did not answer within {SERVER_START_SECONDS} s")

    def cpu_seconds(self) -> float:
        """User + system CPU of the hub process (all its threads) so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- 1. Inbound acceptance ---------------------------------------------------------------------


@dataclass(slots=True)
class InboundResult:
    mode: str
    path: str
    clients: int
    accepted_per_second: float
    p50_ms: float
    p95_ms: float
    window_accepted: int
    stored: int
    refused: int
    errors: int
    error_samples: list[str]
    hub_cpu_ms: float
    database_cpu_ms: float
    other_cpu_ms: float
    load_average: float
    problems: list[str] = field(default_factory=list)


class KeepAlivePoster:
    """HTTP/1.1 POSTs over one keep-alive socket, written and read as bytes."""

    def __init__(self, port: int, path: str) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        self.pending = b""

    def post(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"{self.head}{lines}Content-Length: {len(body)}\r\n\r\n".encode()
        self.socket.sendall(request + body)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._receive()
        head, rest = data[:end], data[end + 4 :]
        length_header = CONTENT_LENGTH.search(head)
        if length_header is None:
            raise RuntimeError(f"no Content-Length in {head[:200]!r}")
        length = int(length_header[1])
        while len(rest) < length:
            rest += self._receive()
        self.pending = rest[length:]
        return int(head[9:12]), rest[:length]

    def _receive(self) -> bytes:
        chunk = self.socket.recv(65536)
        if not chunk:
            raise ConnectionError("the hub closed the connection")
        return chunk


CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def inbound_client(port: int, path: str, skus: list[str], number: int) -> Client:
    """A client process: its own keep-alive connection and a pool of signed bodies (the
    signature covers the body only, so each request just takes a new delivery id)."""
    poster = KeepAlivePoster(port, path)
    bodies = [
        order_body(900_000_000 + number * BODIES_PER_CLIENT + index, skus[index % len(skus)])
        for index in range(BODIES_PER_CLIENT)
    ]
    signed = [(body, delivery_headers(body, "")) for body in bodies]

    def call(call_number: int) -> bool:
        body, headers = signed[call_number % len(signed)]
        headers = {**headers, "X-WC-Webhook-Delivery-ID": f"bench-{number}-{call_number}"}
        status, answer = poster.post(headers, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {answer[:200]!r}")
        return b'"accepted"' in answer

    # The CPU figures of the run are taken outside the clients (see measure_inbound).
    return Client(call=call, backend_pid=os.getpid())


class CpuMeter:
    """CPU seconds used by the hub process, the database's backends and the whole machine.

    Backends are found by their process title (`postgres: … <user> <database> …`) and
    sampled every `SAMPLE_SECONDS`: a backend that exits during the run still counts with
    what it had used when last seen, but one that lives shorter than that is missed (Django
    under ASGI opens a connection per request: the Django-view row undercounts).
    """

    SAMPLE_SECONDS = 0.25

    def __init__(self, hub: Hub, database: str) -> None:
        self.hub = hub
        self.marker = f" {database} ".encode()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def __enter__(self) -> CpuMeter:
        self.hub_start, self.machine_start = self.hub.cpu_seconds(), _machine_cpu_seconds()
        self.first = self._backends()
        self.last = dict(self.first)
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join()
        self.last.update(self._backends())
        self.hub_used = self.hub.cpu_seconds() - self.hub_start
        self.machine_used = _machine_cpu_seconds() - self.machine_start
        self.database_used = sum(
            seconds - self.first.get(pid, 0.0) for pid, seconds in self.last.items()
        )

    def _sample_until_stopped(self) -> None:
        while not self.stopping.wait(self.SAMPLE_SECONDS):
            self.last.update(self._backends())

    def _backends(self) -> dict[int, float]:
        seconds = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                title = Path(entry.path, "cmdline").read_bytes()
                if title.startswith(b"postgres: ") and self.marker in title:
                    # Nanoseconds on the CPU: a short-lived backend's ticks would round to 0.
                    schedstat = Path(entry.path, "schedstat").read_text()
                    seconds[int(entry.name)] = int(schedstat.split()[0]) / 1e9
        return seconds


def _machine_cpu_seconds() -> float:
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure_inbound(
    settings: Settings, world: World, database_url: str, *, fast_inbound: bool
) -> InboundResult:
    from django.db import connections

    from connectors.models import InboxEvent

    web_only = bool(settings.redis_url)
    mode = "runhub --web-only (Redis queue)" if web_only else "runhub (embedded worker)"
    hub = Hub(
        database_url=database_url,
        redis_url=settings.redis_url,
        web_only=web_only,
        fast_inbound=fast_inbound,
        log=REPO / "var" / "bench-connectors-inbound.log",
    )
    path = f"/connectors/{world.woo_connector_id}/inbound/"
    stored_before = InboxEvent.objects.filter(connector_id=world.woo_connector_id).count()
    connections.close_all()
    hub.start()
    try:
        with CpuMeter(hub, settings.database) as meter:
            results = run_workers(
                # The last SKUs: the end-to-end part's orders start from the first ones.
                partial(inbound_client, hub.port, path, world.skus[-BODIES_PER_CLIENT:]),
                workers=settings.clients,
                loop=partial(timed_loop, warmup=settings.warmup, duration=settings.duration),
                timeout=settings.warmup + settings.duration + 60,
            )
        load_average = os.getloadavg()[0]
    finally:
        hub.stop()
    summary = summarize(results)
    stored = InboxEvent.objects.filter(connector_id=world.woo_connector_id).count() - stored_before
    # Over the warm-up and the window alike, as `stored` counts both.
    hub_cpu, database_cpu = meter.hub_used, meter.database_used
    machine_cpu = meter.machine_used
    per_delivery = 1000 / stored if stored else float("nan")
    result = InboundResult(
        mode=mode,
        path="ASGI fast path" if fast_inbound else "Django view",
        clients=settings.clients,
        accepted_per_second=summary.per_second,
        p50_ms=summary.p50_ms,
        p95_ms=summary.p95_ms,
        window_accepted=summary.successes,
        stored=stored,
        refused=summary.refusals,
        errors=summary.errors,
        error_samples=summary.error_samples,
        hub_cpu_ms=hub_cpu * per_delivery,
        database_cpu_ms=database_cpu * per_delivery,
        other_cpu_ms=(machine_cpu - hub_cpu - database_cpu) * per_delivery,
        load_average=load_average,
    )
    if summary.errors or summary.refusals:
        result.problems.append(f"{summary.errors} errors, {summary.refusals} not accepted")
    if stored < summary.successes:
        result.problems.append(f"{summary.successes} accepted in the window, {stored} stored")
    return result


def inbound_row(result: InboundResult) -> str:
    return (
        f"| {result.path} | {result.mode} | {result.clients} "
        f"| {result.accepted_per_second:,.0f} | {result.p50_ms:.1f} | {result.p95_ms:.1f} "
        f"| {result.hub_cpu_ms:.2f} | {result.database_cpu_ms:.2f} | {result.other_cpu_ms:.2f} "
        f"| {result.load_average:.2f} | {result.stored:,} "
        f"| {'; '.join(result.problems) or 'ok'} |"
    )


INBOUND_HEADER = (
    "| path | hub | clients | accepted/s | p50 ms | p95 ms | hub CPU ms | PostgreSQL CPU ms "
    "| other CPU ms | load 1 min | stored | check |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def clear_inbound(settings: Settings) -> None:
    """Part 2 must not find part 1's deliveries waiting for a worker."""
    from connectors.models import InboxEvent

    InboxEvent.objects.all().delete()
    if settings.redis_url:
        import redis

        redis.Redis.from_url(settings.redis_url).flushdb()


# --- 2. Inbound to outbound --------------------------------------------------------------------


@dataclass(slots=True)
class LatencyResult:
    mode: str
    events: int
    rate: float
    median_ms: float
    p95_ms: float
    max_ms: float
    accept_p50_ms: float
    lost: int
    load_average: float
    problems: list[str] = field(default_factory=list)


def measure_latency(
    settings: Settings, world: World, magento, database_url: str, *, redis_url: str, first: int
) -> LatencyResult:
    """`--events` orders, SKUs from `first` on (each run its own, so each expects its own
    Magento quantity)."""
    mode = (
        "runhub + Procfile worker and beat (Redis)"
        if redis_url
        else "runhub, embedded worker (memory broker)"
    )
    hub = Hub(
        database_url=database_url,
        redis_url=redis_url,
        web_only=False,
        log=REPO / "var" / f"bench-connectors-latency{'-redis' if redis_url else ''}.log",
    )
    url = hub.url(f"/connectors/{world.woo_connector_id}/inbound/")
    skus = world.skus[first : first + settings.events]
    started: dict[str, float] = {}
    accept_times: list[float] = []
    problems: list[str] = []
    hub.start()
    try:
        session = requests.Session()
        spacing = 1.0 / settings.rate
        next_at = time.monotonic()
        for index, sku in enumerate(skus, start=first):
            body = order_body(100_000_000 + index, sku)
            headers = delivery_headers(body, f"latency-{index}")
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += spacing
            before = time.monotonic()
            started[sku] = before
            response = session.post(url, data=body, headers=headers, timeout=30)
            accept_times.append(time.monotonic() - before)
            if response.status_code != 200 or response.json().get("status") != "accepted":
                problems.append(f"{sku}: HTTP {response.status_code} {response.text[:100]}")
        deadline = time.monotonic() + settings.drain
        expected = {sku: (sku, SOURCE, ON_HAND - 1) for sku in started}
        with magento.arrived:
            while time.monotonic() < deadline and not all(
                key in magento.arrivals for key in expected.values()
            ):
                magento.arrived.wait(0.2)
            arrivals = dict(magento.arrivals)
        load_average = os.getloadavg()[0]
    finally:
        hub.stop()
    latencies = sorted(
        arrivals[key] - started[sku] for sku, key in expected.items() if key in arrivals
    )
    lost = len(skus) - len(latencies)
    if lost:
        problems.append(f"{lost} event(s) never reached Magento within {settings.drain:g} s")
    accept_times.sort()
    return LatencyResult(
        mode=mode,
        events=len(skus),
        rate=settings.rate,
        median_ms=percentile(latencies, 0.5) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        max_ms=(latencies[-1] if latencies else float("nan")) * 1000,
        accept_p50_ms=percentile(accept_times, 0.5) * 1000,
        lost=lost,
        load_average=load_average,
        problems=problems,
    )


LATENCY_HEADER = (
    "| hub | events | rate/s | median ms | p95 ms | max ms | accept p50 ms | lost "
    "| load 1 min | check |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def latency_row(result: LatencyResult) -> str:
    return (
        f"| {result.mode} | {result.events} | {result.rate:g} | {result.median_ms:.0f} "
        f"| {result.p95_ms:.0f} | {result.max_ms:.0f} | {result.accept_p50_ms:.1f} "
        f"| {result.lost} | {result.load_average:.2f} "
        f"| {'; '.join(result.problems[:3]) or 'ok'} |"
    )


# --- Main --------------------------------------------------------------------------------------


def main() -> int:
    settings = parse_settings()
    from bench.common import database_url

    url = database_url(settings.database)
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()
    from tests.fakes.woocommerce import FakeWooCommerce

    (REPO / "var").mkdir(exist_ok=True)
    latency_modes = ["", settings.redis_url] if settings.redis_url else [""]
    with FakeWooCommerce(delivery_mode="queue") as woo, timed_magento() as magento:
        started = time.monotonic()
        world = seed(settings, woo, magento)
        print("\n".join(machine_description()))
        print(f"Seeded {settings.skus:,} SKUs on both stores in {time.monotonic() - started:.0f} s")
        from django.db import connections

        connections.close_all()
        inbound = [measure_inbound(settings, world, url, fast_inbound=True)]
        print(
            "\n## Inbound deliveries accepted (verified, stored, queued) by one hub process\n\n"
            "CPU columns: milliseconds per stored delivery (other: the clients and everything "
            f"else on the machine).\n\n{INBOUND_HEADER}\n{inbound_row(inbound[0])}",
            flush=True,
        )
        if settings.baseline:
            inbound.append(measure_inbound(settings, world, url, fast_inbound=False))
            print(inbound_row(inbound[1]), flush=True)
        for result in inbound:
            for sample in result.error_samples:
                print(f"  error ({result.path}): {sample}")
        clear_inbound(settings)
        connections.close_all()
        print(f"\n## Inbound event to push reaching a second store\n\n{LATENCY_HEADER}", flush=True)
        latencies = []
        for number, redis_url in enumerate(latency_modes):
            result = measure_latency(
                settings, world, magento, url, redis_url=redis_url, first=number * settings.events
            )
            latencies.append(result)
            print(latency_row(result), flush=True)
            connections.close_all()
    from stock.selectors import ledger_differences

    differences = ledger_differences()
    if differences:
        print(f"Ledger differs from balances: {differences[:5]}")
    # The Django-view row is a reference, not the hub's path: its problems are shown, not
    # failed on.
    ok = not inbound[0].problems and not any(r.problems for r in latencies) and not differences
    print(
        f"\nGoals: >= 500 accepted/s per process, median inbound-to-outbound < 1000 ms. "
        f"Checks: {'passed' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=environ("BENCH_DATABASE", "hub_bench_connectors"))
    parser.add_argument("--skus", type=int, default=int(environ("BENCH_SKUS", "2000")))
    parser.add_argument(
        "--clients",
        type=int,
        default=int(environ("BENCH_CLIENTS", "8")),
        help="processes posting deliveries (BENCH_CLIENTS, default 8)",
    )
    parser.add_argument("--duration", type=float, default=float(environ("BENCH_DURATION", "10")))
    parser.add_argument("--warmup", type=float, default=float(environ("BENCH_WARMUP", "2")))
    parser.add_argument(
        "--events",
        type=int,
        default=int(environ("BENCH_EVENTS", "200")),
        help="order webhooks timed end to end per hub shape (BENCH_EVENTS, default 200)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=float(environ("BENCH_RATE", "5")),
        help="order webhooks per second in the end-to-end part (BENCH_RATE, default 5)",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=float(environ("BENCH_DRAIN", "30")),
        help="seconds to wait for the last pushes (BENCH_DRAIN, default 30)",
    )
    parser.add_argument(
        "--redis-url",
        default=environ("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
        help="Redis for the inbound part's web-only hub and the Redis shape of the end-to-end "
        "part (its database is emptied); '' runs the embedded hub only "
        "(BENCH_REDIS_URL, default redis://127.0.0.1:6379/7)",
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the inbound run through the Django view alone (CONNECTORS_FAST_INBOUND=0)",
    )
    arguments = parser.parse_args()
    if arguments.rate <= 0 or arguments.clients < 1 or arguments.events < 1:
        parser.error("--rate, --clients and --events must be positive")
    shapes = 2 if arguments.redis_url else 1
    if arguments.events * shapes + BODIES_PER_CLIENT > arguments.skus:
        parser.error(
            f"--skus must hold --events times {shapes} (one SKU per event and hub shape) "
            f"plus {BODIES_PER_CLIENT} for the inbound part"
        )
    return Settings(
        database=arguments.database,
        skus=arguments.skus,
        clients=arguments.clients,
        duration=arguments.duration,
        warmup=arguments.warmup,
        events=arguments.events,
        rate=arguments.rate,
        drain=arguments.drain,
        redis_url=arguments.redis_url,
        baseline=arguments.baseline,
    )


if __name__ == "__main__":
    sys.exit(main())
