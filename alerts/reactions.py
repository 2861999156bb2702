"""After a committed stock change, the touched levels and variants wait a moment in this
process's batch, then go to one `evaluate_task` message (docs/alerts.md).

The reactions run after commit (on stock's publisher thread when that is on), never in
the writer's transaction: they only note ids under a lock and, for the first of a burst,
start a timer. With no active rule of a stock condition they do nothing at all, and that
answer is remembered for a few seconds (`alerts.selectors.active_conditions`). A lost
message (a process dying within the debounce) is found by the sweep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence

from django.conf import settings

from alerts.conditions.stock import CHANNEL_CONDITIONS, LEVEL_CONDITIONS
from alerts.dispatch import EVALUATE, alerts_task
from alerts.models import Condition
from alerts.selectors import active_conditions
from stock.events import StockChanged

logger = logging.getLogger(__name__)

# Conditions a level change can move (a level's own, and the channels selling it).
LEVEL_TRIGGERED = frozenset({*LEVEL_CONDITIONS, *CHANNEL_CONDITIONS})
# Conditions a change of what channels may sell can move, with no level changing.
VARIANT_TRIGGERED = frozenset({*CHANNEL_CONDITIONS, Condition.SHORT_ORDER})


def debounce_seconds() -> float:
    return float(getattr(settings, "ALERTS_EVALUATE_DEBOUNCE_SECONDS", 0.3))


class Batch:
    """Ids noted since the last message; one message per debounce interval at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.level_ids: set[int] = set()
        self.variant_ids: set[int] = set()
        self.timer: threading.Timer | None = None
        self.sent = 0  # messages sent by this process (tests, the bench)

    def add(self, *, level_ids: Iterable[int] = (), variant_ids: Iterable[int] = ()) -> None:
        with self.lock:
            self.level_ids.update(level_ids)
            self.variant_ids.update(variant_ids)
            if self.timer is None and (self.level_ids or self.variant_ids):
                self.timer = threading.Timer(debounce_seconds(), self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> bool:
        """Send what is noted now (the timer's job; tests call it to skip the wait)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()  # a no-op when the timer itself is calling
            level_ids, variant_ids = sorted(self.level_ids), sorted(self.variant_ids)
            self.level_ids, self.variant_ids, self.timer = set(), set(), None
        if not level_ids and not variant_ids:
            return False
        try:
            alerts_task(EVALUATE).apply_async(
                kwargs={"level_ids": level_ids, "variant_ids": variant_ids}
            )
        except Exception:
            # The change is committed and its alerts can wait: the sweep finds them.
            logger.exception(
                "Could not queue evaluate_task for %d levels, %d variants",
                len(level_ids),
                len(variant_ids),
            )
            return False
        with self.lock:
            self.sent += 1
        return True

    def is_empty(self) -> bool:
        with self.lock:
            return not self.level_ids and not self.variant_ids and self.timer is None

    def discard(self) -> None:
        """Forget what is noted, sending nothing (tests)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.level_ids, self.variant_ids, self.timer = set(), set(), None


batch = Batch()


def evaluate_touched_levels(changes: Sequence[StockChanged]) -> None:
    """`stock.events.on_stock_committed`: note the levels if any rule could care."""
    if active_conditions() & LEVEL_TRIGGERED:
        batch.add(level_ids=[change.level_id for change in changes])


def evaluate_touched_variants(variant_ids: frozenset[int]) -> None:
    """`stock.events.on_variants_committed`: a forced status or a shortfall changed."""
    if active_conditions() & VARIANT_TRIGGERED:
        batch.add(variant_ids=variant_ids)
