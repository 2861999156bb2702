"""The database itself keeps the invariants, even when code bypasses the service layer."""

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.db.utils import ConnectionHandler

from stock.models import BackorderPolicy, StockLevel, StockMovement
from tests.stock.factories import Balance, VariantFactory, balance_of, ledger_ids, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def level():
    """Ten on hand, backorders denied."""
    return stocked(VariantFactory(), WarehouseFactory(), 10)


@pytest.fixture
def backorder_level():
    """Ten on hand, backorders allowed: only the checks that hold regardless can fire."""
    return stocked(VariantFactory(backorders=BackorderPolicy.ALLOW), WarehouseFactory(), 10)


def refused_update(level: StockLevel, **values) -> str:
    """Try a raw UPDATE that skips the services; return the database's refusal."""
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        StockLevel.objects.filter(pk=level.pk).update(**values)
    return str(refused.value)


def test_database_refuses_negative_reserved(backorder_level):
    message = refused_update(backorder_level, reserved=-1)

    assert "stock_reserved_gte_0" in message
    assert balance_of(backorder_level) == Balance(on_hand=10, version=1)


def test_database_refuses_negative_on_hand(backorder_level):
    message = refused_update(backorder_level, on_hand=-1)

    assert "stock_on_hand_gte_0" in message
    assert balance_of(backorder_level) == Balance(on_hand=10, version=1)


def test_database_refuses_negative_on_hand_through_an_f_expression(backorder_level):
    message = refused_update(backorder_level, on_hand=F("on_hand") - 11)

    assert "stock_on_hand_gte_0" in message
    assert balance_of(backorder_level) == Balance(on_hand=10, version=1)


def test_database_refuses_more_unsellable_than_on_hand(backorder_level):
    message = refused_update(backorder_level, unsellable=11)

    assert "stock_unsellable_within_on_hand" in message
    assert balance_of(backorder_level) == Balance(on_hand=10, version=1)


def test_database_refuses_negative_unsellable(backorder_level):
    message = refused_update(backorder_level, unsellable=-1)

    assert "stock_unsellable_within_on_hand" in message


def test_database_refuses_negative_safety_stock(backorder_level):
    message = refused_update(backorder_level, safety_stock=-1)

    assert "stock_safety_stock_gte_0" in message


def test_database_refuses_negative_inbound(backorder_level):
    message = refused_update(backorder_level, inbound=-1)

    assert "stock_inbound_gte_0" in message


def test_database_refuses_negative_available_when_backorders_are_denied(level):
    message = refused_update(level, reserved=11)

    assert "stock_available_gte_0_unless_backorder" in message
    assert balance_of(level) == Balance(on_hand=10, version=1)


def test_database_refuses_negative_available_from_safety_stock_when_backorders_are_denied(
    level,
):
    message = refused_update(level, safety_stock=11)

    assert "stock_available_gte_0_unless_backorder" in message


def test_database_refuses_switching_backorders_off_under_a_negative_available(
    backorder_level,
):
    StockLevel.objects.filter(pk=backorder_level.pk).update(reserved=12)

    message = refused_update(backorder_level, is_backorder_allowed=False)

    assert "stock_available_gte_0_unless_backorder" in message


def test_database_accepts_negative_available_when_backorders_are_allowed(backorder_level):
    StockLevel.objects.filter(pk=backorder_level.pk).update(reserved=11)

    backorder_level.refresh_from_db()
    assert (backorder_level.on_hand, backorder_level.reserved) == (10, 11)
    assert backorder_level.available == -1


def test_database_computes_available_itself(backorder_level):
    StockLevel.objects.filter(pk=backorder_level.pk).update(
        reserved=2, unsellable=3, safety_stock=4, inbound=50
    )

    backorder_level.refresh_from_db()
    assert backorder_level.available == 1


def test_database_allows_one_level_per_variant_and_warehouse(level):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        StockLevel.objects.create(variant=level.variant, warehouse=level.warehouse)

    assert "stock_level_unique" in str(refused.value)
    assert StockLevel.objects.filter(variant=level.variant).count() == 1


# --- The ledger is append-only -------------------------------------------------------------


@pytest.fixture
def movement(level) -> StockMovement:
    return StockMovement.objects.get(level=level)


