"""Live pages hear that suggestions changed: `suggestions.changed` to the Suggestions page,
and `panels.changed` to the overviews (their suggestions tile) and to the pages of the
variants concerned (their open suggestions), after the commit of a decision or a settings
change.

As with stock.changed, the message is a hint: the consumers re-read the suggestions. A
review writes no message of its own: the page's consumer also re-reads every minute.
"""

from collections.abc import Iterable
from functools import partial

from channels.layers import get_channel_layer
from django.db import transaction

from inventory_hub.shell.panels import OVERVIEW_GROUP, PANELS_CHANGED
from stock.events import publish_failures, react_after_commit, send_from_reaction, variant_group

SUGGESTIONS_GROUP = "suggestions"
SUGGESTIONS_CHANGED = "suggestions.changed"


def publish_suggestions_changed(*, variant_ids: Iterable[int] = ()) -> None:
    """After the current transaction commits (at once outside one), tell the live pages;
    never raises, and the caller never waits for the channel layer."""
    variants = tuple(sorted(set(variant_ids)))
    transaction.on_commit(partial(react_after_commit, _publish, variants))


def _publish(variant_ids: tuple[int, ...]) -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            send_from_reaction(_send, layer, variant_ids)
    except Exception:
        publish_failures.exception("Could not publish suggestions.changed")


async def _send(layer, variant_ids: tuple[int, ...]) -> None:
    await layer.group_send(SUGGESTIONS_GROUP, {"type": SUGGESTIONS_CHANGED})
    await layer.group_send(OVERVIEW_GROUP, {"type": PANELS_CHANGED})
    for variant_id in variant_ids:
        await layer.group_send(variant_group(variant_id), {"type": PANELS_CHANGED})
