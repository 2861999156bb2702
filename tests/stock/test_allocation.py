"""Allocation of the last shared units: exact shares, rounding, minimums, and the guarantee
that the channels together never offer more than the warehouse has."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from stock.allocation import Claim, largest_remainder, split_warehouse
from stock.availability import storefront_availability
from stock.models import Order
from stock.selectors import channel_salable, channel_salable_many
from tests.stock.factories import VariantFactory, place, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

# --- The split itself (no database) ----------------------------------------------------------


def claim(channel_id: int, weight: int = 1, *, minimum: int = 1, taken: int = 0) -> Claim:
    return Claim(
        channel_id=channel_id,
        channel_code=f"c{channel_id}",
        weight=weight,
        minimum=minimum,
        taken=taken,
    )


def test_largest_remainder_gives_leftover_units_to_the_largest_fractions():
    shares = largest_remainder(10, [("a", 5), ("b", 3), ("c", 2)])

    assert shares == {"a": 5, "b": 3, "c": 2}
    assert largest_remainder(10, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainder(7, [("a", 2), ("b", 1)]) == {"a": 5, "b": 2}  # 4.67, 2.33


def test_largest_remainder_raises_a_small_part_to_its_minimum_and_splits_the_rest():
    shares = largest_remainder(10, [("a", 98), ("b", 1), ("c", 1)], {"a": 1, "b": 1, "c": 1})

    assert shares == {"a": 8, "b": 1, "c": 1}


def test_minimums_are_dropped_when_there_are_fewer_units_than_channels():
    shares = largest_remainder(2, [("a", 98), ("b", 1), ("c", 1)], {"a": 1, "b": 1, "c": 1})

    assert shares == {"a": 2, "b": 0, "c": 0}


def test_split_of_a_fresh_pool_follows_the_weights():
    shares = split_warehouse(10, [claim(1, 3), claim(2, 1)])

    assert shares == {1: 8, 2: 2}  # 7.5 and 2.5: the tie goes to the heavier channel


def test_a_channels_own_sales_come_out_of_its_own_share_only():
    before = split_warehouse(10, [claim(1), claim(2)])

    after = split_warehouse(7, [claim(1, taken=3), claim(2)])

    assert (before, after) == ({1: 5, 2: 5}, {1: 2, 2: 5})


def test_a_channel_over_its_quota_leaves_the_others_only_what_exists():
    shares = split_warehouse(4, [claim(1, taken=6), claim(2), claim(3)])

    assert shares == {1: 0, 2: 2, 3: 2}  # pool 10: quotas 4/3/3, but only 4 units are left


def test_nothing_is_shared_when_nothing_is_available():
    assert split_warehouse(0, [claim(1), claim(2)]) == {1: 0, 2: 0}
    assert split_warehouse(-3, [claim(1), claim(2)]) == {1: 0, 2: 0}


claims_strategy = st.lists(
    st.tuples(st.integers(1, 50), st.integers(0, 3), st.integers(0, 20)), min_size=1, max_size=5
)


@settings(max_examples=300, deadline=None)
@given(available=st.integers(-5, 200), parts=claims_strategy)
def test_shares_never_add_up_to_more_than_is_available(available, parts):
    claims = [
        claim(index, weight, minimum=minimum, taken=taken)
        for index, (weight, minimum, taken) in enumerate(parts, start=1)
    ]

    shares = split_warehouse(available, claims)

    assert all(share >= 0 for share in shares.values())
    assert sum(shares.values()) <= max(available, 0)
    quotas_respected = sum(shares.values()) == max(available, 0) or available <= 0
    assert quotas_respected or any(
        part.taken > 0 for part in claims
    )  # short of available only when someone took more than its quota


@settings(max_examples=200, deadline=None)
@given(
    available=st.integers(1, 60),
    weights=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    sellers=st.lists(st.integers(0, 3), max_size=80),
)
def test_a_sale_never_moves_another_channels_share(available, weights, sellers):
    """However late a store reports its sales, what the others were offered stays theirs:
    each channel sells only what it was offered, and the warehouse is never oversold."""
    taken = [0] * len(weights)
    offered = split_warehouse(available, [claim(i, weight) for i, weight in enumerate(weights)])
    for seller in sellers:
        seller %= len(weights)
        if offered[seller] == 0:
            continue
        taken[seller] += 1
        available -= 1
        after = split_warehouse(
            available,
            [claim(i, weight, taken=taken[i]) for i, weight in enumerate(weights)],
        )
        assert after == {**offered, seller: offered[seller] - 1}
        offered = after
    assert available >= 0


# --- The salable breakdown and the storefront (PostgreSQL) -----------------------------------


@pytest.fixture
def variant():
    return VariantFactory(low_stock_threshold=0)


@pytest.fixture
def shared():
    return WarehouseFactory(code="SHARED")


def selling_from(code: str, *warehouses, **fields):
    channel = SalesChannelFactory(code=code, **fields)
    for priority, warehouse in enumerate(warehouses, start=1):
        ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=priority)
    return channel


def salable_of(*channels, variant) -> list[int]:
    return [channel_salable(channel, variant).salable for channel in channels]


def placed_days_ago(order, days: int) -> None:
    Order.objects.filter(pk=order.order.pk).update(placed_at=timezone.now() - timedelta(days=days))


@pytest.mark.django_db
def test_allocation_is_off_by_default(variant, shared):
    woo, magento = selling_from("woo", shared), selling_from("magento", shared)
    stocked(variant, shared, 4)

    salables = [channel_salable(channel, variant) for channel in (woo, magento)]

    assert [(s.salable, s.breakdown[0].share) for s in salables] == [(4, None), (4, None)]


@pytest.mark.django_db
def test_shared_units_at_the_threshold_are_split_exactly(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 10)

    salables = [channel_salable(channel, variant) for channel in (woo, magento)]

    assert [(s.salable, s.breakdown[0].share, s.breakdown[0].counted) for s in salables] == [
        (5, 5, 5),
        (5, 5, 5),
    ]
    assert [s.breakdown[0].available for s in salables] == [10, 10]


@pytest.mark.django_db
def test_one_unit_above_the_threshold_is_not_split(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared)
    stocked(variant, shared, 11)

    assert salable_of(woo, magento, variant=variant) == [11, 11]


@pytest.mark.django_db
def test_the_highest_threshold_of_the_channels_sharing_a_warehouse_splits_it_for_all(
    variant, shared
):
    woo = selling_from("woo", shared, allocation_threshold=3)
    magento = selling_from("magento", shared, allocation_threshold=8)
    stocked(variant, shared, 8)

    assert salable_of(woo, magento, variant=variant) == [4, 4]


@pytest.mark.django_db
def test_shares_follow_recent_sales(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 18)
    placed_days_ago(place(woo, "w1", (variant.sku, 6)), 2)
    placed_days_ago(place(magento, "m1", (variant.sku, 2)), 2)

    assert salable_of(woo, magento, variant=variant) == [8, 2]  # 10 units weighed 6:2 → 7.5/2.5


@pytest.mark.django_db
def test_sales_older_than_the_weight_window_do_not_weigh(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 18)
    placed_days_ago(place(woo, "w1", (variant.sku, 8)), 9)

    assert salable_of(woo, magento, variant=variant) == [5, 5]


@pytest.mark.django_db
def test_a_sale_lowers_only_the_sellers_share(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 10)

    place(woo, "w1", (variant.sku, 2))
    place(woo, "w2", (variant.sku, 1))

    assert salable_of(woo, magento, variant=variant) == [2, 5]


@pytest.mark.django_db
def test_each_channel_keeps_its_minimum_while_there_are_enough_units(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10, allocation_minimum=3)
    stocked(variant, shared, 30)
    placed_days_ago(place(woo, "w1", (variant.sku, 20)), 2)

    assert salable_of(woo, magento, variant=variant) == [7, 3]  # by weight: 9.5 and 0.5


@pytest.mark.django_db
def test_minimums_are_dropped_when_fewer_units_than_channels(variant, shared):
    channels = [selling_from(code, shared, allocation_threshold=5) for code in ("a", "b", "c")]
    stocked(variant, shared, 12)
    placed_days_ago(place(channels[0], "a1", (variant.sku, 10)), 2)

    assert salable_of(*channels, variant=variant) == [2, 0, 0]


@pytest.mark.django_db
def test_only_the_shared_warehouse_is_split(variant, shared):
    own = WarehouseFactory(code="OWN")
    woo = selling_from("woo", shared, own, allocation_threshold=10)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 6)
    stocked(variant, own, 4)

    woo_salable = channel_salable(woo, variant)

    assert [(part.warehouse_code, part.counted, part.share) for part in woo_salable.breakdown] == [
        ("SHARED", 3, 3),
        ("OWN", 4, None),
    ]
    assert (woo_salable.salable, channel_salable(magento, variant).salable) == (7, 3)


@pytest.mark.django_db
def test_an_inactive_channel_takes_no_share(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    selling_from("magento", shared, allocation_threshold=10, is_active=False)
    stocked(variant, shared, 6)

    assert salable_of(woo, variant=variant) == [6]


@pytest.mark.django_db
def test_the_buffer_comes_off_the_share(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10, safety_buffer=1)
    magento = selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 6)

    assert salable_of(woo, magento, variant=variant) == [2, 3]


@pytest.mark.django_db
def test_the_storefront_shows_the_share(variant, shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    selling_from("magento", shared, allocation_threshold=10)
    stocked(variant, shared, 9)

    (answer,), _ = storefront_availability(channel=woo, skus=[variant.sku])

    assert answer.salable_quantity == 4  # 4.5 each: the tie goes to "magento", first by code


@pytest.mark.django_db
def test_no_extra_query_while_no_channel_has_allocation_on(variant, shared):
    woo, _ = selling_from("woo", shared), selling_from("magento", shared)
    stocked(variant, shared, 3)
    elsewhere = WarehouseFactory(code="ELSEWHERE")
    other = selling_from("other", elsewhere)
    stocked(variant, elsewhere, 3)

    with CaptureQueriesContext(connection) as off:
        channel_salable_many(woo, [variant])
    with CaptureQueriesContext(connection) as alone:
        channel_salable_many(other, [variant])

    # Links, levels, expired holds, forced statuses and open shortfalls: none for allocation.
    assert len(off) == len(alone) == 5


@pytest.mark.django_db
def test_allocation_costs_two_queries_whatever_the_count(shared):
    woo = selling_from("woo", shared, allocation_threshold=10)
    selling_from("magento", shared, allocation_threshold=10)
    variants = [VariantFactory() for _ in range(5)]
    for variant in variants:
        stocked(variant, shared, 4)

    with CaptureQueriesContext(connection) as one:
        channel_salable_many(woo, variants[:1])
    with CaptureQueriesContext(connection) as five:
        result = channel_salable_many(woo, variants)

    # The five of a channel without allocation, and its two.
    assert len(one) == len(five) == 7
    assert [result[variant.pk].salable for variant in variants] == [2, 2, 2, 2, 2]
