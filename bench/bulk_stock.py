"""Bulk stock: 10,000 counts through POST /api/v1/bulk/stock/, beside the raw database path.

Seeds 10,000 variants in one warehouse through the services, starts the hub under uvicorn
(its own process, like production) and, for each repeat, times:

- the HTTP path: one POST of 10,000 absolute counts that change every row, from sending the
  request to having parsed the answer (`requests`, keep-alive);
- the raw path: psycopg 3 COPY of the same (level id, new on hand) pairs into a temporary
  table, then in one transaction the lock of those levels, one INSERT … SELECT of the ledger
  rows and one UPDATE of the levels, both skipping rows whose value is unchanged.

Then the same payload again with the same Idempotency-Key (a replay: nothing may change)
and with a new key (the same values: no ledger row may be written). The exit status is 1
if any check failed.

    make bench-bulk            # or: .venv/bin/python -m bench.bulk_stock --help
"""

import argparse
import contextlib
import functools
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import psycopg
import requests

from bench.common import (
    analyze,
    configure_django,
    database_url,
    level_ids,
    machine_description,
    migrate,
    recreate_database,
    seed_catalogue,
)

URL_PATH = "/api/v1/bulk/stock/"
SEED_ON_HAND = 100
SERVER_START_SECONDS = 60

LOCK_SQL = """
    SELECT count(*) FROM (
        SELECT 1 FROM stock_stocklevel AS level
          JOIN bulk_counts AS batch ON batch.level_id = level.id
         ORDER BY level.id
           FOR NO KEY UPDATE OF level
    ) AS locked
"""
# Every column the ledger engine writes for a count.
LEDGER_SQL = """
    INSERT INTO stock_stockmovement (
        level_id, variant_id, warehouse_id, kind, reason, note,
        delta_on_hand, delta_reserved, delta_unsellable, delta_safety_stock, delta_inbound,
        on_hand_after, reserved_after, unsellable_after, safety_stock_after, inbound_after,
        actor_kind, actor_user_id, actor_label, source, document, reference,
        occurred_at, recorded_at
    )
    SELECT level.id, level.variant_id, level.warehouse_id, 'count', 'stocktake', '',
           batch.new_on_hand - level.on_hand, 0, 0, 0, 0,
           batch.new_on_hand, level.reserved, level.unsellable, level.safety_stock,
           level.inbound,
           'api_client', %(user_id)s, %(label)s, 'api', '', NULL,
           now(), now()
      FROM stock_stocklevel AS level
      JOIN bulk_counts AS batch ON batch.level_id = level.id
     WHERE level.on_hand IS DISTINCT FROM batch.new_on_hand
     ORDER BY level.id
"""
UPDATE_SQL = """
    UPDATE stock_stocklevel AS level
       SET on_hand = batch.new_on_hand, version = level.version + 1, updated_at = now()
      FROM bulk_counts AS batch
     WHERE level.id = batch.level_id AND level.on_hand IS DISTINCT FROM batch.new_on_hand
"""


@dataclass(frozen=True, slots=True)
class Settings:
    database: str
    rows: int
    repeats: int
    profile: bool


@dataclass(slots=True)
class Run:
    seconds: float
    load: float  # 1-minute load average just before the run
    # HTTP: the server process; raw: this process (the client doing the COPY).
    process_cpu: float = 0.0
    database_cpu: float = 0.0  # the PostgreSQL backends serving the run

    @property
    def cpu(self) -> float:
        return self.process_cpu + self.database_cpu


@dataclass(slots=True)
class Results:
    http: list[Run] = field(default_factory=list)
    raw: list[Run] = field(default_factory=list)
    encode_seconds: list[float] = field(default_factory=list)
    warm_up: dict[str, float] = field(default_factory=dict)
    replay: Run | None = None
    same_values: Run | None = None
    failures: list[str] = field(default_factory=list)

    def check(self, is_true: bool, what: str) -> None:
        if not is_true:
            self.failures.append(what)
            print(f"CHECK FAILED: {what}", flush=True)


@dataclass(frozen=True, slots=True)
class Fixture:
    skus: list[str]
    level_ids: list[int]
    warehouse_code: str
    user_id: int
    username: str
    token: str


