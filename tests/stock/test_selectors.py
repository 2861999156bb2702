"""Reads: channel salable quantity and its breakdown, per-level status, forced status."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stock.models import BackorderPolicy, ForcedStatus, StockLevel, StockStatus
from stock.selectors import (
    channel_salable,
    channel_salable_many,
    levels_below_threshold,
    stock_levels,
)
from stock.services import set_safety_stock
from tests.stock.factories import SYSTEM, VariantFactory, reserved, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant():
    return VariantFactory(low_stock_threshold=5)


@pytest.fixture
def channel():
    return SalesChannelFactory(code="north-america")


def link(channel, code: str, priority: int):
    return ChannelWarehouseFactory(
        channel=channel, warehouse=WarehouseFactory(code=code), priority=priority
    ).warehouse


def counted_by_warehouse(salable) -> list[tuple[str, int, int]]:
    return [(item.warehouse_code, item.available, item.counted) for item in salable.breakdown]


# --- Channel salable quantity --------------------------------------------------------------


def test_salable_is_the_sum_of_available_over_the_linked_warehouses(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    stocked(variant, link(channel, "AUSTIN", 2), 7)

    salable = channel_salable(channel, variant)

    assert (salable.total_available, salable.salable) == (17, 17)


def test_breakdown_lists_each_linked_warehouse_in_priority_order(channel, variant):
    reno = link(channel, "RENO", 3)
    baltimore = link(channel, "BALTIMORE", 1)
    austin = link(channel, "AUSTIN", 2)
    stocked(variant, reno, 4)
    stocked(variant, baltimore, 10)
    stocked(variant, austin, 7)

    salable = channel_salable(channel, variant)

    assert [(item.warehouse_code, item.priority) for item in salable.breakdown] == [
        ("BALTIMORE", 1),
        ("AUSTIN", 2),
        ("RENO", 3),
    ]
    assert [item.counted for item in salable.breakdown] == [10, 7, 4]


def test_breakdown_shows_how_each_warehouse_reached_its_available(channel, variant):
    warehouse = link(channel, "BALTIMORE", 1)
    stocked(variant, warehouse, 20)
    reserved(variant, warehouse, 3)
    set_safety_stock(variant=variant, warehouse=warehouse, quantity=2, actor=SYSTEM)

    (item,) = channel_salable(channel, variant).breakdown

    assert (item.on_hand, item.reserved, item.unsellable, item.safety_stock) == (20, 3, 0, 2)
    assert (item.available, item.counted, item.is_active) == (15, 15, True)


def test_buffer_is_taken_off_the_total(variant):
    channel = SalesChannelFactory(safety_buffer=4)
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    stocked(variant, link(channel, "AUSTIN", 2), 5)

    salable = channel_salable(channel, variant)

    assert (salable.total_available, salable.buffer, salable.salable) == (15, 4, 11)


def test_salable_never_goes_below_zero_when_the_buffer_exceeds_the_total(variant):
    channel = SalesChannelFactory(safety_buffer=50)
    stocked(variant, link(channel, "BALTIMORE", 1), 10)

    salable = channel_salable(channel, variant)

    assert (salable.total_available, salable.salable) == (10, 0)


def test_cap_limits_what_the_channel_shows(variant):
    channel = SalesChannelFactory(safety_buffer=2, max_salable_quantity=5)
    stocked(variant, link(channel, "BALTIMORE", 1), 100)

    salable = channel_salable(channel, variant)

    assert (salable.total_available, salable.cap, salable.salable) == (100, 5, 5)


def test_cap_of_zero_shows_nothing(variant):
    channel = SalesChannelFactory(max_salable_quantity=0)
    stocked(variant, link(channel, "BALTIMORE", 1), 100)

    assert channel_salable(channel, variant).salable == 0


def test_cap_above_the_salable_quantity_changes_nothing(variant):
    channel = SalesChannelFactory(safety_buffer=1, max_salable_quantity=500)
    stocked(variant, link(channel, "BALTIMORE", 1), 10)

    assert channel_salable(channel, variant).salable == 9


def test_inactive_warehouse_counts_zero_but_stays_in_the_breakdown(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    austin = link(channel, "AUSTIN", 2)
    stocked(variant, austin, 7)
    austin.is_active = False
    austin.save(update_fields=["is_active"])

    salable = channel_salable(channel, variant)

    assert counted_by_warehouse(salable) == [("BALTIMORE", 10, 10), ("AUSTIN", 7, 0)]
    assert [item.is_active for item in salable.breakdown] == [True, False]
    assert salable.salable == 10


def test_a_warehouse_not_linked_to_the_channel_does_not_count(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    stocked(variant, WarehouseFactory(code="BERLIN"), 40)

    salable = channel_salable(channel, variant)

    assert counted_by_warehouse(salable) == [("BALTIMORE", 10, 10)]
    assert salable.salable == 10


def test_a_warehouse_linked_to_another_channel_only_counts_there(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    europe = SalesChannelFactory(code="europe")
    stocked(variant, link(europe, "BERLIN", 1), 40)

    assert channel_salable(channel, variant).salable == 10
    assert channel_salable(europe, variant).salable == 40


def test_backordered_warehouse_counts_zero_instead_of_cancelling_the_others(channel):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    austin = link(channel, "AUSTIN", 2)
    stocked(variant, austin, 2)
    reserved(variant, austin, 6)

    salable = channel_salable(channel, variant)

    assert counted_by_warehouse(salable) == [("BALTIMORE", 10, 10), ("AUSTIN", -4, 0)]
    assert salable.salable == 10


def test_linked_warehouse_without_a_level_counts_zero(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 10)
    link(channel, "AUSTIN", 2)

    salable = channel_salable(channel, variant)

    assert counted_by_warehouse(salable) == [("BALTIMORE", 10, 10), ("AUSTIN", 0, 0)]
    assert salable.salable == 10


def test_inactive_channel_can_sell_nothing(variant):
    channel = SalesChannelFactory(is_active=False)
    stocked(variant, link(channel, "BALTIMORE", 1), 10)

    salable = channel_salable(channel, variant)

    assert salable.salable == 0
    assert counted_by_warehouse(salable) == [("BALTIMORE", 10, 0)]


def test_channel_without_warehouses_sells_nothing(channel, variant):
    stocked(variant, WarehouseFactory(), 10)

    salable = channel_salable(channel, variant)

    assert (salable.salable, salable.breakdown, salable.status) == (
        0,
        [],
        StockStatus.OUT_OF_STOCK,
    )


def test_channel_status_follows_the_salable_quantity(channel, variant):
    warehouse = link(channel, "BALTIMORE", 1)
    stocked(variant, warehouse, 5)
    low = channel_salable(channel, variant).status
    stocked(variant, warehouse, 1)
    plenty = channel_salable(channel, variant).status

    assert (low, plenty) == (StockStatus.LOW_STOCK, StockStatus.IN_STOCK)


def test_channel_status_is_backorder_when_nothing_is_salable_but_backorders_are_allowed(channel):
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    link(channel, "BALTIMORE", 1)

    salable = channel_salable(channel, variant)

    assert (salable.salable, salable.status, salable.allows_backorders) == (
        0,
        StockStatus.BACKORDER,
        True,
    )


def test_variant_that_does_not_manage_stock_shows_in_stock(channel):
    variant = VariantFactory(manage_stock=False)
    link(channel, "BALTIMORE", 1)

    salable = channel_salable(channel, variant)

    assert (salable.manage_stock, salable.status) == (False, StockStatus.IN_STOCK)


def test_salable_many_answers_each_variant_separately(channel):
    baltimore = link(channel, "BALTIMORE", 1)
    variants = [VariantFactory() for _ in range(3)]
    for quantity, variant in enumerate(variants, start=1):
        stocked(variant, baltimore, quantity * 10)

    result = channel_salable_many(channel, variants)

    assert {variant.sku: result[variant.pk].salable for variant in variants} == {
        variants[0].sku: 10,
        variants[1].sku: 20,
        variants[2].sku: 30,
    }


def test_salable_many_makes_as_many_queries_for_thirty_variants_as_for_one(
    channel, django_assert_num_queries
):
    warehouses = [link(channel, code, priority) for priority, code in enumerate("ABC", start=1)]
    variants = [VariantFactory() for _ in range(30)]
    for variant in variants:
        for warehouse in warehouses:
            stocked(variant, warehouse, 3)
    force(variants[0], "in_stock")
    force(variants[-1], "out_of_stock", channel=channel)
    with CaptureQueriesContext(connection) as for_one:
        channel_salable_many(channel, variants[:1])

    with django_assert_num_queries(len(for_one)):
        result = channel_salable_many(channel, variants)

    assert [result[variant.pk].salable for variant in variants] == [9] * 30
    assert (result[variants[0].pk].forced_status, result[variants[-1].pk].forced_status) == (
        "in_stock",
        "out_of_stock",
    )


# --- Status per level ----------------------------------------------------------------------


def level_after(variant, quantity: int, **level_fields) -> StockLevel:
    level = stocked(variant, WarehouseFactory(), quantity)
    if level_fields:
        StockLevel.objects.filter(pk=level.pk).update(**level_fields)
    return stock_levels().get(pk=level.pk)


@pytest.mark.parametrize(
    ("on_hand", "status"),
    [
        (6, StockStatus.IN_STOCK),
        (5, StockStatus.LOW_STOCK),
        (1, StockStatus.LOW_STOCK),
    ],
)
def test_level_status_against_the_variants_threshold(variant, on_hand, status):
    level = level_after(variant, on_hand)

    assert level.status == status


def test_level_with_nothing_available_is_out_of_stock(variant):
    level = stocked(variant, WarehouseFactory(), 3)
    reserved(variant, level.warehouse, 3)

    assert stock_levels().get(pk=level.pk).status == StockStatus.OUT_OF_STOCK


def test_level_with_nothing_available_is_on_backorder_when_backorders_are_allowed():
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    level = stocked(variant, WarehouseFactory(), 3)
    reserved(variant, level.warehouse, 5)

    level = stock_levels().get(pk=level.pk)
    assert (level.available, level.status) == (-2, StockStatus.BACKORDER)


def test_level_threshold_wins_over_the_variants(variant):
    level = level_after(variant, 8, low_stock_threshold=10)

    assert (level.threshold, level.status) == (10, StockStatus.LOW_STOCK)


def test_level_threshold_of_zero_never_reports_low_stock(variant):
    level = level_after(variant, 1, low_stock_threshold=0)

    assert (level.threshold, level.status) == (0, StockStatus.IN_STOCK)


def test_level_without_a_threshold_falls_back_to_the_variants(variant):
    level = level_after(variant, 8)

    assert (level.low_stock_threshold, level.threshold, level.status) == (
        None,
        5,
        StockStatus.IN_STOCK,
    )


def test_levels_below_threshold_uses_each_levels_own_threshold_or_the_variants(variant):
    at_variant_threshold = level_after(variant, 5)
    above_variant_threshold = level_after(variant, 6)
    at_own_threshold = level_after(variant, 9, low_stock_threshold=9)
    above_own_threshold = level_after(variant, 3, low_stock_threshold=2)
    out_of_stock = level_after(variant, 2, reserved=2)

    below = set(levels_below_threshold(StockLevel.objects.all()).values_list("pk", flat=True))

    assert below == {at_variant_threshold.pk, at_own_threshold.pk, out_of_stock.pk}
    assert above_variant_threshold.pk not in below
    assert above_own_threshold.pk not in below


# --- Forced status -------------------------------------------------------------------------


def force(variant, status: str, *, channel=None, expires_at=None) -> ForcedStatus:
    return ForcedStatus.objects.create(
        variant=variant,
        channel=channel,
        status=status,
        reason=f"forced {status}",
        actor_label="tests",
        expires_at=expires_at,
    )


def test_forced_status_is_shown_beside_the_real_one(channel, variant):
    stocked(variant, link(channel, "BALTIMORE", 1), 20)
    force(variant, "out_of_stock")

    salable = channel_salable(channel, variant)

    assert (salable.status, salable.forced_status, salable.shown_status) == (
        StockStatus.IN_STOCK,
        "out_of_stock",
        "out_of_stock",
    )
    assert (salable.salable, salable.forced_reason) == (20, "forced out_of_stock")


def test_without_an_override_the_real_status_is_shown(channel, variant):
    link(channel, "BALTIMORE", 1)

    salable = channel_salable(channel, variant)

    assert (salable.forced_status, salable.forced_reason, salable.shown_status) == (
        None,
        "",
        StockStatus.OUT_OF_STOCK,
    )


def test_channel_override_wins_over_the_variant_wide_one(channel, variant):
    link(channel, "BALTIMORE", 1)
    force(variant, "out_of_stock")
    force(variant, "in_stock", channel=channel)

    salable = channel_salable(channel, variant)

    assert (salable.status, salable.shown_status) == (StockStatus.OUT_OF_STOCK, "in_stock")


def test_another_channels_override_does_not_apply(channel, variant):
    link(channel, "BALTIMORE", 1)
    force(variant, "in_stock", channel=SalesChannelFactory(code="europe"))

    assert channel_salable(channel, variant).forced_status is None


def test_expired_override_is_ignored(channel, variant):
    link(channel, "BALTIMORE", 1)
    force(variant, "in_stock", channel=channel, expires_at=timezone.now() - timedelta(seconds=1))

    assert channel_salable(channel, variant).forced_status is None


def test_expired_channel_override_falls_back_to_the_variant_wide_one(channel, variant):
    link(channel, "BALTIMORE", 1)
    force(variant, "out_of_stock")
    force(variant, "in_stock", channel=channel, expires_at=timezone.now() - timedelta(minutes=5))

    assert channel_salable(channel, variant).forced_status == "out_of_stock"


def test_override_before_its_expiry_applies(channel, variant):
    link(channel, "BALTIMORE", 1)
    force(variant, "in_stock", expires_at=timezone.now() + timedelta(hours=1))

    assert channel_salable(channel, variant).forced_status == "in_stock"


def test_ended_override_is_ignored(channel, variant):
    link(channel, "BALTIMORE", 1)
    ended = force(variant, "in_stock")
    ForcedStatus.objects.filter(pk=ended.pk).update(ended_at=timezone.now(), ended_by="tests")

    assert channel_salable(channel, variant).forced_status is None
