from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from stock.services.history import utc_today
from suggestions.models import SuggestionSettings
from suggestions.plan import LaneSpec, Policy, Position
from suggestions.positions import build_review_input
from suggestions.selectors import current_settings
from tests.stock.factories import SYSTEM, VariantFactory, reserved, stocked
from tests.transfers.factories import LaneFactory, draft
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer
from transfers.services import approve_transfer, cancel_transfer, ship_transfer
from warehouses.models import Warehouse

from .test_projection import forecast

pytestmark = pytest.mark.django_db

TODAY = utc_today()


@pytest.fixture
def hub():
    """Three warehouses; lanes north to south (active, with capacity and costs), south to
    north (inactive) and north to a closed warehouse."""
    north = WarehouseFactory(code="NORTH")
    south = WarehouseFactory(code="SOUTH", lead_time_days=4)
    closed = WarehouseFactory(code="CLOSED")
    lanes = {
        "north_south": LaneFactory(
            source=north,
            destination=south,
            lead_time_days=2,
            cost_per_unit=Decimal("0.50"),
            cost_per_shipment=Decimal("12.00"),
            minimum_quantity=5,
            capacity_units=50,
        ),
        "south_north": LaneFactory(source=south, destination=north, is_active=False),
        "north_closed": LaneFactory(source=north, destination=closed),
    }
    Warehouse.objects.filter(pk=closed.pk).update(is_active=False)
    return north, south, closed, lanes


def test_positions_come_from_levels_forecasts_and_transfers_on_the_road(hub):
    north, south, closed, _ = hub
    variant = VariantFactory(backorders="allow")
    stocked(variant, north, 30)
    stocked(variant, south, 3)
    reserved(variant, south, 5)  # an order beyond what is there: available -2, shown as 0
    Warehouse.objects.filter(pk=closed.pk).update(is_active=True)
    stocked(variant, closed, 9)
    Warehouse.objects.filter(pk=closed.pk).update(is_active=False)
    forecast(variant, north, 1.5, daily_error=0.7)
    forecast(variant, south, 2.0, daily_error=1.1)
    forecast(variant, closed, 1.0)
    transfer = draft(north, south, (variant, 8))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    review = build_review_input(today=TODAY)

    assert review.positions == [
        Position(
            sku=variant.pk, warehouse=north.pk, available=22, daily_demand=1.5, daily_error=0.7
        ),
        Position(
            sku=variant.pk,
            warehouse=south.pk,
            available=0,
            daily_demand=2.0,
            daily_error=1.1,
            arriving=((2, 8),),
        ),
    ]


def test_levels_without_a_forecast_and_inactive_variants_are_left_out(hub):
    north, _, _, _ = hub
    forecasted, unforecasted, inactive = VariantFactory(), VariantFactory(), VariantFactory()
    for variant in (forecasted, unforecasted, inactive):
        stocked(variant, north, 4)
    forecast(forecasted, north, 1.0)
    forecast(inactive, north, 1.0)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])

    review = build_review_input(today=TODAY)

    assert [(item.sku, item.warehouse) for item in review.positions] == [(forecasted.pk, north.pk)]


def test_lanes_carry_costs_capacity_and_inactive_lanes_are_marked(hub):
    north, south, closed, lanes = hub

    review = build_review_input(today=TODAY)

    assert review.lanes == [
        LaneSpec(
            source=north.pk,
            destination=south.pk,
            lead_time_days=2,
            cost_per_unit=0.5,
            cost_per_shipment=12.0,
            minimum_quantity=5,
            capacity=50,
            is_active=True,
        ),
        LaneSpec(source=south.pk, destination=north.pk, lead_time_days=3, is_active=False),
        LaneSpec(source=north.pk, destination=closed.pk, lead_time_days=3, is_active=False),
    ]
    assert review.lane_ids == {
        (north.pk, south.pk): lanes["north_south"].pk,
        (south.pk, north.pk): lanes["south_north"].pk,
        (north.pk, closed.pk): lanes["north_closed"].pk,
    }


def test_recent_moves_are_transfers_not_cancelled_within_the_no_return_days(hub):
    north, south, _, _ = hub
    moved, cancelled, old = VariantFactory(), VariantFactory(), VariantFactory()
    for variant in (moved, cancelled, old):
        stocked(variant, north, 10)
    approve_transfer(transfer=draft(north, south, (moved, 5), reference="T-1"), actor=SYSTEM)
    cancel_transfer(transfer=draft(north, south, (cancelled, 5), reference="T-2"), actor=SYSTEM)
    long_ago = draft(north, south, (old, 5), reference="T-3")
    Transfer.objects.filter(pk=long_ago.pk).update(
        created_at=timezone.now() - timedelta(days=Policy().no_return_days + 1)
    )

    review = build_review_input(today=TODAY)

    assert review.recent_moves == {(moved.pk, north.pk, south.pk)}


def test_policy_comes_from_the_settings(hub):
    SuggestionSettings.objects.create(
        pk=1,
        cost_of_lost_sale=Decimal("35.50"),
        review_days=3,
        source_cover_days=Decimal("10.00"),
    )

    review = build_review_input(today=TODAY)

    assert review.policy == Policy(cost_of_lost_sale=35.5, review_days=3, source_cover_days=10.0)


def test_review_input_takes_a_handful_of_queries_however_many_levels(
    hub, django_assert_max_num_queries
):
    north, south, _, _ = hub
    for _ in range(30):
        variant = VariantFactory()
        stocked(variant, north, 5)
        stocked(variant, south, 5)
        forecast(variant, north, 1.0)
        forecast(variant, south, 1.0)

    current_settings()

    with django_assert_max_num_queries(9):
        review = build_review_input(today=TODAY)

    assert len(review.positions) == 60
