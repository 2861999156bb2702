from datetime import timedelta

import pytest

from stock.models import MovementKind, ReasonCode
from stock.services import LevelChange
from stock.services.history import utc_today
from suggestions.models import DemandClass, Forecast
from suggestions.projection import project
from suggestions.selectors import projection_for, run_out_dates, variant_outlook
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.transfers.factories import LaneFactory, draft
from tests.warehouses.factories import WarehouseFactory
from transfers.services import approve_transfer, ship_transfer

from .support import on_day

TODAY = utc_today()


def test_projection_adds_arrivals_and_takes_off_demand_until_it_runs_out():
    projection = project(today=TODAY, available=10, daily_demand=2.0, arrivals=((3, 5),), days=10)

    assert [point.quantity for point in projection.points] == [10, 8, 6, 9, 7, 5, 3, 1, -1, -3, -5]
    assert projection.points[3].arriving == 5
    assert projection.runs_out_on == TODAY + timedelta(days=8)


def test_overdue_arrival_lands_today():
    projection = project(today=TODAY, available=0, daily_demand=1.0, arrivals=((-2, 4),), days=3)

    assert [point.quantity for point in projection.points] == [4, 3, 2, 1]
    assert projection.runs_out_on is None


def test_level_with_nothing_available_runs_out_today():
    projection = project(today=TODAY, available=0, daily_demand=0.5, arrivals=(), days=2)

    assert projection.runs_out_on == TODAY


def test_no_demand_never_runs_out():
    projection = project(today=TODAY, available=3, daily_demand=0.0, arrivals=(), days=28)

    assert projection.runs_out_on is None
    assert len(projection.points) == 29


def forecast(variant, warehouse, daily_demand: float, **fields) -> Forecast:
    values = {
        "demand_class": DemandClass.SMOOTH,
        "method": "ets_ann",
        "daily_error": 1.0,
        "history_days": 90,
        "censored_days": 0,
        "safety_stock": 3,
        "reorder_point": 9,
        "lead_time_days": 3,
        **fields,
    }
    return Forecast.objects.create(
        variant=variant, warehouse=warehouse, daily_demand=daily_demand, **values
    )


@pytest.mark.django_db
def test_projection_for_puts_transfers_at_their_due_date_and_purchase_orders_at_lead_time():
    source = WarehouseFactory(code="SRC")
    destination = WarehouseFactory(code="DST", lead_time_days=5)
    LaneFactory(source=source, destination=destination, lead_time_days=2)
    variant = VariantFactory()
    stocked(variant, source, 20)
    stocked(variant, destination, 4)
    transfer = draft(source, destination, (variant, 6))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    on_day(
        TODAY,
        LevelChange(
            variant=variant,
            warehouse=destination,
            kind=MovementKind.ADJUSTMENT,
            reason=ReasonCode.PURCHASE_ORDER,
            delta_inbound=10,
        ),
    )
    forecast(variant, destination, 1.0)

    projection = projection_for(variant, destination, days=7)

    assert [point.arriving for point in projection.points] == [0, 0, 6, 0, 0, 10, 0, 0]
    assert [point.quantity for point in projection.points] == [4, 3, 8, 7, 6, 15, 14, 13]
    assert projection.runs_out_on is None


@pytest.mark.django_db
def test_an_approved_transfer_not_yet_shipped_counts_at_the_destination_after_its_lane():
    source = WarehouseFactory(code="SRC")
    destination = WarehouseFactory(code="DST", lead_time_days=5)
    LaneFactory(source=source, destination=destination, lead_time_days=2)
    variant = VariantFactory()
    stocked(variant, source, 20)
    stocked(variant, destination, 4)
    transfer = draft(source, destination, (variant, 6))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    forecast(variant, destination, 1.0)

    projection = projection_for(variant, destination, days=3)

    assert [point.arriving for point in projection.points] == [0, 0, 6, 0]
    assert [point.quantity for point in projection.points] == [4, 3, 8, 7]


@pytest.mark.django_db
def test_variant_outlook_gives_cover_reorder_point_and_run_out_per_warehouse():
    first, second, third = (WarehouseFactory(code=code) for code in ("A-1", "B-1", "C-1"))
    variant = VariantFactory()
    stocked(variant, first, 12)
    stocked(variant, second, 2)
    stocked(variant, third, 5)
    forecast(variant, first, 3.0, reorder_point=15, safety_stock=4)
    forecast(variant, second, 0.5, reorder_point=2, safety_stock=1)

    outlook = variant_outlook(variant, days=10)

    assert [item.warehouse.code for item in outlook] == ["A-1", "B-1", "C-1"]
    first_outlook, second_outlook, third_outlook = outlook
    assert first_outlook.available == 12
    assert first_outlook.days_of_cover == 4.0
    assert first_outlook.is_below_reorder_point is True
    assert first_outlook.runs_out_on == TODAY + timedelta(days=4)
    assert (first_outlook.daily_demand, first_outlook.demand_class) == (3.0, "smooth")
    assert second_outlook.days_of_cover == 4.0
    assert second_outlook.safety_stock == 1
    assert second_outlook.is_below_reorder_point is True
    assert second_outlook.runs_out_on == TODAY + timedelta(days=4)
    assert third_outlook.forecast is None
    assert third_outlook.days_of_cover is None
    assert third_outlook.reorder_point is None
    assert third_outlook.is_below_reorder_point is False
    assert third_outlook.runs_out_on is None
    assert (third_outlook.daily_demand, third_outlook.demand_class) == (0.0, None)


@pytest.mark.django_db
def test_run_out_dates_per_level_with_a_forecast(django_assert_max_num_queries):
    first, second, third = (WarehouseFactory(code=code) for code in ("A-2", "B-2", "C-2"))
    variant, other = VariantFactory(), VariantFactory()
    stocked(variant, first, 5)
    stocked(variant, second, 40)
    stocked(variant, third, 1)
    stocked(other, first, 1)
    forecast(variant, first, 2.0)
    forecast(variant, second, 1.0)
    forecast(other, first, 5.0)

    with django_assert_max_num_queries(6):
        dates = run_out_dates(variant_ids=[variant.pk], days=28)

    assert dates == {
        (variant.pk, first.pk): TODAY + timedelta(days=3),
        (variant.pk, second.pk): None,
    }
