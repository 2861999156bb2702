"""Inline SVG charts of on hand and available, drawn on the server from `stock_history`.

No charting library: each warehouse gets a small step chart (daily closes are steps, not
slopes). The two series differ by line style as well as colour, so they read without colour.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta

from stock.selectors import HistorySeries

WIDTH = 320
HEIGHT = 140
MARGIN_LEFT = 40
MARGIN_RIGHT = 8
MARGIN_TOP = 8
MARGIN_BOTTOM = 22


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the first and last x labels stay inside


@dataclass(frozen=True, slots=True)
class Chart:
    warehouse_id: int
    warehouse_code: str
    warehouse_name: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    on_hand_path: str
    available_path: str
    zero_y: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    on_hand_now: int
    available_now: int
    lowest_available: int
    highest_on_hand: int
    first_day: date
    last_day: date

    @property
    def summary(self) -> str:
        return (
            f"{self.warehouse_code}: on hand {self.on_hand_now} and available "
            f"{self.available_now} today; from {self.first_day:%d %b} on hand peaked at "
            f"{self.highest_on_hand} and available fell as low as {self.lowest_available}."
        )


def _nice_ceiling(value: int) -> int:
    """The next 1, 2 or 5 times a power of ten from `value` up: round axis labels."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def history_charts(series_list: list[HistorySeries], *, days: int = 90) -> list[Chart]:
    """One chart per warehouse series, all on the same time axis (the last `days` days)."""
    charts = []
    for series in series_list:
        if not series.points:
            continue
        last_day = series.points[-1].day
        first_day = last_day - timedelta(days=days - 1)
        charts.append(_chart(series, first_day=first_day, last_day=last_day))
    return charts


def _chart(series: HistorySeries, *, first_day: date, last_day: date) -> Chart:
    plot_left, plot_right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    span_days = max((last_day - first_day).days, 1)
    points = [point for point in series.points if point.day >= first_day]
    highest = max(max(p.on_hand for p in points), max(p.available for p in points))
    lowest = min(0, min(p.available for p in points))
    top = _nice_ceiling(highest)
    bottom = -_nice_ceiling(-lowest) if lowest < 0 else 0

    def x(day: date) -> float:
        return round(plot_left + (day - first_day).days / span_days * (plot_right - plot_left), 1)

    def y(value: int) -> float:
        share = (value - bottom) / (top - bottom)
        return round(plot_bottom - share * (plot_bottom - plot_top), 1)

    def step_path(values: list[tuple[date, int]]) -> str:
        (first, value), *rest = values
        parts = [f"M{x(first)},{y(value)}"]
        for day, value in rest:
            parts.append(f"H{x(day)}V{y(value)}")
        # The last close holds until the end of its day.
        parts.append(f"H{plot_right}")
        return " ".join(parts)

    middle = first_day + timedelta(days=span_days // 2)
    y_values = sorted({bottom, 0, top // 2, top}) if bottom < 0 else [0, top // 2, top]
    return Chart(
        warehouse_id=series.warehouse_id,
        warehouse_code=series.warehouse_code,
        warehouse_name=series.warehouse_name,
        width=WIDTH,
        height=HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        on_hand_path=step_path([(p.day, p.on_hand) for p in points]),
        available_path=step_path([(p.day, p.available) for p in points]),
        zero_y=y(0),
        y_ticks=[Tick(position=y(value), label=str(value)) for value in y_values],
        x_ticks=[
            Tick(position=x(first_day), label=f"{first_day:%d %b}", anchor="start"),
            Tick(position=x(middle), label=f"{middle:%d %b}"),
            Tick(position=x(last_day), label="today", anchor="end"),
        ],
        on_hand_now=points[-1].on_hand,
        available_now=points[-1].available,
        lowest_available=min(p.available for p in points),
        highest_on_hand=max(p.on_hand for p in points),
        first_day=points[0].day,
        last_day=last_day,
    )
