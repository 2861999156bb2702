"""`place_order`'s planned path (stock/services/orders/planned*.py) on PostgreSQL.

The plan is made before any lock, from a read or, for a channel that sells from one
warehouse, from nothing; the reserving statement checks it under the lock. These tests
change what the plan relied on between the read and the statement, and expect what the
locked path answers, with nothing of the stale plan written.
"""

import random
from functools import cache

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory_hub.db import hot_cursor
from stock import availability
from stock.availability import storefront_availability
from stock.errors import InsufficientStock, NotSellable
from stock.events import ORDERS_GROUP, variant_group, warehouse_group
from stock.models import Allocation, MovementKind, StockLevel, StockMovement
from stock.services.orders import planned as order_services
from stock.services.orders import planned_sql as order_fast_path
from tests.browser_support import database_url
from tests.stock.factories import (
    VariantFactory,
    balance_of,
    channel_selling_from,
    orders_state,
    place,
    reserved,
    stocked,
)
from tests.stock.layer import listen, pushed, received
from tests.warehouses.factories import ChannelWarehouseFactory, WarehouseFactory
from warehouses.models import Warehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def sheet():
    return VariantFactory(sku="SHEET")


def order_statements(captured, *, skipping: tuple[str, ...] = ()) -> list[str]:
    """The statements the order ran, but for those starting with `skipping`.

    In tests an order's after-commit reactions run inline, inside the capture, and the
    availability invalidation among them reads the channel list when its copy is more
    than a second old: that read is the reactions', not the order's (timing decided
    whether a test saw it)."""
    channel_list = _channel_list_read()
    statements = [query["sql"] or "" for query in captured]
    return [sql for sql in statements if sql != channel_list and not sql.startswith(skipping)]


@cache
def _channel_list_read() -> str:
    """The statement availability reads the channel list with, as captured when it runs."""
    availability._forget_channel_list()
    with CaptureQueriesContext(connection) as captured:
        availability._channel_ids()
    (read,) = captured
    return read["sql"]


def allocations_of(order) -> list[tuple[int, str, int]]:
    return list(
        Allocation.objects.filter(line__order=order)
        .order_by("line__line_number", "warehouse__code")
        .values_list("line__line_number", "warehouse__code", "quantity")
    )


def test_the_reserving_statements_fit_psycopgs_parse_cache():
    # Longer, they are parsed again for every order: the biggest client cost they once had.
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    assert len(order_fast_path.RESERVE_PLANNED_SQL) <= MAX_CACHED_STATEMENT_LENGTH
    assert len(order_fast_path.RESERVE_MOST_STOCK_SQL) <= MAX_CACHED_STATEMENT_LENGTH
    assert psycopg.__version__.startswith("3.")


@pytest.mark.django_db(transaction=True)
def test_orders_keep_their_prepared_cursor_and_get_a_new_one_after_a_reconnect(north, sheet):
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    with hot_cursor() as first:
        pass
    place(channel, "SECOND", ("SHEET", 1))
    with hot_cursor() as again:
        assert again.cursor is first.cursor  # one psycopg cursor per connection

    connection.close()  # as Django does when a connection grows old or breaks
    third = place(channel, "THIRD", ("SHEET", 2)).order

    with hot_cursor() as after:
        assert after.cursor is not first.cursor
        assert after.cursor.connection is connection.connection
    assert first.cursor.connection.closed
    assert allocations_of(third) == [(1, "NORTH", 2)]
    assert balance_of(level).reserved == 4


@pytest.mark.django_db(transaction=True)
def test_with_prepared_statements_off_orders_prepare_nothing_and_close_their_cursors(
    north, sheet, settings
):
    # HUB_PREPARED_STATEMENTS=0: behind a transaction-pooling PgBouncer.
    settings.HUB_PREPARED_STATEMENTS = False
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    second = place(channel, "SECOND", ("SHEET", 2)).order

    with hot_cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)
    assert cursor.closed
    assert allocations_of(second) == [(1, "NORTH", 2)]
    assert balance_of(level).reserved == 3


