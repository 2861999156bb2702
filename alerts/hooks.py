"""Where the notifier hears that alerts changed: after each evaluation, the evaluating task
calls `alerts_changed` with the ids of the alerts that fired or resolved, and every
function registered with `on_alerts_changed` runs (the notifier registers its own in its
`AppConfig.ready()`; the evaluator never imports it)."""

import logging
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

AlertsChanged = Callable[[Sequence[int]], object]  # (alert ids) -> anything, ignored

_listeners: list[AlertsChanged] = []


def on_alerts_changed(listener: AlertsChanged) -> AlertsChanged:
    """Register (once) a function called with the ids of alerts that fired or resolved. It
    runs after the evaluation committed; it must not raise (a failure is logged, and the
    sweep's next pass still finds the alerts in their new state)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def alerts_changed(alert_ids: Sequence[int]) -> None:
    if not alert_ids:
        return
    for listener in _listeners:
        try:
            listener(alert_ids)
        except Exception:
            logger.exception("Alerts-changed listener %s failed", listener.__name__)
