"""Every statement that appends ledger rows fills every ledger column, and references are
formatted alike in Python and in SQL (stock/services/ledger/rows.py)."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection

from stock.models import StockMovement
from stock.services.ledger.rows import RELEASE_REFERENCE, RESERVE_REFERENCE, ledger_insert_sql
from stock.services.orders import release_expired_holds
from stock.services.orders.planned_sql import RESERVE_PLANNED_SQL
from tests.stock.factories import (
    VariantFactory,
    channel_selling_from,
    place,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory

LEDGER_INSERT = re.compile(
    rf'INSERT INTO "?{StockMovement._meta.db_table}"?\s*\(([^)]*)\)', re.IGNORECASE
)


@contextmanager
def statements_run():
    """The SQL of every statement run meanwhile, as sent. An execute wrapper rather than
    CaptureQueriesContext: the prepared hot statements are logged without their text."""
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def ledger_column_lists(statements: list[str]) -> list[set[str]]:
    """The column list of each INSERT into the ledger among these statements."""
    return [
        {column.strip().strip('"') for column in match.group(1).split(",")}
        for sql in statements
        for match in LEDGER_INSERT.finditer(sql)
    ]


def model_columns() -> set[str]:
    return {field.column for field in StockMovement._meta.concrete_fields} - {"id"}


def assert_every_column_written(statements: list[str]) -> None:
    inserts = ledger_column_lists(statements)
    assert inserts, "no statement wrote ledger rows"
    for columns in inserts:
        assert columns - {"id"} == model_columns()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def channel(north):
    return channel_selling_from(north, code="web", hold_minutes=30)


@pytest.fixture
def sheet():
    return VariantFactory(sku="SHEET", low_stock_threshold=0)


@pytest.fixture(autouse=True)
def postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip("The set-based ledger writes are PostgreSQL's.")


@pytest.mark.django_db
def test_apply_changes_writes_every_ledger_column(north, sheet):
    with statements_run() as statements:
        stocked(sheet, north, 5)

    assert_every_column_written(statements)


@pytest.mark.django_db
def test_the_planned_reserving_statement_writes_every_ledger_column(channel, north, sheet):
    stocked(sheet, north, 5)

    with statements_run() as statements:
        place(channel, "PLANNED", ("SHEET", 2))

    assert RESERVE_PLANNED_SQL in statements
    assert_every_column_written(statements)


@pytest.mark.django_db
def test_the_locked_placing_path_writes_every_ledger_column(channel, north, sheet):
    stocked(sheet, north, 1)

    with statements_run() as statements:
        place(channel, "SHORT", ("SHEET", 3), accept_shortfall=True)

    assert RESERVE_PLANNED_SQL not in statements
    assert_every_column_written(statements)


@pytest.mark.django_db
def test_hold_expiry_writes_every_ledger_column(channel, north, sheet):
    stocked(sheet, north, 5)
    placed = place(channel, "ABANDONED", ("SHEET", 2))

    with statements_run() as statements:
        expired = release_expired_holds(now=placed.order.expires_at + timedelta(seconds=1))

    assert expired == 1
    assert_every_column_written(statements)


def test_a_ledger_insert_missing_a_column_is_refused():
    values = dict.fromkeys(model_columns() - {"note"}, "NULL")

    with pytest.raises(ValueError, match="missing \\['note'\\]"):
        ledger_insert_sql(values, "FROM nowhere")


@pytest.mark.django_db
def test_references_read_the_same_in_python_and_in_sql():
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {RESERVE_REFERENCE.sql(order='12', line='3', warehouse='45')}, "
            f"{RELEASE_REFERENCE.sql(order='12', allocation='678')}"
        )
        reserve, release = cursor.fetchone()

    assert reserve == RESERVE_REFERENCE(order=12, line=3, warehouse=45)
    assert release == RELEASE_REFERENCE(order=12, allocation=678)
    assert reserve == "order:12/line:3/wh:45/reserve"
    assert release == "order:12/allocation:678/release"