@pytest.mark.django_db(transaction=True)
def test_a_one_warehouse_channel_reserves_in_one_statement_once_read(
    north, sheet, verify_ledger_clean
):
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))  # read, then reserve

    with CaptureQueriesContext(connection) as statements:
        second = place(channel, "SECOND", ("SHEET", 3)).order

    # No BEGIN or COMMIT either: one statement, one transaction.
    assert len(order_statements(statements)) == 1
    assert allocations_of(second) == [(1, "NORTH", 3)]
    movement = StockMovement.objects.get(document="order shop/SECOND")
    assert (
        movement.kind,
        movement.delta_reserved,
        movement.reserved_after,
        movement.on_hand_after,
        movement.reference,
    ) == (MovementKind.RESERVE, 3, 4, 10, f"order:{second.pk}/line:1/wh:{north.pk}/reserve")
    assert balance_of(level).reserved == 4
    assert StockLevel.objects.get(pk=level.pk).version == 3  # received, then two orders
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_an_order_that_is_its_own_transaction_is_announced_as_it_returns(north, sheet, layer):
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))  # read, then reserve
    by_warehouse = listen(layer, warehouse_group(north.pk))
    by_variant = listen(layer, variant_group(sheet.pk))
    orders = listen(layer, ORDERS_GROUP)
    (cached,), _ = storefront_availability(channel=channel, skus=["SHEET"])
    assert cached.salable_quantity == 9

    # Placed by one statement that commits on its own: announced without an on-commit hook.
    second = place(channel, "SECOND", ("SHEET", 3)).order

    expected = [{"type": "stock.changed", "levels": [pushed(level, 3)]}]
    assert received(layer, by_warehouse) == expected
    assert received(layer, by_variant) == expected
    assert received(layer, orders) == [
        {
            "type": "order.changed",
            "order_id": second.pk,
            "order_ids": [second.pk],
            "channel_id": channel.pk,
        }
    ]
    (fresh,), _ = storefront_availability(channel=channel, skus=["SHEET"])
    assert fresh.salable_quantity == 6


@pytest.mark.django_db(transaction=True)
def test_stock_taken_between_the_read_and_the_statement_is_planned_again_under_the_lock(
    north, south, sheet, monkeypatch, verify_ledger_clean
):
    stocked(sheet, north, 5)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, south, code="web")
    read = order_fast_path.read_for_plan

    def read_then_lose_stock(**arguments):
        rows = read(**arguments)
        reserved(sheet, north, 3)  # another buyer, after the plan was read
        return rows

    monkeypatch.setattr(order_services, "read_for_plan", read_then_lose_stock)

    order = place(channel, "A-1", ("SHEET", 4)).order

    # The read said NORTH (priority 1) could cover 4; under the lock it has 2 left, so the
    # locked path holds the line whole at SOUTH. NORTH lost only the other buyer's 3.
    assert allocations_of(order) == [(1, "SOUTH", 4)]
    assert StockLevel.objects.get(variant=sheet, warehouse=north).reserved == 3
    assert StockMovement.objects.filter(document="order web/A-1").count() == 1
    verify_ledger_clean()


@pytest.mark.django_db
def test_a_warehouse_linked_after_the_first_order_is_planned_with_at_once(north, south, sheet):
    stocked(sheet, north, 10)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    ChannelWarehouseFactory(channel=channel, warehouse=south, priority=0)

    order = place(channel, "SECOND", ("SHEET", 2)).order

    assert allocations_of(order) == [(1, "SOUTH", 2)]


@pytest.mark.django_db
def test_a_warehouse_closed_after_the_first_order_is_refused_with_nothing_written(north, sheet):
    stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    north.is_active = False
    north.save(update_fields=["is_active"])
    before = orders_state()

    with pytest.raises(NotSellable):
        place(channel, "SECOND", ("SHEET", 2))

    assert orders_state() == before


