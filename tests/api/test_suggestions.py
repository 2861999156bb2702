"""Suggestions over the API: lists and reads for every role, approvals and dismissals for
the source's people and ops staff, the settings for ops staff, forecasts and projections per
SKU, and the one error shape for whatever is refused."""

from decimal import Decimal

import pytest

from stock.models import StockLevel
from suggestions.models import Forecast, Suggestion, SuggestionSettings, SuggestionState
from tests.stock.factories import VariantFactory, stocked
from tests.suggestions.pages_support import suggest
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer, TransferState
from warehouses.access import Role

pytestmark = pytest.mark.django_db

SUGGESTIONS = "/api/v1/suggestions/"
SETTINGS = "/api/v1/suggestion-settings/"


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def east():
    return WarehouseFactory(code="EAST")


@pytest.fixture
def lane(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=3)


@pytest.fixture
def sheet(north, south):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, north, 20)
    stocked(variant, south, 1)
    return variant


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def state_of(suggestion: Suggestion) -> str:
    return Suggestion.objects.get(pk=suggestion.pk).state


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_suggestions(make_client, lane, sheet, role):
    suggestion = suggest(sheet, lane)
    client = make_client(role)

    assert ids(client.get(SUGGESTIONS)) == [suggestion.pk]
    assert client.get(f"{SUGGESTIONS}{suggestion.pk}/").status_code == 200


def test_anonymous_and_roleless_users_may_not_read_suggestions(make_client, client):
    assert make_client(None).get(SUGGESTIONS).status_code == 403
    assert client.get(SUGGESTIONS).status_code in (401, 403)


def test_one_suggestion_reads_with_its_structured_reason_and_sentence(ops_client, lane, sheet):
    suggestion = suggest(sheet, lane, quantity=5, value="40.00", cost="6.00")

    body = ops_client.get(f"{SUGGESTIONS}{suggestion.pk}/").json()

    assert {key: body[key] for key in ("state", "sku", "source", "destination", "lane")} == {
        "state": "open",
        "sku": "PCL-Q",
        "source": "NORTH",
        "destination": "SOUTH",
        "lane": lane.pk,
    }
    assert (body["quantity"], body["value"], body["cost"]) == (5, "40.00", "6.00")
    assert body["expected_arrival"] == suggestion.expected_arrival.isoformat()
    assert body["reason"] == {
        "limited_by": "forecast",
        "donor_cover_before_days": 20.0,
        "donor_cover_after_days": 15.0,
        "donor_minimum": 7,
        "receiver_cover_before_days": 1.5,
        "receiver_cover_after_days": 9.0,
        "receiver_risk_before": 0.8,
        "receiver_risk_after": 0.05,
        "expected_units_saved": 2.0,
        "value": 40.0,
        "cost": 6.0,
        "policy": "optimiser",
    }
    assert body["reason_text"].startswith("SOUTH has 1.5 days of cover")
    assert (body["transfer"], body["transfer_id"]) == (None, None)


def test_the_list_filters_by_state_lane_source_destination_and_sku(
    ops_client, north, south, east, lane, sheet
):
    pillow = VariantFactory(sku="PIL-1")
    east_south = LaneFactory(source=east, destination=south)
    first = suggest(sheet, lane)
    second = suggest(pillow, lane)
    third = suggest(sheet, east_south)
    dismissed = suggest(pillow, east_south, state=SuggestionState.DISMISSED)

    assert sorted(ids(ops_client.get(SUGGESTIONS, {"state": "open"}))) == sorted(
        [first.pk, second.pk, third.pk]
    )
    assert ids(ops_client.get(SUGGESTIONS, {"state": "dismissed"})) == [dismissed.pk]
    assert sorted(ids(ops_client.get(SUGGESTIONS, {"lane": lane.pk}))) == sorted(
        [first.pk, second.pk]
    )
    assert sorted(ids(ops_client.get(SUGGESTIONS, {"source": "EAST"}))) == sorted(
        [third.pk, dismissed.pk]
    )
    assert len(ids(ops_client.get(SUGGESTIONS, {"destination": "SOUTH"}))) == 4
    assert sorted(ids(ops_client.get(SUGGESTIONS, {"sku": "PCL-Q"}))) == sorted(
        [first.pk, third.pk]
    )


