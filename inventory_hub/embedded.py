"""The hub in one process: a Celery worker, beat and channel layer beside the ASGI server.

Used when REDIS_URL is unset. Kombu's memory:// broker and the in-memory channel layer only
exist inside one process, so the worker and beat must be threads of the process that serves
HTTP and WebSocket, never forked children.
"""

import asyncio
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from celery import Celery, signals
from celery.beat import EmbeddedService
from channels.layers import InMemoryChannelLayer

if TYPE_CHECKING:
    from celery.worker import WorkController

logger = logging.getLogger(__name__)


class EmbeddedChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, safe to use from the worker's threads once bound to a loop.

    `InMemoryChannelLayer` keeps plain `asyncio.Queue`s. A `group_send` from another thread
    (a Celery task publishing `stock.changed`) would touch those queues from a second event
    loop: not thread-safe, and the server's loop is not woken, so a waiting consumer only
    sees the message whenever that loop next wakes for another reason. Once `bind_to_loop`
    is called, every operation coming from another loop is run on the bound one instead.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    def bind_to_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._home_loop = loop

    async def _on_home_loop(self, coroutine):
        home = self._home_loop
        if home is None or home is asyncio.get_running_loop() or not home.is_running():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, home))

    async def send(self, channel, message):
        return await self._on_home_loop(super().send(channel, message))

    async def receive(self, channel):
        return await self._on_home_loop(super().receive(channel))

    async def group_add(self, group, channel):
        return await self._on_home_loop(super().group_add(group, channel))

    async def group_discard(self, group, channel):
        return await self._on_home_loop(super().group_discard(group, channel))

    async def group_send(self, group, message):
        return await self._on_home_loop(super().group_send(group, message))

    async def flush(self):
        return await self._on_home_loop(super().flush())


class EmbeddedWorkerError(RuntimeError):
    pass


class EmbeddedWorker:
    """A Celery worker (solo pool) and beat, each running in a daemon thread of this process.

    Celery's `worker` command installs signal handlers, which only work in the main thread;
    the bare `WorkController` installs none, so the process's owner (`runhub`) keeps the
    signals and calls `stop()`. The `beat=True` option of `WorkController` would fork beat
    into a child process whose memory:// broker is a copy nobody consumes, so beat runs as
    its own thread instead.
    """

    def __init__(self, *, app: Celery, loglevel: str = "WARNING") -> None:
        self._app = app
        self._loglevel = loglevel
        # Celery ships no types (pyproject: ignore_missing_imports), so its classes are Any.
        self._controller: WorkController | None = None
        self._beat: EmbeddedService | None = None
        self._worker_thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._startup_error: BaseException | None = None

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the worker, wait until it consumes, then start beat. Raises if it cannot."""
        self._worker_thread = threading.Thread(
            target=self._run_worker, name="celery-worker", daemon=True
        )
        self._worker_thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if not self._worker_thread.is_alive():
                exitcode = getattr(self._controller, "exitcode", None)
                raise EmbeddedWorkerError(
                    "The embedded Celery worker stopped while starting "
                    f"(exit code {exitcode}, error {self._startup_error!r}); see the log above."
                )
            if time.monotonic() > deadline:
                raise EmbeddedWorkerError(
                    f"The embedded Celery worker did not start within {timeout:g} s."
                )
        # The default PersistentScheduler keeps a shelve file that two local hubs would
        # fight over; an embedded beat only needs its schedule while the process lives.
        self._beat = EmbeddedService(self._app, thread=True, scheduler_cls="celery.beat:Scheduler")
        self._beat.start()
        logger.info("Embedded Celery worker and beat started (memory:// broker).")

    def failure(self) -> str | None:
        """Why the worker or beat is gone when nobody asked them to stop, else None."""
        if self._stopping:
            return None
        if self._worker_thread is not None and not self._worker_thread.is_alive():
            exitcode = getattr(self._controller, "exitcode", None)
            return f"the embedded Celery worker stopped unexpectedly (exit code {exitcode})"
        if self._beat is not None and not self._beat.is_alive():
            return "the embedded Celery beat stopped unexpectedly"
        return None

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop beat, then let the worker finish its current task (warm shutdown)."""
        self._stopping = True
        if self._beat is not None:
            # Not `_beat.stop()`: it waits for a flag that a beat which crashed never sets.
            self._beat.service.stop()
            self._beat.join(timeout)
        if self._controller is not None and self._ready.is_set():
            self._controller.stop()
        if self._worker_thread is not None:
            self._worker_thread.join(timeout)
            if self._worker_thread.is_alive():
                logger.warning("The embedded Celery worker did not stop within %g s.", timeout)

    def _run_worker(self) -> None:
        try:
            # Built in this thread: Celery's Django fix-up closes the database connections
            # of the thread that creates the worker, which must not be the caller's.
            self._controller = self._app.WorkController(
                hostname=f"embedded@{socket.gethostname()}",
                pool_cls="solo",
                concurrency=1,
                loglevel=self._loglevel,
                ready_callback=self._on_consumer_ready,
                # Gossip, mingle and worker heartbeats talk to other workers; there are none.
                without_gossip=True,
                without_mingle=True,
                without_heartbeat=True,
            )
            self._controller.start()
        except BaseException as exc:
            self._startup_error = exc
            logger.exception("The embedded Celery worker crashed.")

    def _on_consumer_ready(self, consumer) -> None:
        # The `worker` command sends this signal, the bare WorkController does not.
        signals.worker_ready.send(sender=consumer)
        self._ready.set()
