"""`manage.py runhub`: one ASGI server (HTTP and WebSocket) plus the Celery worker and beat.

REDIS_URL unset: worker and beat are threads of this process, on the memory:// broker and the
in-memory channel layer (`inventory_hub.embedded`). REDIS_URL set: they are the Procfile's
`worker` and `beat` processes, which this command starts, watches and stops with itself;
`--web-only` serves HTTP alone (the Procfile's `web`, where something else runs the rest).
A worker or beat that dies is restarted with backoff while HTTP keeps being served; only a
crash loop (HUB_RESTART_LIMIT deaths in a row, each within HUB_QUICK_DEATH_SECONDS of its
start) stops the hub, with a non-zero exit naming the process.
"""

import asyncio
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
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import uvicorn
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory_hub import supervision
from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedChannelLayer, EmbeddedWorker, EmbeddedWorkerError

logger = logging.getLogger(__name__)

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
SUPERVISED_PROCESSES = ("worker", "beat")
# A warm shutdown lets running tasks finish; platforms usually allow about 30 s.
CHILD_STOP_SECONDS = 25.0
WATCH_INTERVAL_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 60.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
EMBEDDED_NAME = "worker and beat (embedded)"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
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
        running = [child for child in self._children if child.process is not None]
        for child in running:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_SECONDS
        for child in running:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) did not stop within %g s; killing its process group.",
                    child.name,
                    child.process.pid,
                    CHILD_STOP_SECONDS,
                )
            # The group also holds the worker's pool processes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
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


class HubServer(uvicorn.Server):
    """Uvicorn without its signal handling.

    Uvicorn re-raises SIGINT/SIGTERM once it has shut down, which would kill the process
    before the worker and beat are stopped. `runhub` handles the signals itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Command(BaseCommand):
    help = (
        "Start the hub: one ASGI server (HTTP and WebSocket) plus the Celery worker and beat, "
        "embedded in this process without REDIS_URL, as the Procfile's processes with it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument(
            "--port", type=int, default=settings.PORT, help="Port to listen on (default: PORT)."
        )
        parser.add_argument(
            "--web-only",
            action="store_true",
            help="Serve HTTP and WebSocket only; worker and beat are run by something else.",
        )
        parser.add_argument(
            "--simulate",
            type=float,
            nargs="?",
            const=2.0,
            default=None,
            metavar="RATE",
            help="Also run `manage.py simulate` in this process, RATE actions per second "
            "(default 2), so that the live pages show activity.",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        web_only: bool,
        simulate: float | None = None,
        **options,
    ) -> None:
        # WhiteNoise 6 hands Django a synchronous file iterator, which Django's ASGI handler
        # reads in a thread and warns about once; static files are small, the warning noise.
        warnings.filterwarnings(
            "ignore", message="StreamingHttpResponse must consume synchronous iterators"
        )
        self._refuse_debug_in_production(host=host, web_only=web_only)
        companions = self._companions(web_only=web_only)
        if simulate is not None:
            if not 0 < simulate <= 1000:
                raise CommandError("--simulate takes a rate above 0 and at most 1000 per second.")
            # Imported only when asked for: the simulation is a demo, not part of the hub.
            from demo.simulation import SimulatorThread

            companions = WithSimulation(companions, SimulatorThread(rate=simulate))
        config = uvicorn.Config(
            "inventory_hub.asgi:application",
            host=host,
            port=port,
            # Django's ASGI handler does not speak the lifespan protocol.
            lifespan="off",
            # Open WebSockets must not keep a stopping hub alive for long.
            timeout_graceful_shutdown=5,
        )
        server = HubServer(config)
        # Bound before anything starts: a busy port fails at once.
        try:
            sockets = [config.bind_socket()]
        except SystemExit as exc:  # uvicorn has logged why
            raise CommandError(f"Cannot listen on {host}:{port}.") from exc
        self._install_signal_handlers(server)

        debug = "on" if settings.DEBUG else "off"
        self.stdout.write(
            f"Inventory Hub on http://{host}:{port}/  (admin: /admin/, health: /healthz)\n"
            f"Settings: {os.environ['DJANGO_SETTINGS_MODULE']} (DEBUG {debug})\n"
            f"Celery worker and beat: {companions.description}"
        )
        self.stdout.flush()
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            failure = runner.run(self._serve(server, sockets, companions))
        if failure is not None:
            raise CommandError(f"Stopped the hub because {failure}.")
        self.stdout.write("Inventory Hub stopped.")

    def _refuse_debug_in_production(self, *, host: str, web_only: bool) -> None:
        # DEBUG's error pages show settings and code to whoever causes a 500. `--web-only`
        # (the Procfile's web) and an address other machines reach are production starts.
        if not settings.DEBUG or not (web_only or host not in LOOPBACK_HOSTS):
            return
        why = "--web-only" if web_only else f"--host {host}"
        module = os.environ["DJANGO_SETTINGS_MODULE"]
        raise CommandError(
            f"Refusing to start with DEBUG on ({module}) and {why}: error "
            "pages would show settings to anyone. Set "
            "DJANGO_SETTINGS_MODULE=inventory_hub.settings.production (as the Procfile does), "
            "or DEBUG=0 for a local run."
        )

    def _companions(self, *, web_only: bool) -> Companions:
        if web_only:
            if settings.HUB_EMBEDDED_WORKER:
                raise CommandError(
                    "--web-only needs REDIS_URL: without Redis, worker and beat can only run "
                    "inside this process, and tasks would never be consumed."
                )
            return NoCompanions()
        if settings.HUB_EMBEDDED_WORKER:
            return EmbeddedCompanions()
        procfile = read_procfile()
        missing = [name for name in SUPERVISED_PROCESSES if name not in procfile]
        if missing:
            raise CommandError(f"{PROCFILE} has no {' or '.join(missing)} entry.")
        return ChildProcesses(commands={name: procfile[name] for name in SUPERVISED_PROCESSES})

    def _install_signal_handlers(self, server: uvicorn.Server) -> None:
        def request_stop(signum: int, frame) -> None:
            if server.should_exit:
                # A second Ctrl-C: stop serving without waiting for open connections.
                server.force_exit = True
                return
            self.stderr.write(f"{signal.Signals(signum).name} received: stopping the hub.")
            server.should_exit = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    async def _serve(self, server: uvicorn.Server, sockets, companions: Companions) -> str | None:
        """Serve until a signal or a companion's failure; returns that failure, if any."""
        loop = asyncio.get_running_loop()
        layer = get_channel_layer()
        if isinstance(layer, EmbeddedChannelLayer):
            layer.bind_to_loop(loop)
        try:
            # On the main thread, not an executor's: Linux sends a child's parent-death
            # signal when the thread that started it ends, not the process.
            companions.start()
            watch = asyncio.create_task(self._watch(server, companions))
            try:
                await server.serve(sockets=sockets)
            finally:
                if not watch.done():
                    watch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watch
            return None if watch.cancelled() else watch.result()
        finally:
            # Still on the running loop: tasks finishing during the warm shutdown may
            # publish to the channel layer, which forwards to this loop.
            await loop.run_in_executor(None, companions.stop)
            if isinstance(layer, EmbeddedChannelLayer):
                layer.bind_to_loop(None)

    async def _watch(self, server: uvicorn.Server, companions: Companions) -> str | None:
        while not server.should_exit:
            failure = companions.failure()
            if failure is not None:
                logger.error("Stopping the hub because %s.", failure)
                server.should_exit = True
                return failure
            await asyncio.sleep(WATCH_INTERVAL_SECONDS)
        return None
