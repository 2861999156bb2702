"""Storefront availability: status per SKU, forced status beside the real one, cached."""

from dataclasses import asdict

import pytest
from django.core.cache import cache

from stock.availability import storefront_availability
from stock.models import BackorderPolicy
from stock.services import force_status, receive_stock
from stock.services.orders import cancel_short_units
from tests.stock.factories import (
    SYSTEM,
    VariantFactory,
    channel_selling_from,
    place,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def channel(north, south):
    return channel_selling_from(north, south, code="web")


@pytest.fixture
def sheet():
    """Shows 'only N left' at 5 or fewer."""
    return VariantFactory(sku="SHEET", low_stock_threshold=5)


def availability(channel, *skus):
    return storefront_availability(channel=channel, skus=list(skus))


def answer_for(channel, sku):
    (answer,), unknown = availability(channel, sku)
    assert unknown == []
    return answer


# --- Status ---------------------------------------------------------------------------------


def test_sku_above_its_threshold_is_in_stock(channel, north, south, sheet):
    stocked(sheet, north, 4)
    stocked(sheet, south, 2)

    answer = answer_for(channel, "SHEET")

    assert asdict(answer) == {
        "sku": "SHEET",
        "salable_quantity": 6,
        "status": "in_stock",
        "real_status": "in_stock",
        "forced_status": None,
        "message": "In stock",
    }


def test_sku_at_its_threshold_shows_only_n_left(channel, north, sheet):
    stocked(sheet, north, 5)

    answer = answer_for(channel, "SHEET")

    assert (answer.salable_quantity, answer.status, answer.message) == (
        5,
        "only_n_left",
        "Only 5 left",
    )


def test_sku_with_nothing_salable_is_out_of_stock(channel, north, sheet):
    stocked(sheet, north, 3)
    place(channel, "A-1", ("SHEET", 3))

    answer = answer_for(channel, "SHEET")

    assert (answer.salable_quantity, answer.status, answer.message) == (
        0,
        "out_of_stock",
        "Out of stock",
    )


def test_sku_that_allows_backorders_with_nothing_salable_is_preorder(channel, north):
    VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    place(channel, "A-1", ("PRE", 2))

    answer = answer_for(channel, "PRE")

    assert (answer.salable_quantity, answer.status, answer.message) == (
        0,
        "preorder",
        "Available to pre-order",
    )


def test_salable_quantity_keeps_the_channels_safety_buffer_back(channel, north, south, sheet):
    stocked(sheet, north, 10)
    stocked(sheet, south, 5)
    channel.safety_buffer = 3
    channel.save(update_fields=["safety_buffer"])

    assert answer_for(channel, "SHEET").salable_quantity == 12


def test_stock_at_an_unlinked_warehouse_is_not_salable(channel, north, sheet):
    stocked(sheet, north, 7)
    stocked(sheet, WarehouseFactory(code="ELSEWHERE"), 100)

    assert answer_for(channel, "SHEET").salable_quantity == 7


def test_untracked_sku_is_in_stock_without_a_quantity(channel):
    VariantFactory(sku="GIFT", manage_stock=False)

    answer = answer_for(channel, "GIFT")

    assert (answer.salable_quantity, answer.status, answer.real_status) == (
        None,
        "in_stock",
        "in_stock",
    )


def test_forced_status_is_shown_with_the_real_status_beside_it(channel, north, sheet):
    stocked(sheet, north, 20)
    force_status(
        variant=sheet, status="out_of_stock", reason="recall", actor=SYSTEM, channel=channel
    )

    answer = answer_for(channel, "SHEET")

    assert asdict(answer) == {
        "sku": "SHEET",
        "salable_quantity": 20,
        "status": "out_of_stock",
        "real_status": "in_stock",
        "forced_status": "out_of_stock",
        "message": "Out of stock",
    }


def test_forced_in_stock_shows_in_stock_while_the_stock_says_out(channel, sheet):
    force_status(variant=sheet, status="in_stock", reason="drop-shipped", actor=SYSTEM)

    answer = answer_for(channel, "SHEET")

    assert (answer.status, answer.real_status, answer.forced_status, answer.salable_quantity) == (
        "in_stock",
        "out_of_stock",
        "in_stock",
        0,
    )


def test_unknown_skus_are_listed_separately_in_the_order_asked(channel, north, sheet):
    stocked(sheet, north, 7)
    VariantFactory(sku="RETIRED", is_active=False)

    answers, unknown = availability(channel, "NOPE", "SHEET", "RETIRED", "SHEET", "ALSO-NOPE")

    assert [answer.sku for answer in answers] == ["SHEET"]
    assert unknown == ["NOPE", "RETIRED", "ALSO-NOPE"]


def test_answer_reveals_no_per_warehouse_numbers(channel, north, south, sheet):
    stocked(sheet, north, 4)
    stocked(sheet, south, 9)

    answer = answer_for(channel, "SHEET")

    assert set(asdict(answer)) == {
        "sku",
        "salable_quantity",
        "status",
        "real_status",
        "forced_status",
        "message",
    }
    assert not {"NORTH", "SOUTH", 4, 9} & set(asdict(answer).values())


# --- Cached, and dropped when stock changes -------------------------------------------------


def test_first_answer_reads_the_stock_in_six_queries(
    channel, north, sheet, django_assert_num_queries
):
    stocked(sheet, north, 7)
    VariantFactory(sku="PILLOW")

    # Variants by SKU; then, for all SKUs at once: channel links, levels, expired holds,
    # forced statuses, open shortfalls.
    with django_assert_num_queries(6):
        answers, _ = availability(channel, "SHEET", "PILLOW")

    assert [a.salable_quantity for a in answers] == [7, 0]


def test_cached_answer_costs_only_the_variant_lookup(
    channel, north, sheet, django_assert_num_queries
):
    stocked(sheet, north, 7)
    availability(channel, "SHEET")

    # The SKU → variant lookup still runs (it also finds unknown and retired SKUs); the
    # figures come from the cache.
    with django_assert_num_queries(1):
        answer = answer_for(channel, "SHEET")

    assert answer.salable_quantity == 7


def test_cached_answer_is_served_until_the_stock_change_reaction_runs(channel, north, sheet):
    stocked(sheet, north, 7)
    availability(channel, "SHEET")

    # The test transaction never commits, so the on-commit invalidation never runs.
    receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)

    assert answer_for(channel, "SHEET").salable_quantity == 7


