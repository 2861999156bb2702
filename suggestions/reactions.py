"""After a committed stock change, the touched variants wait a moment in this process's
batch; then those projected to run out before the next review go to one
`reactive_review_task` message (the task checks them again when it runs).

The reaction runs after commit (on stock's publisher thread when that is on), never in the
writer's transaction, and only notes ids under a lock: the writer never waits for it. The
check at the flush is one query, on the timer's thread. This module loads no forecasting
or solver library: the web process imports it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence

from celery import current_app
from django.conf import settings
from django.db import connections
from django.db.models import F, FloatField, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce

from stock.events import StockChanged
from stock.models import StockLevel
from suggestions.models import Forecast, SuggestionSettings
from transfers.models import TransferLine
from transfers.selectors import HOLDING_STATES

logger = logging.getLogger(__name__)

REACTIVE_REVIEW = "suggestions.tasks.reactive_review_task"


def debounce_seconds() -> float:
    return float(getattr(settings, "SUGGESTIONS_REACTIVE_DEBOUNCE_SECONDS", 2.0))


def review_days() -> int:
    days = SuggestionSettings.objects.filter(pk=1).values_list("review_days", flat=True).first()
    return days if days is not None else SuggestionSettings._meta.get_field("review_days").default


def variants_at_risk(variant_ids: Collection[int], *, days: int | None = None) -> list[int]:
    """Those of `variant_ids` with a warehouse whose projected stock minus its forecast
    demand over `days` (the settings' review days) is below zero: it would run out before
    the next daily review. Projected stock is available + inbound (shipped transfers, and
    receipts announced) + what approved transfers hold for it at their source. A variant
    without forecasts is not at risk. One query."""
    if not variant_ids:
        return []
    days = review_days() if days is None else days
    level = StockLevel.objects.filter(
        variant_id=OuterRef("variant_id"), warehouse_id=OuterRef("warehouse_id")
    )
    held_for_it = (
        TransferLine.objects.filter(
            variant_id=OuterRef("variant_id"),
            transfer__destination_id=OuterRef("warehouse_id"),
            transfer__state__in=HOLDING_STATES,
        )
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    projected = Coalesce(
        Subquery(level.values(total=F("available") + F("inbound"))[:1]),
        Value(0),
        output_field=IntegerField(),
    ) + Coalesce(Subquery(held_for_it), Value(0), output_field=IntegerField())
    at_risk = (
        Forecast.objects.filter(variant_id__in=list(variant_ids), daily_demand__gt=0)
        .annotate(shortfall=Cast(projected, FloatField()) - F("daily_demand") * Value(float(days)))
        .filter(shortfall__lt=0)
        .values_list("variant_id", flat=True)
        .distinct()
    )
    return sorted(at_risk)


class Batch:
    """Variant ids noted since the last flush; one flush per debounce interval at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.variant_ids: set[int] = set()
        self.timer: threading.Timer | None = None
        self.sent = 0  # messages sent by this process (tests)

    def add(self, variant_ids: Iterable[int]) -> None:
        with self.lock:
            self.variant_ids.update(variant_ids)
            if self.timer is None and self.variant_ids:
                self.timer = threading.Timer(debounce_seconds(), self._flush_on_timer)
                self.timer.daemon = True
                self.timer.start()

    def _flush_on_timer(self) -> None:
        try:
            self.flush()
        finally:
            # The timer's thread opened its own connection for the check: close it.
            connections.close_all()

    def flush(self) -> list[int]:
        """Check what is noted now and queue the variants at risk (the timer's job; tests
        call it to skip the wait). Answers the variants queued."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()  # a no-op when the timer itself is calling
            variant_ids, self.variant_ids, self.timer = sorted(self.variant_ids), set(), None
        if not variant_ids:
            return []
        try:
            at_risk = variants_at_risk(variant_ids)
            if at_risk:
                current_app.tasks[REACTIVE_REVIEW].apply_async(kwargs={"variant_ids": at_risk})
        except Exception:
            # The change is committed; the daily review will see these variants anyway.
            logger.exception("Could not queue the reactive review of %d variants", len(variant_ids))
            return []
        if at_risk:
            with self.lock:
                self.sent += 1
        return at_risk

    def is_empty(self) -> bool:
        with self.lock:
            return not self.variant_ids and self.timer is None

    def discard(self) -> None:
        """Forget what is noted, sending nothing (tests)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.variant_ids, self.timer = set(), None


batch = Batch()


def note_touched_variants(changes: Sequence[StockChanged]) -> None:
    """`stock.events.on_stock_committed`: note the variants whose levels changed."""
    batch.add(change.variant_id for change in changes)