@pytest.mark.django_db
def test_a_variant_that_stops_managing_stock_is_sold_without_a_hold(north, sheet):
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    sheet.manage_stock = False
    sheet.save(update_fields=["manage_stock"])

    order = place(channel, "SECOND", ("SHEET", 2)).order

    assert allocations_of(order) == []
    assert list(order.lines.values_list("line_number", "quantity")) == [(1, 2)]
    assert balance_of(level).reserved == 1


@pytest.mark.django_db
def test_a_variant_no_longer_sold_is_refused_though_remembered(north, sheet):
    stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    sheet.is_active = False
    sheet.save(update_fields=["is_active"])
    before = orders_state()

    with pytest.raises(NotSellable, match="no longer sold"):
        place(channel, "SECOND", ("SHEET", 2))

    assert orders_state() == before


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_inside_the_callers_transaction_rolls_back_with_it(north, sheet):
    level = stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "FIRST", ("SHEET", 1))
    before = orders_state()

    with pytest.raises(RuntimeError), transaction.atomic():
        place(channel, "SECOND", ("SHEET", 2))
        raise RuntimeError("the caller changed its mind")

    assert orders_state() == before
    assert balance_of(level).reserved == 1


@pytest.mark.django_db
def test_a_variant_that_starts_managing_stock_after_the_read_gets_its_hold(
    north, south, sheet, monkeypatch
):
    level = stocked(sheet, north, 5)
    sheet.manage_stock = False
    sheet.save(update_fields=["manage_stock"])
    channel = channel_selling_from(north, south, code="web")
    read = order_fast_path.read_for_plan

    def read_then_start_managing(**arguments):
        rows = read(**arguments)  # planned as not managed: no hold
        type(sheet).objects.filter(pk=sheet.pk).update(manage_stock=True)
        return rows

    monkeypatch.setattr(order_services, "read_for_plan", read_then_start_managing)

    order = place(channel, "A-1", ("SHEET", 2)).order

    assert allocations_of(order) == [(1, "NORTH", 2)]
    assert balance_of(level).reserved == 2


@pytest.mark.django_db
def test_what_an_order_references_cannot_be_deleted_under_it(north, sheet):
    # The order's channel, its line's variant and its allocation's warehouse have no
    # database constraint (each would make every order lock that shared row): Django's
    # PROTECT is what refuses the deletion.
    from django.db.models import ProtectedError

    stocked(sheet, north, 10)
    channel = channel_selling_from(north, code="shop")
    place(channel, "A-1", ("SHEET", 1))

    for referenced in (channel, sheet, north):
        with pytest.raises(ProtectedError), transaction.atomic():
            referenced.delete()


@pytest.mark.django_db(transaction=True)
def test_a_priority_channel_tries_its_first_warehouse_unread_once_an_order_went_there(
    north, south, sheet, verify_ledger_clean
):
    stocked(sheet, north, 10)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, south, code="web")
    place(channel, "FIRST", ("SHEET", 1))  # read: NORTH covers it, so NORTH is remembered

    with CaptureQueriesContext(connection) as statements:
        second = place(channel, "SECOND", ("SHEET", 3)).order

    assert len(order_statements(statements)) == 1
    assert allocations_of(second) == [(1, "NORTH", 3)]
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_the_first_warehouse_short_of_a_line_is_planned_again_from_a_read(
    north, south, sheet, verify_ledger_clean
):
    stocked(sheet, north, 4)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, south, code="web")
    place(channel, "FIRST", ("SHEET", 1))

    with CaptureQueriesContext(connection) as statements:
        order = place(channel, "SECOND", ("SHEET", 5)).order

    # Tried at NORTH (3 left), refused under the lock, then read and held whole at SOUTH.
    assert len(order_statements(statements)) == 3
    assert allocations_of(order) == [(1, "SOUTH", 5)]
    assert StockLevel.objects.get(variant=sheet, warehouse=north).reserved == 1
    assert StockMovement.objects.filter(document="order web/SECOND").count() == 1
    # That order did not go to NORTH, so the next one is read first rather than tried there.
    with CaptureQueriesContext(connection) as statements:
        place(channel, "THIRD", ("SHEET", 1))
    assert len(order_statements(statements)) == 2
    verify_ledger_clean()


