"""Orders over HTTP: place, list, read, pay, ship, cancel; errors, roles, idempotency."""

from datetime import timedelta
from functools import partial

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stock.models import BackorderPolicy, Order, OrderStatus, StockLevel
from tests.stock.factories import (
    VariantFactory,
    channel_selling_from,
    orders_state,
    place,
    run_at_once,
    set_clock,
    stocked,
)
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttle counters live in the cache, which outlives each test's database rollback.
    cache.clear()


@pytest.fixture
def baltimore():
    return WarehouseFactory(code="BAL")


@pytest.fixture
def austin():
    return WarehouseFactory(code="AUS")


@pytest.fixture
def berlin():
    return WarehouseFactory(code="BER")


@pytest.fixture
def america(baltimore, austin):
    """Sells from Baltimore first, then Austin."""
    return channel_selling_from(baltimore, austin, code="NA")


@pytest.fixture
def europe(berlin):
    return channel_selling_from(berlin, code="EU")


@pytest.fixture
def sheet(baltimore, austin, berlin):
    variant = VariantFactory(sku="SHEET")
    stocked(variant, baltimore, 10)
    stocked(variant, austin, 10)
    stocked(variant, berlin, 10)
    return variant


@pytest.fixture
def pillow(baltimore):
    variant = VariantFactory(sku="PILLOW")
    stocked(variant, baltimore, 3)
    return variant


def order_payload(*lines: tuple[str, int], reference: str = "A-1", channel: str = "NA", **extra):
    return {
        "channel": channel,
        "reference": reference,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        **extra,
    }


