"""Orders: placing (all or nothing), paying, shipping, cancelling, backorders, bad input."""

from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone

from stock.errors import (
    HoldExpired,
    InsufficientStock,
    InvalidOrder,
    InvalidOrderState,
    InvalidQuantity,
    NotSellable,
    UnknownChannel,
    UnknownSku,
)
from stock.events import ORDERS_GROUP
from stock.models import (
    Allocation,
    BackorderPolicy,
    MovementKind,
    MovementSource,
    Order,
    OrderLine,
    OrderStatus,
    ReasonCode,
    StockLevel,
    StockStatus,
)
from stock.selectors import get_channel_by_code
from stock.services.ledger import MAX_QUANTITY
from stock.services.orders import (
    MAX_HOLD_MINUTES,
    OrderLineInput,
    cancel_order,
    pay_order,
    place_order,
    release_expired_holds,
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
from tests.stock.layer import listen, received
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
    """Sells from NORTH first (priority 1), then SOUTH (priority 2)."""
    return channel_selling_from(north, south, code="web")


@pytest.fixture
def sheet():
    return VariantFactory(sku="SHEET")


@pytest.fixture
def pillow():
    return VariantFactory(sku="PILLOW")


def allocations_of(order: Order) -> list[tuple[int, str, int, str]]:
    """(line number, warehouse code, quantity, status) for each allocation of the order."""
    return list(
        Allocation.objects.filter(line__order=order)
        .order_by("line__line_number", "warehouse__code")
        .values_list("line__line_number", "warehouse__code", "quantity", "status")
    )


def level_of(variant, warehouse) -> StockLevel:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse)


def reload(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


# --- Placing --------------------------------------------------------------------------------


def test_placing_reserves_each_line_and_says_which_warehouse_holds_it(
    channel, north, south, sheet, pillow
):
    sheet_north = stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 4)

    placed = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2))

    assert placed.created is True
    assert placed.order.status == OrderStatus.PLACED
    assert [(line.line_number, line.variant.sku, line.quantity) for line in placed.lines] == [
        (1, "SHEET", 3),
        (2, "PILLOW", 2),
    ]
    assert allocations_of(placed.order) == [(1, "NORTH", 3, "held"), (2, "SOUTH", 2, "held")]
    assert balance_of(sheet_north) == Balance(on_hand=5, reserved=3, version=2)
    assert balance_of(pillow_south) == Balance(on_hand=4, reserved=2, version=2)


def test_reserve_ledger_rows_name_the_order_as_their_source_document(channel, north, sheet):
    stocked(sheet, north, 5)

    placed = place(channel, "A-1", ("SHEET", 3))

    rows = order_movements(placed.order)
    assert [
        (
            row.kind,
            row.reason,
            row.source,
            row.document,
            row.delta_on_hand,
            row.delta_reserved,
            row.on_hand_after,
            row.reserved_after,
            row.actor_label,
        )
        for row in rows
    ] == [
        (
            MovementKind.RESERVE,
            ReasonCode.ORDER,
            MovementSource.ORDER,
            "order web/A-1",
            0,
            3,
            5,
            3,
            "tests",
        )
    ]
    assert rows[0].warehouse_id == north.pk


def test_placed_order_holds_for_the_channels_hold_time(channel, north, sheet):
    stocked(sheet, north, 5)
    channel.hold_minutes = 45
    channel.save(update_fields=["hold_minutes"])

    order = place(channel, "A-1", ("SHEET", 1)).order

    order = reload(order)
    assert order.expires_at == order.placed_at + timedelta(minutes=45)
    assert list(
        Allocation.objects.filter(line__order=order).values_list("expires_at", flat=True)
    ) == [order.expires_at]


def test_order_holds_for_30_minutes_by_default(north, sheet):
    stocked(sheet, north, 5)
    channel = channel_selling_from(north)

    order = reload(place(channel, "A-1", ("SHEET", 1)).order)

    assert order.expires_at - order.placed_at == timedelta(minutes=30)


def test_hold_minutes_given_with_the_order_override_the_channels(channel, north, sheet):
    stocked(sheet, north, 5)

    order = place(channel, "A-1", ("SHEET", 1), hold_minutes=5).order

    order = reload(order)
    assert order.expires_at == order.placed_at + timedelta(minutes=5)


