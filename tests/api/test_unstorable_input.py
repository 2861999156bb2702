"""Answers that echo input no encoder or PostgreSQL can hold are still given, kept, replayed."""

import json

import pytest

from stock.models import StockMovement
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/stock/adjustments/"


@pytest.fixture
def shelf():
    stocked(VariantFactory(sku="SHEET"), WarehouseFactory(code="BER"), 10)


@pytest.mark.parametrize("field", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
def test_refusal_naming_an_unstorable_field_is_answered_kept_and_replayed(ops_client, shelf, field):
    payload = {"sku": "SHEET", "warehouse": "BER", "delta": 1, "reason": "found", field: 1}
    # Sent as escaped JSON: a lone surrogate cannot be encoded as UTF-8 text.
    body = json.dumps(payload)
    key = {"HTTP_IDEMPOTENCY_KEY": "odd-field"}
    movements = StockMovement.objects.count()

    first = ops_client.post(URL, body, content_type="application/json", **key)
    again = ops_client.post(URL, body, content_type="application/json", **key)

    assert first.status_code == again.status_code == 400
    assert first.json()["error"] == {
        "code": "validation_error",
        "message": "a\ufffdb: Unknown field.",
        "details": {"a\ufffdb": ["Unknown field."]},
    }
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert StockMovement.objects.count() == movements


def test_unknown_field_with_a_lone_surrogate_is_400_naming_it_without_the_key(ops_client):
    WarehouseFactory(code="BER", name="Berlin")
    body = json.dumps({"name": "Berlin Nord", "\ud800": 1})

    response = ops_client.patch("/api/v1/warehouses/BER/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"\ufffd": ["Unknown field."]}