@pytest.mark.parametrize(
    ("query", "field"), [({"state": "maybe"}, "state"), ({"lane": "x"}, "lane")]
)
def test_a_bad_filter_is_400_naming_it(ops_client, query, field):
    response = ops_client.get(SUGGESTIONS, query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]


def test_open_suggestions_group_by_lane_with_totals(ops_client, north, south, east, lane, sheet):
    suggest(sheet, lane, quantity=5, value="40.00", cost="6.00")
    suggest(VariantFactory(sku="PIL-1"), lane, quantity=3, value="12.50", cost="2.00")
    suggest(sheet, LaneFactory(source=east, destination=south), quantity=2)
    suggest(sheet, LaneFactory(source=south, destination=east), state=SuggestionState.DISMISSED)

    body = ops_client.get(f"{SUGGESTIONS}lanes/").json()

    assert [(group["source"], group["destination"]) for group in body] == [
        ("EAST", "SOUTH"),
        ("NORTH", "SOUTH"),
    ]
    north_south = body[1]
    assert (north_south["lane"], north_south["units"]) == (lane.pk, 8)
    assert (north_south["value"], north_south["cost"]) == ("52.50", "8.00")
    assert [line["sku"] for line in north_south["suggestions"]] == ["PCL-Q", "PIL-1"]


def test_the_sources_manager_approves_and_a_transfer_is_created_and_approved(
    make_client, north, south, lane, sheet
):
    suggestion = suggest(sheet, lane, quantity=5)
    client = make_client(Role.WAREHOUSE_MANAGER, warehouses=[north])

    response = client.post(f"{SUGGESTIONS}{suggestion.pk}/approve/")

    assert response.status_code == 200, response.content
    transfer = Transfer.objects.get()
    assert transfer.state == TransferState.APPROVED
    assert response.json() == {
        "transfers": [
            {
                "id": transfer.pk,
                "reference": transfer.reference,
                "source": "NORTH",
                "destination": "SOUTH",
                "state": "approved",
            }
        ],
        "approved": [suggestion.pk],
        "refused": [],
        "skipped": [],
    }
    assert StockLevel.objects.get(variant=sheet, warehouse=north).available == 15
    assert client.get(f"{SUGGESTIONS}{suggestion.pk}/").json()["transfer"] == transfer.reference


@pytest.mark.parametrize("role", [Role.VIEWER, Role.WAREHOUSE_MANAGER])
def test_viewers_and_other_warehouses_managers_may_not_approve_or_dismiss(
    make_client, south, lane, sheet, role
):
    suggestion = suggest(sheet, lane)
    client = make_client(role, warehouses=[south])

    approved = client.post(f"{SUGGESTIONS}{suggestion.pk}/approve/")
    dismissed = client.post(f"{SUGGESTIONS}{suggestion.pk}/dismiss/", {}, format="json")
    lane_approved = client.post(f"{SUGGESTIONS}lanes/{lane.pk}/approve/")

    assert (approved.status_code, dismissed.status_code, lane_approved.status_code) == (
        403,
        403,
        403,
    )
    assert approved.json()["error"]["code"] == "permission_denied"
    assert not Transfer.objects.exists()
    assert state_of(suggestion) == SuggestionState.OPEN


def test_a_viewer_may_not_approve_all(make_client, lane, sheet):
    suggest(sheet, lane)

    response = make_client(Role.VIEWER).post(f"{SUGGESTIONS}approve-all/")

    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Your role may not approve or dismiss suggestions."
    )
    assert not Transfer.objects.exists()


def test_an_approval_the_transfer_refuses_is_409_with_its_code_and_nothing_written(
    ops_client, north, lane, sheet
):
    suggestion = suggest(sheet, lane, quantity=50)  # NORTH has 20

    response = ops_client.post(f"{SUGGESTIONS}{suggestion.pk}/approve/")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"] == {"lane": lane.pk, "suggestions": [suggestion.pk]}
    assert not Transfer.objects.exists()
    assert state_of(suggestion) == SuggestionState.OPEN
    assert StockLevel.objects.get(variant=sheet, warehouse=north).available == 20