def test_order_short_on_its_second_line_writes_nothing(channel, north, south, sheet, pillow):
    sheet_north = stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 1)
    before = orders_state()

    with pytest.raises(InsufficientStock) as refused:
        place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2))

    assert refused.value.details == {
        "lines": [{"line": 2, "sku": "PILLOW", "requested": 2, "available": 1, "missing": 1}]
    }
    assert orders_state() == before
    assert (Order.objects.count(), OrderLine.objects.count(), Allocation.objects.count()) == (
        0,
        0,
        0,
    )
    assert balance_of(sheet_north) == Balance(on_hand=5, version=1)
    assert balance_of(pillow_south) == Balance(on_hand=1, version=1)


def test_insufficient_stock_lists_every_short_line(channel, north, sheet, pillow):
    stocked(sheet, north, 2)
    stocked(pillow, north, 1)

    with pytest.raises(InsufficientStock) as refused:
        place(channel, "A-1", ("SHEET", 3), ("PILLOW", 4))

    assert refused.value.details == {
        "lines": [
            {"line": 1, "sku": "SHEET", "requested": 3, "available": 2, "missing": 1},
            {"line": 2, "sku": "PILLOW", "requested": 4, "available": 1, "missing": 3},
        ]
    }
    assert str(refused.value) == (
        "Not enough stock for line 1 (SHEET: 1 missing), line 2 (PILLOW: 3 missing)."
    )


def test_shortfall_counts_the_stock_of_every_linked_warehouse(channel, north, south, sheet):
    stocked(sheet, north, 3)
    stocked(sheet, south, 4)

    with pytest.raises(InsufficientStock) as refused:
        place(channel, "A-1", ("SHEET", 8))

    assert refused.value.details["lines"] == [
        {"line": 1, "sku": "SHEET", "requested": 8, "available": 7, "missing": 1}
    ]


def test_reserved_and_unsellable_units_are_not_offered_again(channel, north, sheet):
    stocked(sheet, north, 5)
    place(channel, "A-1", ("SHEET", 4))

    with pytest.raises(InsufficientStock) as refused:
        place(channel, "A-2", ("SHEET", 2))

    assert refused.value.details["lines"][0]["available"] == 1


def test_line_of_an_untracked_variant_is_recorded_without_a_hold(channel, north, sheet):
    gift_card = VariantFactory(sku="GIFT", manage_stock=False)
    stocked(sheet, north, 5)

    placed = place(channel, "A-1", ("SHEET", 1), ("GIFT", 3))

    assert [(line.variant.sku, line.quantity) for line in placed.lines] == [
        ("SHEET", 1),
        ("GIFT", 3),
    ]
    assert allocations_of(placed.order) == [(1, "NORTH", 1, "held")]
    assert not StockLevel.objects.filter(variant=gift_card).exists()


# --- Idempotent by reference ----------------------------------------------------------------


def test_placing_the_same_reference_again_returns_the_order_and_writes_nothing(
    channel, north, sheet
):
    stocked(sheet, north, 5)
    first = place(channel, "A-1", ("SHEET", 2))
    before = orders_state()

    again = place(channel, "A-1", ("SHEET", 2))

    assert again.created is False
    assert again.order.pk == first.order.pk
    assert [(line.pk, line.quantity) for line in again.lines] == [
        (line.pk, line.quantity) for line in first.lines
    ]
    assert orders_state() == before


def test_replayed_reference_with_other_lines_still_returns_the_first_order(channel, north, sheet):
    stocked(sheet, north, 5)
    first = place(channel, "A-1", ("SHEET", 2))
    before = orders_state()

    again = place(channel, "A-1", ("SHEET", 5))

    assert (again.created, again.order.pk) == (False, first.order.pk)
    assert orders_state() == before


def test_same_reference_on_another_channel_is_another_order(channel, north, sheet):
    stocked(sheet, north, 5)
    other = channel_selling_from(north, code="marketplace")
    first = place(channel, "A-1", ("SHEET", 2))

    second = place(other, "A-1", ("SHEET", 2))

    assert second.created is True
    assert second.order.pk != first.order.pk
    assert balance_of(level_of(sheet, north)).reserved == 4


