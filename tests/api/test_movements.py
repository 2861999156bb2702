from datetime import UTC, datetime

import pytest

from stock.models import StockMovement
from stock.services import adjust_stock, receive_stock
from tests.stock.factories import SYSTEM, VariantFactory, ledger_ids, reserved, set_clock
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/movements/"


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def ledger(monkeypatch):
    """Five movements recorded on 1 to 5 March at noon; the third happened on 28 February.

    1 Mar  SHEET  BAL receipt     purchase_order  manual  PO-1
    2 Mar  SHEET  AUS receipt     purchase_order  manual  PO-1
    3 Mar  SHEET  BAL adjustment  damaged         api     ref RMA-9 (happened 28 Feb)
    4 Mar  PILLOW BAL receipt     customer_return csv     returns.csv
    5 Mar  PILLOW BAL reserve     order           system
    """
    sheet, pillow = VariantFactory(sku="SHEET"), VariantFactory(sku="PILLOW")
    bal, aus = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    set_clock(monkeypatch, _at(1))
    receive_stock(variant=sheet, warehouse=bal, quantity=10, actor=SYSTEM, document="PO-1")
    set_clock(monkeypatch, _at(2))
    receive_stock(variant=sheet, warehouse=aus, quantity=4, actor=SYSTEM, document="PO-1")
    set_clock(monkeypatch, _at(3))
    adjust_stock(
        variant=sheet,
        warehouse=bal,
        delta=-2,
        reason="damaged",
        actor=SYSTEM,
        source="api",
        reference="RMA-9",
        occurred_at=datetime(2026, 2, 28, 9, tzinfo=UTC),
    )
    set_clock(monkeypatch, _at(4))
    receive_stock(
        variant=pillow,
        warehouse=bal,
        quantity=6,
        reason="customer_return",
        actor=SYSTEM,
        source="csv",
        document="returns.csv",
    )
    set_clock(monkeypatch, _at(5))
    reserved(pillow, bal, 1)
    monkeypatch.undo()
    return ledger_ids()


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_lists_the_ledger_newest_first_with_every_field(ops_client, ledger):
    newest = StockMovement.objects.get(pk=ledger[-1])

    response = ops_client.get(URL)

    assert _ids(response) == ledger[::-1]
    row = response.json()["results"][0]
    assert row == {
        "id": newest.pk,
        "sku": "PILLOW",
        "warehouse": "BAL",
        "kind": "reserve",
        "reason": "order",
        "note": "",
        "delta_on_hand": 0,
        "delta_reserved": 1,
        "delta_unsellable": 0,
        "delta_safety_stock": 0,
        "delta_inbound": 0,
        "on_hand_after": 6,
        "reserved_after": 1,
        "unsellable_after": 0,
        "safety_stock_after": 0,
        "inbound_after": 0,
        "available_after": 5,
        "actor_kind": "system",
        "actor_label": "tests",
        "source": "system",
        "document": "",
        "reference": None,
        "occurred_at": "2026-03-05T12:00:00Z",
        "recorded_at": "2026-03-05T12:00:00Z",
    }
    assert "count" not in response.json()


def test_the_cursor_walks_every_movement_once_newest_first(ops_client, ledger):
    seen: list[int] = []
    url = f"{URL}?page_size=2"

    for _ in range(len(ledger)):
        response = ops_client.get(url)
        seen += _ids(response)
        url = response.json()["next"]
        if url is None:
            break

    assert seen == ledger[::-1]


@pytest.mark.parametrize(
    ("query", "positions"),
    [
        ({"sku": "SHEET"}, [2, 1, 0]),
        ({"warehouse": "AUS"}, [1]),
        ({"kind": "receipt"}, [3, 1, 0]),
        ({"reason": "damaged"}, [2]),
        ({"source": "csv"}, [3]),
        ({"document": "PO-1"}, [1, 0]),
        ({"reference": "RMA-9"}, [2]),
        ({"sku": "SHEET", "warehouse": "BAL", "kind": "receipt"}, [0]),
        ({"recorded_after": "2026-03-02T12:00:00Z"}, [4, 3, 2, 1]),
        ({"recorded_before": "2026-03-02T12:00:00Z"}, [0]),
        ({"recorded_after": "2026-03-02", "recorded_before": "2026-03-04"}, [2, 1]),
        ({"recorded_after": "2026-03-03T13:00:00+01:00"}, [4, 3, 2]),
        ({"occurred_before": "2026-03-01T00:00:00Z"}, [2]),
        ({"occurred_after": "2026-03-01T00:00:00Z", "sku": "SHEET"}, [1, 0]),
    ],
)
def test_filters(ops_client, ledger, query, positions):
    response = ops_client.get(URL, query)

    assert _ids(response) == [ledger[position] for position in positions]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"recorded_after": "yesterday"}, "recorded_after"),
        ({"recorded_before": "2026-13-01"}, "recorded_before"),
        ({"occurred_after": "2026-03-01T25:00:00Z"}, "occurred_after"),
        ({"occurred_before": "1.5"}, "occurred_before"),
        ({"warehouse": "NOPE"}, "warehouse"),
        ({"kind": "theft"}, "kind"),
        ({"reason": "whim"}, "reason"),
        ({"source": "email"}, "source"),
    ],
)
def test_an_unreadable_filter_is_400_naming_it(ops_client, ledger, query, parameter):
    response = ops_client.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [parameter]
    assert error["message"].startswith(f"{parameter}:")


def test_an_invented_cursor_is_404(ops_client, ledger):
    response = ops_client.get(URL, {"cursor": "not-a-cursor"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_ordering_parameter_does_not_reorder_the_ledger(ops_client, ledger):
    response = ops_client.get(URL, {"ordering": "id"})

    assert _ids(response) == ledger[::-1]


@pytest.mark.parametrize("rows", [2, 20])
def test_list_takes_the_same_number_of_queries_for_2_or_20_movements(
    ops_client, django_assert_num_queries, rows
):
    warehouse = WarehouseFactory(code="BAL")
    for _ in range(rows):
        receive_stock(variant=VariantFactory(), warehouse=warehouse, quantity=1, actor=SYSTEM)

    # Token and user, the user's groups, the warehouse named, the page.
    with django_assert_num_queries(4):
        response = ops_client.get(URL, {"page_size": 50, "warehouse": "BAL"})

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_ledger_cannot_be_written_here(ops_client, ledger, method):
    response = getattr(ops_client, method)(URL, {"sku": "SHEET"}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert ledger_ids() == ledger


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_every_role_reads_the_whole_ledger(make_client, ledger, role):
    response = make_client(role).get(URL)

    assert _ids(response) == ledger[::-1]
