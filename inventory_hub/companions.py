"""What `runhub` runs beside its web server: the Celery worker and beat, as threads of the
hub (no REDIS_URL) or as the Procfile's processes, each restarted with backoff when it dies.

A crash loop (HUB_RESTART_LIMIT deaths in a row, each within HUB_QUICK_DEATH_SECONDS of its
start) is reported as a failure, and `runhub` stops the hub with it.
"""

import contextlib
import ctypes
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.management.base import CommandError

from inventory_hub import supervision
from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedWorker, EmbeddedWorkerError

logger = logging.getLogger(__name__)

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
SUPERVISED_PROCESSES = ("worker", "beat")
# A warm shutdown lets running tasks finish; platforms usually allow about 30 s.
CHILD_STOP_SECONDS = 25.0
MAX_BACKOFF_SECONDS = 60.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
EMBEDDED_NAME = "worker and beat (embedded)"
ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


class Companions(Protocol):
    """Whatever runs beside the web server: started before it, stopped after it."""

    description: str

    def start(self) -> None: ...

    def failure(self) -> str | None:
        """Restarts what died; says why the hub must stop (a crash loop), else None."""
        ...

    def stop(self) -> None: ...


class WithSimulation:
    """The companions plus the demo simulation (`--simulate`), which stops first."""

    def __init__(self, companions: Companions, simulation: Companions) -> None:
        self._companions = companions
        self._simulation = simulation
        self.description = f"{companions.description}\nSimulation: {simulation.description}"

    def start(self) -> None:
        self._companions.start()
        self._simulation.start()

    def failure(self) -> str | None:
        return self._companions.failure() or self._simulation.failure()

    def stop(self) -> None:
        self._simulation.stop()
        self._companions.stop()


class NoCompanions:
    description = "none (--web-only: the Procfile's worker and beat run elsewhere)"

    def start(self) -> None:
        pass

    def failure(self) -> str | None:
        return None

    def stop(self) -> None:
        pass


def restart_policy() -> supervision.RestartPolicy:
    return supervision.RestartPolicy(
        backoff_seconds=float(settings.HUB_RESTART_BACKOFF_SECONDS),
        max_backoff_seconds=MAX_BACKOFF_SECONDS,
        quick_seconds=float(settings.HUB_QUICK_DEATH_SECONDS),
        limit=settings.HUB_RESTART_LIMIT,
    )


def crash_loop(name: str, policy: supervision.RestartPolicy, last: str) -> str:
    return (
        f"{name} died {policy.quick_deaths} times in a row, each within "
        f"{policy.quick_seconds:g} s of its start (last: {last})"
    )


class EmbeddedCompanions:
    """The embedded worker and beat; a new pair replaces one that died, off the server's loop."""

    description = "embedded in this process (memory:// broker, in-memory channel layer)"

    def __init__(self) -> None:
        self._worker = EmbeddedWorker(app=celery_app)
        self._policy = restart_policy()
        self._started_at = 0.0
        # A replacement being started (old pair stopped, backoff, new pair started).
        self._restarting: threading.Thread | None = None
        self._restart_error: str | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        try:
            self._worker.start()
        except EmbeddedWorkerError as exc:
            raise CommandError(str(exc)) from exc
        self._started_at = time.monotonic()
        supervision.record_started(name=EMBEDDED_NAME)

    def failure(self) -> str | None:
        if self._stopping.is_set():
            return None
        if self._restarting is not None:
            if self._restarting.is_alive():
                return None
            self._restarting = None
            if self._restart_error is None:
                self._started_at = time.monotonic()
                supervision.record_started(name=EMBEDDED_NAME)
                logger.warning("Restarted the %s.", EMBEDDED_NAME)
                return None
            # A pair that could not even start died at once.
            self._started_at = time.monotonic()
            return self._died(self._restart_error)
        reason = self._worker.failure()
        return None if reason is None else self._died(reason)

    def _died(self, reason: str) -> str | None:
        delay = self._policy.after_death(uptime=time.monotonic() - self._started_at)
        if delay is None:
            supervision.record_died(name=EMBEDDED_NAME, reason=reason, restart_at=None)
            return crash_loop(EMBEDDED_NAME, self._policy, reason)
        logger.error("The %s died: %s; restarting in %g s.", EMBEDDED_NAME, reason, delay)
        supervision.record_died(name=EMBEDDED_NAME, reason=reason, restart_at=time.time() + delay)
        self._restarting = threading.Thread(
            target=self._restart, args=(self._worker, delay), name="restart-worker", daemon=True
        )
        self._restarting.start()
        return None

    def _restart(self, dead: EmbeddedWorker, delay: float) -> None:
        # What is left of the pair (beat, when only the worker died) must not run twice.
        dead.stop()
        if self._stopping.wait(delay):
            return
        self._worker = EmbeddedWorker(app=celery_app)
        try:
            self._worker.start()
        except EmbeddedWorkerError as exc:
            self._restart_error = str(exc)
        else:
            self._restart_error = None

    def stop(self) -> None:
        self._stopping.set()
        if self._restarting is not None:
            self._restarting.join()
        self._worker.stop()
        supervision.forget()


