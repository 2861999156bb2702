"""Reads of alerts shared by the reactions, tasks and pages."""

import threading
import time

from alerts.models import Rule

# How long a process trusts its answer to "which conditions have an active rule": a
# commit then costs no query while there are none, and a rule made in another process
# is seen within this long (one made here, at once: the rule services forget it).
ACTIVE_CONDITIONS_SECONDS = 3.0

_lock = threading.Lock()
_active: tuple[float, frozenset[str]] | None = None


def active_conditions() -> frozenset[str]:
    """The conditions of the active rules, remembered for a few seconds per process."""
    global _active
    now = time.monotonic()
    remembered = _active
    if remembered is not None and now - remembered[0] < ACTIVE_CONDITIONS_SECONDS:
        return remembered[1]
    conditions = frozenset(
        Rule.objects.filter(is_active=True).values_list("condition", flat=True).distinct()
    )
    with _lock:
        _active = (now, conditions)
    return conditions


def forget_active_conditions() -> None:
    global _active
    with _lock:
        _active = None
