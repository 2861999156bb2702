import math
from datetime import timedelta
from decimal import Decimal

import pytest

from stock.services.history import rebuild_snapshots, utc_today
from suggestions.forecasting import forecast_series
from suggestions.models import DemandClass, Forecast, SuggestionSettings
from suggestions.selectors import current_settings, forecasts_for_variant, lead_times_by_warehouse
from suggestions.services.forecasts import refresh_forecasts
from tests.stock.factories import VariantFactory
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory

from .support import direct_sale, on_day, receipt
from .test_demand import sells_out_for_three_days

pytestmark = pytest.mark.django_db

TODAY = utc_today()


def test_current_settings_creates_the_defaults_once():
    settings = current_settings()

    assert settings.pk == 1
    assert settings.service_level == Decimal("0.9500")
    assert current_settings().pk == 1
    assert SuggestionSettings.objects.count() == 1


def test_refresh_writes_a_forecast_per_level_from_the_censored_series():
    warehouse = WarehouseFactory(lead_time_days=6)
    variant = VariantFactory()
    sells_out_for_three_days(variant, warehouse)
    rebuild_snapshots()
    SuggestionSettings.objects.create(pk=1, history_days=14, service_level=Decimal("0.9"))

    written = refresh_forecasts(today=TODAY)

    forecast = Forecast.objects.get(variant=variant, warehouse=warehouse)
    # The level's series starts the day of its first receipt, eleven days ago: seven
    # in-stock days.
    rate = (0 + 2 + 2 + 3 + 1 + 0 + 2) / 7
    expected = forecast_series([0, 2, 2, 2, rate, rate, rate, 3, 1, 0, 2])
    assert written == 1
    assert forecast.history_days == 11
    assert forecast.censored_days == 4
    assert forecast.demand_class == expected.demand_class == DemandClass.SMOOTH
    assert forecast.method == expected.method
    assert forecast.daily_demand == pytest.approx(expected.daily_demand)
    assert forecast.daily_error == pytest.approx(expected.daily_error)
    assert forecast.lead_time_days == 6
    safety = math.ceil(1.2815516 * expected.daily_error * math.sqrt(6))
    assert forecast.safety_stock == safety
    assert forecast.reorder_point == math.ceil(expected.daily_demand * 6 + safety)


def test_lead_time_is_the_fastest_active_inbound_lane():
    destination = WarehouseFactory(lead_time_days=9)
    LaneFactory(destination=destination, lead_time_days=4)
    LaneFactory(destination=destination, lead_time_days=2)
    LaneFactory(destination=destination, lead_time_days=1, is_active=False)
    variant = VariantFactory()
    on_day(TODAY - timedelta(days=3), receipt(variant, destination, 5))

    refresh_forecasts(today=TODAY)

    forecast = Forecast.objects.get(variant=variant)
    assert forecast.lead_time_days == 2
    assert forecast.demand_class == DemandClass.NO_DEMAND
    assert (forecast.daily_demand, forecast.safety_stock, forecast.reorder_point) == (0, 0, 0)


def test_refresh_replaces_forecasts_and_drops_those_of_inactive_variants():
    warehouse = WarehouseFactory()
    kept, retired = VariantFactory(), VariantFactory()
    for variant in (kept, retired):
        on_day(TODAY - timedelta(days=5), receipt(variant, warehouse, 50))
        for days in (4, 3, 2, 1):
            on_day(TODAY - timedelta(days=days), direct_sale(variant, warehouse, 2))
    refresh_forecasts(today=TODAY)
    first = Forecast.objects.get(variant=kept)
    retired.is_active = False
    retired.save(update_fields=["is_active"])

    written = refresh_forecasts(variant_ids=[kept.pk, retired.pk], today=TODAY)

    assert written == 1
    assert list(forecasts_for_variant(kept).values_list("pk", flat=True)) == [first.pk]
    assert not Forecast.objects.filter(variant=retired).exists()


def test_lead_time_is_at_least_one_day():
    destination = WarehouseFactory(lead_time_days=0)
    other = WarehouseFactory(lead_time_days=5)
    LaneFactory(source=other, destination=destination, lead_time_days=0)

    assert lead_times_by_warehouse() == {destination.pk: 1, other.pk: 5}