@dataclass(slots=True)
class Child:
    name: str
    argv: list[str]
    policy: supervision.RestartPolicy
    # None while dead, waiting for `restart_at` (monotonic).
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0


class ChildProcesses:
    """The Procfile's worker and beat as child processes, restarted when they die and
    stopped when this one stops.

    Each child leads its own process group: Ctrl-C in a terminal reaches only this process,
    which sends each child a single SIGTERM (a warm shutdown; a second signal would make the
    worker abandon its running tasks). On Linux a child also gets SIGTERM if this process
    is killed outright, so no worker outlives its hub.
    """

    def __init__(self, *, commands: dict[str, list[str]]) -> None:
        self._children = [
            Child(name=name, argv=argv, policy=restart_policy()) for name, argv in commands.items()
        ]
        self._stopping = False
        self.description = "child processes from the Procfile: " + ", ".join(commands)

    def start(self) -> None:
        for child in self._children:
            try:
                self._spawn(child)
            except OSError as exc:
                self.stop()
                raise CommandError(f"Could not start the Procfile's {child.name}: {exc}") from exc

    def _spawn(self, child: Child) -> None:
        # Called on the main thread only (see `_serve`), at start and for each restart.
        env = os.environ.copy()
        # The Procfile says `celery`: the one installed beside this Python, venv active or not.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        child.process = subprocess.Popen(
            child.argv,
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
        )
        child.started_at = time.monotonic()
        supervision.record_started(name=child.name, pid=child.process.pid)
        logger.info(
            "Started %s (pid %d): %s", child.name, child.process.pid, shlex.join(child.argv)
        )

    def failure(self) -> str | None:
        if self._stopping:
            return None
        for child in self._children:
            if child.process is None:
                if time.monotonic() >= child.restart_at:
                    try:
                        self._spawn(child)
                    except OSError as exc:
                        child.started_at = time.monotonic()  # a start that failed: a quick death
                        failure = self._died(child, f"could not be started: {exc}")
                        if failure is not None:
                            return failure
                continue
            code = child.process.poll()
            if code is None:
                continue
            # The worker's pool processes are in its group: none may outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            failure = self._died(child, f"pid {child.process.pid} exited with code {code}")
            if failure is not None:
                return failure
        return None

    def _died(self, child: Child, reason: str) -> str | None:
        child.process = None
        delay = child.policy.after_death(uptime=time.monotonic() - child.started_at)
        if delay is None:
            supervision.record_died(name=child.name, reason=reason, restart_at=None)
            return crash_loop(child.name, child.policy, reason)
        logger.error("%s died (%s); restarting it in %g s.", child.name, reason, delay)
        child.restart_at = time.monotonic() + delay
        supervision.record_died(name=child.name, reason=reason, restart_at=time.time() + delay)
        return None

    def stop(self) -> None:
        self._stopping = True
        # Children and their processes, taken together: only the main thread replaces them.
        running = [(child, child.process) for child in self._children if child.process is not None]
        for _child, process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_SECONDS
        for child, process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) did not stop within %g s; killing its process group.",
                    child.name,
                    process.pid,
                    CHILD_STOP_SECONDS,
                )
            # The group also holds the worker's pool processes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        supervision.forget()


def _die_with_parent(parent_pid: int):
    def set_parent_death_signal() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return set_parent_death_signal


def read_procfile(path: Path = PROCFILE) -> dict[str, list[str]]:
    """Process type → argv, from `name: command` lines (blank lines and # comments skipped).

    Leading `NAME=value` words (the Procfile's `DJANGO_SETTINGS_MODULE=...`, which a Procfile
    runner's shell applies) are left out: `runhub`'s children run with its own environment,
    so that `make run` with REDIS_URL runs its worker and beat on the settings it runs.
    """
    entries: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        argv = shlex.split(command)
        while argv and ENV_ASSIGNMENT.fullmatch(argv[0]):
            argv.pop(0)
        if not colon or not argv:
            raise CommandError(f"{path}:{number}: expected 'name: command', got {line!r}")
        entries[name.strip()] = argv
    return entries
