"""What `runhub` supervises (worker, beat) and how each is doing, for `/healthz`.

`runhub` serves HTTP in its own process, so the supervisor and the view that reports on it
share this module's state: no status file to name, lock or clean up after a killed hub (a
stale "restarting" file would lie), and nothing written to a database that may be the thing
that is down. Several hubs on one machine each see only their own children. A web process
that supervises nothing (`--web-only`, tests) has no entries, and `/healthz` leaves the check
out; the worker heartbeat check still covers a worker run by something else.
"""

import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    name: str
    is_running: bool
    # When the current state began: started (running) or died (down).
    since: datetime
    restarts: int
    pid: int | None = None
    last_exit: str = ""
    # While down: when the next start is due (Unix time).
    restart_at: float | None = None

    def describe(self) -> str:
        since = self.since.isoformat(timespec="seconds")
        restarts = f"{self.restarts} restart{'' if self.restarts == 1 else 's'} so far"
        if self.is_running:
            pid = f" (pid {self.pid})" if self.pid else ""
            return f"{self.name}{pid} up since {since}, {restarts}"
        due = ""
        if self.restart_at is not None:
            due = f", restarting in {max(0.0, self.restart_at - time.time()):.1f} s"
        return f"{self.name} down since {since} ({self.last_exit}){due}, {restarts}"


_lock = threading.Lock()
_statuses: dict[str, ProcessStatus] = {}


def record_started(*, name: str, pid: int | None = None) -> None:
    with _lock:
        previous = _statuses.get(name)
        _statuses[name] = ProcessStatus(
            name=name,
            is_running=True,
            since=datetime.now(UTC),
            restarts=previous.restarts + 1 if previous else 0,
            pid=pid,
            last_exit=previous.last_exit if previous else "",
        )


def record_died(*, name: str, reason: str, restart_at: float | None) -> None:
    with _lock:
        previous = _statuses.get(name)
        restarts = previous.restarts if previous else 0
        _statuses[name] = ProcessStatus(
            name=name,
            is_running=False,
            since=datetime.now(UTC),
            restarts=restarts,
            last_exit=reason,
            restart_at=restart_at,
        )


def record_restart_due(*, name: str, restart_at: float) -> None:
    with _lock:
        if name in _statuses:
            _statuses[name] = replace(_statuses[name], restart_at=restart_at)


def statuses() -> list[ProcessStatus]:
    with _lock:
        return list(_statuses.values())


def forget() -> None:
    """The hub stopped supervising (shut down); also for tests."""
    with _lock:
        _statuses.clear()


@dataclass(slots=True)
class RestartPolicy:
    """Restart with exponential backoff; give up after `limit` quick deaths in a row.

    A death is quick when the process ran less than `quick_seconds`; one that ran longer
    starts the count again, so a worker that dies once a day is restarted forever.
    """

    backoff_seconds: float
    max_backoff_seconds: float
    quick_seconds: float
    limit: int
    quick_deaths: int = 0

    def after_death(self, *, uptime: float) -> float | None:
        """Seconds to wait before the next start, or None to give up."""
        if uptime >= self.quick_seconds:
            self.quick_deaths = 0
            return self.backoff_seconds
        self.quick_deaths += 1
        if self.quick_deaths >= self.limit:
            return None
        return min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (self.quick_deaths - 1))