def values_for(run: int, count: int) -> list[int]:
    """New on-hand figures for run `run`: every row differs from the run before."""
    return [SEED_ON_HAND + run * 10 + index % 7 for index in range(count)]


def payload(fixture: Fixture, values: list[int]) -> bytes:
    rows = [
        {"sku": sku, "warehouse": fixture.warehouse_code, "counted": value}
        for sku, value in zip(fixture.skus, values, strict=True)
    ]
    return json.dumps({"rows": rows}).encode()


def prepare(settings: Settings) -> Fixture:
    recreate_database(settings.database)
    configure_django(settings.database)
    migrate()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from warehouses.access import Role

    skus = [f"BULK-{number:05d}" for number in range(settings.rows)]
    catalogue = seed_catalogue(stock=dict.fromkeys(skus, SEED_ON_HAND), warehouse_count=1)
    user = get_user_model().objects.create_user(username="bench-ops")
    user.groups.add(Group.objects.get(name=Role.OPS_STAFF.value))
    token = Token.objects.create(user=user)
    analyze()
    warehouse = catalogue.warehouse_codes[0]
    return Fixture(
        skus=skus,
        level_ids=level_ids(skus, warehouse_code=warehouse),
        warehouse_code=warehouse,
        user_id=user.pk,
        username=user.username,
        token=token.key,
    )


# --- The database as it stands --------------------------------------------------------------


def ledger_count() -> int:
    from stock.models import StockMovement

    return StockMovement.objects.count()


def balances(fixture: Fixture) -> list[int]:
    from stock.models import StockLevel

    on_hand = dict(StockLevel.objects.filter(pk__in=fixture.level_ids).values_list("pk", "on_hand"))
    return [on_hand[level_id] for level_id in fixture.level_ids]


def close_django_connection() -> None:
    # The checks read outside any transaction; an idle connection holds no snapshot, but
    # closing it keeps the server's view of sessions simple while a run is timed.
    from django.db import connections

    connections.close_all()


# --- The two paths ---------------------------------------------------------------------------


class Server:
    """The hub's ASGI app under uvicorn in a child process, on a free local port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{URL_PATH}"

    def start(self, token: str) -> None:
        # configure_django already set DATABASE_URL and DEBUG=0 and removed REDIS_URL here.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "inventory_hub.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            # The hub runs as deployed, with its connection pool.
            env={k: v for k, v in os.environ.items() if k != "DATABASE_POOL_SIZE"},
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with status {self.process.returncode}")
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{self.port}/api/v1/warehouses/",
                    headers={"Authorization": f"Token {token}"},
                    timeout=5,
                )
                if answer.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn did not answer within {SERVER_START_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- CPU time: on a shared machine wall time depends on what else runs; CPU time much less --


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and every thread it has had, ended ones included.

    /proc/<pid>/stat counts in clock ticks (10 ms); the server runs each request's
    synchronous code in a thread that ends with the request, which per-thread counters lose.
    """
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces; the fields after it are space-separated.
        fields = stat.read().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / CLOCK_TICKS


def backend_cpu_seconds(pid: int) -> float:
    """CPU time of a (single-threaded) PostgreSQL backend, in nanoseconds' resolution."""
    with open(f"/proc/{pid}/schedstat") as schedstat:
        return int(schedstat.read().split()[0]) / 1e9


