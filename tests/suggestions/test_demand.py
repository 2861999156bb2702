from datetime import timedelta

import numpy as np
import pytest

from stock.models import DailyStockSnapshot
from stock.services.history import rebuild_snapshots, utc_today
from suggestions.demand import daily_demand, daily_demand_by_channel
from tests.stock.factories import VariantFactory
from tests.warehouses.factories import WarehouseFactory

from .support import direct_sale, on_day, order_release, order_reserve, order_ship, receipt

pytestmark = pytest.mark.django_db

TODAY = utc_today()


def ago(days: int):
    return TODAY - timedelta(days=days)


def sells_out_for_three_days(variant, warehouse) -> None:
    """Ten days before today: 2, 2, 2 sold (out at the close of the third day), three days
    with nothing available, then restocked and 3, 1, 0, 2 sold."""
    on_day(ago(11), receipt(variant, warehouse, 6))
    for days in (10, 9, 8):
        on_day(ago(days), direct_sale(variant, warehouse, 2))
    on_day(ago(4), receipt(variant, warehouse, 10), direct_sale(variant, warehouse, 3))
    on_day(ago(3), direct_sale(variant, warehouse, 1))
    on_day(ago(1), direct_sale(variant, warehouse, 2))


@pytest.mark.parametrize("has_snapshots", [True, False], ids=["snapshots", "ledger"])
def test_censored_demand_is_imputed_not_read_as_zero(has_snapshots):
    variant, warehouse = VariantFactory(), WarehouseFactory()
    sells_out_for_three_days(variant, warehouse)
    if has_snapshots:
        rebuild_snapshots()
    else:
        DailyStockSnapshot.objects.all().delete()

    series = daily_demand(days=10, today=TODAY)[variant.pk, warehouse.pk]

    rate = (2 + 2 + 3 + 1 + 0 + 2) / 6  # the six in-stock days
    assert series.first_day == ago(10)
    assert series.recorded.tolist() == [2, 2, 2, 0, 0, 0, 3, 1, 0, 2]
    assert series.censored.tolist() == [False, False, True, True, True, True] + [False] * 4
    assert series.daily == pytest.approx([2, 2, 2, rate, rate, rate, 3, 1, 0, 2])
    assert series.history_days == 10
    assert series.censored_days == 4


def test_reserved_order_counts_once_not_again_when_shipped():
    variant, warehouse = VariantFactory(), WarehouseFactory()
    on_day(ago(5), receipt(variant, warehouse, 20))
    on_day(ago(3), order_reserve(variant, warehouse, 4))
    on_day(ago(2), order_ship(variant, warehouse, 4))
    on_day(ago(2), order_reserve(variant, warehouse, 1))
    on_day(ago(1), order_release(variant, warehouse, 1))
    rebuild_snapshots()

    series = daily_demand(days=5, today=TODAY)[variant.pk, warehouse.pk]

    assert series.recorded.tolist() == [0, 0, 4, 1, 0]
    assert series.censored_days == 0


def test_new_level_starts_on_its_first_day_not_the_window():
    variant, warehouse = VariantFactory(), WarehouseFactory()
    on_day(ago(3), receipt(variant, warehouse, 5), direct_sale(variant, warehouse, 1))
    rebuild_snapshots()

    series = daily_demand(days=30, today=TODAY)[variant.pk, warehouse.pk]

    assert series.first_day == ago(3)
    assert series.recorded.tolist() == [1, 0, 0]


def test_level_that_allows_backorders_is_never_censored():
    variant = VariantFactory(backorders="allow")
    warehouse = WarehouseFactory()
    on_day(ago(3), receipt(variant, warehouse, 1))
    on_day(ago(2), order_reserve(variant, warehouse, 3))
    rebuild_snapshots()

    series = daily_demand(days=3, today=TODAY)[variant.pk, warehouse.pk]

    assert series.censored_days == 0
    assert series.daily.tolist() == [0, 3, 0]


def test_inactive_and_unmanaged_variants_have_no_series():
    active, inactive = VariantFactory(), VariantFactory(is_active=False)
    warehouse = WarehouseFactory()
    for variant in (active, inactive):
        on_day(ago(2), receipt(variant, warehouse, 5), direct_sale(variant, warehouse, 1))

    series = daily_demand(days=5, today=TODAY)

    assert set(series) == {(active.pk, warehouse.pk)}


def test_demand_per_channel_reads_the_order_document():
    variant, warehouse = VariantFactory(), WarehouseFactory()
    on_day(ago(5), receipt(variant, warehouse, 20))
    on_day(
        ago(2),
        order_reserve(variant, warehouse, 2, document="order shop-eu/1001"),
        order_reserve(variant, warehouse, 3, document="order amazon/A-7"),
        direct_sale(variant, warehouse, 1),
    )
    on_day(ago(1), order_reserve(variant, warehouse, 4, document="order shop-eu/1002"))

    series = daily_demand_by_channel(days=3, today=TODAY)

    assert {key: value.recorded.tolist() for key, value in series.items()} == {
        (variant.pk, warehouse.pk, "shop-eu"): [0, 2, 4],
        (variant.pk, warehouse.pk, "amazon"): [0, 3, 0],
        (variant.pk, warehouse.pk, ""): [0, 1, 0],
    }
    assert np.array_equal(series[variant.pk, warehouse.pk, ""].recorded, [0, 1, 0])
