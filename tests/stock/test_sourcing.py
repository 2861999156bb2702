"""Source selection: which warehouses hold each line (plan_allocations, then place_order)."""

from decimal import Decimal

import pytest

from stock.services.sourcing import Candidate, LineRequest, haversine_km, plan_allocations
from tests.stock.factories import VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory

SHEET, PILLOW, DUVET = 101, 102, 103
# Warehouse ids used by the pure tests; codes sort in the same order.
A, B, C = 1, 2, 3

LONDON = (51.5074, -0.1278)
MANCHESTER = (53.4808, -2.2426)
EDINBURGH = (55.9533, -3.1883)
PARIS = (48.8566, 2.3522)


def warehouse(warehouse_id: int, priority: int, at: tuple[float, float] | None = None) -> Candidate:
    return Candidate(
        warehouse_id=warehouse_id,
        warehouse_code="ABC"[warehouse_id - 1],
        priority=priority,
        latitude=Decimal(str(at[0])) if at else None,
        longitude=Decimal(str(at[1])) if at else None,
    )


def line(number: int, variant_id: int, quantity: int, *, backorders: bool = False):
    return LineRequest(
        line_number=number, variant_id=variant_id, quantity=quantity, allows_backorders=backorders
    )


def plan(strategy, candidates, lines, available, shipping=None):
    """{line number: (allocations, backordered, short by)} for easy exact comparison."""
    plans = plan_allocations(
        strategy=strategy,
        candidates=candidates,
        lines=lines,
        available=available,
        shipping=shipping,
    )
    return {p.line_number: (p.allocations, p.backordered, p.short_by) for p in plans}


# --- Priority -------------------------------------------------------------------------------


def test_priority_takes_a_line_whole_from_the_first_warehouse():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("priority", candidates, [line(1, SHEET, 3)], {(SHEET, A): 10, (SHEET, B): 10})

    assert result == {1: ([(A, 3)], 0, 0)}


def test_priority_skips_a_warehouse_without_stock():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("priority", candidates, [line(1, SHEET, 3)], {(SHEET, A): 0, (SHEET, B): 5})

    assert result == {1: ([(B, 3)], 0, 0)}


def test_priority_takes_a_line_whole_from_a_later_warehouse_rather_than_split_it():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("priority", candidates, [line(1, SHEET, 3)], {(SHEET, A): 2, (SHEET, B): 5})

    assert result == {1: ([(B, 3)], 0, 0)}


def test_priority_splits_a_line_in_priority_order_only_when_no_warehouse_covers_it():
    candidates = [warehouse(C, 3), warehouse(A, 1), warehouse(B, 2)]
    available = {(SHEET, A): 2, (SHEET, B): 2, (SHEET, C): 5}

    result = plan("priority", candidates, [line(1, SHEET, 6)], available)

    assert result == {1: ([(A, 2), (B, 2), (C, 2)], 0, 0)}


def test_line_no_warehouses_together_cover_is_short_by_the_rest():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("priority", candidates, [line(1, SHEET, 5)], {(SHEET, A): 2, (SHEET, B): 1})

    assert result[1][1:] == (0, 2)


def test_warehouse_below_zero_gives_nothing():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("priority", candidates, [line(1, SHEET, 3)], {(SHEET, A): -4, (SHEET, B): 2})

    assert result == {1: ([(B, 2)], 0, 1)}


def test_backorder_line_holds_what_no_warehouse_has_at_the_first_warehouse():
    candidates = [warehouse(A, 1), warehouse(B, 2)]
    available = {(SHEET, A): 2, (SHEET, B): 1}

    result = plan("priority", candidates, [line(1, SHEET, 5, backorders=True)], available)

    assert result == {1: ([(A, 4), (B, 1)], 2, 0)}


def test_each_line_is_planned_against_the_stock_earlier_lines_left():
    candidates = [warehouse(A, 1), warehouse(B, 2)]
    available = {(SHEET, A): 4, (PILLOW, A): 1, (PILLOW, B): 1}

    result = plan("priority", candidates, [line(1, SHEET, 4), line(2, PILLOW, 2)], available)

    assert result == {1: ([(A, 4)], 0, 0), 2: ([(A, 1), (B, 1)], 0, 0)}


# --- Distance -------------------------------------------------------------------------------


def test_haversine_gives_the_great_circle_distance():
    assert round(haversine_km(*LONDON, *PARIS), 1) == 343.6
    assert round(haversine_km(0, 0, 0, 1), 2) == 111.19
    assert haversine_km(*LONDON, *LONDON) == 0


