"""The Alerts page's websocket consumer, built on the dashboard shell's consumers.

Alerts publish `alerts.changed` to the "alerts" group when the evaluator fires or resolves
one, when someone acknowledges or resolves one, and when a dashboard receiver is notified
(alerts.events, alerts.senders.dashboard). The consumer re-reads the alerts and pushes the
same region the page renders, with the buttons of the user's role.
"""

from alerts.senders.dashboard import GROUP
from alerts.views.fragments import render_alerts_region
from inventory_hub.shell.consumers import PollingRegionConsumer


class AlertsConsumer(PollingRegionConsumer):
    """The whole region again after any change, and every `poll_interval` seconds, since a
    silence ends and a pending alert comes due without an event."""

    groups = frozenset({GROUP})

    async def alerts_changed(self, event: dict) -> None:
        self.mark_stale()

    def render(self, work: bool) -> str:
        return render_alerts_region(self.scope["user"], oob=True)
