"""A variant's daily stock history per warehouse, for the chart."""

from dataclasses import dataclass, replace
from datetime import UTC, date, timedelta

from django.utils import timezone

from stock.models import DailyStockSnapshot, StockLevel, Variant


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    day: date
    on_hand: int
    available: int


@dataclass(frozen=True, slots=True)
class HistorySeries:
    """One warehouse's daily closes for a variant; the last point is the live balance."""

    warehouse_id: int
    warehouse_code: str
    warehouse_name: str
    points: list[HistoryPoint]


def stock_history(variant: Variant, *, days: int = 90) -> list[HistorySeries]:
    """On hand and available per warehouse over the last `days` UTC days, in two queries.

    Past days come from DailyStockSnapshot (closes derived from the ledger); today is the
    level itself, so the chart ends on the figure every other screen shows. A series starts
    at its first snapshot in the window; a day missing inside it repeats the day before.
    """
    today = timezone.now().astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    levels = list(
        StockLevel.objects.filter(variant=variant)
        .select_related("warehouse")
        .order_by("warehouse__code")
    )
    closes: dict[int, dict[date, HistoryPoint]] = {level.pk: {} for level in levels}
    snapshots = DailyStockSnapshot.objects.filter(
        level__variant=variant, day__gte=first_day, day__lt=today
    ).values_list("level_id", "day", "on_hand", "reserved", "unsellable", "safety_stock")
    for level_id, day, on_hand, reserved, unsellable, safety_stock in snapshots:
        available = on_hand - reserved - unsellable - safety_stock
        closes[level_id][day] = HistoryPoint(day=day, on_hand=on_hand, available=available)

    series = []
    for level in levels:
        by_day = closes[level.pk]
        points: list[HistoryPoint] = []
        day = min(by_day, default=today)
        while day < today:
            known = by_day.get(day)
            if known is not None:
                points.append(known)
            else:
                points.append(replace(points[-1], day=day))
            day += timedelta(days=1)
        points.append(HistoryPoint(day=today, on_hand=level.on_hand, available=level.available))
        series.append(
            HistorySeries(
                warehouse_id=level.warehouse_id,
                warehouse_code=level.warehouse.code,
                warehouse_name=level.warehouse.name,
                points=points,
            )
        )
    return series
