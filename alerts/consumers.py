"""The Alerts page's websocket consumer, built on the dashboard shell's consumers.

Alerts publish `alerts.changed` to the "alerts" group when the evaluator fires or resolves
one, when someone acknowledges or resolves one, and when a dashboard receiver is notified
(alerts.events, alerts.senders.dashboard). The consumer re-reads the alerts and pushes the
same region the page renders, with the buttons of the user's role.
"""

import asyncio

from alerts.senders.dashboard import GROUP
from alerts.views.fragments import render_alerts_region
from inventory_hub.shell.consumers import RegionConsumer


class AlertsConsumer(RegionConsumer):
    """The whole region again after any change, and every `poll_interval` seconds, since a
    silence ends and a pending alert comes due without an event."""

    poll_interval = 60.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._poll_task: asyncio.Task | None = None

    async def start(self) -> int | None:
        await self.set_groups({GROUP})
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

    async def alerts_changed(self, event: dict) -> None:
        self.mark_stale()

    def render(self, work: bool) -> str:
        return render_alerts_region(self.scope["user"], oob=True)
