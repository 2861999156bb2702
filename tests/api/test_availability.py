"""Storefront availability over HTTP: public, cached, throttled, no per-warehouse numbers."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from inventory_hub.api.throttling import AnonymousRateThrottle
from stock.availability import MAX_SKUS
from stock.models import BackorderPolicy
from stock.services.status import force_status
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/availability/"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Cached answers and throttle counters outlive each test's database rollback.
    cache.clear()


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def america():
    baltimore = WarehouseFactory(code="BAL", name="Baltimore")
    austin = WarehouseFactory(code="AUS", name="Austin")
    return channel_selling_from(baltimore, austin, code="NA")


@pytest.fixture
def catalogue(america):
    """SHEET: 10 at Baltimore and 5 at Austin. PILLOW: 3 at Baltimore (low stock)."""
    baltimore, austin = (link.warehouse for link in america.links.order_by("priority"))
    sheet = VariantFactory(sku="SHEET", low_stock_threshold=5)
    pillow = VariantFactory(sku="PILLOW", low_stock_threshold=5)
    stocked(sheet, baltimore, 10)
    stocked(sheet, austin, 5)
    stocked(pillow, baltimore, 3)
    return sheet, pillow


def test_answers_each_skus_salable_quantity_and_status_without_authentication(anonymous, catalogue):
    response = anonymous.get(URL, {"channel": "NA", "sku": ["SHEET", "PILLOW"]})

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "channel": "NA",
        "items": [
            {
                "sku": "SHEET",
                "salable_quantity": 15,
                "status": "in_stock",
                "real_status": "in_stock",
                "forced_status": None,
                "message": "In stock",
            },
            {
                "sku": "PILLOW",
                "salable_quantity": 3,
                "status": "only_n_left",
                "real_status": "only_n_left",
                "forced_status": None,
                "message": "Only 3 left",
            },
        ],
        "unknown_skus": [],
    }


def test_a_garbage_authorization_header_is_ignored(anonymous, catalogue):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"})

    assert response.status_code == 200
    assert response.json()["items"][0]["salable_quantity"] == 15


def test_reveals_no_warehouse_code_or_name(anonymous, catalogue):
    response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET,PILLOW"})

    assert response.status_code == 200
    text = response.content.decode()
    for revealing in ("BAL", "AUS", "Baltimore", "Austin", "warehouse", "breakdown"):
        assert revealing not in text


def test_is_cacheable_by_browsers_and_proxies_for_the_configured_seconds(anonymous, catalogue):
    with override_settings(AVAILABILITY_CACHE_SECONDS=7):
        response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"})

    assert response.headers["Cache-Control"] == "public, max-age=7"


def test_skus_may_be_repeated_or_comma_separated_and_duplicates_count_once(anonymous, catalogue):
    response = anonymous.get(f"{URL}?channel=NA&sku=PILLOW,SHEET&sku=SHEET&sku=%20PILLOW%20")

    assert response.status_code == 200
    assert [item["sku"] for item in response.json()["items"]] == ["PILLOW", "SHEET"]


def test_unknown_and_inactive_skus_are_listed_apart(anonymous, catalogue):
    VariantFactory(sku="RETIRED", is_active=False)

    response = anonymous.get(URL, {"channel": "NA", "sku": "NOPE,SHEET,RETIRED"})

    assert response.status_code == 200
    assert [item["sku"] for item in response.json()["items"]] == ["SHEET"]
    assert response.json()["unknown_skus"] == ["NOPE", "RETIRED"]


def test_out_of_stock_and_preorder_statuses(anonymous, america):
    VariantFactory(sku="GONE")
    VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)

    response = anonymous.get(URL, {"channel": "NA", "sku": "GONE,PRE"})

    items = {item["sku"]: item for item in response.json()["items"]}
    assert (items["GONE"]["salable_quantity"], items["GONE"]["status"]) == (0, "out_of_stock")
    assert items["GONE"]["message"] == "Out of stock"
    assert (items["PRE"]["salable_quantity"], items["PRE"]["status"]) == (0, "preorder")
    assert items["PRE"]["message"] == "Available to pre-order"


def test_forced_status_is_shown_beside_the_real_one(anonymous, america, catalogue):
    sheet, _ = catalogue
    force_status(
        variant=sheet, status="out_of_stock", reason="recall", actor=SYSTEM, channel=america
    )

    response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"})

    item = response.json()["items"][0]
    assert (item["status"], item["real_status"], item["forced_status"]) == (
        "out_of_stock",
        "in_stock",
        "out_of_stock",
    )
    assert item["salable_quantity"] == 15


def test_second_request_is_served_from_the_cache(anonymous, catalogue, django_assert_num_queries):
    anonymous.get(URL, {"channel": "NA", "sku": "SHEET,PILLOW"})

    # The channel and the variants are looked up; the numbers come from the cache.
    with django_assert_num_queries(2):
        response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET,PILLOW"})

    assert response.json()["items"][0]["salable_quantity"] == 15


def test_a_committed_order_drops_the_cached_answer(
    anonymous, america, catalogue, django_capture_on_commit_callbacks
):
    anonymous.get(URL, {"channel": "NA", "sku": "SHEET"})

    with django_capture_on_commit_callbacks(execute=True):
        place(america, "A-1", ("SHEET", 4))
    response = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"})

    assert response.json()["items"][0]["salable_quantity"] == 11


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"sku": "SHEET"}, "channel"),
        ({"channel": "", "sku": "SHEET"}, "channel"),
        ({"channel": "NA"}, "sku"),
        ({"channel": "NA", "sku": ""}, "sku"),
        ({"channel": "NA", "sku": " , ,"}, "sku"),
        ({"channel": "NA", "sku": ",".join(f"S{n}" for n in range(MAX_SKUS + 1))}, "sku"),
    ],
)
def test_missing_or_bad_parameter_is_400_naming_it(anonymous, catalogue, query, parameter):
    response = anonymous.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [parameter]
    assert error["message"].startswith(f"{parameter}:")


def test_exactly_the_maximum_number_of_skus_is_accepted(anonymous, catalogue):
    skus = ["SHEET"] + [f"S{n}" for n in range(MAX_SKUS - 1)]

    response = anonymous.get(URL, {"channel": "NA", "sku": ",".join(skus)})

    assert response.status_code == 200
    assert len(response.json()["unknown_skus"]) == MAX_SKUS - 1


def test_unknown_channel_is_404(anonymous, catalogue):
    response = anonymous.get(URL, {"channel": "MARS", "sku": "SHEET"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_channel"
    assert response.json()["error"]["details"] == {"channel": "MARS"}


def test_inactive_channel_answers_exactly_like_an_unknown_one(anonymous, catalogue):
    SalesChannelFactory(code="OLD", is_active=False)

    inactive = anonymous.get(URL, {"channel": "OLD", "sku": "SHEET"})
    unknown = anonymous.get(URL, {"channel": "NEVER", "sku": "SHEET"})

    assert inactive.status_code == unknown.status_code == 404
    assert inactive.json()["error"]["code"] == "unknown_channel"
    assert inactive.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
        "NEVER", "OLD"
    )


def test_too_many_requests_from_one_address_are_429_with_retry_after(
    anonymous, catalogue, monkeypatch
):
    # DRF reads the rates once, at import; patch the class's copy for this test only.
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anonymous": "2/min"})

    answers = [anonymous.get(URL, {"channel": "NA", "sku": "SHEET"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "throttled"
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60


def test_other_addresses_are_not_throttled_by_one_busy_address(anonymous, catalogue, monkeypatch):
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anonymous": "1/min"})
    anonymous.get(URL, {"channel": "NA", "sku": "SHEET"}, REMOTE_ADDR="10.0.0.1")

    busy = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"}, REMOTE_ADDR="10.0.0.1")
    other = anonymous.get(URL, {"channel": "NA", "sku": "SHEET"}, REMOTE_ADDR="10.0.0.2")

    assert (busy.status_code, other.status_code) == (429, 200)
