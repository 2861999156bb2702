"""Live pages hear that suggestions changed: `suggestions.changed` to the Suggestions page,
and `panels.changed` to the overviews (their suggestions tile), after the commit of a
decision or a settings change.

As with stock.changed, the message is a hint: the consumers re-read the suggestions. A
review writes no message of its own: the page's consumer also re-reads every minute.
"""

from functools import partial

from channels.layers import get_channel_layer
from django.db import transaction

from inventory_hub.shell.panels import OVERVIEW_GROUP, PANELS_CHANGED
from stock.events import publish_failures, react_after_commit, send_from_reaction

SUGGESTIONS_GROUP = "suggestions"
SUGGESTIONS_CHANGED = "suggestions.changed"


def publish_suggestions_changed() -> None:
    """After the current transaction commits (at once outside one), tell the live pages;
    never raises, and the caller never waits for the channel layer."""
    transaction.on_commit(partial(react_after_commit, _publish))


def _publish() -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            send_from_reaction(_send, layer)
    except Exception:
        publish_failures.exception("Could not publish suggestions.changed")


async def _send(layer) -> None:
    await layer.group_send(SUGGESTIONS_GROUP, {"type": SUGGESTIONS_CHANGED})
    await layer.group_send(OVERVIEW_GROUP, {"type": PANELS_CHANGED})
