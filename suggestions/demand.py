"""Daily demand per variant x warehouse (and per channel) from the ledger, with stockout
days censored.

Demand is what customers asked for, per UTC day of `occurred_at` (the day the snapshots use):

- an order's reservation: `reserve` movements with reason `order` and `delta_reserved > 0`
  (the order's hold, and later fills of a shortfall on the day they are filled);
- a sale written straight off the shelf: reason `order`, `delta_on_hand < 0`,
  `delta_reserved == 0`, any kind but `ship` (the demo's history writes its sales as
  `adjustment`/`order`).

Shipping a reserved order (`ship`: on hand and reserved both down) is the same units again
and is not counted; nor are releases. An order later cancelled or expired still counts:
the customer asked for the units that day.

A day the level closed with nothing available is **censored**: what was recorded is what
stock allowed, not what customers wanted. Its demand is imputed as the mean over the
series' in-stock days (never below what was recorded that day). A level that allows
backorders keeps taking orders at or below zero, so its days are never censored. Closing
availability comes from `DailyStockSnapshot`; a level whose snapshots do not cover the
window up to yesterday is rebuilt from the ledger instead (opening balance + daily deltas).

A series starts on the window's first day, or on the level's first day with a balance
when that is later, so a new level is not read as weeks of zero demand.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import StrIndex, Substr, TruncDate

from stock.models import (
    DailyStockSnapshot,
    MovementKind,
    ReasonCode,
    StockLevel,
    StockMovement,
)

LevelKey = tuple[int, int]  # (variant_id, warehouse_id)

_ASKED_FOR = Q(kind=MovementKind.RESERVE, delta_reserved__gt=0) | (
    Q(delta_on_hand__lt=0, delta_reserved=0) & ~Q(kind=MovementKind.SHIP)
)
_UNITS_ASKED = Case(
    When(kind=MovementKind.RESERVE, delta_reserved__gt=0, then=F("delta_reserved")),
    default=-F("delta_on_hand"),
    output_field=IntegerField(),
)
# Orders' movements carry "order <channel code>/<reference>" as their document.
_ORDER_DOCUMENT_PREFIX = "order "


@dataclass(frozen=True, slots=True)
class DemandSeries:
    """One level's daily demand, oldest day first, ending yesterday."""

    variant_id: int
    warehouse_id: int
    level_id: int
    first_day: date
    # Units asked for per day, as the ledger recorded them.
    recorded: np.ndarray
    # The series to forecast from: recorded, with censored days imputed.
    daily: np.ndarray
    # Per day: whether the level closed with nothing available (and takes no backorders).
    censored: np.ndarray

    @property
    def history_days(self) -> int:
        return int(self.daily.size)

    @property
    def censored_days(self) -> int:
        return int(self.censored.sum())


@dataclass(frozen=True, slots=True)
class _Level:
    id: int
    variant_id: int
    warehouse_id: int
    is_backorder_allowed: bool


def window(days: int, today: date) -> tuple[date, date]:
    """The first and last day of the `days` complete UTC days before `today`."""
    return today - timedelta(days=days), today - timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def demand_movements(*, first: date, last: date, variant_ids: Iterable[int] | None = None):
    """The ledger rows that are demand, between two days inclusive (a queryset)."""
    rows = StockMovement.objects.filter(
        reason=ReasonCode.ORDER,
        occurred_at__gte=_midnight(first),
        occurred_at__lt=_midnight(last + timedelta(days=1)),
    ).filter(_ASKED_FOR)
    if variant_ids is not None:
        rows = rows.filter(variant_id__in=list(variant_ids))
    return rows


def daily_demand(
    *, days: int, today: date, variant_ids: Iterable[int] | None = None
) -> dict[LevelKey, DemandSeries]:
    """Per level of managed, active variants (of `variant_ids` when given): the demand
    series of the `days` days before `today`. Levels with no balance yet in the window are
    left out. A handful of aggregated queries, however many levels."""
    first, last = window(days, today)
    ids = None if variant_ids is None else list(variant_ids)
    levels = _levels(ids)
    if not levels:
        return {}
    asked = _asked_per_day(first, last, ids)
    closed_out, starts = _stockout_days(levels, first, last, ids)
    result = {}
    for key, level in levels.items():
        start = starts.get(level.id)
        if start is None:
            continue
        length = (last - start).days + 1
        recorded = np.zeros(length)
        for day, units in asked.get(key, {}).items():
            if day >= start:
                recorded[(day - start).days] = units
        censored = np.zeros(length, dtype=bool)
        if not level.is_backorder_allowed:
            for day in closed_out.get(level.id, ()):
                if day >= start:
                    censored[(day - start).days] = True
        result[key] = DemandSeries(
            variant_id=level.variant_id,
            warehouse_id=level.warehouse_id,
            level_id=level.id,
            first_day=start,
            recorded=recorded,
            daily=impute_censored(recorded, censored),
            censored=censored,
        )
    return result