# --- Pay ------------------------------------------------------------------------------------


def test_paying_makes_the_hold_firm(channel, north, sheet):
    level = stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 2)).order
    ledger_before = orders_state().ledger

    pay_order(order=order, actor=SYSTEM)

    order = reload(order)
    assert order.status == OrderStatus.PAID
    assert order.expires_at is None
    assert order.paid_at is not None
    assert list(
        Allocation.objects.filter(line__order=order).values_list("expires_at", "status")
    ) == [(None, "held")]
    assert orders_state().ledger == ledger_before
    assert balance_of(level) == Balance(on_hand=5, reserved=2, version=2)


def test_paying_twice_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 2)).order
    pay_order(order=order, actor=SYSTEM)
    before = orders_state()

    again = pay_order(order=order, actor=SYSTEM)

    assert again.status == OrderStatus.PAID
    assert orders_state() == before


def test_paying_an_expired_hold_is_refused_before_the_task_releases_it(
    channel, north, sheet, monkeypatch
):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 2), hold_minutes=30).order
    expires_at = reload(order).expires_at
    set_clock(monkeypatch, expires_at + timedelta(seconds=1))
    before = orders_state()

    with pytest.raises(HoldExpired) as refused:
        pay_order(order=order, actor=SYSTEM)

    assert refused.value.details == {"expired_at": expires_at.isoformat()}
    assert orders_state() == before
    assert reload(order).status == OrderStatus.PLACED


def test_paying_a_cancelled_order_is_refused(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 2)).order
    cancel_order(order=order, actor=SYSTEM)
    before = orders_state()

    with pytest.raises(InvalidOrderState) as refused:
        pay_order(order=order, actor=SYSTEM)

    assert refused.value.details == {"status": "cancelled"}
    assert orders_state() == before


# --- Ship -----------------------------------------------------------------------------------


def test_shipping_takes_on_hand_and_reserved_down_together(channel, north, sheet):
    level = stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    pay_order(order=order, actor=SYSTEM)

    ship_order(order=order, actor=SYSTEM)

    order = reload(order)
    assert order.status == OrderStatus.SHIPPED
    assert order.shipped_at is not None
    assert balance_of(level) == Balance(on_hand=2, reserved=0, version=3)
    ship = order_movements(order)[-1]
    assert (ship.kind, ship.source, ship.document, ship.delta_on_hand, ship.delta_reserved) == (
        MovementKind.SHIP,
        MovementSource.ORDER,
        "order web/A-1",
        -3,
        -3,
    )
    assert allocations_of(order) == [(1, "NORTH", 3, "shipped")]
    assert list(order.lines.values_list("status", flat=True)) == ["shipped"]


def test_shipping_twice_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    ship_order(order=order, actor=SYSTEM)
    before = orders_state()

    again = ship_order(order=order, actor=SYSTEM)

    assert again.status == OrderStatus.SHIPPED
    assert orders_state() == before


def test_shipping_an_unpaid_order_pays_it(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order

    ship_order(order=order, actor=SYSTEM)

    order = reload(order)
    assert (order.status, order.expires_at) == (OrderStatus.SHIPPED, None)
    assert order.paid_at == order.shipped_at


def test_shipping_some_lines_leaves_the_order_partially_shipped(
    channel, north, south, sheet, pillow
):
    sheet_north = stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2)).order
    pay_order(order=order, actor=SYSTEM)

    ship_order(order=order, actor=SYSTEM, line_numbers=[1])

    order = reload(order)
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.shipped_at is None
    assert balance_of(sheet_north) == Balance(on_hand=2, reserved=0, version=3)
    assert balance_of(pillow_south) == Balance(on_hand=5, reserved=2, version=2)
    assert allocations_of(order) == [(1, "NORTH", 3, "shipped"), (2, "SOUTH", 2, "held")]


def test_shipping_the_remaining_lines_completes_the_order(channel, north, south, sheet, pillow):
    stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2)).order
    ship_order(order=order, actor=SYSTEM, line_numbers=[1])

    ship_order(order=order, actor=SYSTEM, line_numbers=[2])

    order = reload(order)
    assert order.status == OrderStatus.SHIPPED
    assert order.shipped_at is not None
    assert balance_of(pillow_south) == Balance(on_hand=3, reserved=0, version=3)
    assert [row.kind for row in order_movements(order)] == ["reserve", "reserve", "ship", "ship"]


