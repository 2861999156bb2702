"""Short orders: a store sold more than the hub can hold; the rest is recorded as a shortfall."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stock.errors import HoldExpired, InsufficientStock, InvalidOrderState
from stock.models import (
    Allocation,
    BackorderPolicy,
    MovementKind,
    OrderLine,
    OrderStatus,
)
from stock.selectors import channel_salable, channel_salable_many
from stock.services import receive_stock
from stock.services.orders import (
    cancel_order,
    cancel_short_units,
    fill_shortfall,
    pay_order,
    ship_order,
)
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    channel_selling_from,
    order_movements,
    orders_state,
    place,
    set_clock,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def channel(north, south):
    return channel_selling_from(north, south, code="woo")


@pytest.fixture
def sheet():
    return VariantFactory(sku="SHEET")


def line_of(order, number: int = 1) -> OrderLine:
    return OrderLine.objects.get(order=order, line_number=number)


def held(order) -> list[tuple[str, int, str]]:
    return sorted(
        Allocation.objects.filter(line__order=order).values_list(
            "warehouse__code", "quantity", "status"
        )
    )


# --- Recording --------------------------------------------------------------------------------


def test_short_store_order_holds_what_there_is_and_records_the_rest(
    channel, north, south, sheet, verify_ledger_clean
):
    level = stocked(sheet, north, 13)

    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)

    assert placed.created
    assert placed.order.status == OrderStatus.PLACED
    line = line_of(placed.order)
    assert (line.quantity, line.short_quantity, line.backordered_quantity) == (18, 5, 0)
    assert held(placed.order) == [("NORTH", 13, "held")]
    assert balance_of(level) == Balance(on_hand=13, reserved=13, version=2)
    assert [(m.kind, m.delta_reserved) for m in order_movements(placed.order)] == [
        (MovementKind.RESERVE, 13)
    ]
    verify_ledger_clean()


def test_short_order_holds_across_warehouses_before_recording_a_shortfall(
    channel, north, south, sheet
):
    stocked(sheet, north, 4)
    stocked(sheet, south, 3)

    placed = place(channel, "W-1", ("SHEET", 10), accept_shortfall=True)

    assert line_of(placed.order).short_quantity == 3
    assert held(placed.order) == [("NORTH", 4, "held"), ("SOUTH", 3, "held")]


def test_line_no_warehouse_stocks_is_recorded_short_whole(channel, sheet):
    VariantFactory(sku="PILLOW")
    stocked(sheet, channel.warehouses.get(code="NORTH"), 5)

    placed = place(channel, "W-1", ("SHEET", 2), ("PILLOW", 3), accept_shortfall=True)

    assert [(line.line_number, line.short_quantity) for line in placed.order.lines.all()] == [
        (1, 0),
        (2, 3),
    ]
    assert held(placed.order) == [("NORTH", 2, "held")]


def test_a_short_order_replayed_returns_the_recorded_order(channel, north, sheet):
    stocked(sheet, north, 13)
    first = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    before = orders_state()

    again = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)

    assert (again.created, again.order.pk) == (False, first.order.pk)
    assert orders_state() == before


def test_without_accepting_a_shortfall_a_short_order_is_still_refused(channel, north, sheet):
    stocked(sheet, north, 13)
    before = orders_state()

    with pytest.raises(InsufficientStock):
        place(channel, "W-1", ("SHEET", 18))

    assert orders_state() == before


def test_a_variant_allowing_backorders_is_backordered_not_short(channel, north):
    pre_order = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    stocked(pre_order, north, 2)

    placed = place(channel, "W-1", ("PRE", 5), accept_shortfall=True)

    line = line_of(placed.order)
    assert (line.short_quantity, line.backordered_quantity) == (0, 3)


# --- What the channel may sell ----------------------------------------------------------------


def test_shortfall_counts_against_the_channel_after_the_buffer(channel, north, sheet):
    channel.safety_buffer = 2
    channel.save(update_fields=["safety_buffer"])
    stocked(sheet, north, 13)
    place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)

    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)

    figures = channel_salable(channel, sheet)
    assert (figures.total_available, figures.buffer, figures.shortfall, figures.salable) == (
        10,
        2,
        5,
        3,
    )


def test_shortfall_never_makes_salable_negative(channel, north, sheet):
    stocked(sheet, north, 13)

    place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)

    figures = channel_salable(channel, sheet)
    assert (figures.total_available, figures.shortfall, figures.salable) == (0, 5, 0)


def test_shortfall_counts_only_on_the_channel_whose_order_it_is(north, sheet):
    woo = channel_selling_from(north, code="woo")
    magento = channel_selling_from(north, code="magento")
    stocked(sheet, north, 3)
    place(woo, "W-1", ("SHEET", 5), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=4, actor=SYSTEM)

    assert channel_salable(woo, sheet).salable == 2
    assert channel_salable(magento, sheet).salable == 4


def test_shortfall_stops_counting_when_its_order_is_cancelled(channel, north, sheet):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)

    cancel_order(order=placed.order, actor=SYSTEM)

    figures = channel_salable(channel, sheet)
    assert (figures.shortfall, figures.salable) == (0, 23)


def test_shortfall_stops_counting_when_the_unpaid_hold_expires(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)

    set_clock(monkeypatch, placed.order.expires_at + timedelta(seconds=1))

    figures = channel_salable(channel, sheet)
    assert (figures.shortfall, figures.salable) == (0, 13)


def test_shortfall_query_is_one_for_many_variants(channel, north, django_assert_num_queries):
    variants = [VariantFactory(sku=f"SKU-{n}") for n in range(3)]
    for variant in variants:
        stocked(variant, north, 1)
        place(channel, f"W-{variant.sku}", (variant.sku, 2), accept_shortfall=True)

    # The five of every call, and the transfer holds of the levels with anything reserved.
    with django_assert_num_queries(6):
        figures = channel_salable_many(channel, variants)

    assert [figures[variant.pk].shortfall for variant in variants] == [1, 1, 1]


# --- Resolving --------------------------------------------------------------------------------


def test_fill_shortfall_holds_restocked_units_and_reduces_the_shortfall(
    channel, north, sheet, verify_ledger_clean
):
    level = stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)

    fill_shortfall(order=placed.order, actor=SYSTEM)

    assert line_of(placed.order).short_quantity == 0
    assert held(placed.order) == [("NORTH", 18, "held")]
    assert balance_of(level).reserved == 18
    assert channel_salable(channel, sheet).salable == 5
    verify_ledger_clean()


def test_fill_shortfall_takes_what_there_is_and_again_the_rest(
    channel, north, south, sheet, verify_ledger_clean
):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=south, quantity=2, actor=SYSTEM)

    fill_shortfall(order=placed.order, actor=SYSTEM)
    assert line_of(placed.order).short_quantity == 3
    receive_stock(variant=sheet, warehouse=south, quantity=5, actor=SYSTEM)
    fill_shortfall(order=placed.order, actor=SYSTEM)

    assert line_of(placed.order).short_quantity == 0
    assert held(placed.order) == [("NORTH", 13, "held"), ("SOUTH", 5, "held")]
    verify_ledger_clean()


def test_fill_shortfall_with_nothing_available_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    before = orders_state()

    fill_shortfall(order=placed.order, actor=SYSTEM)

    assert orders_state() == before


def test_filled_units_are_released_with_the_order(channel, north, sheet, verify_ledger_clean):
    level = stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)
    fill_shortfall(order=placed.order, actor=SYSTEM)

    cancel_order(order=placed.order, actor=SYSTEM)

    assert balance_of(level).reserved == 0
    verify_ledger_clean()


def test_filled_units_ship_with_the_order(channel, north, sheet, verify_ledger_clean):
    level = stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)
    fill_shortfall(order=placed.order, actor=SYSTEM)

    ship_order(order=placed.order, actor=SYSTEM)

    assert (balance_of(level).on_hand, balance_of(level).reserved) == (5, 0)
    verify_ledger_clean()


def test_fill_shortfall_refused_once_the_unpaid_hold_expired(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    set_clock(monkeypatch, placed.order.expires_at + timedelta(seconds=1))

    with pytest.raises(HoldExpired):
        fill_shortfall(order=placed.order, actor=SYSTEM)


def test_fill_shortfall_refused_on_a_cancelled_order(channel, north, sheet):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    cancel_order(order=placed.order, actor=SYSTEM)

    with pytest.raises(InvalidOrderState):
        fill_shortfall(order=placed.order, actor=SYSTEM)


def test_cancel_short_units_keeps_the_held_units_and_ends_the_shortfall(channel, north, sheet):
    level = stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    pay_order(order=placed.order, actor=SYSTEM)
    receive_stock(variant=sheet, warehouse=north, quantity=10, actor=SYSTEM)

    order = cancel_short_units(order=placed.order, actor=SYSTEM)

    line = line_of(order)
    assert (order.status, line.quantity, line.short_quantity, line.status) == (
        OrderStatus.PAID,
        13,
        0,
        OrderLine.Status.OPEN,
    )
    assert balance_of(level).reserved == 13
    assert channel_salable(channel, sheet).salable == 10


def test_cancel_short_units_of_an_order_holding_nothing_cancels_it(channel, north, sheet):
    stocked(sheet, north, 2)
    place(channel, "W-0", ("SHEET", 2))
    placed = place(channel, "W-1", ("SHEET", 4), accept_shortfall=True)

    order = cancel_short_units(order=placed.order, actor=SYSTEM)

    assert order.status == OrderStatus.CANCELLED
    assert line_of(order).status == OrderLine.Status.RELEASED
    assert channel_salable(channel, sheet).shortfall == 0


def test_cancel_short_units_twice_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 13)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    cancel_short_units(order=placed.order, actor=SYSTEM)
    before = orders_state()

    cancel_short_units(order=placed.order, actor=SYSTEM)

    assert orders_state() == before


def test_a_short_order_holding_nothing_still_has_its_after_commit_reactions(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 2)
    place(channel, "W-0", ("SHEET", 2))

    with django_capture_on_commit_callbacks() as callbacks:
        placed = place(channel, "W-1", ("SHEET", 4), accept_shortfall=True)

    assert line_of(placed.order).short_quantity == 4
    # The cached storefront answer is dropped, and order.changed is sent.
    assert len(callbacks) == 2


def test_an_order_expiring_later_counts_its_shortfall_until_then(channel, north, sheet):
    stocked(sheet, north, 1)
    placed = place(channel, "W-1", ("SHEET", 3), accept_shortfall=True, hold_minutes=5)
    assert placed.order.expires_at > timezone.now()

    assert channel_salable(channel, sheet).shortfall == 2


def test_expiring_a_short_order_holding_nothing_queues_its_reactions(
    channel, north, sheet, monkeypatch, django_capture_on_commit_callbacks
):
    from stock.services.orders import release_expired_holds

    stocked(sheet, north, 2)
    place(channel, "W-0", ("SHEET", 2))
    placed = place(channel, "W-1", ("SHEET", 4), accept_shortfall=True)
    announced = []
    monkeypatch.setattr(
        "stock.services.orders.expiry.shortfall_changed_in_transaction",
        lambda variant_ids: announced.extend(variant_ids),
    )

    expired = release_expired_holds(now=placed.order.expires_at + timedelta(seconds=1))

    assert expired == 2
    assert announced == [sheet.pk]


def test_fill_shortfall_takes_units_whose_hold_expired(
    channel, north, sheet, monkeypatch, verify_ledger_clean
):
    stocked(sheet, north, 3)
    unpaid = place(channel, "W-0", ("SHEET", 3), hold_minutes=5).order
    placed = place(channel, "W-1", ("SHEET", 2), accept_shortfall=True, hold_minutes=60)
    pay_order(order=placed.order, actor=SYSTEM)
    set_clock(monkeypatch, unpaid.expires_at + timedelta(seconds=1))

    fill_shortfall(order=placed.order, actor=SYSTEM)

    assert line_of(placed.order).short_quantity == 0
    assert held(unpaid) == [("NORTH", 3, "released")]
    verify_ledger_clean()
