"""Every page-numbered list orders alike: known fields only, ties broken by id."""

import pytest

from tests.stock.factories import VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

LISTS = ["warehouses", "channels", "products", "variants", "stock", "orders"]


@pytest.mark.parametrize("name", LISTS)
def test_unknown_ordering_is_400_naming_the_parameter(ops_client, name):
    response = ops_client.get(f"/api/v1/{name}/", {"ordering": "password"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["ordering"]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("ordering", [",", "sku,", ",-sku"])
def test_an_empty_name_in_the_ordering_is_400_naming_the_parameter(ops_client, name, ordering):
    response = ops_client.get(f"/api/v1/{name}/?ordering={ordering}")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["ordering"]


@pytest.fixture
def three_orders():
    warehouse = WarehouseFactory(code="BAL")
    channel = channel_selling_from(warehouse, code="NA")
    stocked(VariantFactory(sku="SHEET"), warehouse, 10)
    return [place(channel, f"A-{number}", ("SHEET", 1)).order.pk for number in range(3)]


def test_orders_list_newest_first_by_default(ops_client, three_orders):
    response = ops_client.get("/api/v1/orders/")

    assert [order["id"] for order in response.json()["results"]] == three_orders[::-1]


def test_orders_list_oldest_first_when_asked(ops_client, three_orders):
    response = ops_client.get("/api/v1/orders/", {"ordering": "placed_at"})

    assert response.status_code == 200
    assert [order["id"] for order in response.json()["results"]] == three_orders