def test_shipping_an_already_shipped_line_again_changes_nothing(
    channel, north, south, sheet, pillow
):
    stocked(sheet, north, 5)
    stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2)).order
    ship_order(order=order, actor=SYSTEM, line_numbers=[1])
    before = orders_state()

    again = ship_order(order=order, actor=SYSTEM, line_numbers=[1])

    assert again.status == OrderStatus.PARTIALLY_SHIPPED
    assert orders_state() == before


def test_shipping_a_line_the_order_does_not_have_is_refused(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        ship_order(order=order, actor=SYSTEM, line_numbers=[1, 7])

    assert refused.value.details == {"lines": [7]}
    assert orders_state() == before


def test_shipping_an_unpaid_order_whose_hold_expired_is_refused(channel, north, sheet, monkeypatch):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    set_clock(monkeypatch, reload(order).expires_at + timedelta(seconds=1))
    before = orders_state()

    with pytest.raises(HoldExpired):
        ship_order(order=order, actor=SYSTEM)

    assert orders_state() == before


def test_shipping_a_cancelled_order_is_refused(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    cancel_order(order=order, actor=SYSTEM)
    before = orders_state()

    with pytest.raises(InvalidOrderState):
        ship_order(order=order, actor=SYSTEM)

    assert orders_state() == before


def test_partly_shipped_unpaid_order_keeps_its_unshipped_units_held_past_the_old_expiry(
    channel, north, south, sheet, pillow, monkeypatch
):
    from stock.selectors import channel_salable

    stocked(sheet, north, 5)
    stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2), hold_minutes=30).order
    old_expiry = reload(order).expires_at
    ship_order(order=order, actor=SYSTEM, line_numbers=[1])

    set_clock(monkeypatch, old_expiry + timedelta(minutes=1))

    assert reload(order).status == OrderStatus.PARTIALLY_SHIPPED
    assert channel_salable(channel, pillow).salable == 3


# --- Cancel ---------------------------------------------------------------------------------


def test_cancelling_releases_every_held_unit(channel, north, south, sheet, pillow):
    sheet_north = stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2)).order

    cancel_order(order=order, actor=SYSTEM)

    order = reload(order)
    assert order.status == OrderStatus.CANCELLED
    assert order.closed_at is not None
    assert order.expires_at is None
    assert balance_of(sheet_north) == Balance(on_hand=5, reserved=0, version=3)
    assert balance_of(pillow_south) == Balance(on_hand=5, reserved=0, version=3)
    releases = [
        (row.kind, row.delta_reserved, row.document)
        for row in order_movements(order)
        if row.kind == MovementKind.RELEASE
    ]
    assert releases == [("release", -3, "order web/A-1"), ("release", -2, "order web/A-1")]
    assert allocations_of(order) == [(1, "NORTH", 3, "released"), (2, "SOUTH", 2, "released")]
    assert list(order.lines.values_list("status", flat=True)) == ["released", "released"]


def test_cancelling_a_paid_order_releases_its_units(channel, north, sheet):
    level = stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    pay_order(order=order, actor=SYSTEM)

    cancel_order(order=order, actor=SYSTEM)

    assert reload(order).status == OrderStatus.CANCELLED
    assert balance_of(level) == Balance(on_hand=5, reserved=0, version=3)


def test_cancelling_twice_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    cancel_order(order=order, actor=SYSTEM)
    before = orders_state()

    again = cancel_order(order=order, actor=SYSTEM)

    assert again.status == OrderStatus.CANCELLED
    assert orders_state() == before