@pytest.mark.django_db
def test_a_warehouse_moved_ahead_after_the_first_order_is_planned_with_at_once(north, south, sheet):
    stocked(sheet, north, 10)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, south, code="web")
    place(channel, "FIRST", ("SHEET", 1))
    channel.links.filter(warehouse=south).update(priority=0)

    order = place(channel, "SECOND", ("SHEET", 2)).order

    assert allocations_of(order) == [(1, "SOUTH", 2)]


@pytest.mark.django_db
def test_warehouses_of_equal_priority_are_first_by_code_point_in_python_and_sql(sheet):
    # Python orders "B-DOCK" before "a-dock"; a linguistic collation does not. Such a
    # collation is given to the codes here (rolled back with the test), as a database
    # created with one would have it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {Warehouse._meta.db_table}"
            ' ALTER COLUMN code TYPE varchar(32) COLLATE "und-x-icu"'
        )
        cursor.execute("SELECT 'a-dock' < 'B-DOCK' COLLATE \"und-x-icu\"")
        assert cursor.fetchone() == (True,)
    lower = WarehouseFactory(code="a-dock")
    upper = WarehouseFactory(code="B-DOCK")
    stocked(sheet, lower, 10)
    stocked(sheet, upper, 10)
    channel = channel_selling_from(code="web")
    for warehouse in (lower, upper):
        ChannelWarehouseFactory(channel=channel, warehouse=warehouse, priority=1)
    place(channel, "FIRST", ("SHEET", 1))

    with CaptureQueriesContext(connection) as captured:
        order = place(channel, "SECOND", ("SHEET", 2)).order

    assert allocations_of(order) == [(1, "B-DOCK", 2)]
    statements = order_statements(captured, skipping=("SAVEPOINT", "RELEASE"))
    assert len(statements) == 1  # the statement agrees B-DOCK comes first


@pytest.mark.django_db(transaction=True)
def test_orders_with_an_address_sourced_by_distance_are_read_before_they_are_planned(
    north, south, sheet
):
    north.latitude, north.longitude = 0, 0
    north.save(update_fields=["latitude", "longitude"])
    south.latitude, south.longitude = -45, 0
    south.save(update_fields=["latitude", "longitude"])
    stocked(sheet, north, 10)
    stocked(sheet, south, 20)
    channel = channel_selling_from(north, south, code="web")
    place(channel, "FIRST", ("SHEET", 1))  # by priority: NORTH, remembered
    channel.source_selection = "distance"
    channel.save(update_fields=["source_selection"])

    # An address near the south pole is nearer SOUTH.
    with CaptureQueriesContext(connection) as statements:
        order = place(
            channel, "SECOND", ("SHEET", 2), shipping_latitude=-80, shipping_longitude=0
        ).order

    assert len(order_statements(statements)) == 2  # read, then reserve
    assert allocations_of(order) == [(1, "SOUTH", 2)]