def test_receiving_stock_drops_the_cached_answer(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 7)
    availability(channel, "SHEET")

    with django_capture_on_commit_callbacks(execute=True):
        receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)

    assert answer_for(channel, "SHEET").salable_quantity == 12


def test_placing_an_order_drops_the_cached_answer(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 7)
    assert answer_for(channel, "SHEET").status == "in_stock"

    with django_capture_on_commit_callbacks(execute=True):
        place(channel, "A-1", ("SHEET", 3))

    answer = answer_for(channel, "SHEET")
    assert (answer.salable_quantity, answer.status) == (4, "only_n_left")


def test_cancelling_short_units_drops_the_cached_answer(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 2)
    placed = place(channel, "A-1", ("SHEET", 6), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=9, actor=SYSTEM)
    assert answer_for(channel, "SHEET").salable_quantity == 5

    # No level changes: the shortfall alone stops counting.
    with django_capture_on_commit_callbacks(execute=True):
        cancel_short_units(order=placed.order, actor=SYSTEM)

    assert answer_for(channel, "SHEET").salable_quantity == 9


def test_stock_change_drops_the_cached_answer_on_every_channel(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    other = channel_selling_from(north, code="marketplace")
    stocked(sheet, north, 7)
    availability(channel, "SHEET")
    availability(other, "SHEET")

    with django_capture_on_commit_callbacks(execute=True):
        receive_stock(variant=sheet, warehouse=north, quantity=1, actor=SYSTEM)

    assert answer_for(channel, "SHEET").salable_quantity == 8
    assert answer_for(other, "SHEET").salable_quantity == 8


def test_forcing_a_status_drops_the_cached_answer(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 7)
    availability(channel, "SHEET")

    with django_capture_on_commit_callbacks(execute=True):
        force_status(variant=sheet, status="out_of_stock", reason="recall", actor=SYSTEM)

    assert answer_for(channel, "SHEET").status == "out_of_stock"


def test_change_to_one_sku_keeps_the_other_skus_cached(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    pillow = VariantFactory(sku="PILLOW")
    stocked(sheet, north, 7)
    stocked(pillow, north, 9)
    availability(channel, "SHEET", "PILLOW")
    # A pillow receipt whose reaction never runs: only a cache hit can still answer 9.
    receive_stock(variant=pillow, warehouse=north, quantity=1, actor=SYSTEM)

    with django_capture_on_commit_callbacks(execute=True):
        receive_stock(variant=sheet, warehouse=north, quantity=1, actor=SYSTEM)

    answers, _ = availability(channel, "SHEET", "PILLOW")
    assert [(a.sku, a.salable_quantity) for a in answers] == [("SHEET", 8), ("PILLOW", 9)]
