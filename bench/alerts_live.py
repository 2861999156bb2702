"""Parts 3 and 4 of bench.alerts, run by it in their own process (Django on Redis: the
channel layer, the cache and the Celery broker), on the database it seeded.

3. Commit to dashboard. The hub runs as `manage.py runhub` with REDIS_URL (the Procfile's
   worker and beat as its children). A dashboard receiver and a route (group wait 0, one
   group per SKU and warehouse) are set up through the services, with a rule "available
   below 10" on a warehouse of its own, LIVE, stocking `--changes` SKUs (+2) at 100. This
   process joins the channel layer's `alerts` group (what the dashboard's live pages
   listen to; the alerts pages' own consumer is not on main yet) and makes `--changes`
   adjustments through `adjust_stock`, each taking a LIVE level from 100 to 3: from right
   after its COMMIT to the `alerts.changed` message arriving. The way: this process's
   reaction notes the level, 300 ms later queues `evaluate_task`; the worker evaluates,
   schedules the group, flushes it, and delivers to the dashboard receiver, which
   publishes to the group.
4. Dispatch. A webhook receiver (a threaded HTTP server in another process, verifying each
   signature with `standardwebhooks`) and a webhook receiver row pointing at it. First the
   baseline: as many signed POSTs as notifications, from `--workers` threads, nothing
   read or stored. Then, for the Procfile's worker command (prefork, concurrency 2) and
   the same with a pool of `--threads` threads, each started alone (no beat, no web):
   `--notifications` test messages (`send_test_message`, delivered as any notification)
   written in one transaction; from its commit to the last one marked sent, and the CPU
   of the worker's processes and of its PostgreSQL backends per notification.

    .venv/bin/python -m bench.alerts_live --database ih_bench_alerts \
        --redis-url redis://127.0.0.1:6379/9   # after bench.alerts, on its database
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import django
import redis
import requests

from bench.common import database_url, percentile

REPO = Path(__file__).resolve().parent.parent
LIVE_RULE = "live: below 10 at LIVE"
DELIVERY_DEADLINE_SECONDS = 300


def configure(database: str, redis_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "inventory_hub.settings.local"
    os.environ["DEBUG"] = "0"
    os.environ["DATABASE_POOL_SIZE"] = "0"
    os.environ["REDIS_URL"] = redis_url
    django.setup()


# --- 3. Commit to dashboard ------------------------------------------------------------------


def live_setup(changes: int) -> None:
    """A warehouse of its own (LIVE) stocking `changes` SKUs with 100 units each, through
    the ledger; the rule watches it alone, so that nothing fires before the changes (a rule
    over the seeded levels would fire for thousands at once and keep the worker busy)."""
    from alerts.models import Rule
    from alerts.services import create_rule, save_receiver, save_route
    from stock.actors import Actor
    from stock.models import MovementKind, MovementSource, ReasonCode, Variant
    from stock.services.ledger import LevelChange, apply_changes
    from warehouses.models import Warehouse

    if Rule.objects.filter(name=LIVE_RULE).exists():
        return  # set up by an earlier run on this database
    actor = Actor.system("benchmark")
    live = Warehouse.objects.create(code="LIVE", name="Benchmark live warehouse")
    apply_changes(
        [
            LevelChange(
                variant=variant,
                warehouse=live,
                kind=MovementKind.RECEIPT,
                reason=ReasonCode.PURCHASE_ORDER,
                delta_on_hand=100,
            )
            for variant in Variant.objects.order_by("-sku")[:changes]
        ],
        actor=actor,
        source=MovementSource.MANUAL,
    )
    dashboard = save_receiver(name="bench dashboard", kind="dashboard")
    save_route(
        name="bench dashboard",
        receiver=dashboard,
        matchers={"rule": LIVE_RULE},
        group_by=["sku", "warehouse"],
        group_wait_seconds=0,
    )
    create_rule(
        actor=actor, name=LIVE_RULE, condition="available_below", threshold=10, warehouse=live
    )


def live_levels(count: int) -> list:
    from stock.models import StockLevel

    return list(
        StockLevel.objects.filter(warehouse__code="LIVE", available__gte=50)
        .select_related("variant", "warehouse")
        .order_by("pk")[:count]
    )


async def commit_to_dashboard(changes: int) -> tuple[list[float], dict[str, int]]:
    """Latencies in seconds, and how many changes had no message within 10 s."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from alerts.models import Alert
    from stock.actors import Actor
    from stock.services.movements import adjust_stock

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("alerts", channel)
    actor = Actor.system("benchmark")
    levels = await sync_to_async(live_levels)(changes + 2)

    def cross(level) -> float:
        adjust_stock(
            variant=level.variant,
            warehouse=level.warehouse,
            delta=3 - level.available,
            reason="cycle_count",
            actor=actor,
        )
        return time.perf_counter()

    latencies, lost = [], {"timeout": 0}
    for number, level in enumerate(levels):
        while True:  # drain what came before this change (the sweep's, a late one)
            try:
                await asyncio.wait_for(layer.receive(channel), 0.2)
            except TimeoutError:
                break
        committed = await sync_to_async(cross)(level)
        is_firing = sync_to_async(
            Alert.objects.filter(rule__name=LIVE_RULE, variant=level.variant, state="firing").exists
        )
        arrived = await first_message_while_firing(layer, channel, is_firing, committed + 10)
        if arrived is None:
            lost["timeout"] += 1
        elif number >= 2:  # the first two warm the worker up
            latencies.append(arrived - committed)
        await asyncio.sleep(0.5)
    return latencies, lost