@pytest.mark.django_db(transaction=True)
def test_a_most_stock_channel_is_planned_by_the_statement_once_an_order_was_read(
    north, south, sheet, verify_ledger_clean
):
    stocked(sheet, north, 10)
    stocked(sheet, south, 20)
    channel = channel_selling_from(north, south, code="web", source_selection="most_stock")
    with CaptureQueriesContext(connection) as statements:
        first = place(channel, "FIRST", ("SHEET", 1)).order
    assert len(order_statements(statements)) == 2  # nothing remembered yet: read, then reserve
    assert allocations_of(first) == [(1, "SOUTH", 1)]

    with CaptureQueriesContext(connection) as statements:
        second = place(channel, "SECOND", ("SHEET", 2)).order
    assert len(order_statements(statements)) == 1
    assert allocations_of(second) == [(1, "SOUTH", 2)]

    stocked(sheet, north, 30)  # NORTH now has the most: the statement sees it, unread
    with CaptureQueriesContext(connection) as statements:
        third = place(channel, "THIRD", ("SHEET", 3)).order
    assert len(order_statements(statements)) == 1
    assert allocations_of(third) == [(1, "NORTH", 3)]
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_the_statement_gives_a_tie_to_the_warehouse_covering_more_of_the_order(north, south):
    shirt, socks = VariantFactory(sku="SHIRT"), VariantFactory(sku="SOCKS")
    stocked(shirt, north, 5)  # NORTH comes first by priority ...
    stocked(shirt, south, 5)
    stocked(socks, south, 9)  # ... but only SOUTH covers both lines
    channel = channel_selling_from(north, south, code="web", source_selection="most_stock")
    place(channel, "FIRST", ("SOCKS", 1))

    with CaptureQueriesContext(connection) as statements:
        order = place(channel, "SECOND", ("SHIRT", 2), ("SOCKS", 1)).order

    assert len(order_statements(statements)) == 1
    assert allocations_of(order) == [(1, "SOUTH", 2), (2, "SOUTH", 1)]


@pytest.mark.django_db(transaction=True)
def test_a_line_the_most_stocked_warehouse_cannot_cover_is_read_and_split(
    north, south, sheet, verify_ledger_clean
):
    stocked(sheet, north, 3)
    stocked(sheet, south, 5)
    east = WarehouseFactory(code="EAST")
    stocked(sheet, east, 50)
    channel = channel_selling_from(north, south, east, code="web", source_selection="most_stock")
    place(channel, "FIRST", ("SHEET", 1))  # EAST, remembered
    Warehouse.objects.filter(pk=east.pk).update(is_active=False)  # closed, still linked

    with CaptureQueriesContext(connection) as statements:
        order = place(channel, "SECOND", ("SHEET", 6)).order

    # The statement looks only at active warehouses: SOUTH has the most, 5, which cannot
    # cover 6, so it writes nothing; the read plans a split, most stock first.
    assert len(order_statements(statements)) == 3
    assert allocations_of(order) == [(1, "NORTH", 1), (1, "SOUTH", 5)]
    assert StockMovement.objects.filter(document="order web/SECOND").count() == 2
    with CaptureQueriesContext(connection) as statements:
        place(channel, "THIRD", ("SHEET", 1))
    # A split is not what the statement plans: read again.
    assert len(order_statements(statements)) == 2
    verify_ledger_clean()


