"""Bodies built to break a parser are refused at the door with the one error shape."""

import pytest

from stock.models import StockMovement
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/stock/adjustments/"),
        ("patch", "/api/v1/warehouses/BER/"),
        ("post", "/api/v1/orders/"),
        ("put", "/api/v1/channels/web/"),
    ],
)
def test_json_nested_ten_thousand_deep_is_400_not_500(ops_client, method, url):
    WarehouseFactory(code="BER")
    SalesChannelFactory(code="web")
    body = "[" * 10_000 + "]" * 10_000

    response = getattr(ops_client, method)(url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "nested deeper than 64 levels" in response.json()["error"]["message"]
    assert StockMovement.objects.count() == 0


def test_json_nested_past_the_limit_is_400_naming_where(ops_client):
    body = '{"sku": ' + "[" * 70 + "]" * 70 + "}"

    response = ops_client.post("/api/v1/stock/adjustments/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "JSON parse error - sku" + "[0]" * 63 + ": nested deeper than 64 levels"
    )
