from decimal import Decimal

import pytest

from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db
URL = "/api/v1/warehouses/"


def _rows():
    return list(Warehouse.objects.order_by("pk").values())


def test_list_shows_every_field_of_each_warehouse_ordered_by_code(ops_client):
    WarehouseFactory(code="REN", name="Reno")
    WarehouseFactory(
        code="BAL",
        name="Baltimore",
        address="1 Harbor St",
        latitude=Decimal("39.290400"),
        longitude=Decimal("-76.612200"),
        timezone="America/New_York",
        lead_time_days=3,
        daily_dispatch_capacity=400,
    )

    response = ops_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["code"] for row in body["results"]] == ["BAL", "REN"]
    baltimore = body["results"][0]
    created_at = baltimore.pop("created_at")
    assert created_at.startswith(str(Warehouse.objects.get(code="BAL").created_at.date()))
    assert baltimore == {
        "code": "BAL",
        "name": "Baltimore",
        "address": "1 Harbor St",
        "latitude": 39.2904,
        "longitude": -76.6122,
        "timezone": "America/New_York",
        "lead_time_days": 3,
        "daily_dispatch_capacity": 400,
        "is_active": True,
    }


def test_list_filters_by_is_active(ops_client):
    WarehouseFactory(code="BAL")
    WarehouseFactory(code="OLD", is_active=False)

    active = ops_client.get(URL, {"is_active": "true"})
    inactive = ops_client.get(URL, {"is_active": "false"})

    assert [row["code"] for row in active.json()["results"]] == ["BAL"]
    assert [row["code"] for row in inactive.json()["results"]] == ["OLD"]


@pytest.mark.parametrize(("parameter", "value"), [("is_active", "maybe"), ("ordering", "size")])
def test_list_refuses_an_unreadable_filter_naming_it(ops_client, parameter, value):
    WarehouseFactory(code="BAL")

    response = ops_client.get(URL, {parameter: value})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [parameter]


def test_list_orders_by_name_descending_on_request(ops_client):
    WarehouseFactory(code="A", name="Austin")
    WarehouseFactory(code="B", name="Berlin")

    response = ops_client.get(URL, {"ordering": "-name"})

    assert [row["code"] for row in response.json()["results"]] == ["B", "A"]


@pytest.mark.parametrize("rows", [2, 20])
def test_list_takes_the_same_number_of_queries_for_2_or_20_warehouses(
    ops_client, django_assert_num_queries, rows
):
    for index in range(rows):
        WarehouseFactory(code=f"W{index:02d}")

    # Token and user, the user's groups, the count, the page.
    with django_assert_num_queries(4):
        response = ops_client.get(URL, {"page_size": 50})

    assert len(response.json()["results"]) == rows


def test_retrieve_by_code(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore")

    response = ops_client.get(f"{URL}BAL/")

    assert response.status_code == 200
    assert response.json()["name"] == "Baltimore"


def test_retrieve_unknown_code_is_404_unknown_warehouse(ops_client):
    response = ops_client.get(f"{URL}NOPE/")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "unknown_warehouse",
        "message": "No warehouse has code 'NOPE'.",
        "details": {"warehouse": "NOPE"},
    }


def test_a_code_the_database_cannot_hold_is_404_not_a_server_error(ops_client):
    response = ops_client.get(f"{URL}BA%00L/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_warehouse"


def test_ops_staff_create_a_warehouse(ops_client):
    payload = {
        "code": "BER",
        "name": "Berlin",
        "latitude": "52.520008",
        "longitude": 13.404954,
        "timezone": "Europe/Berlin",
        "lead_time_days": 2,
    }

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["code"] == "BER"
    assert response.json()["latitude"] == 52.520008
    berlin = Warehouse.objects.get(code="BER")
    assert (berlin.name, berlin.timezone, berlin.lead_time_days) == ("Berlin", "Europe/Berlin", 2)
    assert berlin.longitude == Decimal("13.404954")
    assert berlin.daily_dispatch_capacity is None
    assert berlin.is_active is True


def test_create_with_the_same_idempotency_key_replays_the_first_answer(ops_client):
    payload = {"code": "BER", "name": "Berlin"}

    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="wh-1")
    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="wh-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Warehouse.objects.filter(code="BER").count() == 1


def test_create_with_a_taken_code_is_400_naming_code(ops_client):
    WarehouseFactory(code="BER", name="Berlin")
    before = _rows()

    response = ops_client.post(URL, {"code": "BER", "name": "Other"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "code: 'BER' is already taken."
    assert _rows() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "No code"}, "code"),
        ({"code": "has space", "name": "X"}, "code"),
        ({"code": "X"}, "name"),
        ({"code": "X", "name": "X", "lead_time_days": "3"}, "lead_time_days"),
        ({"code": "X", "name": "X", "lead_time_days": -1}, "lead_time_days"),
        ({"code": "X", "name": "X", "daily_dispatch_capacity": 2.5}, "daily_dispatch_capacity"),
        ({"code": "X", "name": "X", "latitude": 10}, "longitude"),
        ({"code": "X", "name": "X", "latitude": 91, "longitude": 0}, "latitude"),
        ({"code": "X", "name": "X", "timezone": "Mars/Olympus"}, "timezone"),
        ({"code": "X", "name": "X", "is_active": "true"}, "is_active"),
        ({"code": "X", "name": "X", "created_at": "2020-01-01"}, "created_at"),
        ({"code": "X", "name": "X", "colour": "red"}, "colour"),
    ],
)
def test_create_refuses_bad_input_naming_the_field_and_writes_nothing(ops_client, payload, field):
    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]
    assert error["message"].startswith(f"{field}:")
    assert not Warehouse.objects.exists()