@pytest.mark.django_db
def test_the_statement_plans_by_most_stock_as_plan_allocations_does(verify_ledger_clean):
    # Random channels, stock and orders; ties of stock, priority and coverage are common,
    # and codes differ in case, so every rank of `plan_allocations` decides some lines.
    # The codes get a linguistic collation, as in the test above: the statement must still
    # compare them by code point, as Python does.
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {Warehouse._meta.db_table}"
            ' ALTER COLUMN code TYPE varchar(32) COLLATE "und-x-icu"'
        )
    chance = random.Random(20261122)
    planned_unread = refused = 0
    for case in range(40):
        warehouses = [
            WarehouseFactory(code=f"{prefix}{case}") for prefix in ("a-", "B-", "b-", "C-")
        ]
        channel = channel_selling_from(code=f"most-{case}", source_selection="most_stock")
        for warehouse in warehouses:
            ChannelWarehouseFactory(
                channel=channel, warehouse=warehouse, priority=chance.choice((1, 1, 2))
            )
        lines = []
        for number in range(chance.randint(1, 3)):
            variant = VariantFactory(sku=f"V{case}-{number}", manage_stock=chance.random() < 0.9)
            for warehouse in warehouses if variant.manage_stock else ():
                if chance.random() < 0.7:
                    on_hand = chance.randint(1, 6)
                    stocked(variant, warehouse, on_hand)
                    if chance.random() < 0.3:
                        reserved(variant, warehouse, chance.randint(0, on_hand))
            lines.append((variant.sku, chance.randint(1, 4)))
        if chance.random() < 0.2:
            Warehouse.objects.filter(pk=chance.choice(warehouses).pk).update(is_active=False)
        inputs = [order_services.OrderLineInput(sku=sku, quantity=q) for sku, q in lines]
        plan = order_services._plan_from_read(
            channel=channel, lines=inputs, latitude=None, longitude=None
        )
        whole = plan is not None and all(len(line.holds) <= 1 for line in plan[0])
        active = [w for w in warehouses if Warehouse.objects.get(pk=w.pk).is_active]
        order_fast_path.remember_unread_plan(
            channel.pk, order_fast_path.Warehouses(count=len(active), first=active[0].pk)
        )
        try:
            with CaptureQueriesContext(connection) as captured:
                order = place(channel, f"ORDER-{case}", *lines).order
        except (InsufficientStock, NotSellable):
            order = None  # the locked path's answer: the read could not plan it either
        statements = order_statements(captured, skipping=("SAVEPOINT", "RELEASE", "ROLLBACK TO"))
        if plan is not None:
            codes = {w.pk: w.code for w in warehouses}
            assert sorted(allocations_of(order)) == sorted(
                (line.line_number, codes[warehouse_id], quantity)
                for line in plan[0]
                for warehouse_id, quantity in line.holds
            ), case
        if whole:
            planned_unread += 1
            assert len(statements) == 1, case
        else:
            refused += 1
            # Refused by the statement (an order it placed would end the call there), then
            # planned from the read, or answered by the locked path when the read cannot.
            assert len(statements) >= 2, case
    assert planned_unread >= 10 and refused >= 5, (planned_unread, refused)
    verify_ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_a_refused_try_inside_the_callers_transaction_keeps_no_lock_on_the_first_warehouse(
    north, south, sheet
):
    # In a caller's transaction the refused statement's locks would otherwise last until
    # that transaction ends, taken outside primary-key order with what follows.
    first = stocked(sheet, north, 4)
    stocked(sheet, south, 10)
    channel = channel_selling_from(north, south, code="web")
    place(channel, "FIRST", ("SHEET", 1))  # NORTH remembered as the first warehouse

    with transaction.atomic():
        order = place(channel, "SECOND", ("SHEET", 5)).order  # tried at NORTH, held at SOUTH
        assert allocations_of(order) == [(1, "SOUTH", 5)]
        with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as other:
            other.execute("SET lock_timeout = '1s'")
            other.execute(
                f"SELECT 1 FROM {StockLevel._meta.db_table} WHERE id = %s FOR UPDATE",
                [first.pk],
            )


@pytest.mark.django_db(transaction=True)
def test_a_one_warehouse_channel_reserves_unread_whatever_its_source_selection(north, sheet):
    north.latitude, north.longitude = 0, 0
    north.save(update_fields=["latitude", "longitude"])
    stocked(sheet, north, 10)
    for code, strategy in (("most", "most_stock"), ("near", "distance")):
        channel = channel_selling_from(north, code=code, source_selection=strategy)
        address = {"shipping_latitude": 10, "shipping_longitude": 10}
        place(channel, "FIRST", ("SHEET", 1), **address)

        with CaptureQueriesContext(connection) as statements:
            order = place(channel, "SECOND", ("SHEET", 2), **address).order

        assert len(order_statements(statements)) == 1
        assert allocations_of(order) == [(1, "NORTH", 2)]
