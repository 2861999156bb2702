"""The Suggestions page's websocket consumer, built on the dashboard shell's consumers.

It renders the page's whole region again for the connected user (the buttons depend on
whose warehouses are whose) after `suggestions.changed`, and every `poll_interval` seconds
besides, since a review writes suggestions without a message.
"""

from inventory_hub.shell.consumers import PollingRegionConsumer
from suggestions.events import SUGGESTIONS_GROUP
from suggestions.views.fragments import render_region


class SuggestionsConsumer(PollingRegionConsumer):
    groups = frozenset({SUGGESTIONS_GROUP})

    async def suggestions_changed(self, event: dict) -> None:
        self.mark_stale()

    def render(self, work: bool) -> str:
        return render_region(self.scope["user"], oob=True)
