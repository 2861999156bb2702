"""Input the API cannot take as given is a 400 naming it, never quietly read another way."""

import pytest

from stock.models import Product
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/warehouses/", "/api/v1/movements/"])
@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "2.5", "\uff11", "100000"])
def test_page_size_that_is_not_a_whole_number_in_range_is_400_naming_it(ops_client, url, page_size):
    response = ops_client.get(url, {"page_size": page_size})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["page_size"]


@pytest.mark.parametrize(
    ("url", "maximum"), [("/api/v1/warehouses/", 500), ("/api/v1/movements/", 1000)]
)
def test_page_size_up_to_the_maximum_is_honoured(ops_client, url, maximum):
    for number in range(3):
        stocked(VariantFactory(), WarehouseFactory(code=f"W{number}"), 1)

    small = ops_client.get(url, {"page_size": 2})
    largest = ops_client.get(url, {"page_size": maximum})

    assert (small.status_code, largest.status_code) == (200, 200)
    assert len(small.json()["results"]) == 2
    assert len(largest.json()["results"]) == 3


@pytest.mark.parametrize("name", [5, 5.5])
def test_a_number_where_text_is_expected_is_400_naming_the_field(ops_client, name):
    response = ops_client.post("/api/v1/products/", {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"name": ["Must be a JSON string."]}
    assert Product.objects.count() == 0


def test_a_number_where_text_is_expected_in_a_nested_item_is_400_naming_it(ops_client):
    WarehouseFactory(code="BER")
    payload = {"code": "EU", "name": "Europe", "warehouses": [{"warehouse": 7, "priority": 1}]}

    response = ops_client.post("/api/v1/channels/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "warehouses": {"0": {"warehouse": ["Must be a JSON string."]}}
    }


def test_text_that_looks_like_a_number_is_still_text(ops_client):
    response = ops_client.post("/api/v1/warehouses/", {"code": "7", "name": "7"}, format="json")

    assert response.status_code == 201
    assert Warehouse.objects.get().name == "7"


@pytest.mark.parametrize("attribute", ["100%e", "%s", "50%"])
def test_attribute_filter_without_a_colon_is_400_naming_it_even_with_a_percent_sign(
    ops_client, attribute
):
    response = ops_client.get("/api/v1/variants/", {"attribute": attribute})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "attribute": [f"{attribute!r}: write name:value, such as size:queen."]
    }
