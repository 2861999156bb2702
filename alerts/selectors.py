"""Reads of alerts shared by the reactions, tasks and pages."""

import logging
import threading
import time
from collections.abc import Iterable

from django.core.cache import cache

from alerts.models import Rule

logger = logging.getLogger(__name__)

# The conditions of the active rules, as the rule services and the sweep last published
# them in the shared cache: the reactions read that, never the database, so a commit
# costs the writer no query whatever the rules (its statements are counted by tests and
# by the bench). A process trusts its copy this long.
ACTIVE_CONDITIONS_KEY = "alerts:active-conditions"
ACTIVE_CONDITIONS_SECONDS = 3.0

_lock = threading.Lock()
_active: tuple[float, frozenset[str]] | None = None


def active_conditions() -> frozenset[str]:
    """The conditions of the active rules, as last published, remembered a few seconds.
    Nothing published (a fresh cache) or the cache down reads as none: the sweep publishes
    again within ALERTS_SWEEP_SECONDS, and its full pass finds what was missed meanwhile."""
    global _active
    now = time.monotonic()
    remembered = _active
    if remembered is not None and now - remembered[0] < ACTIVE_CONDITIONS_SECONDS:
        return remembered[1]
    try:
        published = cache.get(ACTIVE_CONDITIONS_KEY)
    except Exception:
        logger.warning("Could not read the active alert conditions from the cache")
        published = None
    conditions = frozenset(published or ())
    with _lock:
        _active = (now, conditions)
    return conditions


def publish_active_conditions(rules: Iterable[Rule] | None = None) -> frozenset[str]:
    """Publish the conditions of the active rules (these, or read now) for every process."""
    if rules is None:
        rules = Rule.objects.filter(is_active=True).only("condition")
    conditions = frozenset(rule.condition for rule in rules)
    try:
        cache.set(ACTIVE_CONDITIONS_KEY, sorted(conditions), timeout=None)
    except Exception:
        logger.warning("Could not publish the active alert conditions to the cache")
    forget_active_conditions()
    return conditions


def forget_active_conditions() -> None:
    """This process reads the published conditions again at the next commit."""
    global _active
    with _lock:
        _active = None
