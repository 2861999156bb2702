"""`manage.py runhub`: one ASGI server (HTTP and WebSocket) plus the Celery worker and beat.

REDIS_URL unset: worker and beat are threads of this process, on the memory:// broker and the
in-memory channel layer (`inventory_hub.embedded`). REDIS_URL set: they are the Procfile's
`worker` and `beat` processes, which this command starts, watches and stops with itself;
`--web-only` serves HTTP alone (the Procfile's `web`, where something else runs the rest).
"""

import asyncio
import contextlib
import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
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

from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedChannelLayer, EmbeddedWorker, EmbeddedWorkerError

logger = logging.getLogger(__name__)

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
SUPERVISED_PROCESSES = ("worker", "beat")
# A warm shutdown lets running tasks finish; platforms usually allow about 30 s.
CHILD_STOP_SECONDS = 25.0
WATCH_INTERVAL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class Companions(Protocol):
    """Whatever runs beside the web server: started before it, stopped after it."""

    description: str

    def start(self) -> None: ...

    def failure(self) -> str | None: ...

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


class EmbeddedCompanions:
    description = "embedded in this process (memory:// broker, in-memory channel layer)"

    def __init__(self) -> None:
        self._worker = EmbeddedWorker(app=celery_app)

    def start(self) -> None:
        try:
            self._worker.start()
        except EmbeddedWorkerError as exc:
            raise CommandError(str(exc)) from exc

    def failure(self) -> str | None:
        return self._worker.failure()

    def stop(self) -> None:
        self._worker.stop()


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    process: subprocess.Popen


class ChildProcesses:
    """The Procfile's worker and beat as child processes, stopped when this one stops.

    Each child leads its own process group: Ctrl-C in a terminal reaches only this process,
    which sends each child a single SIGTERM (a warm shutdown; a second signal would make the
    worker abandon its running tasks). On Linux a child also gets SIGTERM if this process
    is killed outright, so no worker outlives its hub.
    """

    def __init__(self, *, commands: dict[str, list[str]]) -> None:
        self._commands = commands
        self._children: list[Child] = []
        self._stopping = False
        self.description = "child processes from the Procfile: " + ", ".join(commands)

    def start(self) -> None:
        env = os.environ.copy()
        # The Procfile says `celery`: the one installed beside this Python, venv active or not.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        for name, argv in self._commands.items():
            try:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=settings.BASE_DIR,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
                )
            except OSError as exc:
                self.stop()
                raise CommandError(f"Could not start the Procfile's {name}: {exc}") from exc
            self._children.append(Child(name=name, process=process))
            logger.info("Started %s (pid %d): %s", name, process.pid, shlex.join(argv))

    def failure(self) -> str | None:
        if self._stopping:
            return None
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                return f"{child.name} (pid {child.process.pid}) exited with code {code}"
        return None

    def stop(self) -> None:
        self._stopping = True
        for child in self._children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_SECONDS
        for child in self._children:
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


def _die_with_parent(parent_pid: int):
    def set_parent_death_signal() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return set_parent_death_signal


def read_procfile(path: Path = PROCFILE) -> dict[str, list[str]]:
    """Process type → argv, from `name: command` lines (blank lines and # comments skipped)."""
    entries: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not command.strip():
            raise CommandError(f"{path}:{number}: expected 'name: command', got {line!r}")
        entries[name.strip()] = shlex.split(command)
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
        companions = self._companions(web_only=web_only)
        if simulate is not None:
            if not 0 < simulate <= 1000:
                raise CommandError("--simulate takes a rate above 0 and at most 1000 per second.")
            # Imported only when asked for: the simulation is a demo, not part of the hub.
            from stock.management.commands.simulate import SimulatorThread

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

        self.stdout.write(
            f"Inventory Hub on http://{host}:{port}/  (admin: /admin/, health: /healthz)\n"
            f"Celery worker and beat: {companions.description}"
        )
        self.stdout.flush()
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            failure = runner.run(self._serve(server, sockets, companions))
        if failure is not None:
            raise CommandError(f"Stopped the hub because {failure}.")
        self.stdout.write("Inventory Hub stopped.")

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