def balances(variant) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) per warehouse code."""
    return {
        code: (on_hand, reserved)
        for code, on_hand, reserved in StockLevel.objects.filter(variant=variant).values_list(
            "warehouse__code", "on_hand", "reserved"
        )
    }


def action_url(order: Order, action: str) -> str:
    return f"{URL}{order.pk}/{action}/"


# --- Placing --------------------------------------------------------------------------------


def test_placing_reserves_and_answers_201_with_where_each_line_is_held(
    ops_client, america, sheet, pillow
):
    response = ops_client.post(URL, order_payload(("SHEET", 12), ("PILLOW", 2)), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk
    assert (body["channel"], body["reference"], body["status"]) == ("NA", "A-1", "placed")
    assert body["shipping"] is None
    assert parse_datetime(body["expires_at"]) == order.expires_at
    assert parse_datetime(body["placed_at"]) == order.placed_at
    assert (body["paid_at"], body["shipped_at"], body["closed_at"]) == (None, None, None)
    assert body["is_short"] is False
    assert body["lines"] == [
        {
            "line": 1,
            "sku": "SHEET",
            "quantity": 12,
            "backordered_quantity": 0,
            "short_quantity": 0,
            "status": "open",
            "allocations": [
                {"warehouse": "BAL", "quantity": 10, "status": "held"},
                {"warehouse": "AUS", "quantity": 2, "status": "held"},
            ],
        },
        {
            "line": 2,
            "sku": "PILLOW",
            "quantity": 2,
            "backordered_quantity": 0,
            "short_quantity": 0,
            "status": "open",
            "allocations": [{"warehouse": "BAL", "quantity": 2, "status": "held"}],
        },
    ]
    assert balances(sheet) == {"BAL": (10, 10), "AUS": (10, 2), "BER": (10, 0)}
    assert balances(pillow) == {"BAL": (3, 2)}


def test_shipping_address_and_hold_minutes_are_kept_on_the_order(ops_client, america, sheet):
    payload = order_payload(
        ("SHEET", 1), shipping={"latitude": 39.29, "longitude": -76.61}, hold_minutes=5
    )

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["shipping"] == {"latitude": 39.29, "longitude": -76.61}
    assert parse_datetime(body["expires_at"]) - parse_datetime(body["placed_at"]) == timedelta(
        minutes=5
    )


def test_backordered_line_says_how_much_is_backordered(ops_client, america, baltimore):
    preorder = VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    stocked(preorder, baltimore, 2)

    response = ops_client.post(URL, order_payload(("PRE", 5)), format="json")

    assert response.status_code == 201, response.json()
    line = response.json()["lines"][0]
    assert (line["quantity"], line["backordered_quantity"]) == (5, 3)
    assert line["allocations"] == [{"warehouse": "BAL", "quantity": 5, "status": "held"}]


def test_insufficient_stock_is_409_listing_each_short_line_and_writes_nothing(
    ops_client, america, sheet, pillow
):
    before = orders_state()

    response = ops_client.post(URL, order_payload(("SHEET", 25), ("PILLOW", 5)), format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"] == {
        "lines": [
            {"line": 1, "sku": "SHEET", "requested": 25, "available": 20, "missing": 5},
            {"line": 2, "sku": "PILLOW", "requested": 5, "available": 3, "missing": 2},
        ]
    }
    assert orders_state() == before


def test_same_reference_again_answers_200_with_the_existing_order_and_writes_nothing(
    ops_client, america, sheet
):
    first = ops_client.post(URL, order_payload(("SHEET", 2)), format="json")
    before = orders_state()

    again = ops_client.post(URL, order_payload(("SHEET", 7)), format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert orders_state() == before


def test_same_reference_on_another_channel_is_another_order(ops_client, america, europe, sheet):
    first = ops_client.post(URL, order_payload(("SHEET", 1)), format="json")

    other = ops_client.post(URL, order_payload(("SHEET", 1), channel="EU"), format="json")

    assert (first.status_code, other.status_code) == (201, 201)
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["lines"][0]["allocations"][0]["warehouse"] == "BER"


def test_unknown_channel_is_400_unknown_channel(ops_client, sheet):
    before = orders_state()

    response = ops_client.post(URL, order_payload(("SHEET", 1), channel="MARS"), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_channel"
    assert response.json()["error"]["details"] == {"channel": "MARS"}
    assert orders_state() == before


@pytest.mark.parametrize(
    ("lines", "code", "bad_lines"),
    [
        ([("SHEET", 1), ("NOPE", 1)], "unknown_sku", [2]),
        ([("SHEET", 0)], "invalid_quantity", [1]),
        ([("SHEET", 1), ("PILLOW", -3)], "invalid_quantity", [2]),
        ([("SHEET", 10**12)], "invalid_quantity", [1]),
        ([("SHEET", 1), ("SHEET", 2)], "invalid_order", [2]),
        ([("NOPE", 1), ("SHEET", 0)], "unknown_sku", [1, 2]),
    ],
)
def test_bad_line_is_400_naming_the_line_and_writes_nothing(
    ops_client, america, sheet, pillow, lines, code, bad_lines
):
    before = orders_state()

    response = ops_client.post(URL, order_payload(*lines), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert [line["line"] for line in error["details"]["lines"]] == bad_lines
    assert orders_state() == before


def test_sku_no_warehouse_of_the_channel_stocks_is_400_not_sellable(
    ops_client, europe, sheet, pillow
):
    before = orders_state()

    response = ops_client.post(
        URL, order_payload(("SHEET", 1), ("PILLOW", 1), channel="EU"), format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_sellable"
    assert error["details"] == {"lines": [{"code": "not_sellable", "line": 2, "sku": "PILLOW"}]}
    assert orders_state() == before


def test_empty_order_is_400_invalid_order(ops_client, america):
    response = ops_client.post(URL, order_payload(), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_order"
    assert Order.objects.count() == 0


def test_order_on_an_inactive_channel_is_400_invalid_order(ops_client, america, sheet):
    america.is_active = False
    america.save(update_fields=["is_active"])
    before = orders_state()

    response = ops_client.post(URL, order_payload(("SHEET", 1)), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_order"
    assert orders_state() == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lines": [{"sku": "SHEET", "quantity": "1"}]}, "lines"),
        ({"lines": [{"sku": "SHEET", "quantity": 1.5}]}, "lines"),
        ({"lines": [{"sku": "SHEET"}]}, "lines"),
        ({"lines": [{"sku": "SHEET", "quantity": 1, "price": 9}]}, "lines"),
        ({"lines": "SHEET"}, "lines"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 101}, "reference"),
        ({"channel": None}, "channel"),
        ({"shipping": {"latitude": 91, "longitude": 0}}, "shipping"),
        ({"shipping": {"latitude": "39.2", "longitude": 0}}, "shipping"),
        ({"shipping": {"latitude": 39.2}}, "shipping"),
        ({"hold_minutes": 0}, "hold_minutes"),
        ({"hold_minutes": True}, "hold_minutes"),
        ({"coupon": "FREE"}, "coupon"),
    ],
)
def test_malformed_order_is_400_validation_error_naming_the_field(
    ops_client, america, sheet, changes, field
):
    before = orders_state()

    response = ops_client.post(URL, {**order_payload(("SHEET", 1)), **changes}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert error["message"].startswith(field)
    assert orders_state() == before


def test_malformed_json_is_400(ops_client):
    response = ops_client.post(URL, '{"channel": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


# --- Who may place --------------------------------------------------------------------------


def test_integration_places_orders_on_its_own_channel(make_client, america, sheet):
    integration = make_client(Role.INTEGRATION, channels=[america])

    response = integration.post(URL, order_payload(("SHEET", 1)), format="json")

    assert response.status_code == 201, response.json()


def test_integration_of_one_channel_cannot_place_on_another(make_client, america, europe, sheet):
    integration = make_client(Role.INTEGRATION, channels=[europe])
    before = orders_state()

    response = integration.post(URL, order_payload(("SHEET", 1)), format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "NA" in response.json()["error"]["message"]
    assert orders_state() == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER, None])
def test_viewer_manager_and_roleless_users_cannot_place(
    make_client, america, baltimore, sheet, role
):
    client = make_client(role, warehouses=[baltimore])
    before = orders_state()

    response = client.post(URL, order_payload(("SHEET", 1)), format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert orders_state() == before


def test_anonymous_caller_is_401(client, america, sheet):
    response = client.post(URL, order_payload(("SHEET", 1)), content_type="application/json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert Order.objects.count() == 0


# --- Idempotency-Key ------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_the_first_answer_with_one_order(
    ops_client, america, sheet
):
    payload = order_payload(("SHEET", 2))

    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-k1")
    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-k1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert balances(sheet)["BAL"] == (10, 2)


def test_same_idempotency_key_with_another_body_is_422_and_writes_nothing(
    ops_client, america, sheet
):
    ops_client.post(
        URL, order_payload(("SHEET", 2)), format="json", HTTP_IDEMPOTENCY_KEY="order-k2"
    )
    before = orders_state()

    other = ops_client.post(
        URL,
        order_payload(("SHEET", 3), reference="A-2"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-k2",
    )

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert orders_state() == before


def test_refused_order_is_replayed_with_its_key_even_after_stock_arrives(
    ops_client, america, sheet, baltimore
):
    payload = order_payload(("SHEET", 25))
    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-k3")
    stocked(sheet, baltimore, 10)
    before = orders_state()

    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="order-k3")

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert orders_state() == before


# --- Listing and reading --------------------------------------------------------------------


def test_any_role_lists_orders_newest_first(make_client, america, sheet):
    older = place(america, "A-1", ("SHEET", 1)).order
    newer = place(america, "A-2", ("SHEET", 1)).order
    viewer = make_client(Role.VIEWER)

    response = viewer.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [order["id"] for order in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0]["lines"][0]["allocations"] == [
        {"warehouse": "BAL", "quantity": 1, "status": "held"}
    ]


def test_list_filters_by_channel_status_and_reference(ops_client, america, europe, sheet):
    american = place(america, "A-1", ("SHEET", 1)).order
    european = place(europe, "E-1", ("SHEET", 1)).order
    paid = place(america, "A-2", ("SHEET", 1)).order
    ops_client.post(action_url(paid, "pay"))

    def ids(query: str) -> list[int]:
        response = ops_client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(order["id"] for order in response.json()["results"])

    assert ids("channel=EU") == [european.pk]
    assert ids("channel=NA&status=placed") == [american.pk]
    assert ids("status=placed&status=paid") == sorted([american.pk, european.pk, paid.pk])
    assert ids("reference=A-2") == [paid.pk]


def test_list_filters_by_placed_time_range(ops_client, america, sheet):
    early = place(america, "A-1", ("SHEET", 1)).order
    late = place(america, "A-2", ("SHEET", 1)).order
    Order.objects.filter(pk=early.pk).update(placed_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    after = ops_client.get(URL, {"placed_after": since})
    before = ops_client.get(URL, {"placed_before": since})

    assert [order["id"] for order in after.json()["results"]] == [late.pk]
    assert [order["id"] for order in before.json()["results"]] == [early.pk]


def test_time_filter_takes_any_offset_python_accepts(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 1)).order
    # +18:56 is beyond what PostgreSQL accepts in a timestamp literal (±15:59).
    since = (order.placed_at - timedelta(minutes=1)).astimezone(
        timezone.get_fixed_timezone(18 * 60 + 56)
    )

    response = ops_client.get(URL, {"placed_after": since.isoformat()})

    assert response.status_code == 200, response.json()
    assert [found["id"] for found in response.json()["results"]] == [order.pk]


@pytest.mark.parametrize(
    "query",
    ["status=lost", "placed_after=yesterday", "placed_before=0001-01-01T00:00:00%2B05:00"],
)
def test_list_with_a_bad_filter_value_is_400_naming_it(ops_client, query):
    response = ops_client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert query.split("=")[0] in response.json()["error"]["details"]


@pytest.mark.parametrize("count", [2, 20])
def test_listing_orders_takes_the_same_queries_for_2_or_20(
    ops_client, america, sheet, pillow, django_assert_num_queries, count
):
    for number in range(count):
        # Past 10 orders SHEET comes from Austin too; three orders have a second line.
        lines = [("SHEET", 1)] + ([("PILLOW", 1)] if number < 3 else [])
        place(america, f"A-{number}", *lines)

    # token with user, the user's groups, count, orders with channel, lines with variant,
    # allocations with warehouse.
    with django_assert_num_queries(6):
        response = ops_client.get(URL)

    assert response.json()["count"] == count


def test_retrieve_answers_one_order(make_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    viewer = make_client(Role.VIEWER)

    response = viewer.get(f"{URL}{order.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["reference"], body["status"]) == (order.pk, "A-1", "placed")
    assert body["lines"][0]["allocations"] == [
        {"warehouse": "BAL", "quantity": 2, "status": "held"}
    ]


def test_retrieve_unknown_order_is_404(ops_client):
    response = ops_client.get(f"{URL}999999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Paying ---------------------------------------------------------------------------------


def test_paying_makes_the_hold_firm(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order

    response = ops_client.post(action_url(order, "pay"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "paid"
    assert body["expires_at"] is None
    assert body["paid_at"] is not None
    assert balances(sheet)["BAL"] == (10, 2)


def test_paying_twice_answers_200_and_changes_nothing(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    first = ops_client.post(action_url(order, "pay"))
    before = orders_state()

    again = ops_client.post(action_url(order, "pay"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert orders_state() == before


def test_paying_after_the_hold_expired_is_409_hold_expired(ops_client, america, sheet, monkeypatch):
    order = place(america, "A-1", ("SHEET", 2), hold_minutes=5).order
    set_clock(monkeypatch, timezone.now() + timedelta(minutes=6))
    before = orders_state()

    response = ops_client.post(action_url(order, "pay"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "hold_expired"
    assert orders_state() == before


def test_paying_a_cancelled_order_is_409_invalid_order_state(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    ops_client.post(action_url(order, "cancel"))
    before = orders_state()

    response = ops_client.post(action_url(order, "pay"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_order_state"
    assert response.json()["error"]["details"] == {"status": "cancelled"}
    assert orders_state() == before


def test_channel_integration_pays_but_another_channels_integration_cannot(
    make_client, america, europe, sheet
):
    order = place(america, "A-1", ("SHEET", 2)).order
    own = make_client(Role.INTEGRATION, username="na-shop", channels=[america])
    foreign = make_client(Role.INTEGRATION, username="eu-shop", channels=[europe])

    refused = foreign.post(action_url(order, "pay"))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED
    allowed = own.post(action_url(order, "pay"))

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert allowed.status_code == 200


@pytest.mark.parametrize("action", ["pay", "cancel"])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER])
def test_viewer_and_manager_cannot_pay_or_cancel(
    make_client, america, baltimore, sheet, role, action
):
    order = place(america, "A-1", ("SHEET", 2)).order
    client = make_client(role, warehouses=[baltimore])
    before = orders_state()

    response = client.post(action_url(order, action))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert orders_state() == before


@pytest.mark.parametrize("action", ["pay", "ship", "cancel"])
def test_action_on_an_unknown_order_is_404(ops_client, action):
    response = ops_client.post(f"{URL}999999999/{action}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("action", ["pay", "cancel"])
def test_pay_and_cancel_refuse_a_body_with_fields(ops_client, america, sheet, action):
    order = place(america, "A-1", ("SHEET", 2)).order
    before = orders_state()

    response = ops_client.post(action_url(order, action), {"force": True}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"force": ["Unknown field."]}
    assert orders_state() == before


# --- Shipping -------------------------------------------------------------------------------


def test_shipping_takes_on_hand_and_reserved_down_together(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 12)).order

    response = ops_client.post(action_url(order, "ship"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "shipped"
    assert body["shipped_at"] is not None
    assert body["lines"][0]["status"] == "shipped"
    assert body["lines"][0]["allocations"] == [
        {"warehouse": "BAL", "quantity": 10, "status": "shipped"},
        {"warehouse": "AUS", "quantity": 2, "status": "shipped"},
    ]
    assert balances(sheet) == {"BAL": (0, 0), "AUS": (8, 0), "BER": (10, 0)}


def test_shipping_some_lines_leaves_the_order_partially_shipped(ops_client, america, sheet, pillow):
    order = place(america, "A-1", ("SHEET", 2), ("PILLOW", 1)).order

    response = ops_client.post(action_url(order, "ship"), {"lines": [2]}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "partially_shipped"
    assert [(line["line"], line["status"]) for line in body["lines"]] == [
        (1, "open"),
        (2, "shipped"),
    ]
    assert balances(pillow) == {"BAL": (2, 0)}
    assert balances(sheet)["BAL"] == (10, 2)


def test_shipping_twice_answers_200_and_changes_nothing(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    first = ops_client.post(action_url(order, "ship"))
    before = orders_state()

    again = ops_client.post(action_url(order, "ship"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert orders_state() == before


def test_shipping_a_line_the_order_lacks_is_400_naming_it(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    before = orders_state()

    response = ops_client.post(action_url(order, "ship"), {"lines": [1, 7]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_order"
    assert response.json()["error"]["details"] == {"lines": [7]}
    assert orders_state() == before


@pytest.mark.parametrize("lines", [[], ["1"], [0], "1"])
def test_malformed_ship_body_is_400_naming_lines(ops_client, america, sheet, lines):
    order = place(america, "A-1", ("SHEET", 2)).order
    before = orders_state()

    response = ops_client.post(action_url(order, "ship"), {"lines": lines}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "lines" in response.json()["error"]["details"]
    assert orders_state() == before


def test_shipping_a_backordered_line_with_nothing_on_hand_is_409(ops_client, america):
    VariantFactory(sku="PRE", backorders=BackorderPolicy.ALLOW)
    order = place(america, "A-1", ("PRE", 3)).order
    before = orders_state()

    response = ops_client.post(action_url(order, "ship"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_stock"
    assert orders_state() == before


def test_shipping_after_the_hold_expired_is_409_hold_expired(
    ops_client, america, sheet, monkeypatch
):
    order = place(america, "A-1", ("SHEET", 2), hold_minutes=5).order
    set_clock(monkeypatch, timezone.now() + timedelta(minutes=6))
    before = orders_state()

    response = ops_client.post(action_url(order, "ship"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "hold_expired"
    assert orders_state() == before


def test_shipping_a_cancelled_order_is_409_invalid_order_state(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    ops_client.post(action_url(order, "cancel"))
    before = orders_state()

    response = ops_client.post(action_url(order, "ship"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_order_state"
    assert orders_state() == before


def test_manager_of_berlin_cannot_ship_an_order_held_in_baltimore(
    make_client, america, berlin, sheet
):
    order = place(america, "A-1", ("SHEET", 2)).order
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[berlin])
    before = orders_state()

    response = manager.post(action_url(order, "ship"))

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert "BAL" in error["message"]
    assert error["details"] == {"warehouses": ["BAL"]}
    assert orders_state() == before


def test_manager_of_baltimore_ships_an_order_held_in_baltimore(
    make_client, america, baltimore, sheet
):
    order = place(america, "A-1", ("SHEET", 2)).order
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[baltimore])

    response = manager.post(action_url(order, "ship"))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "shipped"
    assert balances(sheet)["BAL"] == (8, 0)


def test_manager_must_be_assigned_to_every_warehouse_holding_the_shipped_lines(
    make_client, america, baltimore, sheet, pillow
):
    # SHEET 12 is held 10 at Baltimore and 2 at Austin; PILLOW only at Baltimore.
    order = place(america, "A-1", ("SHEET", 12), ("PILLOW", 1)).order
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[baltimore])
    before = orders_state()

    everything = manager.post(action_url(order, "ship"))
    assert orders_state() == before
    own_line = manager.post(action_url(order, "ship"), {"lines": [2]}, format="json")

    assert everything.status_code == 403
    assert everything.json()["error"]["details"] == {"warehouses": ["AUS"]}
    assert own_line.status_code == 200, own_line.json()
    assert own_line.json()["status"] == "partially_shipped"


def test_channel_integration_ships_but_another_channels_integration_cannot(
    make_client, america, europe, sheet
):
    order = place(america, "A-1", ("SHEET", 2)).order
    own = make_client(Role.INTEGRATION, username="na-shop", channels=[america])
    foreign = make_client(Role.INTEGRATION, username="eu-shop", channels=[europe])

    refused = foreign.post(action_url(order, "ship"))
    assert balances(sheet)["BAL"] == (10, 2)
    allowed = own.post(action_url(order, "ship"))

    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert balances(sheet)["BAL"] == (8, 0)


def test_viewer_cannot_ship(make_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    viewer = make_client(Role.VIEWER)
    before = orders_state()

    response = viewer.post(action_url(order, "ship"))

    assert response.status_code == 403
    assert orders_state() == before


def test_ship_with_the_same_idempotency_key_replays_and_another_body_is_422(
    ops_client, america, sheet, pillow
):
    order = place(america, "A-1", ("SHEET", 2), ("PILLOW", 1)).order
    url = action_url(order, "ship")

    first = ops_client.post(url, {"lines": [1]}, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")
    again = ops_client.post(url, {"lines": [1]}, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")
    other = ops_client.post(url, {"lines": [2]}, format="json", HTTP_IDEMPOTENCY_KEY="ship-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert balances(pillow) == {"BAL": (3, 1)}


# --- Cancelling -----------------------------------------------------------------------------


def test_cancelling_releases_every_held_unit(ops_client, america, sheet, pillow):
    order = place(america, "A-1", ("SHEET", 12), ("PILLOW", 1)).order

    response = ops_client.post(action_url(order, "cancel"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["closed_at"] is not None
    assert [line["status"] for line in body["lines"]] == ["released", "released"]
    assert balances(sheet) == {"BAL": (10, 0), "AUS": (10, 0), "BER": (10, 0)}
    assert balances(pillow) == {"BAL": (3, 0)}


def test_cancelling_twice_answers_200_and_changes_nothing(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    first = ops_client.post(action_url(order, "cancel"))
    before = orders_state()

    again = ops_client.post(action_url(order, "cancel"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert orders_state() == before


def test_cancelling_a_shipped_order_is_409_invalid_order_state(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    ops_client.post(action_url(order, "ship"))
    before = orders_state()

    response = ops_client.post(action_url(order, "cancel"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_order_state"
    assert orders_state() == before


def test_channel_integration_cancels_its_order(make_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order
    integration = make_client(Role.INTEGRATION, channels=[america])

    response = integration.post(action_url(order, "cancel"))

    assert response.status_code == 200
    assert balances(sheet)["BAL"] == (10, 0)


def test_cancel_with_the_same_idempotency_key_replays_the_first_answer(ops_client, america, sheet):
    order = place(america, "A-1", ("SHEET", 2)).order

    first = ops_client.post(action_url(order, "cancel"), HTTP_IDEMPOTENCY_KEY="cancel-1")
    again = ops_client.post(action_url(order, "cancel"), HTTP_IDEMPOTENCY_KEY="cancel-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


# --- Races ----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_same_reference_posted_at_once_with_different_keys_makes_one_order(
    ops_client, america, sheet, verify_ledger_clean
):
    # Each request runs inside its Idempotency-Key transaction: the loser's unique-index
    # violation must stay inside place_order's savepoint and turn into the 200 answer.
    jobs = [
        partial(
            ops_client.post,
            URL,
            order_payload(("SHEET", 3)),
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"race-{number}",
        )
        for number in range(8)
    ]

    attempts = run_at_once(jobs, workers=8)

    assert [attempt.error for attempt in attempts] == [None] * 8
    codes = sorted(attempt.result.status_code for attempt in attempts)
    assert codes == [200] * 7 + [201]
    assert {attempt.result.json()["id"] for attempt in attempts} == {Order.objects.get().pk}
    assert balances(sheet)["BAL"] == (10, 3)
    verify_ledger_clean()


# --- Short orders: sold on a store, not all held ----------------------------------------------


def short_order(channel, reference: str = "S-1", quantity: int = 25):
    """A store order for more than the channel's warehouses have (SHEET: 20 in America)."""
    return place(channel, reference, ("SHEET", quantity), accept_shortfall=True).order