def test_cancelling_after_a_partial_shipment_releases_only_the_unshipped_lines(
    channel, north, south, sheet, pillow
):
    sheet_north = stocked(sheet, north, 5)
    pillow_south = stocked(pillow, south, 5)
    order = place(channel, "A-1", ("SHEET", 3), ("PILLOW", 2)).order
    ship_order(order=order, actor=SYSTEM, line_numbers=[1])

    cancel_order(order=order, actor=SYSTEM)

    assert reload(order).status == OrderStatus.CANCELLED
    assert balance_of(sheet_north) == Balance(on_hand=2, reserved=0, version=3)
    assert balance_of(pillow_south) == Balance(on_hand=5, reserved=0, version=3)
    assert [
        (row.kind, row.delta_on_hand, row.delta_reserved) for row in order_movements(order)
    ] == [
        ("reserve", 0, 3),
        ("reserve", 0, 2),
        ("ship", -3, -3),
        ("release", 0, -2),
    ]
    assert list(order.lines.values_list("status", flat=True)) == ["shipped", "released"]


def test_cancelling_a_shipped_order_is_refused(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3)).order
    ship_order(order=order, actor=SYSTEM)
    before = orders_state()

    with pytest.raises(InvalidOrderState) as refused:
        cancel_order(order=order, actor=SYSTEM)

    assert refused.value.details == {"status": "shipped"}
    assert orders_state() == before


def test_cancelling_an_expired_order_changes_nothing(channel, north, sheet):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 3), hold_minutes=30).order
    release_expired_holds(now=timezone.now() + timedelta(minutes=31))
    before = orders_state()

    again = cancel_order(order=order, actor=SYSTEM)

    assert again.status == OrderStatus.EXPIRED
    assert orders_state() == before


# --- Backorders -----------------------------------------------------------------------------


def test_backorder_variant_is_reserved_past_zero(channel, north):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    level = stocked(preorder, north, 2)

    placed = place(channel, "A-1", ("PRE", 5))

    assert [(line.quantity, line.backordered_quantity) for line in placed.lines] == [(5, 3)]
    assert placed.lines[0].is_backordered is True
    assert allocations_of(placed.order) == [(1, "NORTH", 5, "held")]
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (2, 5, -3)
    assert level.status == StockStatus.BACKORDER


def test_backorder_variant_never_stocked_is_held_at_the_first_warehouse(channel, north, south):
    VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)

    placed = place(channel, "A-1", ("PRE", 4))

    assert placed.lines[0].backordered_quantity == 4
    assert allocations_of(placed.order) == [(1, "NORTH", 4, "held")]


def test_backorder_line_covered_by_stock_is_not_backordered(channel, north):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    stocked(preorder, north, 5)

    placed = place(channel, "A-1", ("PRE", 5))

    assert placed.lines[0].backordered_quantity == 0


def test_shipping_a_backordered_line_before_the_stock_arrives_is_refused(channel, north):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    stocked(preorder, north, 2)
    order = place(channel, "A-1", ("PRE", 5)).order
    before = orders_state()

    with pytest.raises(InsufficientStock) as refused:
        ship_order(order=order, actor=SYSTEM)

    assert refused.value.details == {"short_by": 3, "quantity": "on_hand"}
    assert orders_state() == before


def test_backordered_line_ships_once_the_stock_arrives(channel, north):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    level = stocked(preorder, north, 2)
    order = place(channel, "A-1", ("PRE", 5)).order
    stocked(preorder, north, 3)

    ship_order(order=order, actor=SYSTEM)

    assert reload(order).status == OrderStatus.SHIPPED
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (0, 0, 0)


def test_variant_that_denies_backorders_is_not_reserved_past_zero(channel, north, sheet):
    level = stocked(sheet, north, 2)
    before = orders_state()

    with pytest.raises(InsufficientStock):
        place(channel, "A-1", ("SHEET", 3))

    assert orders_state() == before
    assert balance_of(level) == Balance(on_hand=2, version=1)


# --- Bad input ------------------------------------------------------------------------------


def test_unknown_channel_code_is_refused():
    with pytest.raises(UnknownChannel) as refused:
        get_channel_by_code("no-such-shop")

    assert refused.value.details == {"channel": "no-such-shop"}


