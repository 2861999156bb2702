"""Live pages hear of a transfer's change here: `transfer.changed`, after its commit.

Every transition records a timeline entry through `services.common.record`, which registers
`publish_transfer_changed` on commit; a rolled-back transition publishes nothing. As with
stock.changed, the message is a hint: the pages' consumers re-read the transfer.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from stock.events import publish_failures

# The Transfers page (every transfer) and one transfer's page.
TRANSFERS_GROUP = "transfers"


def transfer_group(transfer_id: int) -> str:
    return f"transfer-{transfer_id}"


def publish_transfer_changed(transfer_id: int) -> None:
    """Tell the pages showing this transfer to re-read it. Never raises: it is committed."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(_send)(layer, transfer_id)
    except Exception:
        publish_failures.exception("Could not publish transfer.changed for %s", transfer_id)


async def _send(layer, transfer_id: int) -> None:
    message = {"type": "transfer.changed", "transfer_id": transfer_id}
    await layer.group_send(transfer_group(transfer_id), message)
    await layer.group_send(TRANSFERS_GROUP, message)
