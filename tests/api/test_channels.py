import pytest

from tests.stock.factories import channel_selling_from
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory
from warehouses.access import Role
from warehouses.models import ChannelWarehouse, SalesChannel

pytestmark = pytest.mark.django_db
URL = "/api/v1/channels/"


@pytest.fixture
def warehouses():
    return {code: WarehouseFactory(code=code) for code in ("BAL", "AUS", "REN", "HQ")}


def _state():
    return (
        list(SalesChannel.objects.order_by("pk").values()),
        list(ChannelWarehouse.objects.order_by("pk").values()),
    )


def _links(code: str) -> list[tuple[str, int]]:
    return list(
        ChannelWarehouse.objects.filter(channel__code=code)
        .order_by("priority", "warehouse__code")
        .values_list("warehouse__code", "priority")
    )


def test_list_shows_each_channel_with_its_links_by_priority(ops_client, warehouses):
    channel_selling_from(
        warehouses["REN"],
        warehouses["BAL"],
        code="na",
        name="North America",
        kind="magento",
        safety_buffer=2,
        max_salable_quantity=50,
    )

    response = ops_client.get(URL)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    row.pop("created_at")
    assert row == {
        "code": "na",
        "name": "North America",
        "kind": "magento",
        "safety_buffer": 2,
        "max_salable_quantity": 50,
        "source_selection": "priority",
        "hold_minutes": 30,
        "allocation_threshold": None,
        "allocation_minimum": 1,
        "is_active": True,
        "warehouses": [{"warehouse": "REN", "priority": 1}, {"warehouse": "BAL", "priority": 2}],
    }


def test_list_filters_by_kind_and_is_active(ops_client):
    SalesChannelFactory(code="shop", kind="woocommerce")
    SalesChannelFactory(code="mage", kind="magento")
    SalesChannelFactory(code="old-shop", kind="woocommerce", is_active=False)

    woo = ops_client.get(URL, {"kind": "woocommerce"})
    active_woo = ops_client.get(URL, {"kind": "woocommerce", "is_active": "true"})

    assert [row["code"] for row in woo.json()["results"]] == ["old-shop", "shop"]
    assert [row["code"] for row in active_woo.json()["results"]] == ["shop"]


def test_list_refuses_an_unknown_kind_naming_it(ops_client):
    response = ops_client.get(URL, {"kind": "myspace"})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["kind"]


@pytest.mark.parametrize("rows", [2, 20])
def test_list_takes_the_same_number_of_queries_for_2_or_20_channels(
    ops_client, django_assert_num_queries, warehouses, rows
):
    for index in range(rows):
        channel_selling_from(warehouses["BAL"], warehouses["AUS"], code=f"ch-{index:02d}")

    # Token and user, the user's groups, the count, the page, the links with warehouses.
    with django_assert_num_queries(5):
        response = ops_client.get(URL, {"page_size": 50})

    results = response.json()["results"]
    assert len(results) == rows
    assert all(len(row["warehouses"]) == 2 for row in results)


def test_retrieve_by_code_and_unknown_code_is_404_unknown_channel(ops_client, warehouses):
    channel_selling_from(warehouses["BAL"], code="na")

    found = ops_client.get(f"{URL}na/")
    missing = ops_client.get(f"{URL}eu/")
    unstorable = ops_client.get(f"{URL}n%00a/")

    assert found.status_code == 200
    assert found.json()["warehouses"] == [{"warehouse": "BAL", "priority": 1}]
    assert missing.status_code == unstorable.status_code == 404
    assert (
        missing.json()["error"]["code"] == unstorable.json()["error"]["code"] == "unknown_channel"
    )


def test_ops_staff_create_a_channel_with_its_links(ops_client, warehouses):
    payload = {
        "code": "na",
        "name": "North America",
        "kind": "magento",
        "safety_buffer": 1,
        "warehouses": [
            {"warehouse": "BAL", "priority": 1},
            {"warehouse": "AUS", "priority": 2},
            {"warehouse": "HQ", "priority": 4},
        ],
    }

    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["warehouses"] == payload["warehouses"]
    channel = SalesChannel.objects.get(code="na")
    assert (channel.name, channel.kind, channel.safety_buffer) == ("North America", "magento", 1)
    assert _links("na") == [("BAL", 1), ("AUS", 2), ("HQ", 4)]


def test_create_without_links_makes_a_channel_that_sells_from_nowhere(ops_client):
    response = ops_client.post(URL, {"code": "eu", "name": "Europe"}, format="json")

    assert response.status_code == 201
    assert response.json()["warehouses"] == []
    assert _links("eu") == []


