"""Live pages hear of a transfer's change here: `transfer.changed`, after its commit, and
`panels.changed` to the variant pages of its lines (their transfers panel).

Every transition records a timeline entry through `services.common.record`, which registers
`publish_transfer_changed` on commit; a rolled-back transition publishes nothing. As with
stock.changed, the message is a hint: the pages' consumers re-read the transfer.
"""

from channels.layers import get_channel_layer

from inventory_hub.shell.panels import PANELS_CHANGED
from stock.events import publish_failures, react_after_commit, send_from_reaction, variant_group
from transfers.models import TransferLine

# The Transfers page (every transfer) and one transfer's page.
TRANSFERS_GROUP = "transfers"


def transfer_group(transfer_id: int) -> str:
    return f"transfer-{transfer_id}"


def publish_transfer_changed(transfer_id: int) -> None:
    """Tell the pages showing this transfer to re-read it, from stock's publisher thread
    (the writer never waits for the channel layer). Never raises: it is committed."""
    react_after_commit(_publish, transfer_id)


def _publish(transfer_id: int) -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            variant_ids = list(
                TransferLine.objects.filter(transfer_id=transfer_id).values_list(
                    "variant_id", flat=True
                )
            )
            send_from_reaction(_send, layer, transfer_id, variant_ids)
    except Exception:
        publish_failures.exception("Could not publish transfer.changed for %s", transfer_id)


async def _send(layer, transfer_id: int, variant_ids: list[int]) -> None:
    message = {"type": "transfer.changed", "transfer_id": transfer_id}
    await layer.group_send(transfer_group(transfer_id), message)
    await layer.group_send(TRANSFERS_GROUP, message)
    # The variant pages list their open transfers: a draft or a pick moves no stock.
    for variant_id in variant_ids:
        await layer.group_send(variant_group(variant_id), {"type": PANELS_CHANGED})
