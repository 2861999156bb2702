"""Recomputing the forecasts: demand from the ledger, a forecast per level, safety stock
and reorder point at the warehouse's lead time."""

from collections.abc import Iterable
from datetime import date

from django.db import transaction
from django.utils import timezone

from stock.models import Variant
from stock.services.history import utc_today

from ..demand import daily_demand
from ..forecasting import forecast_for_levels
from ..models import Forecast
from ..selectors import current_settings, lead_times_by_warehouse

# Variants per chunk: each chunk is a few aggregated queries and one transaction, and keeps
# every IN list well under SQLite's parameter limit.
CHUNK_VARIANTS = 500
UPDATED_FIELDS = (
    "computed_at",
    "demand_class",
    "method",
    "daily_demand",
    "daily_error",
    "history_days",
    "censored_days",
    "safety_stock",
    "reorder_point",
    "lead_time_days",
)


def refresh_forecasts(
    *, variant_ids: Iterable[int] | None = None, today: date | None = None
) -> int:
    """Recompute the forecast of every level of managed, active variants (of `variant_ids`
    when given) from the settings' `history_days` of ledger before `today`, and upsert them.

    One transaction per chunk of variants: forecasts are derived data, and a chunk written
    is as good as the next one. A chunk's variants lose the forecasts of levels that no
    longer qualify (inactive or unmanaged variant, no balance yet). Returns the number of
    forecasts written.
    """
    today = today or utc_today()
    settings = current_settings()
    service_level = float(settings.service_level)
    lead_times = lead_times_by_warehouse()
    variants = Variant.objects.order_by("pk")
    if variant_ids is not None:
        variants = variants.filter(pk__in=list(variant_ids))
    ids = list(variants.values_list("pk", flat=True))
    written = 0
    for start in range(0, len(ids), CHUNK_VARIANTS):
        chunk = ids[start : start + CHUNK_VARIANTS]
        series = list(
            daily_demand(days=settings.history_days, today=today, variant_ids=chunk).values()
        )
        computed = forecast_for_levels(
            [item.daily for item in series],
            [lead_times.get(item.warehouse_id, 0) for item in series],
            service_level,
        )
        now = timezone.now()
        rows = [
            Forecast(
                variant_id=item.variant_id,
                warehouse_id=item.warehouse_id,
                computed_at=now,
                demand_class=str(result.demand_class),
                method=result.method,
                daily_demand=result.daily_demand,
                daily_error=result.daily_error,
                history_days=item.history_days,
                censored_days=item.censored_days,
                safety_stock=safety,
                reorder_point=point,
                lead_time_days=lead_times.get(item.warehouse_id, 0),
            )
            for item, (result, safety, point) in zip(series, computed, strict=True)
        ]
        with transaction.atomic():
            stale = Forecast.objects.filter(variant_id__in=chunk)
            kept = {(item.variant_id, item.warehouse_id) for item in series}
            stale_ids = [
                pk
                for pk, variant_id, warehouse_id in stale.values_list(
                    "pk", "variant_id", "warehouse_id"
                )
                if (variant_id, warehouse_id) not in kept
            ]
            if stale_ids:
                Forecast.objects.filter(pk__in=stale_ids).delete()
            Forecast.objects.bulk_create(
                rows,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["variant", "warehouse"],
                update_fields=list(UPDATED_FIELDS),
            )
        written += len(rows)
    return written