def test_create_refuses_malformed_json(ops_client):
    response = ops_client.post(URL, '{"code": "X",', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert not Warehouse.objects.exists()


def test_put_replaces_the_details_given(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore", lead_time_days=1)

    response = ops_client.put(
        f"{URL}BAL/", {"code": "BAL", "name": "Baltimore DC", "lead_time_days": 4}, format="json"
    )

    assert response.status_code == 200, response.json()
    baltimore = Warehouse.objects.get(code="BAL")
    assert (baltimore.name, baltimore.lead_time_days) == ("Baltimore DC", 4)


def test_put_requires_the_name(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore")

    response = ops_client.put(f"{URL}BAL/", {"code": "BAL", "lead_time_days": 4}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["name"]
    assert Warehouse.objects.get(code="BAL").lead_time_days == 1


def test_put_is_the_whole_record_so_it_requires_the_code(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore")

    response = ops_client.put(f"{URL}BAL/", {"name": "Baltimore DC"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["code"]
    assert Warehouse.objects.get(code="BAL").name == "Baltimore"


def test_update_may_repeat_the_code_but_not_change_it(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore")

    same = ops_client.patch(f"{URL}BAL/", {"code": "BAL", "name": "Baltimore DC"}, format="json")
    changed = ops_client.patch(f"{URL}BAL/", {"code": "BAL2"}, format="json")

    assert same.status_code == 200
    assert changed.status_code == 400
    assert list(changed.json()["error"]["details"]) == ["code"]
    assert list(Warehouse.objects.values_list("code", "name")) == [("BAL", "Baltimore DC")]


def test_patch_checks_coordinates_against_the_stored_ones(ops_client):
    WarehouseFactory(code="BAL", latitude=Decimal("39.29"), longitude=Decimal("-76.61"))

    moved = ops_client.patch(f"{URL}BAL/", {"longitude": "-76.5"}, format="json")
    half_cleared = ops_client.patch(f"{URL}BAL/", {"latitude": None}, format="json")
    cleared = ops_client.patch(f"{URL}BAL/", {"latitude": None, "longitude": None}, format="json")

    assert moved.status_code == 200
    assert half_cleared.status_code == 400
    assert list(half_cleared.json()["error"]["details"]) == ["latitude"]
    assert cleared.status_code == 200
    baltimore = Warehouse.objects.get(code="BAL")
    assert (baltimore.latitude, baltimore.longitude) == (None, None)


def test_patch_is_active_false_deactivates(ops_client):
    WarehouseFactory(code="BAL")

    response = ops_client.patch(f"{URL}BAL/", {"is_active": False}, format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert Warehouse.objects.get(code="BAL").is_active is False


def test_deactivate_action_retires_the_warehouse_and_keeps_the_row(ops_client):
    WarehouseFactory(code="BAL", name="Baltimore")

    response = ops_client.post(f"{URL}BAL/deactivate/")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert list(Warehouse.objects.values_list("code", "is_active")) == [("BAL", False)]


def test_delete_is_405_in_the_error_shape_and_deletes_nothing(ops_client):
    WarehouseFactory(code="BAL")

    response = ops_client.delete(f"{URL}BAL/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Warehouse.objects.filter(code="BAL", is_active=True).exists()


@pytest.mark.parametrize(
    "role", [Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION]
)
def test_every_role_reads(make_client, role):
    WarehouseFactory(code="BAL")
    client = make_client(role)

    listed = client.get(URL)
    one = client.get(f"{URL}BAL/")

    assert listed.status_code == one.status_code == 200


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_only_ops_staff_write_even_at_their_own_warehouse(make_client, role):
    baltimore = WarehouseFactory(code="BAL", name="Baltimore")
    client = make_client(role, warehouses=[baltimore])
    before = _rows()

    answers = [
        client.post(URL, {"code": "NEW", "name": "New"}, format="json"),
        client.put(f"{URL}BAL/", {"name": "Renamed"}, format="json"),
        client.patch(f"{URL}BAL/", {"is_active": False}, format="json"),
        client.post(f"{URL}BAL/deactivate/"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403]
    assert {answer.json()["error"]["code"] for answer in answers} == {"permission_denied"}
    assert _rows() == before


def test_a_user_without_a_role_reads_nothing(make_client):
    WarehouseFactory(code="BAL")

    response = make_client(None).get(URL)

    assert response.status_code == 403


def test_anonymous_is_401(client):
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