def test_a_short_order_shows_each_lines_shortfall(ops_client, america, sheet):
    order = short_order(america)

    body = ops_client.get(f"{URL}{order.pk}/").json()

    assert body["is_short"] is True
    line = body["lines"][0]
    assert (line["quantity"], line["short_quantity"]) == (25, 5)
    assert sum(allocation["quantity"] for allocation in line["allocations"]) == 20


def test_list_filters_short_orders(ops_client, america, sheet):
    place(america, "A-1", ("SHEET", 1))
    short = short_order(america, "S-1", 24)

    only_short = ops_client.get(URL, {"is_short": "true"}).json()
    not_short = ops_client.get(URL, {"is_short": "false"}).json()

    assert [order["reference"] for order in only_short["results"]] == [short.reference]
    assert [order["reference"] for order in not_short["results"]] == ["A-1"]


def test_a_cancelled_short_order_is_no_longer_listed_as_short(ops_client, america, sheet):
    order = short_order(america)
    ops_client.post(action_url(order, "cancel"))

    response = ops_client.get(URL, {"is_short": "true"})

    assert response.json()["results"] == []


def test_fill_shortfall_holds_restocked_units(ops_client, america, baltimore, sheet):
    order = short_order(america)
    stocked(sheet, baltimore, 3)

    response = ops_client.post(action_url(order, "fill-shortfall"))

    assert response.status_code == 200
    line = response.json()["lines"][0]
    assert line["short_quantity"] == 2
    assert sum(allocation["quantity"] for allocation in line["allocations"]) == 23
    assert response.json()["is_short"] is True


