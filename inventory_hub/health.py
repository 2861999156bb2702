"""/healthz: database, cache, channel layer, broker and worker heartbeat, as JSON.

"ok" (200) when every check passes. "degraded" (still 200, naming the failed checks) when
only parts the hub can serve without fail: with Redis or a worker down the API and pages
answer from PostgreSQL, uncached and without live updates, and webhooks wait in the inbox.
"unhealthy" (503) when the database fails, since then nothing can be answered.

Each check that talks to a server runs in its own thread with a deadline, so a dead or
unreachable Redis or database makes the answer late by at most CHECK_TIMEOUT_SECONDS instead
of by the client libraries' own retries.
"""

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from inventory_hub import supervision
from inventory_hub.cache import cache_outage

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "hub:worker-heartbeat"
CHECK_TIMEOUT_SECONDS = 1.5
# Without these nothing can be answered; any other failed check only degrades the hub.
ESSENTIAL_CHECKS = frozenset({"database"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    is_ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"ok": self.is_ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HealthReport:
    checks: dict[str, CheckResult]

    @property
    def is_healthy(self) -> bool:
        checks = self.checks.items()
        return all(result.is_ok for name, result in checks if name in ESSENTIAL_CHECKS)

    @property
    def degraded(self) -> list[str]:
        return [name for name, result in self.checks.items() if not result.is_ok]

    @property
    def status(self) -> str:
        if not self.is_healthy:
            return "unhealthy"
        return "degraded" if self.degraded else "ok"

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"status": self.status}
        if self.degraded:
            body["degraded"] = self.degraded
        body["checks"] = {name: result.as_json() for name, result in self.checks.items()}
        return body


def record_heartbeat(*, at: float | None = None) -> float:
    """Note that a worker is consuming; `at` (a Unix time) defaults to now."""
    beat = time.time() if at is None else at
    # Kept for several periods so that one late beat does not flap the health check.
    cache.set(HEARTBEAT_KEY, beat, timeout=settings.HUB_HEARTBEAT_SECONDS * 10)
    return beat


def check_database() -> CheckResult:
    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("pool"):
        return _check_postgres_directly()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return CheckResult(is_ok=True, detail=f"{connection.vendor} answered")
    finally:
        # This thread ends after the check: its connection would otherwise linger.
        connection.close()


def _check_postgres_directly() -> CheckResult:
    # A pool that cannot connect only times out, which says nothing of why; a connection of
    # our own, outside the pool, says what the server (or its absence) answered.
    import psycopg

    params = connection.get_connection_params()
    params["connect_timeout"] = max(1, int(CHECK_TIMEOUT_SECONDS))
    with psycopg.connect(**params) as direct:
        direct.execute("SELECT 1").fetchone()
    return CheckResult(is_ok=True, detail="postgresql answered")


def check_channel_layer() -> CheckResult:
    layer = get_channel_layer()
    if layer is None:
        return CheckResult(is_ok=False, detail="no channel layer configured")

    async def round_trip() -> bool:
        channel = await layer.new_channel(prefix="healthz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
        return message.get("token") == token

    # A fresh loop per check: closing it releases whatever the layer opened for it.
    is_ok = asyncio.run(asyncio.wait_for(round_trip(), CHECK_TIMEOUT_SECONDS))
    detail = "message sent and received" if is_ok else "received a different message"
    return CheckResult(is_ok=is_ok, detail=f"{type(layer).__name__}: {detail}")


def check_broker() -> CheckResult:
    from inventory_hub.celery import app

    timeouts = {"socket_connect_timeout": CHECK_TIMEOUT_SECONDS}
    with app.connection_for_write(
        connect_timeout=CHECK_TIMEOUT_SECONDS, transport_options=timeouts
    ) as broker:
        # No retries: a broker that does not answer at once is reported, not waited for.
        broker.ensure_connection(max_retries=0)
        return CheckResult(is_ok=True, detail=f"{broker.transport.driver_name} answered")


def check_cache() -> CheckResult:
    """Whether Redis answers now, and how many cache calls this process answered without it."""
    backend = caches["default"]
    ping = getattr(backend, "ping", None)
    if ping is None:
        return CheckResult(is_ok=True, detail=f"{type(backend).__name__} in process")
    try:
        ping()
    except Exception as exc:
        failures = cache_outage().failures
        detail = f"{type(exc).__name__}: {exc}; answering uncached and unthrottled"
        return CheckResult(is_ok=False, detail=f"{detail} ({failures} calls failed open here)")
    failures = cache_outage().failures
    failed = f" ({failures} calls failed open here since start)" if failures else ""
    return CheckResult(is_ok=True, detail=f"redis answered{failed}")


def check_worker() -> CheckResult:
    if cache_outage().is_skipping:
        # Workers beat into the cache: with it unreachable their state is unknown.
        return CheckResult(is_ok=False, detail="unknown: the cache holding heartbeats is down")
    beat = cache.get(HEARTBEAT_KEY)
    limit = settings.HUB_HEARTBEAT_SECONDS * 3
    if beat is None:
        return CheckResult(is_ok=False, detail=f"no worker heartbeat in the last {limit} s")
    age = time.time() - beat
    detail = f"last heartbeat {age:.1f} s ago (limit {limit} s)"
    return CheckResult(is_ok=age <= limit, detail=detail)


def check_processes() -> CheckResult | None:
    """What `runhub` supervises: which worker or beat is down or restarting, since when.

    None when this process supervises nothing (`--web-only`, tests).
    """
    statuses = supervision.statuses()
    if not statuses:
        return None
    detail = "; ".join(status.describe() for status in statuses)
    return CheckResult(is_ok=all(status.is_running for status in statuses), detail=detail)


class _Deadline:
    """Runs a check in a daemon thread; a hung check is abandoned, never waited for."""

    def __init__(self, check: Callable[[], CheckResult]) -> None:
        self._check = check
        self._result: CheckResult | None = None
        self._thread = threading.Thread(target=self._run, name="healthz", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._result = _report_errors(self._check)

    def result(self, *, until: float) -> CheckResult:
        self._thread.join(max(0.0, until - time.monotonic()))
        if self._result is None:
            return CheckResult(is_ok=False, detail=f"no answer within {CHECK_TIMEOUT_SECONDS} s")
        return self._result


def _report_errors(check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except TimeoutError:
        return CheckResult(is_ok=False, detail=f"no answer within {CHECK_TIMEOUT_SECONDS} s")
    except Exception as exc:  # a health check reports failures, it never raises
        return CheckResult(is_ok=False, detail=f"{type(exc).__name__}: {exc}")


def run_checks() -> HealthReport:
    until = time.monotonic() + CHECK_TIMEOUT_SECONDS
    running = {
        "database": _Deadline(check_database),
        "channel_layer": _Deadline(check_channel_layer),
        "broker": _Deadline(check_broker),
    }
    # Read here, not in a thread: the cache's own socket timeouts bound it (settings), and
    # a thread of its own would open a new Redis connection pool on every request.
    cached = _report_errors(check_cache)
    worker = _report_errors(check_worker)
    checks = {name: job.result(until=until) for name, job in running.items()}
    checks["cache"] = cached
    checks["worker"] = worker
    processes = check_processes()
    if processes is not None:
        checks["processes"] = processes
    for name, result in checks.items():
        if not result.is_ok:
            logger.warning("Health check %s failed: %s", name, result.detail)
    return HealthReport(checks=checks)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = run_checks()
    return JsonResponse(report.as_json(), status=200 if report.is_healthy else 503)