async def first_message_while_firing(layer, channel: str, is_firing, deadline: float):
    """When the first message came that found the change's alert firing (one coming
    before, for an earlier change, does not count), or None by the deadline."""
    while (left := deadline - time.perf_counter()) > 0:
        try:
            await asyncio.wait_for(layer.receive(channel), left)
        except TimeoutError:
            return None
        arrived = time.perf_counter()
        if await is_firing():
            return arrived
    return None


# --- 4. Dispatch ----------------------------------------------------------------------------


def serve_webhooks(secret: str, port_queue: multiprocessing.Queue) -> None:
    """The receiving end: verifies every signature, counts verified and distinct ids."""
    from standardwebhooks import Webhook

    verifier = Webhook(secret)
    lock = threading.Lock()
    counts = {"received": 0, "verified": 0}
    ids: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except Exception:
                verified = False
            with lock:
                counts["received"] += 1
                if verified:
                    counts["verified"] += 1
                    ids.add(headers["webhook-id"])
            self.send_response(204 if verified else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                body = json.dumps({**counts, "distinct": len(ids)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU so far of a process and every descendant (the hub: its web
    server, the worker and its pool processes, beat)."""
    parents, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grown = bool(more)
    return sum(cpu.get(pid, 0.0) for pid in family)


def backends_cpu_seconds() -> dict[int, float]:
    """CPU so far of every other PostgreSQL backend on this database (same host)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
        except OSError:
            continue
    return seconds


def cpu_since(hub_pid: int, hub_before: float, backends_before: dict[int, float]) -> float:
    backends = backends_cpu_seconds()
    used = sum(now - backends_before.get(pid, 0.0) for pid, now in backends.items())
    return tree_cpu_seconds(hub_pid) - hub_before + used


class Worker:
    """A Celery worker on the benchmark database and Redis, with nothing else running
    (no beat): every task it runs is a delivery."""

    def __init__(self, argv: list[str], log: Path) -> None:
        env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
        env.pop("DATABASE_POOL_SIZE", None)  # as deployed, with its pool
        executable = [sys.executable, "-m", "celery"] if argv[0] == "celery" else []
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                executable + argv[1:] if executable else argv,
                cwd=REPO,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        from inventory_hub.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: see {log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def webhook_receiver_at_server() -> tuple[object, str, multiprocessing.Process]:
    """The receiver row and the HTTP server it points at (started here)."""
    from alerts.models import Receiver
    from alerts.services import save_receiver

    receiver = Receiver.objects.filter(name="bench webhook").first() or save_receiver(
        name="bench webhook", kind="webhook", config={"url": "http://x/"}
    )
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=serve_webhooks, args=(receiver.secret, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"
    receiver = save_receiver(
        name="bench webhook", kind="webhook", config={"url": url}, receiver=receiver
    )
    return receiver, url, server


def dispatch(receiver, url: str, notifications: int, argv: list[str]) -> dict[str, float]:
    """`notifications` test messages written in one transaction; from its commit to the
    last one marked sent by a worker started with `argv`."""
    from django.db import transaction

    from alerts.models import Notification, NotificationStatus
    from alerts.services import send_test_message
    from stock.actors import Actor

    worker = Worker(argv, REPO / "var" / "bench-alerts-worker.log")
    try:
        before = requests.get(url, timeout=5).json()
        hub_before, backends_before = tree_cpu_seconds(worker.process.pid), backends_cpu_seconds()
        with transaction.atomic():
            ids = [
                send_test_message(receiver=receiver, actor=Actor.system("benchmark")).pk
                for _ in range(notifications)
            ]
        committed = time.perf_counter()
        mine = Notification.objects.filter(pk__in=ids)
        deadline = committed + DELIVERY_DEADLINE_SECONDS
        while mine.exclude(status=NotificationStatus.SENT).exists():
            if time.perf_counter() > deadline:
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - committed
        cpu = cpu_since(worker.process.pid, hub_before, backends_before)
        after = requests.get(url, timeout=5).json()
        sent = mine.filter(status=NotificationStatus.SENT).count()
    finally:
        worker.stop()
    return {
        "sent": sent,
        "seconds": seconds,
        "per_second": sent / seconds,
        "cpu_ms": cpu / max(sent, 1) * 1000,
        **{name: after[name] - before[name] for name in ("received", "verified", "distinct")},
    }


def raw_posts(url: str, secret: str, count: int, workers: int) -> float:
    """The baseline: signed POSTs (the sender's own signing), nothing read or stored."""
    from alerts.senders.webhook import signed_headers

    local = threading.local()

    def post(number: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = json.dumps({"id": f"raw-{number}", "kind": "test"}).encode()
        reply = session.post(url, data=body, headers=signed_headers(secret, f"raw-{number}", body))
        reply.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(count)))
    return count / (time.perf_counter() - started)


# --- Main -----------------------------------------------------------------------------------


def worker_commands(threads: int) -> dict[str, list[str]]:
    """The Procfile's worker, and the same with a pool of threads."""
    from inventory_hub.companions import read_procfile

    procfile = read_procfile()["worker"]
    threaded = [*procfile, "--pool", "threads"]
    threaded[threaded.index("--concurrency") + 1] = str(threads)
    return {
        "Procfile worker (prefork, concurrency 2)": procfile,
        f"same, --pool threads --concurrency {threads}": threaded,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="threads of the raw baseline")
    parser.add_argument("--threads", type=int, default=8, help="the threaded worker's")
    options = parser.parse_args()
    redis.Redis.from_url(options.redis_url).flushdb()
    configure(options.database, options.redis_url)
    from bench.connectors import Hub

    live_setup(options.changes + 2)
    (REPO / "var").mkdir(exist_ok=True)
    hub = Hub(
        database_url=database_url(options.database),
        redis_url=options.redis_url,
        web_only=False,
        log=REPO / "var" / "bench-alerts-hub.log",
    )
    hub.start()
    try:
        latencies, lost = asyncio.run(commit_to_dashboard(options.changes))
    finally:
        hub.stop()
    receiver, url, server = webhook_receiver_at_server()
    try:
        raw = raw_posts(url, receiver.secret, options.notifications, options.workers)
        dispatched = {
            name: dispatch(receiver, url, options.notifications, argv)
            for name, argv in worker_commands(options.threads).items()
        }
    finally:
        server.terminate()
        server.join()
    return report(sorted(latencies), lost, dispatched, raw, options)


def report(latencies: list[float], lost: dict, dispatched: dict, raw: float, options) -> int:
    p50 = percentile(latencies, 0.5) * 1000
    print(
        f"\n3. Commit to dashboard (the 'alerts' group message), {len(latencies)} adjustments "
        "crossing 'below 10' at LIVE, 0.5 s apart (2 more for warm-up); hub: runhub with Redis"
        f"\n\n| p50 ms | p95 ms | max ms | no message in 10 s |"
        f"\n|---:|---:|---:|---:|\n| {p50:.0f} | {percentile(latencies, 0.95) * 1000:.0f} "
        f"| {max(latencies, default=float('nan')) * 1000:.0f} | {lost['timeout']} |\n\n"
        f"p50 {p50:.0f} ms (goal under 1,000 ms: {'met' if p50 < 1000 else 'NOT met'})"
    )
    print(
        f"\n4. Dispatch to a local signed-webhook receiver, {options.notifications:,} "
        "notifications each (claim, sign, POST, record)\n\n| worker | notifications/s "
        "| CPU ms per notification (worker + its backends) | sent | received / verified / "
        "distinct ids |\n|---|---:|---:|---:|---:|"
    )
    for name, cell in dispatched.items():
        print(
            f"| {name} | {cell['per_second']:,.0f} | {cell['cpu_ms']:.1f} | {cell['sent']:,} "
            f"| {cell['received']:,} / {cell['verified']:,} / {cell['distinct']:,} |"
        )
    print(
        f"| raw signed POSTs, {options.workers} threads, nothing stored (baseline) | {raw:,.0f} "
        "| — | — | — |"
    )
    procfile = next(iter(dispatched.values()))
    capacity = 2000 / procfile["cpu_ms"]
    print(
        f"\nProcfile worker: {procfile['per_second']:,.0f} notifications/s (goal at least 100: "
        f"{'met' if procfile['per_second'] >= 100 else 'NOT met'} in wall-clock); its CPU per "
        f"notification bounds 2 cores at {capacity:,.0f}/s"
    )
    complete = all(
        cell["sent"] == options.notifications == cell["distinct"] for cell in dispatched.values()
    )
    return 0 if not sum(lost.values()) and latencies and complete else 1


if __name__ == "__main__":
    sys.exit(main())