def impute_censored(recorded: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Censored days take the mean of the in-stock days (or what they recorded, if more).
    With no in-stock day at all there is nothing better than the recorded mean."""
    if not censored.any():
        return recorded.astype(float)
    in_stock = recorded[~censored]
    rate = float(in_stock.mean()) if in_stock.size else float(recorded.mean())
    daily = recorded.astype(float)
    daily[censored] = np.maximum(recorded[censored], rate)
    return daily


def _levels(variant_ids: list[int] | None) -> dict[LevelKey, _Level]:
    rows = StockLevel.objects.filter(variant__manage_stock=True, variant__is_active=True)
    if variant_ids is not None:
        rows = rows.filter(variant_id__in=variant_ids)
    return {
        (variant_id, warehouse_id): _Level(pk, variant_id, warehouse_id, allows)
        for pk, variant_id, warehouse_id, allows in rows.values_list(
            "pk", "variant_id", "warehouse_id", "is_backorder_allowed"
        )
    }


def _asked_per_day(
    first: date, last: date, variant_ids: list[int] | None
) -> dict[LevelKey, dict[date, int]]:
    rows = (
        demand_movements(first=first, last=last, variant_ids=variant_ids)
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("variant_id", "warehouse_id", "day")
        .annotate(units=Sum(_UNITS_ASKED))
        .values_list("variant_id", "warehouse_id", "day", "units")
        .order_by()
    )
    asked: dict[LevelKey, dict[date, int]] = defaultdict(dict)
    for variant_id, warehouse_id, day, units in rows:
        asked[variant_id, warehouse_id][day] = units
    return asked


def _stockout_days(
    levels: dict[LevelKey, _Level], first: date, last: date, variant_ids: list[int] | None
) -> tuple[dict[int, list[date]], dict[int, date]]:
    """Per level id: the days in the window it closed with available ≤ 0, and the first day
    of its series (the window's first day, or its first snapshot when later)."""
    snapshots = DailyStockSnapshot.objects.filter(day__gte=first, day__lte=last)
    if variant_ids is not None:
        snapshots = snapshots.filter(level__variant_id__in=variant_ids)
    coverage = {
        row["level_id"]: row
        for row in snapshots.values("level_id")
        .annotate(first_day=Min("day"), last_day=Max("day"), days=Count("id"))
        .order_by()
    }
    starts: dict[int, date] = {}
    from_ledger: list[int] = []
    for level in levels.values():
        row = coverage.get(level.id)
        if (
            row is not None
            and row["last_day"] == last
            and row["days"] == (last - row["first_day"]).days + 1
        ):
            starts[level.id] = row["first_day"]
        else:
            from_ledger.append(level.id)
    closed_out: dict[int, list[date]] = defaultdict(list)
    held_back = F("reserved") + F("unsellable") + F("safety_stock")
    for level_id, day in (
        snapshots.filter(on_hand__lte=held_back).values_list("level_id", "day").order_by()
    ):
        if level_id in starts:
            closed_out[level_id].append(day)
    if from_ledger:
        _stockout_days_from_ledger(from_ledger, first, last, closed_out, starts)
    return closed_out, starts


def _stockout_days_from_ledger(
    level_ids: list[int],
    first: date,
    last: date,
    closed_out: dict[int, list[date]],
    starts: dict[int, date],
) -> None:
    """What the snapshots would say, folded from the ledger: the opening balance before the
    window, then each day's deltas (the snapshots' own definition, by `occurred_at`)."""
    names = ("on_hand", "reserved", "unsellable", "safety_stock")
    sums = {name: Sum(f"delta_{name}") for name in names}
    movements = StockMovement.objects.filter(level_id__in=level_ids)
    opening = {
        row["level_id"]: sum(_signs(row, names))
        for row in movements.filter(occurred_at__lt=_midnight(first))
        .values("level_id")
        .annotate(**sums)
        .order_by()
    }
    deltas: dict[int, dict[date, int]] = defaultdict(dict)
    for row in (
        movements.filter(
            occurred_at__gte=_midnight(first), occurred_at__lt=_midnight(last + timedelta(days=1))
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("level_id", "day")
        .annotate(**sums)
        .order_by()
    ):
        deltas[row["level_id"]][row["day"]] = sum(_signs(row, names))
    for level_id in level_ids:
        changes = deltas.get(level_id, {})
        if level_id in opening:
            day = first
        elif changes:
            day = min(changes)
        else:
            continue  # no balance before or during the window
        starts[level_id] = day
        available = opening.get(level_id, 0)
        while day <= last:
            available += changes.get(day, 0)
            if available <= 0:
                closed_out[level_id].append(day)
            day += timedelta(days=1)


def _signs(row: dict, names: tuple[str, ...]) -> list[int]:
    """Available = on hand - reserved - unsellable - safety stock, as signed deltas."""
    return [(row[name] or 0) * (1 if name == "on_hand" else -1) for name in names]


@dataclass(frozen=True, slots=True)
class ChannelDemand:
    variant_id: int
    warehouse_id: int
    # The channel's code; "" for sales written without an order (the demo's direct sales).
    channel_code: str
    first_day: date
    recorded: np.ndarray


def daily_demand_by_channel(
    *, days: int, today: date, variant_ids: Iterable[int] | None = None
) -> dict[tuple[int, int, str], ChannelDemand]:
    """Recorded demand per variant x warehouse x channel and day over the `days` days before
    `today` (one query; not censored: the shares between channels are what it is for). The
    channel is read from the order's document, "order <code>/<reference>"."""
    first, last = window(days, today)
    start = len(_ORDER_DOCUMENT_PREFIX) + 1
    channel = Case(
        When(
            document__startswith=_ORDER_DOCUMENT_PREFIX,
            then=Substr("document", start, StrIndex("document", Value("/")) - start),
        ),
        default=Value(""),
    )
    rows = (
        demand_movements(first=first, last=last, variant_ids=variant_ids)
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC), channel=channel)
        .values("variant_id", "warehouse_id", "channel", "day")
        .annotate(units=Sum(_UNITS_ASKED))
        .order_by()
    )
    length = (last - first).days + 1
    result: dict[tuple[int, int, str], ChannelDemand] = {}
    for row in rows:
        key = (row["variant_id"], row["warehouse_id"], row["channel"] or "")
        series = result.get(key)
        if series is None:
            series = result[key] = ChannelDemand(*key, first_day=first, recorded=np.zeros(length))
        series.recorded[(row["day"] - first).days] += row["units"]
    return result