def test_create_with_the_same_idempotency_key_replays_the_first_answer(ops_client, warehouses):
    payload = {"code": "na", "name": "NA", "warehouses": [{"warehouse": "BAL", "priority": 1}]}

    first = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="ch-1")
    again = ops_client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="ch-1")
    other = ops_client.post(
        URL, {**payload, "name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="ch-1"
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert SalesChannel.objects.count() == 1
    assert _links("na") == [("BAL", 1)]


@pytest.mark.parametrize(
    ("links", "details"),
    [
        (
            [{"warehouse": "BAL", "priority": 1}, {"warehouse": "XXX", "priority": 2}],
            {"1": {"warehouse": ["No warehouse has code 'XXX'."]}},
        ),
        (
            [{"warehouse": "BAL", "priority": 1}, {"warehouse": "BAL", "priority": 2}],
            {"1": {"warehouse": ["Warehouse 'BAL' is listed twice."]}},
        ),
        (
            [{"warehouse": "BAL", "priority": 0}],
            {"0": {"priority": ["Ensure this value is greater than or equal to 1."]}},
        ),
        ([{"warehouse": "BAL", "priority": "1"}], {"0": {"priority": ["Must be a JSON integer."]}}),
        ([{"warehouse": "BAL"}], {"0": {"priority": ["This field is required."]}}),
        ([{"warehouse": "BAL", "priority": 1, "weight": 3}], {"0": {"weight": ["Unknown field."]}}),
        (
            {"warehouse": "BAL", "priority": 1},
            {"non_field_errors": ['Expected a list of items but got type "dict".']},
        ),
    ],
)
def test_create_refuses_bad_links_naming_them_and_writes_nothing(
    ops_client, warehouses, links, details
):
    before = _state()

    response = ops_client.post(
        URL, {"code": "na", "name": "NA", "warehouses": links}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"warehouses": details}
    assert error["message"].startswith("warehouses")
    assert _state() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "NA"}, "code"),
        ({"code": "na", "name": "NA", "kind": "myspace"}, "kind"),
        ({"code": "na", "name": "NA", "safety_buffer": -1}, "safety_buffer"),
        ({"code": "na", "name": "NA", "max_salable_quantity": "10"}, "max_salable_quantity"),
        ({"code": "na", "name": "NA", "hold_minutes": 0}, "hold_minutes"),
        ({"code": "na", "name": "NA", "source_selection": "random"}, "source_selection"),
        ({"code": "na", "name": "NA", "is_active": 1}, "is_active"),
        ({"code": "na", "name": "NA", "buffer": 1}, "buffer"),
        ({"code": "na", "name": "NA", "allocation_threshold": -1}, "allocation_threshold"),
        ({"code": "na", "name": "NA", "allocation_threshold": "5"}, "allocation_threshold"),
        ({"code": "na", "name": "NA", "allocation_minimum": None}, "allocation_minimum"),
    ],
)
def test_create_refuses_bad_settings_naming_the_field(ops_client, payload, field):
    response = ops_client.post(URL, payload, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]
    assert not SalesChannel.objects.exists()