def test_approving_a_decided_suggestion_is_409_suggestion_not_open(ops_client, lane, sheet):
    suggestion = suggest(sheet, lane, state=SuggestionState.DISMISSED)

    response = ops_client.post(f"{SUGGESTIONS}{suggestion.pk}/approve/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "suggestion_not_open"
    assert not Transfer.objects.exists()


def test_an_approval_repeated_with_its_idempotency_key_replays_the_first_answer(
    ops_client, lane, sheet
):
    suggestion = suggest(sheet, lane)
    url = f"{SUGGESTIONS}{suggestion.pk}/approve/"

    first = ops_client.post(url, HTTP_IDEMPOTENCY_KEY="approve-1")
    again = ops_client.post(url, HTTP_IDEMPOTENCY_KEY="approve-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Transfer.objects.count() == 1


def test_approving_a_lane_answers_what_was_made_and_refused(ops_client, north, lane, sheet):
    pillow = VariantFactory(sku="PIL-1")
    stocked(pillow, north, 10)
    first, second = suggest(sheet, lane, quantity=5), suggest(pillow, lane, quantity=4)

    response = ops_client.post(f"{SUGGESTIONS}lanes/{lane.pk}/approve/")

    assert response.status_code == 200
    body = response.json()
    assert len(body["transfers"]) == 1
    assert sorted(body["approved"]) == sorted([first.pk, second.pk])
    transfer = Transfer.objects.get()
    assert sorted(line.quantity for line in transfer.lines.all()) == [4, 5]


def test_approve_all_goes_on_past_a_refused_lane(ops_client, north, south, east, lane, sheet):
    stocked(sheet, east, 3)
    fine = suggest(sheet, lane, quantity=5)
    east_south = LaneFactory(source=east, destination=south)
    refused = suggest(sheet, east_south, quantity=10)  # EAST has 3

    response = ops_client.post(f"{SUGGESTIONS}approve-all/")

    assert response.status_code == 200
    body = response.json()
    assert body["approved"] == [fine.pk]
    assert [
        (item["lane"], item["route"], item["suggestions"], item["code"]) for item in body["refused"]
    ] == [(east_south.pk, "EAST → SOUTH", [refused.pk], "insufficient_stock")]
    assert (state_of(fine), state_of(refused)) == (SuggestionState.APPROVED, SuggestionState.OPEN)
    assert list(Transfer.objects.values_list("source__code", flat=True)) == ["NORTH"]


def test_a_manager_approving_all_approves_their_sources_only(
    make_client, north, south, east, lane, sheet
):
    stocked(sheet, east, 20)
    mine = suggest(sheet, lane)
    theirs = suggest(sheet, LaneFactory(source=east, destination=south))
    client = make_client(Role.WAREHOUSE_MANAGER, warehouses=[north])

    response = client.post(f"{SUGGESTIONS}approve-all/")

    assert response.status_code == 200
    assert response.json()["approved"] == [mine.pk]
    assert state_of(theirs) == SuggestionState.OPEN


def test_dismissing_keeps_the_note(make_client, north, lane, sheet):
    suggestion = suggest(sheet, lane)
    client = make_client(Role.WAREHOUSE_MANAGER, warehouses=[north])

    response = client.post(
        f"{SUGGESTIONS}{suggestion.pk}/dismiss/", {"note": "promotion ends"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["state"] == "dismissed"
    assert response.json()["decided_by"] == client.user.username
    suggestion.refresh_from_db()
    assert suggestion.reason["dismissal_note"] == "promotion ends"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"note": 5}, "note"), ({"note": "x" * 1001}, "note"), ({"why": "x"}, "why")],
)
def test_a_bad_dismissal_is_400_naming_the_field_and_nothing_changes(
    ops_client, lane, sheet, body, field
):
    suggestion = suggest(sheet, lane)

    response = ops_client.post(f"{SUGGESTIONS}{suggestion.pk}/dismiss/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == [field]
    assert state_of(suggestion) == SuggestionState.OPEN


def test_dismissing_an_approved_suggestion_is_409(ops_client, lane, sheet):
    suggestion = suggest(sheet, lane, state=SuggestionState.APPROVED)

    response = ops_client.post(f"{SUGGESTIONS}{suggestion.pk}/dismiss/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "suggestion_not_open"


def test_an_unknown_suggestion_or_lane_is_404(ops_client):
    assert ops_client.get(f"{SUGGESTIONS}999999/").status_code == 404
    assert ops_client.post(f"{SUGGESTIONS}999999/approve/").status_code == 404
    assert ops_client.post(f"{SUGGESTIONS}lanes/999999/approve/").status_code == 404


def test_every_role_reads_the_settings_with_their_defaults(make_client):
    response = make_client(Role.VIEWER).get(SETTINGS)

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("cost_of_lost_sale", "review_days", "service_level")} == {
        "cost_of_lost_sale": "20.00",
        "review_days": 7,
        "service_level": "0.9500",
    }


def test_ops_staff_change_the_cost_of_a_lost_sale(ops_client):
    response = ops_client.patch(SETTINGS, {"cost_of_lost_sale": "35.50"}, format="json")

    assert response.status_code == 200
    assert response.json()["cost_of_lost_sale"] == "35.50"
    assert SuggestionSettings.objects.get(pk=1).cost_of_lost_sale == Decimal("35.50")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cost_of_lost_sale": 35}, "cost_of_lost_sale"),
        ({"cost_of_lost_sale": "-1"}, "cost_of_lost_sale"),
        ({"review_days": 0}, "review_days"),
        ({"service_level": "0.4"}, "service_level"),
        ({"service_level": "1"}, "service_level"),
        ({"history_days": 13}, "history_days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_setting_is_400_naming_it_and_nothing_is_saved(ops_client, body, field):
    response = ops_client.patch(SETTINGS, body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]
    assert not SuggestionSettings.objects.exists()


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_only_ops_staff_change_the_settings(make_client, role):
    response = make_client(role).patch(SETTINGS, {"cost_of_lost_sale": "1.00"}, format="json")

    assert response.status_code == 403
    assert not SuggestionSettings.objects.exists()


def test_a_variants_outlook_gives_forecast_cover_and_projection_per_warehouse(
    make_client, north, south, lane, sheet
):
    Forecast.objects.create(
        variant=sheet,
        warehouse=north,
        demand_class="smooth",
        method="ETS",
        daily_demand=2.0,
        daily_error=0.5,
        history_days=90,
        censored_days=0,
        safety_stock=3,
        reorder_point=9,
        lead_time_days=3,
    )

    response = make_client(Role.VIEWER).get(f"/api/v1/variants/{sheet.sku}/outlook/")

    assert response.status_code == 200
    body = response.json()
    assert body["sku"] == "PCL-Q"
    assert [level["warehouse"] for level in body["warehouses"]] == ["NORTH", "SOUTH"]
    north_level, south_level = body["warehouses"]
    assert {
        key: north_level[key]
        for key in (
            "demand_class",
            "method",
            "daily_demand",
            "safety_stock",
            "reorder_point",
            "available",
            "days_of_cover",
            "is_below_reorder_point",
        )
    } == {
        "demand_class": "smooth",
        "method": "ETS",
        "daily_demand": 2.0,
        "safety_stock": 3,
        "reorder_point": 9,
        "available": 20,
        "days_of_cover": 10.0,
        "is_below_reorder_point": False,
    }
    assert north_level["projection"][0]["quantity"] == 20.0
    assert north_level["runs_out_on"] == north_level["projection"][10]["day"]
    assert (south_level["demand_class"], south_level["days_of_cover"]) == (None, None)


def test_the_outlook_of_an_unknown_sku_is_404(ops_client):
    response = ops_client.get("/api/v1/variants/NOPE/outlook/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_schema_documents_the_suggestion_operations(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)

    operations = {
        operation["operationId"]
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert {
        "suggestions_list",
        "suggestions_lanes",
        "suggestions_retrieve",
        "suggestions_approve",
        "suggestions_approve_lane",
        "suggestions_approve_all",
        "suggestions_dismiss",
        "suggestion_settings_retrieve",
        "suggestion_settings_update",
        "variants_outlook",
    } <= operations
    approve = schema["paths"]["/api/v1/suggestions/{id}/approve/"]["post"]
    assert {"200", "403", "404", "409"} <= set(approve["responses"])
    assert "Idempotency-Key" in [parameter["name"] for parameter in approve["parameters"]]
