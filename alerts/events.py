"""Live pages hear that alerts changed: `alerts.changed` to the "alerts" group (the Alerts
page) and `panels.changed` to the overview's (its alerts tile). A hint: pages re-read.

The evaluator's task calls `alerts.hooks.alerts_changed` after each evaluation; the
listener here hands the publication to stock's publisher thread (`react_after_commit`), so
the worker never waits for the channel layer, and it never raises.
"""

from collections.abc import Sequence

from channels.layers import get_channel_layer

from alerts.senders.dashboard import send_alerts_changed
from stock.events import publish_failures, react_after_commit, send_from_reaction


def publish_evaluated(alert_ids: Sequence[int]) -> None:
    """The `on_alerts_changed` listener: alerts fired or resolved."""
    if alert_ids:
        react_after_commit(_publish)


def _publish() -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            send_from_reaction(send_alerts_changed, layer)
    except Exception:
        publish_failures.exception("Could not publish alerts.changed")
