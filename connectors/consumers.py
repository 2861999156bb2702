"""The connectors page's websocket consumer (see connectors.pages).

Built on the dashboard shell's RegionConsumer (authorisation, groups, coalesced pushes).
"""

import asyncio
import re

from channels.db import database_sync_to_async

from connectors.pages import render_connectors
from inventory_hub.shell.consumers import RegionConsumer
from stock.events import FEED_GROUP
from warehouses.access import Capability, role_may


class ConnectorsConsumer(RegionConsumer):
    """The connectors page: the whole region again when it reads differently.

    The sync engine publishes nothing of its own, so the socket re-reads every
    `poll_interval` seconds, and on stock changes (each queues pushes: the queue depths
    move); a push is sent only when the rendered region differs from the last one sent.
    """

    push_interval = 1.0
    poll_interval = 3.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_sent = ""
        self._poll_task: asyncio.Task | None = None

    async def start(self) -> int | None:
        await self.set_groups({FEED_GROUP})
        self.last_sent = await database_sync_to_async(self._render_region)()
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

    async def stock_changed(self, event: dict) -> None:
        self.mark_stale()

    def _render_region(self) -> str:
        can_replay = role_may(self.role, Capability.REPLAY_DEAD_LETTERS)
        return render_connectors(can_replay=can_replay, oob=True)

    def render(self, work: bool) -> str:
        return self._render_region()

    def rendered(self, result: str) -> list[str]:
        # Times are written relative to the read ("3 s ago"): compare without them.
        if _without_relative_times(result) == _without_relative_times(self.last_sent):
            return []
        self.last_sent = result
        return [result]


_RELATIVE_TIME = re.compile(r"(<time [^>]*data-relative>)[^<]*(</time>)")


def _without_relative_times(html: str) -> str:
    return _RELATIVE_TIME.sub(r"\1\2", html)