def test_cancel_short_units_keeps_the_held_units(ops_client, america, sheet):
    order = short_order(america)

    response = ops_client.post(action_url(order, "cancel-short-units"))

    assert response.status_code == 200
    body = response.json()
    assert (body["is_short"], body["status"]) == (False, OrderStatus.PLACED)
    assert (body["lines"][0]["quantity"], body["lines"][0]["short_quantity"]) == (20, 0)


def test_fill_shortfall_on_a_cancelled_order_is_409(ops_client, america, sheet):
    order = short_order(america)
    ops_client.post(action_url(order, "cancel"))
    before = orders_state()

    response = ops_client.post(action_url(order, "fill-shortfall"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_order_state"
    assert orders_state() == before


@pytest.mark.parametrize("action", ["fill-shortfall", "cancel-short-units"])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER])
def test_viewer_and_manager_cannot_resolve_a_short_order(
    make_client, america, baltimore, sheet, role, action
):
    order = short_order(america)
    client = make_client(role, warehouses=[baltimore])
    before = orders_state()

    response = client.post(action_url(order, action))

    assert response.status_code == 403
    assert orders_state() == before


@pytest.mark.parametrize("action", ["fill-shortfall", "cancel-short-units"])
def test_another_channels_integration_cannot_resolve_a_short_order(
    make_client, america, europe, sheet, action
):
    order = short_order(america)
    foreign = make_client(Role.INTEGRATION, username="eu-shop", channels=[europe])

    response = foreign.post(action_url(order, action))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("action", ["fill-shortfall", "cancel-short-units"])
def test_resolving_an_unknown_order_is_404(ops_client, action):
    response = ops_client.post(f"{URL}999999999/{action}/")

    assert response.status_code == 404
