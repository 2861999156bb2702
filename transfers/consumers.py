"""Websocket consumers of the transfer pages, built on the dashboard shell's consumers.

Every transition publishes `transfer.changed` after its commit (transfers.events); the
consumers re-read the transfer and push the same partials the pages render.
"""

from channels.db import database_sync_to_async

from inventory_hub.shell.consumers import CLOSE_NOT_FOUND, PollingRegionConsumer, RegionConsumer
from transfers.events import TRANSFERS_GROUP, transfer_group
from transfers.models import Transfer
from transfers.views.fragments import (
    actions_key,
    render_list_region,
    render_transfer_push,
    transfer_for_page,
    transfer_lines,
)


class TransfersConsumer(PollingRegionConsumer):
    """The Transfers page: the whole region again after any transfer changes, and every
    `poll_interval` seconds, since a transfer turns late without any event."""

    groups = frozenset({TRANSFERS_GROUP})

    async def transfer_changed(self, event: dict) -> None:
        self.mark_stale()

    def render(self, work: bool) -> str:
        return render_list_region(oob=True)


class TransferConsumer(RegionConsumer):
    """One transfer's page: its summary (figures, timeline) after every change; its forms
    only when what they depend on changed (state, units in transit), so a push does not
    wipe a form someone is filling in for nothing."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.transfer_id = 0
        # What the page's forms were rendered for; None: not known, push them next time.
        self.shown_key: tuple | None = None

    async def start(self) -> int | None:
        self.transfer_id = self.scope["url_route"]["kwargs"]["transfer_id"]
        exists = await database_sync_to_async(Transfer.objects.filter(pk=self.transfer_id).exists)()
        if not exists:
            return CLOSE_NOT_FOUND
        await self.set_groups({transfer_group(self.transfer_id)})
        return None

    async def transfer_changed(self, event: dict) -> None:
        self.mark_stale()

    def render(self, work: bool) -> str:
        transfer = transfer_for_page(self.transfer_id)
        if transfer is None:
            return ""
        key = actions_key(transfer, transfer_lines(transfer))
        with_actions = key != self.shown_key
        self.shown_key = key
        return render_transfer_push(transfer, self.scope["user"], with_actions=with_actions)