def test_put_with_links_replaces_them_keeping_the_rows_of_warehouses_that_stay(
    ops_client, warehouses
):
    channel_selling_from(warehouses["BAL"], warehouses["AUS"], warehouses["REN"], code="na")
    kept = ChannelWarehouse.objects.get(channel__code="na", warehouse__code="AUS")

    response = ops_client.put(
        f"{URL}na/",
        {
            "code": "na",
            "name": "North America",
            "warehouses": [
                {"warehouse": "AUS", "priority": 1},
                {"warehouse": "HQ", "priority": 2},
                {"warehouse": "BAL", "priority": 3},
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert _links("na") == [("AUS", 1), ("HQ", 2), ("BAL", 3)]
    assert response.json()["warehouses"] == [
        {"warehouse": "AUS", "priority": 1},
        {"warehouse": "HQ", "priority": 2},
        {"warehouse": "BAL", "priority": 3},
    ]
    assert ChannelWarehouse.objects.get(pk=kept.pk).priority == 1
    assert SalesChannel.objects.get(code="na").name == "North America"


def test_patch_without_links_leaves_them_and_an_empty_list_removes_them(ops_client, warehouses):
    channel_selling_from(warehouses["BAL"], warehouses["AUS"], code="na")

    renamed = ops_client.patch(f"{URL}na/", {"safety_buffer": 5}, format="json")
    after_rename = _links("na")
    emptied = ops_client.patch(f"{URL}na/", {"warehouses": []}, format="json")

    assert renamed.status_code == emptied.status_code == 200
    assert after_rename == [("BAL", 1), ("AUS", 2)]
    assert _links("na") == []
    assert SalesChannel.objects.get(code="na").safety_buffer == 5


def test_patch_turns_allocation_on_and_off(ops_client, warehouses):
    channel_selling_from(warehouses["BAL"], code="na")

    on = ops_client.patch(
        f"{URL}na/", {"allocation_threshold": 10, "allocation_minimum": 2}, format="json"
    )
    stored = SalesChannel.objects.values_list("allocation_threshold", "allocation_minimum").get()
    off = ops_client.patch(f"{URL}na/", {"allocation_threshold": None}, format="json")

    assert on.status_code == off.status_code == 200
    assert (on.json()["allocation_threshold"], on.json()["allocation_minimum"]) == (10, 2)
    assert stored == (10, 2)
    assert (off.json()["allocation_threshold"], off.json()["allocation_minimum"]) == (None, 2)


def test_update_refused_for_one_bad_link_changes_neither_settings_nor_links(ops_client, warehouses):
    channel_selling_from(warehouses["BAL"], code="na", name="NA")
    before = _state()

    response = ops_client.patch(
        f"{URL}na/",
        {
            "name": "Renamed",
            "warehouses": [
                {"warehouse": "AUS", "priority": 1},
                {"warehouse": "NOPE", "priority": 2},
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert _state() == before


@pytest.mark.parametrize(
    ("link", "missing"),
    [({"priority": 1}, "warehouse"), ({"warehouse": "AUS"}, "priority"), ({}, "warehouse")],
)
def test_patch_with_an_incomplete_link_is_400_naming_the_field(
    ops_client, warehouses, link, missing
):
    channel_selling_from(warehouses["BAL"], code="na", name="NA")
    before = _state()

    response = ops_client.patch(f"{URL}na/", {"warehouses": [link]}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == f"warehouses[0].{missing}: This field is required."
    assert error["details"]["warehouses"]["0"][missing] == ["This field is required."]
    assert _state() == before


def test_put_is_the_whole_record_so_it_requires_the_code(ops_client):
    SalesChannelFactory(code="na", name="North America")

    response = ops_client.put(f"{URL}na/", {"name": "Renamed"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["code"]
    assert SalesChannel.objects.get(code="na").name == "North America"


def test_update_may_repeat_the_code_but_not_change_it(ops_client):
    SalesChannelFactory(code="na", name="NA")

    response = ops_client.patch(f"{URL}na/", {"code": "eu"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["code"]
    assert SalesChannel.objects.filter(code="na").exists()


def test_deactivate_action_and_patch_both_retire_the_channel_keeping_its_links(
    ops_client, warehouses
):
    channel_selling_from(warehouses["BAL"], code="na")
    channel_selling_from(warehouses["BAL"], code="eu")

    by_action = ops_client.post(f"{URL}na/deactivate/")
    by_patch = ops_client.patch(f"{URL}eu/", {"is_active": False}, format="json")

    assert by_action.status_code == by_patch.status_code == 200
    assert by_action.json()["is_active"] is by_patch.json()["is_active"] is False
    assert not SalesChannel.objects.filter(is_active=True).exists()
    assert _links("na") == _links("eu") == [("BAL", 1)]


def test_delete_is_405_in_the_error_shape_and_deletes_nothing(ops_client, warehouses):
    channel_selling_from(warehouses["BAL"], code="na")
    before = _state()

    response = ops_client.delete(f"{URL}na/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert _state() == before


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_only_ops_staff_write_even_on_their_own_channel(make_client, warehouses, role):
    channel = channel_selling_from(warehouses["BAL"], code="na")
    client = make_client(role, warehouses=[warehouses["BAL"]], channels=[channel])
    before = _state()

    answers = [
        client.get(f"{URL}na/"),
        client.post(URL, {"code": "eu", "name": "EU"}, format="json"),
        client.patch(
            f"{URL}na/", {"warehouses": [{"warehouse": "AUS", "priority": 1}]}, format="json"
        ),
        client.put(f"{URL}na/", {"name": "Renamed"}, format="json"),
        client.post(f"{URL}na/deactivate/"),
    ]

    assert [answer.status_code for answer in answers] == [200, 403, 403, 403, 403]
    assert _state() == before