class Backends:
    """CPU time of the PostgreSQL client backends connected to the benchmark database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.monitor = psycopg.connect(database_url(database), autocommit=True)
        (self.own_pid,) = self.monitor.execute("SELECT pg_backend_pid()").fetchone()

    def snapshot(self) -> dict[int, float]:
        rows = self.monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend' AND pid <> %s",
            [self.database, self.own_pid],
        ).fetchall()
        snapshot = {}
        for (pid,) in rows:
            try:
                snapshot[pid] = backend_cpu_seconds(pid)
            except FileNotFoundError:  # disconnected meanwhile
                continue
        return snapshot

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def vacuum(self) -> None:
        # Each run leaves 10,000 dead level rows; both paths start from a vacuumed table.
        self.monitor.execute("VACUUM ANALYZE stock_stocklevel")

    def close(self) -> None:
        self.monitor.close()


def post_bulk(
    session: requests.Session, server: Server, body: bytes, *, key: str
) -> tuple[float, requests.Response, dict]:
    started = time.perf_counter()
    response = session.post(
        server.url,
        data=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
        timeout=120,
    )
    answer = response.json()
    return time.perf_counter() - started, response, answer


def raw_counts(database: str, fixture: Fixture, values: list[int]) -> Run:
    """The raw path in one transaction; the connection is opened before the clock starts."""
    with psycopg.connect(database_url(database)) as connection:
        (backend,) = connection.execute("SELECT pg_backend_pid()").fetchone()
        connection.commit()
        load = os.getloadavg()[0]
        cpu_before, backend_before = time.process_time(), backend_cpu_seconds(backend)
        started = time.perf_counter()
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bulk_counts (level_id bigint, new_on_hand integer) "
                "ON COMMIT DROP"
            )
            with cursor.copy("COPY bulk_counts (level_id, new_on_hand) FROM STDIN") as copy:
                for row in zip(fixture.level_ids, values, strict=True):
                    copy.write_row(row)
            # Temporary tables are never auto-analysed; without statistics the planner
            # guesses their size and may pick a nested loop.
            cursor.execute("ANALYZE bulk_counts")
            cursor.execute(LOCK_SQL)
            cursor.execute(LEDGER_SQL, {"user_id": fixture.user_id, "label": fixture.username})
            cursor.execute(UPDATE_SQL)
        seconds = time.perf_counter() - started
        return Run(
            seconds=seconds,
            load=load,
            process_cpu=time.process_time() - cpu_before,
            database_cpu=backend_cpu_seconds(backend) - backend_before,
        )


def http_counts(
    session: requests.Session, server: Server, backends: Backends, body: bytes, *, key: str
) -> tuple[Run, requests.Response, dict]:
    load = os.getloadavg()[0]
    database_before = backends.snapshot()
    server_before = process_cpu_seconds(server.process.pid)
    seconds, response, answer = post_bulk(session, server, body, key=key)
    run = Run(
        seconds=seconds,
        load=load,
        process_cpu=process_cpu_seconds(server.process.pid) - server_before,
        database_cpu=backends.used(database_before, backends.snapshot()),
    )
    return run, response, answer


# --- The run ----------------------------------------------------------------------------------


def summary(rows: int, *, applied: int = 0, unchanged: int = 0) -> dict:
    return {"rows": rows, "applied": applied, "unchanged": unchanged, "replayed": 0}


def measure(settings: Settings, fixture: Fixture) -> Results:
    results = Results()
    rows = settings.rows
    server = Server()
    server.start(fixture.token)
    backends = Backends(settings.database)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {fixture.token}"
    run = 0
    try:
        run += 1
        warm_up, response, _ = http_counts(
            session, server, backends, payload(fixture, values_for(run, rows)), key="warm-up"
        )
        results.check(response.status_code == 201, f"warm-up answered {response.status_code}")
        results.warm_up["http"] = warm_up.seconds
        run += 1
        results.warm_up["raw"] = raw_counts(
            settings.database, fixture, values_for(run, rows)
        ).seconds

        for repeat in range(1, settings.repeats + 1):
            run += 1
            values = values_for(run, rows)
            before = ledger_count()
            close_django_connection()
            backends.vacuum()
            results.raw.append(raw_counts(settings.database, fixture, values))
            results.check(balances(fixture) == values, f"raw run {repeat}: balances")
            results.check(ledger_count() == before + rows, f"raw run {repeat}: ledger rows")

            run += 1
            values = values_for(run, rows)
            started = time.perf_counter()
            body = payload(fixture, values)
            results.encode_seconds.append(time.perf_counter() - started)
            before = ledger_count()
            close_django_connection()
            backends.vacuum()
            measured, response, answer = http_counts(
                session, server, backends, body, key=f"run-{repeat}"
            )
            results.http.append(measured)
            results.check(
                response.status_code == 201 and answer["summary"] == summary(rows, applied=rows),
                f"HTTP run {repeat}: answered {response.status_code} {str(answer)[:300]}",
            )
            results.check(balances(fixture) == values, f"HTTP run {repeat}: balances")
            results.check(ledger_count() == before + rows, f"HTTP run {repeat}: ledger rows")
            print(
                f"repeat {repeat}: raw {results.raw[-1].seconds:.3f} s "
                f"(load {results.raw[-1].load:.2f}), HTTP {measured.seconds:.3f} s "
                f"(load {measured.load:.2f})",
                flush=True,
            )

        before_ledger, before_balances = ledger_count(), balances(fixture)
        close_django_connection()
        replay, response, replayed = http_counts(
            session, server, backends, body, key=f"run-{settings.repeats}"
        )
        results.replay = replay
        results.check(
            response.headers.get("Idempotent-Replayed") == "true" and replayed == answer,
            "replay: same answer, marked replayed",
        )
        results.check(ledger_count() == before_ledger, "replay: no ledger row")
        results.check(balances(fixture) == before_balances, "replay: balances unchanged")

        close_django_connection()
        same, response, answer = http_counts(session, server, backends, body, key="same-values")
        results.same_values = same
        results.check(
            response.status_code == 200 and answer["summary"] == summary(rows, unchanged=rows),
            f"same values: answered {response.status_code} {str(answer)[:300]}",
        )
        results.check(ledger_count() == before_ledger, "same values: no ledger row")
    finally:
        session.close()
        backends.close()
        server.stop()

    from stock.selectors import ledger_differences

    differences = ledger_differences()
    results.check(not differences, f"ledger sums equal balances: {differences[:5]}")
    return results


def report(settings: Settings, results: Results) -> None:
    http = statistics.median(run.seconds for run in results.http)
    raw = statistics.median(run.seconds for run in results.raw)
    http_cpu = statistics.median(run.cpu for run in results.http)
    raw_cpu = statistics.median(run.cpu for run in results.raw)
    print(f"\n{settings.rows} rows per run, {settings.repeats} runs of each path:\n")
    print(
        "| path | median wall s | runs, wall s | median CPU s (process + PostgreSQL) "
        "| load average before each run |"
    )
    print("|---|---:|---|---:|---|")
    for name, runs in (("HTTP, the hub", results.http), ("raw SQL", results.raw)):
        print(
            f"| {name} | {statistics.median(run.seconds for run in runs):.3f} "
            f"| {', '.join(f'{run.seconds:.3f}' for run in runs)} "
            f"| {statistics.median(run.cpu for run in runs):.3f} "
            f"({statistics.median(run.process_cpu for run in runs):.3f} + "
            f"{statistics.median(run.database_cpu for run in runs):.3f}) "
            f"| {', '.join(f'{run.load:.2f}' for run in runs)} |"
        )
    print(f"\nHTTP / raw: {http / raw:.1f}x wall, {http_cpu / raw_cpu:.1f}x CPU")
    print(
        "HTTP CPU: the uvicorn process (all threads) and its PostgreSQL backend; "
        "raw CPU: this process (COPY) and its backend"
    )
    print(
        f"client JSON encoding of the payload (not in the HTTP time): "
        f"{statistics.median(results.encode_seconds) * 1000:.0f} ms"
    )
    print(
        f"warm-up (not counted): HTTP {results.warm_up['http']:.3f} s, "
        f"raw {results.warm_up['raw']:.3f} s"
    )
    for label, run in (
        ("same payload, same Idempotency-Key (replayed, nothing written)", results.replay),
        (
            "same values, new Idempotency-Key (every row unchanged, no ledger row)",
            results.same_values,
        ),
    ):
        print(f"{label}: {run.seconds:.3f} s wall, {run.cpu:.3f} s CPU (load {run.load:.2f})")
    print(f"checks: {'all passed' if not results.failures else results.failures}")


# --- Profile -----------------------------------------------------------------------------------


def profile(settings: Settings, fixture: Fixture) -> None:
    """Where the server's time goes: the request through Django in this process, no HTTP.

    Three requests (with an Idempotency-Key, as in the comparison) timed by stage: wall and
    CPU of this process; wall minus CPU is the database and waiting for a core. Then one
    under cProfile.
    """
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {fixture.token}")

    def post(run: int) -> None:
        body = payload(fixture, values_for(run, settings.rows))
        response = client.post(
            URL_PATH, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"run-{run}"
        )
        assert response.status_code == 201, response.content[:300]
        response.json()

    post(1)
    stages = StageClock()
    for run in range(2, 5):
        stages.reset()
        load = os.getloadavg()[0]
        with stages.measuring(), stages.stage("request (the whole of it)"):
            post(run)
        print(f"\nIn process, run {run - 1} (load {load:.2f}):")
        for name, (wall, cpu) in stages.totals.items():
            print(f"  {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU  {name}")

    profiler = cProfile.Profile()
    profiler.runcall(post, 5)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(
        r"stock/|inventory_hub/|rest_framework/(views|renderers|parsers|request)|"
        r"django/db/transaction|json/",
        40,
    )


class StageClock:
    """Wall and CPU time spent in named functions, by wrapping them while measuring."""

    # (module, function, label); nested stages are included in their callers' times.
    STAGES = (
        ("rest_framework.parsers", "JSONParser.parse", "parse the JSON body"),
        ("inventory_hub.api.idempotency", "_fingerprint", "Idempotency-Key: hash the body"),
        ("stock.api.views.bulk", "read_bulk_request", "read and check the rows"),
        ("stock.api.views.bulk", "plan_bulk_stock", "plan: look up SKUs, warehouses"),
        ("stock.api.views.bulk", "writable_warehouse_ids", "scope"),
        ("stock.api.views.bulk", "apply_bulk_stock", "apply (engine, incl. commit)"),
        ("stock.services.ledger.locks", "ensure_levels", "  engine: ensure_levels"),
        ("stock.services.ledger.writes", "lock_levels", "  engine: lock_levels (incl. ensure)"),
        ("stock.services.ledger.writes", "evaluate", "  engine: evaluate (rules)"),
        (
            "stock.services.ledger.writes",
            "write_rows_postgres",
            "  engine: ledger rows and balances (SQL)",
        ),
        ("stock.services.ledger.writes", "_write", "  engine: _write (rows, SQL, events)"),
        ("stock.services.ledger.writes", "publish_stock_changed", "  publish after commit"),
        ("stock.api.views.bulk", "report", "build the report"),
        ("rest_framework.renderers", "JSONRenderer.render", "render the JSON answer"),
    )

    def __init__(self) -> None:
        self.totals: dict[str, tuple[float, float]] = {}
        self._is_measuring = False
        for module_name, function_name, label in self.STAGES:
            self._wrap(module_name, function_name, label)
        # The write backend holds its functions: chosen again, it holds the wrapped ones.
        from stock.services.backend import forget_write_backend

        forget_write_backend()

    def reset(self) -> None:
        self.totals = {}

    @contextlib.contextmanager
    def measuring(self):
        self._is_measuring = True
        try:
            yield
        finally:
            self._is_measuring = False

    @contextlib.contextmanager
    def stage(self, label: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if self._is_measuring:
                before = self.totals.get(label, (0.0, 0.0))
                self.totals[label] = (
                    before[0] + time.perf_counter() - wall,
                    before[1] + time.process_time() - cpu,
                )

    def _wrap(self, module_name: str, function_name: str, label: str) -> None:
        owner = importlib.import_module(module_name)
        *classes, name = function_name.split(".")
        for class_name in classes:
            owner = getattr(owner, class_name)
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            with self.stage(label):
                return original(*args, **kwargs)

        setattr(owner, name, timed)


def main() -> int:
    settings = parse_settings()
    fixture = prepare(settings)
    print("\n".join(machine_description()))
    if settings.profile:
        profile(settings, fixture)
        return 0
    results = measure(settings, fixture)
    report(settings, results)
    return 0 if not results.failures else 1


def parse_settings() -> Settings:
    environ = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        default=environ("BENCH_DATABASE", "hub_bench_bulk"),
        help="database to (re)create (BENCH_DATABASE, default hub_bench_bulk)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=int(environ("BENCH_ROWS", "10000")),
        help="rows per request, one SKU each (BENCH_ROWS, default 10000)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=int(environ("BENCH_REPEATS", "5")),
        help="measured runs of each path (BENCH_REPEATS, default 5)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the comparison, show where the server's time goes, in process",
    )
    arguments = parser.parse_args()
    return Settings(
        database=arguments.database,
        rows=arguments.rows,
        repeats=arguments.repeats,
        profile=arguments.profile,
    )


if __name__ == "__main__":
    sys.exit(main())
