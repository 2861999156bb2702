"""Under /api/ every error is JSON in the one shape, including those Django answers itself."""

import json

import pytest

from stock.models import StockMovement
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("path", ["/api/v1/orders/abc/", "/api/v1/nothing-here/", "/api/nothing"])
def test_a_path_that_matches_nothing_is_a_json_404(ops_client, debug, path):
    response = ops_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], sorted(error)) == ("not_found", ["code", "details", "message"])


def test_a_body_over_the_size_limit_is_a_json_413_and_writes_nothing(ops_client, debug, settings):
    stocked(VariantFactory(sku="SHEET"), WarehouseFactory(code="BER"), 10)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(
        {"sku": "SHEET", "warehouse": "BER", "delta": 1, "reason": "found", "note": "x" * 2000}
    )
    movements = StockMovement.objects.count()

    response = ops_client.post("/api/v1/stock/adjustments/", body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "request_too_large",
            "message": "The request body is larger than the 1000 bytes allowed.",
            "details": {"limit": 1000},
        }
    }
    assert StockMovement.objects.count() == movements


def test_pages_outside_the_api_keep_django_answers(client, settings):
    settings.DEBUG = False

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
