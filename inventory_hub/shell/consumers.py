"""The base of every live page's websocket consumer: authorise, join groups, push re-rendered
fragments, say when live updates pause.

An event only says *what* changed. A page's consumer re-reads the current state and pushes
the same partials the page renders, each with `hx-swap-oob` and its stable id; it never
writes and never shows a number taken from a message. Bursts are coalesced per socket: the
first change after a quiet spell is pushed at once, later ones are collected and pushed
together at most every `push_interval` seconds, always rendered from the state at push
time, so the last push of a burst shows its final state.
"""

import asyncio
import contextlib
import logging
import math

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from inventory_hub.json_input import load_json
from inventory_hub.shell.roles import dashboard_role

logger = logging.getLogger(__name__)

# Closing codes the pages understand; the htmx ws extension does not retry either.
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# The channel layer (Redis) cannot be reached: the page says live updates are paused and
# reconnects until it can, then re-reads what it shows.
CLOSE_PAUSED = 4503
# How often an open socket checks that the layer still carries its messages: a pub/sub
# connection that lost Redis waits for it quietly, and the page would show "Live" meanwhile.
LAYER_CHECK_SECONDS = 5.0
LAYER_UNREACHABLE = (RedisError, OSError, asyncio.TimeoutError)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Authorisation, group bookkeeping and coalesced pushes for every live page."""

    # Seconds between two pushes on one socket: at most four a second.
    push_interval = 0.25

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The role the user acts with on the dashboard (None: refused), read on connect.
        self.role: str | None = None
        self.joined: set[str] = set()
        self._push_task: asyncio.Task | None = None
        self._last_push = -math.inf
        self._layer_watch: asyncio.Task | None = None
        self._accepted = False

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_UNREACHABLE as exc:
            # Raised by the layer before the socket was accepted (its own channel cannot be
            # created) or while it was open: either way the page is told, not dropped.
            logger.warning("Live updates paused, the channel layer is unreachable: %s", exc)
            if not self._accepted:
                await receive()  # the client's websocket.connect
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_PAUSED})

    async def accept(self, *args, **kwargs) -> None:
        await super().accept(*args, **kwargs)
        self._accepted = True

    async def connect(self) -> None:
        self.role = await database_sync_to_async(dashboard_role)(self.scope["user"])
        refusal = CLOSE_FORBIDDEN if self.role is None else await self.start()
        # Groups are joined before the accept: once the page is live, no change is missed.
        # A refusal is an accept and a close with a code: a refused handshake reaches the
        # browser as 1006, which the htmx ws extension would retry for ever.
        await self.accept()
        if refusal is not None:
            await self.close(code=refusal)
        elif self.channel_layer is not None:
            self._layer_watch = asyncio.create_task(self._watch_layer())

    async def start(self) -> int | None:
        """Join the groups of what the page shows; or return the code to close with."""
        return None

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # Pages send JSON text, if anything; a stray frame is ignored, not a crash.
        if text_data is None:
            return
        try:
            content = load_json(text_data, values=False)
        except ValueError:
            return
        await self.receive_json(content)

    async def disconnect(self, code: int) -> None:
        if self._push_task is not None:
            self._push_task.cancel()
        if self._layer_watch is not None:
            self._layer_watch.cancel()
        # Groups of an unreachable layer are gone with its connection: nothing to leave.
        with contextlib.suppress(*LAYER_UNREACHABLE):
            await self.set_groups(set())

    async def _watch_layer(self) -> None:
        while True:
            await asyncio.sleep(LAYER_CHECK_SECONDS)
            message = {"type": "live.ping"}
            try:
                send = self.channel_layer.send(self.channel_name, message)
                await asyncio.wait_for(send, LAYER_CHECK_SECONDS)
            except LAYER_UNREACHABLE as exc:
                logger.warning("Live updates paused, the channel layer is unreachable: %s", exc)
                await self.close(code=CLOSE_PAUSED)
                return

    async def live_ping(self, event: dict) -> None:
        pass

    async def set_groups(self, groups: set[str]) -> None:
        for group in self.joined - groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups - self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = set(groups)

    # --- Events (stock.events): a page notes what it must re-render ------------------------

    async def stock_changed(self, event: dict) -> None:
        pass

    async def status_forced(self, event: dict) -> None:
        pass

    async def order_changed(self, event: dict) -> None:
        pass

    async def panels_changed(self, event: dict) -> None:
        """What a panel an app registered shows changed with no stock moving (see
        inventory_hub.shell.panels); pages that show such panels re-render them."""

    # --- Coalesced pushes -----------------------------------------------------------------------

    def has_pending(self) -> bool:
        raise NotImplementedError

    def take_pending(self):
        """What to re-render, handing it over: later events start a new collection."""
        raise NotImplementedError

    def render(self, work):
        """Read current state and render the fragments (runs in a thread, may query)."""
        raise NotImplementedError

    def rendered(self, result) -> list[str]:
        """Back on the event loop: the messages to send for what `render` returned.

        A page may send several (the stock pages send table rows on their own).
        """
        return [result]

    def request_push(self) -> None:
        if self._push_task is None or self._push_task.done():
            self._push_task = asyncio.create_task(self._push_while_pending())

    async def _push_while_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.has_pending():
            wait = self._last_push + self.push_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            work = self.take_pending()
            try:
                messages = self.rendered(await database_sync_to_async(self.render)(work))
            except Exception:
                # The page keeps its last figures; the next event or a resync brings them back.
                logger.exception("Could not render a live push for %s", type(self).__name__)
                messages = []
            self._last_push = loop.time()
            for message in messages:
                if message:
                    await self.send(text_data=message)


class RegionConsumer(LiveConsumer):
    """A page whose whole live region is rendered again after any event it hears."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.is_stale = False

    def mark_stale(self) -> None:
        self.is_stale = True
        self.request_push()

    def has_pending(self) -> bool:
        return self.is_stale

    def take_pending(self) -> bool:
        self.is_stale = False
        return True


class PollingRegionConsumer(RegionConsumer):
    """A region rendered again after any event of its `groups`, and every `poll_interval`
    seconds besides, for what goes stale with no event (a transfer turning late, a silence
    ending)."""

    groups: frozenset[str] = frozenset()
    poll_interval = 60.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._poll_task: asyncio.Task | None = None

    async def start(self) -> int | None:
        await self.set_groups(set(self.groups))
        self._poll_task = asyncio.create_task(self._poll())
        return None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self.mark_stale()

    async def disconnect(self, code: int) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
        await super().disconnect(code)