def test_unknown_sku_is_refused_naming_the_line(channel, north, sheet):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(UnknownSku) as refused:
        place(channel, "A-1", ("SHEET", 1), ("NOPE", 1))

    assert refused.value.details == {
        "lines": [
            {
                "code": "unknown_sku",
                "message": "Line 2: no variant has SKU 'NOPE'.",
                "line": 2,
                "sku": "NOPE",
            }
        ]
    }
    assert orders_state() == before


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, MAX_QUANTITY + 1])
def test_quantity_that_is_not_a_positive_whole_number_is_refused_naming_the_line(
    channel, north, sheet, quantity
):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidQuantity) as refused:
        place(channel, "A-1", ("SHEET", quantity))

    (problem,) = refused.value.details["lines"]
    assert (problem["code"], problem["line"], problem["sku"]) == ("invalid_quantity", 1, "SHEET")
    assert orders_state() == before


def test_every_bad_line_is_named_in_one_error(channel, north, sheet):
    stocked(sheet, north, 5)

    with pytest.raises(InvalidQuantity) as refused:
        place(channel, "A-1", ("SHEET", 0), ("NOPE", 1), ("SHEET", 2))

    assert [(p["code"], p["line"], p["sku"]) for p in refused.value.details["lines"]] == [
        ("invalid_quantity", 1, "SHEET"),
        ("unknown_sku", 2, "NOPE"),
    ]


def test_empty_order_is_refused(channel):
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(channel, "A-1")

    assert refused.value.details == {"field": "lines"}
    assert orders_state() == before


def test_same_sku_on_two_lines_is_refused_naming_the_second(channel, north, sheet):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(channel, "A-1", ("SHEET", 1), ("SHEET", 2))

    (problem,) = refused.value.details["lines"]
    assert (problem["code"], problem["line"], problem["sku"]) == ("invalid_order", 2, "SHEET")
    assert "already on line 1" in problem["message"]
    assert orders_state() == before


def test_sku_no_linked_warehouse_stocks_is_not_sellable(channel, north, sheet, pillow):
    elsewhere = WarehouseFactory(code="ELSEWHERE")
    stocked(sheet, north, 5)
    stocked(pillow, elsewhere, 5)
    before = orders_state()

    with pytest.raises(NotSellable) as refused:
        place(channel, "A-1", ("SHEET", 1), ("PILLOW", 1))

    assert refused.value.details == {
        "lines": [{"code": "not_sellable", "line": 2, "sku": "PILLOW"}]
    }
    assert orders_state() == before


def test_sku_stocked_only_at_an_inactive_linked_warehouse_is_not_sellable(
    channel, north, south, sheet
):
    stocked(sheet, south, 5)
    south.is_active = False
    south.save(update_fields=["is_active"])
    before = orders_state()

    with pytest.raises(NotSellable):
        place(channel, "A-1", ("SHEET", 1))

    assert orders_state() == before


def test_order_on_an_inactive_channel_is_refused(channel, north, sheet):
    stocked(sheet, north, 5)
    channel.is_active = False
    channel.save(update_fields=["is_active"])
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(channel, "A-1", ("SHEET", 1))

    assert refused.value.details == {"channel": "web"}
    assert orders_state() == before


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(91, 0), (-90.5, 0), (0, 180.5), (0, -181), (None, 10), (10, None), ("north", 1)],
)
def test_bad_shipping_coordinates_are_refused(channel, north, sheet, latitude, longitude):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(
            channel, "A-1", ("SHEET", 1), shipping_latitude=latitude, shipping_longitude=longitude
        )

    assert refused.value.details == {"field": "shipping"}
    assert orders_state() == before


@pytest.mark.parametrize(("latitude", "longitude"), [(float("nan"), 0), (0, "NaN")])
def test_not_a_number_shipping_coordinates_are_refused(channel, north, sheet, latitude, longitude):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(
            channel, "A-1", ("SHEET", 1), shipping_latitude=latitude, shipping_longitude=longitude
        )

    assert refused.value.details == {"field": "shipping"}
    assert orders_state() == before


def test_shipping_coordinates_are_stored_on_the_order(channel, north, sheet):
    stocked(sheet, north, 5)

    order = place(
        channel, "A-1", ("SHEET", 1), shipping_latitude=51.5, shipping_longitude=-0.1275
    ).order

    order = reload(order)
    assert (order.shipping_latitude, order.shipping_longitude) == (
        Decimal("51.500000"),
        Decimal("-0.127500"),
    )