def test_distance_takes_the_line_from_the_nearest_warehouse():
    candidates = [warehouse(A, 1, MANCHESTER), warehouse(B, 2, LONDON), warehouse(C, 3, PARIS)]
    available = {(SHEET, A): 5, (SHEET, B): 5, (SHEET, C): 5}

    result = plan("distance", candidates, [line(1, SHEET, 2)], available, shipping=PARIS)

    assert result == {1: ([(C, 2)], 0, 0)}


def test_distance_takes_the_line_whole_from_the_nearest_warehouse_that_covers_it():
    candidates = [warehouse(A, 1, EDINBURGH), warehouse(B, 2, MANCHESTER), warehouse(C, 3, PARIS)]
    available = {(SHEET, A): 5, (SHEET, B): 5, (SHEET, C): 1}

    result = plan("distance", candidates, [line(1, SHEET, 2)], available, shipping=LONDON)

    assert result == {1: ([(B, 2)], 0, 0)}


def test_distance_splits_nearest_first():
    candidates = [warehouse(A, 1, EDINBURGH), warehouse(B, 2, MANCHESTER), warehouse(C, 3, PARIS)]
    available = {(SHEET, A): 5, (SHEET, B): 2, (SHEET, C): 3}

    result = plan("distance", candidates, [line(1, SHEET, 9)], available, shipping=LONDON)

    assert result == {1: ([(B, 2), (C, 3), (A, 4)], 0, 0)}


def test_distance_falls_back_to_priority_when_the_order_has_no_coordinates():
    candidates = [warehouse(A, 2, LONDON), warehouse(B, 1, EDINBURGH)]
    available = {(SHEET, A): 5, (SHEET, B): 5}

    result = plan("distance", candidates, [line(1, SHEET, 2)], available, shipping=None)

    assert result == {1: ([(B, 2)], 0, 0)}


def test_distance_puts_warehouses_without_coordinates_last():
    candidates = [warehouse(A, 1, None), warehouse(B, 2, EDINBURGH)]
    available = {(SHEET, A): 5, (SHEET, B): 5}

    result = plan("distance", candidates, [line(1, SHEET, 2)], available, shipping=LONDON)

    assert result == {1: ([(B, 2)], 0, 0)}


def test_distance_uses_priority_when_no_warehouse_has_coordinates():
    candidates = [warehouse(A, 2, None), warehouse(B, 1, None)]
    available = {(SHEET, A): 5, (SHEET, B): 5}

    result = plan("distance", candidates, [line(1, SHEET, 2)], available, shipping=LONDON)

    assert result == {1: ([(B, 2)], 0, 0)}


# --- Most stock -----------------------------------------------------------------------------


def test_most_stock_takes_the_line_from_the_warehouse_with_most_available():
    candidates = [warehouse(A, 1), warehouse(B, 2)]

    result = plan("most_stock", candidates, [line(1, SHEET, 2)], {(SHEET, A): 5, (SHEET, B): 9})

    assert result == {1: ([(B, 2)], 0, 0)}


def test_most_stock_splits_largest_first():
    candidates = [warehouse(A, 1), warehouse(B, 2), warehouse(C, 3)]
    available = {(SHEET, A): 3, (SHEET, B): 4, (SHEET, C): 2}

    result = plan("most_stock", candidates, [line(1, SHEET, 8)], available)

    assert result == {1: ([(B, 4), (A, 3), (C, 1)], 0, 0)}


# --- Fewest warehouses on a tie -------------------------------------------------------------


def test_equal_priorities_prefer_the_warehouse_covering_more_of_the_order():
    candidates = [warehouse(A, 1), warehouse(B, 1)]
    available = {(SHEET, A): 5, (SHEET, B): 5, (PILLOW, B): 5}

    result = plan("priority", candidates, [line(1, SHEET, 1), line(2, PILLOW, 1)], available)

    assert result == {1: ([(B, 1)], 0, 0), 2: ([(B, 1)], 0, 0)}


def test_lower_priority_number_still_wins_over_covering_more_lines():
    candidates = [warehouse(A, 1), warehouse(B, 2)]
    available = {(SHEET, A): 5, (SHEET, B): 5, (PILLOW, B): 5}

    result = plan("priority", candidates, [line(1, SHEET, 1), line(2, PILLOW, 1)], available)

    assert result == {1: ([(A, 1)], 0, 0), 2: ([(B, 1)], 0, 0)}


def test_equal_stock_prefers_the_warehouse_covering_more_of_the_order():
    candidates = [warehouse(A, 1), warehouse(B, 2)]
    available = {(SHEET, A): 5, (SHEET, B): 5, (PILLOW, B): 5, (DUVET, B): 5}

    result = plan(
        "most_stock",
        candidates,
        [line(1, SHEET, 1), line(2, PILLOW, 1), line(3, DUVET, 1)],
        available,
    )

    assert [allocations for allocations, _, _ in result.values()] == [[(B, 1)]] * 3


