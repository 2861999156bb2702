import pytest

from stock.models import StockLevel, StockMovement
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/stock/adjustments/"


@pytest.fixture
def berlin_and_baltimore():
    variant = VariantFactory(sku="SHEET-Q-WHT")
    berlin, baltimore = WarehouseFactory(code="BER"), WarehouseFactory(code="BAL")
    stocked(variant, berlin, 10)
    stocked(variant, baltimore, 10)
    return variant, berlin, baltimore


def found_one(warehouse: str) -> dict:
    return {"sku": "SHEET-Q-WHT", "warehouse": warehouse, "delta": 1, "reason": "found"}


def _snapshot():
    return (
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved", "version")),
        StockMovement.objects.count(),
    )


def test_delta_adjustment_applies_and_answers_with_the_movement_and_level(
    ops_client, berlin_and_baltimore
):
    payload = {"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": -3, "reason": "damaged"}

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "applied"
    assert body["movement"]["delta_on_hand"] == -3
    assert body["movement"]["actor_kind"] == "api_client"
    assert body["movement"]["source"] == "api"
    assert body["level"]["on_hand"] == 7
    assert body["level"]["available"] == 7


def test_count_with_stale_expected_on_hand_is_409_with_current_value(
    ops_client, berlin_and_baltimore
):
    before = _snapshot()
    payload = {
        "sku": "SHEET-Q-WHT",
        "warehouse": "BER",
        "counted": 4,
        "reason": "cycle_count",
        "expected_on_hand": 9,
    }

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict_expected_on_hand"
    assert response.json()["error"]["details"]["current_on_hand"] == 10
    assert _snapshot() == before


def test_manager_of_berlin_cannot_adjust_baltimore(make_client, berlin_and_baltimore):
    _, berlin, _ = berlin_and_baltimore
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[berlin])
    before = _snapshot()

    refused = manager.post(URL, found_one("BAL"), format="json")
    allowed = manager.post(URL, found_one("BER"), format="json")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert allowed.status_code == 201
    assert StockMovement.objects.count() == before[1] + 1


def test_same_idempotency_key_replays_and_a_different_body_is_422(ops_client, berlin_and_baltimore):
    payload = {"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": 2, "reason": "found"}

    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = ops_client.post(URL, {**payload, "delta": 3}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert StockLevel.objects.get(warehouse__code="BER").on_hand == 12


def test_refused_request_is_stored_and_replayed_without_writing(ops_client, berlin_and_baltimore):
    payload = {"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": -50, "reason": "lost"}
    before = _snapshot()

    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": "5", "reason": "found"}, "delta"),
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": 2.5, "reason": "found"}, "delta"),
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": 10**12, "reason": "found"}, "delta"),
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": 1, "reason": "found", "x": 1}, "x"),
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "delta": 1, "reason": "nope"}, "reason"),
        ({"sku": "SHEET-Q-WHT", "warehouse": "BER", "reason": "found"}, "delta"),
    ],
)
def test_bad_input_is_400_naming_the_field(ops_client, berlin_and_baltimore, payload, field):
    before = _snapshot()

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert error["message"].startswith(f"{field}:")
    assert _snapshot() == before


def test_malformed_json_is_400(ops_client):
    response = ops_client.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_unknown_sku_is_400_unknown_sku(ops_client, berlin_and_baltimore):
    response = ops_client.post(
        URL, {"sku": "NOPE", "warehouse": "BER", "delta": 1, "reason": "found"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_sku"


def test_viewer_cannot_adjust(make_client, berlin_and_baltimore):
    viewer = make_client(Role.VIEWER)

    response = viewer.post(URL, found_one("BER"), format="json")

    assert response.status_code == 403
