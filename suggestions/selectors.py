"""Reads of suggestions shared by the API, the pages, the services and the tasks. Nothing
here writes, except `current_settings` creating the settings row with its defaults the first
time it is asked for. None of these imports `statsforecast`."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Min, QuerySet

from stock.models import StockLevel, Variant
from stock.services.history import utc_today
from transfers.models import Lane
from warehouses.models import Warehouse

from .forecasting import days_of_cover
from .models import Forecast, SuggestionSettings
from .projection import Projection, arrivals_by_level, project

SETTINGS_ID = 1
PROJECTION_DAYS = 28
MIN_LEAD_TIME_DAYS = 1


def current_settings() -> SuggestionSettings:
    """The merchant's settings (row 1), created with the defaults if missing."""
    settings, _ = SuggestionSettings.objects.get_or_create(pk=SETTINGS_ID)
    return settings


def lead_times_by_warehouse() -> dict[int, int]:
    """Per warehouse id: days for stock to reach it, by its fastest active inbound lane, or
    its own `lead_time_days` when no active lane leads there; never under one day, as a
    transfer decided today is approved and picked before it leaves (a lane of 0 days, two
    buildings on one site, would otherwise need no safety stock at all). Two queries."""
    lead_times = dict(Warehouse.objects.values_list("pk", "lead_time_days"))
    fastest = (
        Lane.objects.filter(is_active=True)
        .values("destination_id")
        .annotate(days=Min("lead_time_days"))
        .order_by()
    )
    for row in fastest:
        lead_times[row["destination_id"]] = row["days"]
    return {pk: max(days, MIN_LEAD_TIME_DAYS) for pk, days in lead_times.items()}


def forecasts_for_variant(variant: Variant) -> QuerySet[Forecast]:
    """The variant's forecasts, one per warehouse that has one, by warehouse code."""
    return (
        Forecast.objects.filter(variant=variant)
        .select_related("warehouse")
        .order_by("warehouse__code")
    )


def projection_for(
    variant: Variant, warehouse: Warehouse, days: int = PROJECTION_DAYS, today: date | None = None
) -> Projection:
    """The level's projected sellable quantity for today and the next `days` days, at its
    forecast's rate (no forecast: no demand)."""
    today = today or utc_today()
    level = StockLevel.objects.filter(variant=variant, warehouse=warehouse).first()
    forecast = Forecast.objects.filter(variant=variant, warehouse=warehouse).first()
    arrivals = arrivals_by_level(today=today, variant_ids=[variant.pk])
    return project(
        today=today,
        available=level.available if level is not None else 0,
        daily_demand=forecast.daily_demand if forecast is not None else 0.0,
        arrivals=arrivals.get((variant.pk, warehouse.pk), ()),
        days=days,
    )


@dataclass(frozen=True, slots=True)
class LevelOutlook:
    """One warehouse's view of a variant: its forecast (None: not forecast yet), stock,
    cover and projection."""

    warehouse: Warehouse
    forecast: Forecast | None
    available: int
    on_hand: int
    inbound: int
    days_of_cover: float | None
    safety_stock: int | None
    reorder_point: int | None
    # Whether available is at or below the reorder point (False with no forecast).
    is_below_reorder_point: bool
    projection: Projection

    @property
    def runs_out_on(self) -> date | None:
        return self.projection.runs_out_on

    @property
    def daily_demand(self) -> float:
        return self.forecast.daily_demand if self.forecast is not None else 0.0

    @property
    def daily_error(self) -> float | None:
        return self.forecast.daily_error if self.forecast is not None else None

    @property
    def demand_class(self) -> str | None:
        return self.forecast.demand_class if self.forecast is not None else None

    @property
    def method(self) -> str | None:
        return self.forecast.method if self.forecast is not None else None

    @property
    def lead_time_days(self) -> int | None:
        return self.forecast.lead_time_days if self.forecast is not None else None


def variant_outlook(
    variant: Variant, *, days: int = PROJECTION_DAYS, today: date | None = None
) -> list[LevelOutlook]:
    """Per warehouse where the variant has a level, by warehouse code: forecast, available,
    days of cover, safety stock, reorder point and projection. Six queries."""
    today = today or utc_today()
    levels = list(
        StockLevel.objects.filter(variant=variant)
        .select_related("warehouse")
        .order_by("warehouse__code")
    )
    forecasts = {
        forecast.warehouse_id: forecast for forecast in Forecast.objects.filter(variant=variant)
    }
    arrivals = arrivals_by_level(today=today, variant_ids=[variant.pk])
    outlook = []
    for level in levels:
        forecast = forecasts.get(level.warehouse_id)
        demand = forecast.daily_demand if forecast is not None else 0.0
        outlook.append(
            LevelOutlook(
                warehouse=level.warehouse,
                forecast=forecast,
                available=level.available,
                on_hand=level.on_hand,
                inbound=level.inbound,
                days_of_cover=days_of_cover(level.available, demand),
                safety_stock=forecast.safety_stock if forecast is not None else None,
                reorder_point=forecast.reorder_point if forecast is not None else None,
                is_below_reorder_point=forecast is not None
                and forecast.daily_demand > 0
                and level.available <= forecast.reorder_point,
                projection=project(
                    today=today,
                    available=level.available,
                    daily_demand=demand,
                    arrivals=arrivals.get((variant.pk, level.warehouse_id), ()),
                    days=days,
                ),
            )
        )
    return outlook


def run_out_dates(
    *, variant_ids: Iterable[int], days: int = PROJECTION_DAYS, today: date | None = None
) -> dict[tuple[int, int], date | None]:
    """Per level (variant_id, warehouse_id) of these variants with a forecast: the day its
    projection first closes at or below zero within `days`, or None. For the reactive check
    (which levels run out before the next review); six queries whatever the number."""
    today = today or utc_today()
    ids = list(variant_ids)
    demand = {
        (variant_id, warehouse_id): daily_demand
        for variant_id, warehouse_id, daily_demand in Forecast.objects.filter(
            variant_id__in=ids
        ).values_list("variant_id", "warehouse_id", "daily_demand")
    }
    arrivals = arrivals_by_level(today=today, variant_ids=ids)
    result: dict[tuple[int, int], date | None] = {}
    for variant_id, warehouse_id, available in StockLevel.objects.filter(
        variant_id__in=ids
    ).values_list("variant_id", "warehouse_id", "available"):
        key = (variant_id, warehouse_id)
        daily_demand = demand.get(key)
        if daily_demand is None:
            continue
        result[key] = project(
            today=today,
            available=available,
            daily_demand=daily_demand,
            arrivals=arrivals.get(key, ()),
            days=days,
        ).runs_out_on
    return result