def test_equally_near_warehouses_prefer_the_one_covering_more_of_the_order():
    # A is 200 m nearer the customer, but both are the same whole kilometre away.
    candidates = [warehouse(A, 1, (51.5092, -0.1278)), warehouse(B, 2, (51.5074, -0.1278))]
    available = {(SHEET, A): 5, (SHEET, B): 5, (PILLOW, B): 5}

    result = plan(
        "distance",
        candidates,
        [line(1, SHEET, 1), line(2, PILLOW, 1)],
        available,
        shipping=MANCHESTER,
    )

    assert result == {1: ([(B, 1)], 0, 0), 2: ([(B, 1)], 0, 0)}


# --- Through place_order --------------------------------------------------------------------


@pytest.mark.django_db
def test_placing_skips_an_inactive_warehouse():
    closed, open_ = WarehouseFactory(code="CLOSED"), WarehouseFactory(code="OPEN")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, closed, 5)
    stocked(sheet, open_, 5)
    # Its stock is still on the shelves, but a closed warehouse sells nothing.
    closed.is_active = False
    closed.save(update_fields=["is_active"])
    channel = channel_selling_from(closed, open_)

    placed = place(channel, "A-1", ("SHEET", 2))

    assert [(a.warehouse.code, a.quantity) for a in placed.lines[0].allocations.all()] == [
        ("OPEN", 2)
    ]


@pytest.mark.django_db
def test_placing_ignores_stock_at_warehouses_the_channel_does_not_sell_from():
    linked, unlinked = WarehouseFactory(code="LINKED"), WarehouseFactory(code="UNLINKED")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, linked, 1)
    stocked(sheet, unlinked, 50)
    channel = channel_selling_from(linked)

    placed = place(channel, "A-1", ("SHEET", 1))

    assert [a.warehouse.code for a in placed.lines[0].allocations.all()] == ["LINKED"]


@pytest.mark.django_db
def test_distance_channel_holds_at_the_warehouse_nearest_the_shipping_address():
    far = WarehouseFactory(
        code="EDINBURGH", latitude=Decimal("55.9533"), longitude=Decimal("-3.1883")
    )
    near = WarehouseFactory(code="PARIS", latitude=Decimal("48.8566"), longitude=Decimal("2.3522"))
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, far, 5)
    stocked(sheet, near, 5)
    channel = channel_selling_from(far, near, source_selection="distance")

    placed = place(channel, "A-1", ("SHEET", 2), shipping_latitude=50.85, shipping_longitude=4.35)

    assert [a.warehouse.code for a in placed.lines[0].allocations.all()] == ["PARIS"]


@pytest.mark.django_db
def test_distance_channel_follows_priority_for_an_order_without_an_address():
    first = WarehouseFactory(
        code="EDINBURGH", latitude=Decimal("55.9533"), longitude=Decimal("-3.1883")
    )
    second = WarehouseFactory(
        code="PARIS", latitude=Decimal("48.8566"), longitude=Decimal("2.3522")
    )
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, first, 5)
    stocked(sheet, second, 5)
    channel = channel_selling_from(first, second, source_selection="distance")

    placed = place(channel, "A-1", ("SHEET", 2))

    assert [a.warehouse.code for a in placed.lines[0].allocations.all()] == ["EDINBURGH"]


@pytest.mark.django_db
def test_most_stock_channel_holds_where_most_is_available():
    small, large = WarehouseFactory(code="SMALL"), WarehouseFactory(code="LARGE")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, small, 5)
    stocked(sheet, large, 8)
    channel = channel_selling_from(small, large, source_selection="most_stock")

    placed = place(channel, "A-1", ("SHEET", 2))

    assert [a.warehouse.code for a in placed.lines[0].allocations.all()] == ["LARGE"]


@pytest.mark.django_db
def test_placing_needs_the_fewest_warehouses_when_priorities_are_equal():
    partial, complete = WarehouseFactory(code="AAA"), WarehouseFactory(code="BBB")
    sheet, pillow = VariantFactory(sku="SHEET"), VariantFactory(sku="PILLOW")
    stocked(sheet, partial, 5)
    stocked(sheet, complete, 5)
    stocked(pillow, complete, 5)
    channel = channel_selling_from(partial, complete)
    channel.links.update(priority=1)

    placed = place(channel, "A-1", ("SHEET", 1), ("PILLOW", 1))

    assert [
        [a.warehouse.code for a in order_line.allocations.all()] for order_line in placed.lines
    ] == [["BBB"], ["BBB"]]