def assert_ledger_intact(movement: StockMovement) -> None:
    stored = StockMovement.objects.get(pk=movement.pk)
    assert (stored.note, stored.delta_on_hand, stored.on_hand_after) == ("", 10, 10)
    assert ledger_ids() == [movement.pk]


@pytest.mark.postgres
def test_saving_an_edited_ledger_row_is_refused(movement):
    movement.note = "rewritten history"
    movement.delta_on_hand = 99

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        movement.save()

    assert "append-only: UPDATE refused" in str(refused.value)
    assert_ledger_intact(movement)


@pytest.mark.postgres
def test_updating_ledger_rows_through_a_queryset_is_refused(movement):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        StockMovement.objects.filter(pk=movement.pk).update(delta_on_hand=F("delta_on_hand") + 1)

    assert "append-only: UPDATE refused" in str(refused.value)
    assert_ledger_intact(movement)


@pytest.mark.postgres
def test_deleting_a_ledger_row_is_refused(movement):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        movement.delete()

    assert "append-only: DELETE refused" in str(refused.value)
    assert_ledger_intact(movement)


@pytest.mark.postgres
def test_deleting_ledger_rows_through_a_queryset_is_refused(movement):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        StockMovement.objects.all().delete()

    assert "append-only: DELETE refused" in str(refused.value)
    assert_ledger_intact(movement)


@pytest.mark.postgres
def test_raw_sql_cannot_edit_the_ledger_either(movement):
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE stock_stockmovement SET note = 'x' WHERE id = %s", [movement.pk])

    assert "append-only: UPDATE refused" in str(refused.value)
    assert_ledger_intact(movement)


# --- The same guarantee on SQLite (the database `make run` uses without DATABASE_URL) ------

SQLITE = "ledger_sqlite"


@pytest.fixture(scope="module")
def sqlite_movement(django_db_blocker):
    """A ledger row in a private in-memory SQLite database migrated from scratch.

    The suite itself runs on PostgreSQL, so migration 0002's SQLite triggers are only
    exercised here, on a connection of their own.
    """
    from stock.models import Product, StockLevel, Variant
    from warehouses.models import Warehouse

    sqlite = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )["default"]
    with django_db_blocker.unblock():
        executor = MigrationExecutor(sqlite)
        executor.migrate(executor.loader.graph.leaf_nodes())
        connections[SQLITE] = sqlite
        try:
            product = Product.objects.using(SQLITE).create(name="Percale sheet")
            variant = Variant.objects.using(SQLITE).create(product=product, sku="SHEET-Q")
            warehouse = Warehouse.objects.using(SQLITE).create(code="RENO", name="Reno")
            level = StockLevel.objects.using(SQLITE).create(variant=variant, warehouse=warehouse)
            movement = StockMovement.objects.using(SQLITE).create(
                level=level,
                variant=variant,
                warehouse=warehouse,
                kind="receipt",
                reason="purchase_order",
                delta_on_hand=4,
                on_hand_after=4,
                reserved_after=0,
                unsellable_after=0,
                safety_stock_after=0,
                inbound_after=0,
                actor_kind="system",
                actor_label="tests",
                source="system",
            )
            yield movement
        finally:
            del connections[SQLITE]
            sqlite.close()


def sqlite_ledger_is_intact(movement: StockMovement) -> bool:
    rows = list(StockMovement.objects.using(SQLITE).values_list("pk", "note", "delta_on_hand"))
    return rows == [(movement.pk, "", 4)]


def test_sqlite_refuses_saving_an_edited_ledger_row(sqlite_movement):
    sqlite_movement.note = "rewritten history"

    with pytest.raises(IntegrityError) as refused, transaction.atomic(using=SQLITE):
        sqlite_movement.save(using=SQLITE)

    assert "append-only: UPDATE refused" in str(refused.value)
    assert sqlite_ledger_is_intact(sqlite_movement)


def test_sqlite_refuses_updating_ledger_rows_through_a_queryset(sqlite_movement):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(using=SQLITE):
        StockMovement.objects.using(SQLITE).update(delta_on_hand=5)

    assert "append-only: UPDATE refused" in str(refused.value)
    assert sqlite_ledger_is_intact(sqlite_movement)


def test_sqlite_refuses_deleting_ledger_rows(sqlite_movement):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(using=SQLITE):
        StockMovement.objects.using(SQLITE).all().delete()

    assert "append-only: DELETE refused" in str(refused.value)
    assert sqlite_ledger_is_intact(sqlite_movement)
