"""Rate limits per token: 429 in the one error shape, with a Retry-After that is enough."""

import time

import pytest

from inventory_hub.api.throttling import TokenRateThrottle
from stock.models import StockLevel, StockMovement
from tests.stock.factories import VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
WAREHOUSES = "/api/v1/warehouses/"
ADJUSTMENTS = "/api/v1/stock/adjustments/"


@pytest.fixture(autouse=True)
def three_a_minute(monkeypatch):
    # DRF copies DEFAULT_THROTTLE_RATES into the class when it is imported; patch that copy
    # for this test only. (The counters live in the cache, which conftest empties.)
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand."""
    now = [time.time()]
    monkeypatch.setattr(TokenRateThrottle, "timer", lambda self: now[0])
    return now


@pytest.fixture
def shelf():
    variant = VariantFactory(sku="SHEET")
    stocked(variant, WarehouseFactory(code="BER"), 10)
    return variant


def found_one() -> dict:
    return {"sku": "SHEET", "warehouse": "BER", "delta": 1, "reason": "found"}


def _stock():
    return list(StockLevel.objects.values_list("on_hand", "version")), StockMovement.objects.count()


def test_fourth_request_in_a_minute_is_429_throttled_with_retry_after(ops_client):
    answers = [ops_client.get(WAREHOUSES) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    error = answers[3].json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("Request was throttled.")
    assert error["details"] is None
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60


def test_another_token_is_not_throttled_by_a_busy_one(ops_client, make_client):
    other = make_client(Role.VIEWER, username="other")
    for _ in range(3):
        ops_client.get(WAREHOUSES)

    busy = ops_client.get(WAREHOUSES)
    fresh = other.get(WAREHOUSES)

    assert (busy.status_code, fresh.status_code) == (429, 200)


def test_writes_count_toward_the_limit_and_a_throttled_write_writes_nothing(ops_client, shelf):
    for _ in range(3):
        assert ops_client.post(ADJUSTMENTS, found_one(), format="json").status_code == 201
    before = _stock()

    refused = ops_client.post(ADJUSTMENTS, found_one(), format="json")

    assert refused.status_code == 429
    assert _stock() == before


def test_waiting_retry_after_seconds_is_enough(ops_client, clock):
    for _ in range(3):
        ops_client.get(WAREHOUSES)
        clock[0] += 10
    clock[0] += 0.5
    # The oldest request leaves the window in 29.5 s: the header must not say 29.
    refused = ops_client.get(WAREHOUSES)
    wait = int(refused.headers["Retry-After"])

    clock[0] += wait - 1
    too_early = ops_client.get(WAREHOUSES)
    clock[0] += 1
    in_time = ops_client.get(WAREHOUSES)

    assert wait == 30
    assert (refused.status_code, too_early.status_code, in_time.status_code) == (429, 429, 200)


def test_throttled_post_does_not_use_up_its_idempotency_key(ops_client, shelf, clock):
    for _ in range(3):
        ops_client.get(WAREHOUSES)
    key = {"HTTP_IDEMPOTENCY_KEY": "adjust-1"}

    refused = ops_client.post(ADJUSTMENTS, found_one(), format="json", **key)
    clock[0] += 60
    retried = ops_client.post(ADJUSTMENTS, found_one(), format="json", **key)

    assert refused.status_code == 429
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert StockLevel.objects.get().on_hand == 11
