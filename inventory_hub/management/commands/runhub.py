"""`manage.py runhub`: one ASGI server (HTTP and WebSocket) plus the Celery worker and beat.

REDIS_URL unset: worker and beat are threads of this process, on the memory:// broker and the
in-memory channel layer (`inventory_hub.embedded`). REDIS_URL set: they are the Procfile's
`worker` and `beat` processes, which this command starts, watches and stops with itself;
`--web-only` serves HTTP alone (the Procfile's `web`, where something else runs the rest).
A worker or beat that dies is restarted with backoff while HTTP keeps being served; only a
crash loop (HUB_RESTART_LIMIT deaths in a row, each within HUB_QUICK_DEATH_SECONDS of its
start) stops the hub, with a non-zero exit naming the process. The worker and beat
themselves, embedded or as child processes, are `inventory_hub.companions`.
"""

import asyncio
import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Iterator

import uvicorn
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inventory_hub.companions import (
    PROCFILE,
    SUPERVISED_PROCESSES,
    ChildProcesses,
    Companions,
    EmbeddedCompanions,
    NoCompanions,
    WithSimulation,
    read_procfile,
)
from inventory_hub.embedded import EmbeddedChannelLayer

logger = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 0.5
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