@pytest.mark.parametrize("hold_minutes", [0, -5, 1.5, "30", True, MAX_HOLD_MINUTES + 1])
def test_bad_hold_minutes_are_refused(channel, north, sheet, hold_minutes):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place(channel, "A-1", ("SHEET", 1), hold_minutes=hold_minutes)

    assert refused.value.details == {"field": "hold_minutes"}
    assert orders_state() == before


@pytest.mark.parametrize("reference", ["", "   ", "x" * 101, None])
def test_missing_or_overlong_reference_is_refused(channel, north, sheet, reference):
    stocked(sheet, north, 5)
    before = orders_state()

    with pytest.raises(InvalidOrder) as refused:
        place_order(
            channel=channel,
            reference=reference,
            lines=[OrderLineInput(sku="SHEET", quantity=1)],
            actor=SYSTEM,
        )

    assert refused.value.details == {"field": "reference"}
    assert orders_state() == before


# --- order.changed --------------------------------------------------------------------------


@pytest.fixture
def orders_listener(layer):
    """A channel that joined the orders group, as the live orders page does; and its inbox."""
    return partial(received, layer, listen(layer, ORDERS_GROUP))


def test_placing_publishes_order_changed_after_commit(
    channel, north, sheet, orders_listener, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 5)

    with django_capture_on_commit_callbacks() as callbacks:
        order = place(channel, "A-1", ("SHEET", 1)).order
        assert orders_listener() == []
    for callback in callbacks:
        callback()

    assert orders_listener() == [
        {
            "type": "order.changed",
            "order_id": order.pk,
            "order_ids": [order.pk],
            "channel_id": channel.pk,
        }
    ]


def test_refused_order_publishes_nothing(
    channel, north, sheet, orders_listener, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 1)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InsufficientStock),
    ):
        place(channel, "A-1", ("SHEET", 2))

    assert (callbacks, orders_listener()) == ([], [])


@pytest.mark.parametrize("verb", [pay_order, ship_order, cancel_order])
def test_each_state_change_publishes_order_changed(
    channel, north, sheet, orders_listener, django_capture_on_commit_callbacks, verb
):
    stocked(sheet, north, 5)
    order = place(channel, "A-1", ("SHEET", 1)).order

    with django_capture_on_commit_callbacks(execute=True):
        verb(order=order, actor=SYSTEM)

    assert orders_listener() == [
        {
            "type": "order.changed",
            "order_id": order.pk,
            "order_ids": [order.pk],
            "channel_id": channel.pk,
        }
    ]


def test_expiry_batch_publishes_one_order_changed_for_many_orders(
    channel, north, sheet, orders_listener, django_capture_on_commit_callbacks
):
    stocked(sheet, north, 5)
    place(channel, "A-1", ("SHEET", 1))
    place(channel, "A-2", ("SHEET", 1))

    with django_capture_on_commit_callbacks(execute=True):
        release_expired_holds(now=timezone.now() + timedelta(minutes=31))

    assert orders_listener() == [
        {"type": "order.changed", "order_id": None, "order_ids": [None], "channel_id": None}
    ]


def test_a_deactivated_variant_is_refused_naming_the_line(channel, north, sheet, pillow):
    stocked(sheet, north, 5)
    stocked(pillow, north, 5)
    pillow.is_active = False
    pillow.save(update_fields=["is_active"])
    before = orders_state()

    with pytest.raises(NotSellable) as refused:
        place(channel, "A-1", ("SHEET", 1), ("PILLOW", 1))

    assert refused.value.details["lines"] == [
        {
            "code": "not_sellable",
            "message": "Line 2: PILLOW is no longer sold.",
            "line": 2,
            "sku": "PILLOW",
        }
    ]
    assert orders_state() == before


def test_a_refused_preorder_leaves_no_empty_level_behind(channel, north, south, sheet):
    from stock.models import BackorderPolicy, StockLevel, Variant

    preorder = Variant.objects.create(
        product=sheet.product, sku="PREORDER", backorders=BackorderPolicy.ALLOW
    )
    stocked(sheet, north, 1)
    levels_before = StockLevel.objects.count()

    with pytest.raises(InsufficientStock):
        place(channel, "A-1", ("PREORDER", 1), ("SHEET", 2))

    assert StockLevel.objects.filter(variant=preorder).count() == 0
    assert StockLevel.objects.count() == levels_before
