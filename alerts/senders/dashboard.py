"""The dashboard receiver: a hint on the channel layer's "alerts" group; live pages re-read
the alerts themselves (a push is a hint, the database the truth)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from alerts.models import Receiver
from inventory_hub.shell.panels import OVERVIEW_GROUP, PANELS_CHANGED

from .base import Outgoing, SendFailed

logger = logging.getLogger(__name__)

GROUP = "alerts"


async def send_alerts_changed(layer) -> None:
    """The Alerts page re-reads the alerts, the overview its tiles (the alerts tile)."""
    await layer.group_send(GROUP, {"type": "alerts.changed"})
    await layer.group_send(OVERVIEW_GROUP, {"type": PANELS_CHANGED})


def publish_alerts_changed() -> bool:
    """Tell live pages the alerts changed; False when there is no channel layer."""
    layer = get_channel_layer()
    if layer is None:
        return False
    async_to_sync(send_alerts_changed)(layer)
    return True


def hint_alerts_changed() -> None:
    """After a commit: a hint that never fails the caller (Redis down: pages catch up)."""
    try:
        publish_alerts_changed()
    except Exception:
        logger.warning("Could not tell live pages that alerts changed", exc_info=True)


class DashboardSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        try:
            published = publish_alerts_changed()
        except Exception as error:  # Redis down: retried with backoff like any receiver
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        return "published" if published else "no channel layer"
