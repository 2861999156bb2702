"""Lanes over the API: every role reads, ops staff create and change, nobody deletes."""

import pytest

from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Lane
from warehouses.access import Role

pytestmark = pytest.mark.django_db

LANES = "/api/v1/lanes/"


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


def new_lane(**fields) -> dict:
    return {"source": "NORTH", "destination": "SOUTH", "lead_time_days": 3, **fields}


def test_ops_staff_create_a_lane(ops_client, north, south):
    response = ops_client.post(
        LANES, new_lane(cost_per_unit="1.25", minimum_quantity=10), format="json"
    )

    assert response.status_code == 201
    lane = Lane.objects.get()
    assert response.json() == {
        "id": lane.pk,
        "source": "NORTH",
        "destination": "SOUTH",
        "lead_time_days": 3,
        "cost_per_unit": "1.25",
        "cost_per_shipment": "0.00",
        "minimum_quantity": 10,
        "capacity_units": None,
        "is_active": True,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"destination": "NORTH"}, "destination"),
        ({"source": "NOWHERE"}, "source"),
        ({"lead_time_days": -1}, "lead_time_days"),
        ({"lead_time_days": 366}, "lead_time_days"),
        ({"cost_per_unit": "-1"}, "cost_per_unit"),
        ({"cost_per_unit": "0.001"}, "cost_per_unit"),
        ({"is_active": "yes"}, "is_active"),
        ({"capacity_units": 0}, "capacity_units"),
        ({"capacity_units": "50"}, "capacity_units"),
        ({"capacity_units": 1_000_000_001}, "capacity_units"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_lane_is_refused_naming_the_field_and_nothing_is_written(
    ops_client, north, south, fields, field
):
    response = ops_client.post(LANES, new_lane(**fields), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not Lane.objects.exists()


def test_a_second_lane_on_the_same_route_is_refused(ops_client, north, south):
    LaneFactory(source=north, destination=south)

    response = ops_client.post(LANES, new_lane(), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_lane"
    assert Lane.objects.count() == 1


def test_a_create_repeated_with_its_idempotency_key_is_one_lane(ops_client, north, south):
    answers = [
        ops_client.post(LANES, new_lane(), format="json", HTTP_IDEMPOTENCY_KEY="lane-1")
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert answers[2]["Idempotent-Replayed"] == "true"
    assert Lane.objects.count() == 1


def test_patch_changes_a_lane_and_retires_it(ops_client, north, south):
    lane = LaneFactory(source=north, destination=south, lead_time_days=3)

    response = ops_client.patch(
        f"{LANES}{lane.pk}/", {"lead_time_days": 5, "is_active": False}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["lead_time_days"], response.json()["is_active"]) == (5, False)
    lane.refresh_from_db()
    assert (lane.lead_time_days, lane.is_active) == (5, False)


def test_patch_may_not_change_the_route(ops_client, north, south):
    lane = LaneFactory(source=north, destination=south)

    response = ops_client.patch(f"{LANES}{lane.pk}/", {"source": "SOUTH"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["source"]
    lane.refresh_from_db()
    assert lane.source_id == north.pk


def test_a_lane_is_never_deleted(ops_client, north, south):
    lane = LaneFactory(source=north, destination=south)

    response = ops_client.delete(f"{LANES}{lane.pk}/")

    assert response.status_code == 405
    assert Lane.objects.filter(pk=lane.pk).exists()


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_other_roles_read_lanes_but_may_not_change_them(make_client, north, south, role):
    lane = LaneFactory(source=north, destination=south, lead_time_days=3)
    client = make_client(role, warehouses=[north, south])

    listed = client.get(LANES)
    read = client.get(f"{LANES}{lane.pk}/")
    created = client.post(LANES, new_lane(destination="NORTH", source="SOUTH"), format="json")
    changed = client.patch(f"{LANES}{lane.pk}/", {"lead_time_days": 9}, format="json")

    assert (listed.status_code, read.status_code) == (200, 200)
    assert [item["id"] for item in listed.json()["results"]] == [lane.pk]
    assert (created.status_code, changed.status_code) == (403, 403)
    assert created.json()["error"]["message"] == "Only ops staff may change lanes."
    assert Lane.objects.count() == 1
    lane.refresh_from_db()
    assert lane.lead_time_days == 3


def test_anonymous_and_roleless_users_may_not_read_lanes(make_client, client):
    assert make_client(None).get(LANES).status_code == 403
    assert client.get(LANES).status_code in (401, 403)


def test_lanes_filter_by_source_destination_and_active(ops_client, north, south):
    east = WarehouseFactory(code="EAST")
    north_south = LaneFactory(source=north, destination=south)
    north_east = LaneFactory(source=north, destination=east, is_active=False)
    south_east = LaneFactory(source=south, destination=east)

    def ids(**query) -> list[int]:
        response = ops_client.get(LANES, query)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["results"]]

    assert ids(source="NORTH") == [north_east.pk, north_south.pk]
    assert ids(destination="EAST") == [north_east.pk, south_east.pk]
    assert ids(is_active="false") == [north_east.pk]
    assert ids(source="NORTH", is_active="true") == [north_south.pk]
    assert ops_client.get(LANES, {"is_active": "maybe"}).status_code == 400


def test_a_lane_is_created_with_a_capacity(ops_client, north, south):
    response = ops_client.post(
        LANES, new_lane(minimum_quantity=10, capacity_units=200), format="json"
    )

    assert response.status_code == 201
    assert response.json()["capacity_units"] == 200
    assert Lane.objects.get().capacity_units == 200


def test_a_capacity_below_the_minimum_is_refused_and_nothing_is_written(ops_client, north, south):
    response = ops_client.post(
        LANES, new_lane(minimum_quantity=10, capacity_units=9), format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_lane"
    assert response.json()["error"]["details"] == {"field": "capacity_units"}
    assert not Lane.objects.exists()


def test_patch_sets_and_clears_a_capacity(ops_client, north, south):
    lane = LaneFactory(source=north, destination=south, minimum_quantity=5)

    set_ = ops_client.patch(f"{LANES}{lane.pk}/", {"capacity_units": 40}, format="json")
    lane.refresh_from_db()
    capacity_after_set = lane.capacity_units
    cleared = ops_client.patch(f"{LANES}{lane.pk}/", {"capacity_units": None}, format="json")

    assert (set_.status_code, set_.json()["capacity_units"]) == (200, 40)
    assert capacity_after_set == 40
    assert (cleared.status_code, cleared.json()["capacity_units"]) == (200, None)
    lane.refresh_from_db()
    assert lane.capacity_units is None


def test_patch_refuses_a_minimum_above_the_capacity_and_changes_nothing(ops_client, north, south):
    lane = LaneFactory(source=north, destination=south, minimum_quantity=5, capacity_units=40)

    response = ops_client.patch(f"{LANES}{lane.pk}/", {"minimum_quantity": 41}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"field": "capacity_units"}
    lane.refresh_from_db()
    assert (lane.minimum_quantity, lane.capacity_units) == (5, 40)
