"""Transfers over the API: the lifecycle with its balances, bad input, refusals, retries,
filters and the schema. Who may do what at which end is tests/api/test_transfer_roles.py.

NORTH (the source) holds 10 SHEET; SOUTH is the destination; a lane takes 3 days.
"""

from datetime import timedelta

import pytest
import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory_hub.models import IdempotencyKey
from stock.models import StockLevel
from tests.stock.factories import (
    SYSTEM,
    Balance,
    VariantFactory,
    balance_of,
    ledger_ids,
    stocked,
)
from tests.transfers.factories import LaneFactory, assert_identity, draft, transfer_movements
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer, TransferReceipt, TransferState
from transfers.services import approve_transfer, ship_transfer
from warehouses.access import Role

pytestmark = pytest.mark.django_db

TRANSFERS = "/api/v1/transfers/"


@pytest.fixture(autouse=True)
def ledger_agrees_after_each_test(verify_ledger_clean):
    yield
    verify_ledger_clean()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def sheet(north):
    variant = VariantFactory(sku="SHEET")
    stocked(variant, north, 10)
    return variant


@pytest.fixture
def lane(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=3)


def at(variant, warehouse) -> Balance:
    level = StockLevel.objects.filter(variant=variant, warehouse=warehouse).first()
    return balance_of(level) if level else Balance()


def quantities(balance: Balance) -> tuple[int, int, int, int]:
    """(on hand, reserved, unsellable, inbound)"""
    return (balance.on_hand, balance.reserved, balance.unsellable, balance.inbound)


def new_transfer(*lines: tuple[str, int], **fields) -> dict:
    return {
        "source": "NORTH",
        "destination": "SOUTH",
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        **fields,
    }


def act(client, transfer_id: int, action: str, body: dict | None = None, **headers):
    return client.post(f"{TRANSFERS}{transfer_id}/{action}/", body or {}, format="json", **headers)


def receipt(reference: str, *lines: dict, over_receipt: bool = False) -> dict:
    return {"receipt_reference": reference, "over_receipt": over_receipt, "lines": list(lines)}


# --- The lifecycle ---------------------------------------------------------------------------


def test_a_transfer_goes_its_whole_way_through_the_api_and_the_balances_follow(
    ops_client, north, south, sheet, lane
):
    created = ops_client.post(
        TRANSFERS, new_transfer(("SHEET", 6), reference="TR-A", reason="restock"), format="json"
    )
    assert created.status_code == 201
    transfer_id = created.json()["id"]
    assert created.json()["state"] == "draft"
    assert created.json()["allowed_actions"] == ["approve", "cancel"]
    assert quantities(at(sheet, north)) == (10, 0, 0, 0)

    approved = act(ops_client, transfer_id, "approve")
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    assert quantities(at(sheet, north)) == (10, 6, 0, 0)

    assert act(ops_client, transfer_id, "pick").json()["state"] == "picked"

    shipped = act(ops_client, transfer_id, "ship")
    assert shipped.json()["state"] == "shipped"
    assert shipped.json()["due_at"] is not None
    assert shipped.json()["lines"][0]["in_transit"] == 6
    assert quantities(at(sheet, north)) == (4, 0, 0, 0)
    assert quantities(at(sheet, south)) == (0, 0, 0, 6)

    received = act(
        ops_client,
        transfer_id,
        "receive",
        receipt(
            "DN-1",
            {
                "sku": "SHEET",
                "accepted": 3,
                "rejected": 1,
                "rejection_reason": "damaged",
                "rejected_disposition": "unsellable",
            },
        ),
    )
    assert received.status_code == 200
    body = received.json()
    assert body["state"] == "partially_received"
    assert body["lines"][0] == {
        "sku": "SHEET",
        "quantity": 6,
        "shipped": 6,
        "accepted": 3,
        "rejected": 1,
        "lost": 0,
        "returned": 0,
        "over_received": 0,
        "in_transit": 2,
    }
    assert body["receipts"][0]["reference"] == "DN-1"
    assert body["receipts"][0]["lines"] == [
        {
            "sku": "SHEET",
            "accepted": 3,
            "rejected": 1,
            "rejection_reason": "damaged",
            "rejected_disposition": "unsellable",
        }
    ]
    assert quantities(at(sheet, south)) == (4, 0, 1, 2)

    closed = act(ops_client, transfer_id, "close-short", {"reason": "lost", "note": "van"})
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed_short"
    assert closed.json()["lines"][0]["lost"] == 2
    assert closed.json()["allowed_actions"] == []
    assert [event["kind"] for event in closed.json()["events"]] == [
        "created",
        "approved",
        "picked",
        "shipped",
        "received",
        "closed_short",
    ]
    assert quantities(at(sheet, north)) == (4, 0, 0, 0)
    assert quantities(at(sheet, south)) == (4, 0, 1, 0)
    assert_identity(Transfer.objects.get(pk=transfer_id))


def test_retrieve_shows_the_transfer_with_its_timeline_and_lateness(
    ops_client, north, south, sheet, lane
):
    transfer = draft(north, south, (sheet, 2), reference="TR-R")
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    Transfer.objects.filter(pk=transfer.pk).update(due_at=timezone.now() - timedelta(hours=1))

    response = ops_client.get(f"{TRANSFERS}{transfer.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["reference"], body["state"], body["is_late"]) == ("TR-R", "shipped", True)
    assert (body["source"], body["destination"], body["lane"]) == ("NORTH", "SOUTH", lane.pk)
    assert body["requested_by"] == SYSTEM.label
    assert [event["kind"] for event in body["events"]] == ["created", "approved", "shipped"]
    assert body["allowed_actions"] == ["receive", "close_short", "cancel"]


def test_an_unknown_transfer_is_404(ops_client):
    assert ops_client.get(f"{TRANSFERS}999999/").status_code == 404
    assert act(ops_client, 999999, "approve").status_code == 404


# --- Creating --------------------------------------------------------------------------------


def test_without_a_reference_the_hub_numbers_transfers_by_day(ops_client, north, south, sheet):
    first = ops_client.post(TRANSFERS, new_transfer(("SHEET", 1)), format="json")
    second = ops_client.post(TRANSFERS, new_transfer(("SHEET", 1)), format="json")

    today = timezone.localdate().strftime("%Y%m%d")
    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["reference"], second.json()["reference"]] == [
        f"TR-{today}-1",
        f"TR-{today}-2",
    ]


def test_the_same_reference_again_is_the_same_transfer(ops_client, north, south, sheet):
    first = ops_client.post(TRANSFERS, new_transfer(("SHEET", 1), reference="X-1"), format="json")

    again = ops_client.post(TRANSFERS, new_transfer(("SHEET", 5), reference="X-1"), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["lines"][0]["quantity"] == 1
    assert Transfer.objects.count() == 1


def test_a_create_retried_with_its_idempotency_key_is_one_transfer(ops_client, north, south, sheet):
    answers = [
        ops_client.post(
            TRANSFERS, new_transfer(("SHEET", 2)), format="json", HTTP_IDEMPOTENCY_KEY="create-1"
        )
        for _ in range(10)
    ]

    assert {answer.status_code for answer in answers} == {201}
    assert {answer.json()["id"] for answer in answers} == {Transfer.objects.get().pk}


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            new_transfer(("SHEET", 1), ("NOPE", 1)),
            {"lines": {"1": {"sku": ["No variant has SKU 'NOPE'."]}}},
        ),
        (
            new_transfer(("SHEET", -1)),
            {"lines": {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}}},
        ),
        (
            new_transfer(("SHEET", 1), ("SHEET", 2)),
            {"lines": {"1": {"sku": ["SKU 'SHEET' is on another line already."]}}},
        ),
        (
            new_transfer(("SHEET", 1), destination="NORTH"),
            {"destination": ["The destination must be another warehouse than the source."]},
        ),
        (
            new_transfer(("SHEET", 1), source="NOWHERE"),
            {"source": ["No warehouse has code 'NOWHERE'."]},
        ),
        (new_transfer(), {"lines": {"non_field_errors": ["This list may not be empty."]}}),
        (new_transfer(("SHEET", 1), colour="red"), {"colour": ["Unknown field."]}),
        (new_transfer(("SHEET", 1), reference=""), {"reference": ["This field may not be blank."]}),
    ],
    ids=[
        "unknown sku",
        "negative quantity",
        "sku twice",
        "same warehouse",
        "unknown warehouse",
        "no lines",
        "unknown field",
        "blank reference",
    ],
)
def test_a_bad_transfer_is_refused_naming_the_field_and_nothing_is_written(
    ops_client, north, south, sheet, body, details
):
    response = ops_client.post(TRANSFERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"] == details
    assert not Transfer.objects.exists()


# --- Transitions: refusals -------------------------------------------------------------------


def test_a_transition_the_state_does_not_allow_is_409(ops_client, north, south, sheet):
    transfer = draft(north, south, (sheet, 2))
    before = ledger_ids()

    response = act(ops_client, transfer.pk, "ship")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transfer_state"
    assert ledger_ids() == before


def test_approving_beyond_what_is_available_is_409_insufficient_stock(
    ops_client, north, south, sheet
):
    transfer = draft(north, south, (sheet, 11))
    before = ledger_ids()

    response = act(ops_client, transfer.pk, "approve")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_stock"
    assert ledger_ids() == before
    assert Transfer.objects.get(pk=transfer.pk).state == TransferState.DRAFT


@pytest.fixture
def on_the_road(north, south, sheet):
    transfer = draft(north, south, (sheet, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    return ship_transfer(transfer=transfer, actor=SYSTEM)


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        ({"sku": "SHEET", "rejected": 1}, "validation_error", "rejection_reason"),
        (
            {"sku": "SHEET", "rejected": 1, "rejection_reason": "bored"},
            "validation_error",
            "rejection_reason",
        ),
        (
            {
                "sku": "SHEET",
                "rejected": 1,
                "rejection_reason": "damaged",
                "rejected_disposition": "x",
            },
            "validation_error",
            "rejected_disposition",
        ),
        ({"sku": "SHEET"}, "validation_error", "accepted"),
        ({"sku": "SHEET", "accepted": -1}, "validation_error", "accepted"),
        ({"sku": "NOPE", "accepted": 1}, "validation_error", "sku"),
    ],
    ids=[
        "rejection without reason",
        "unknown rejection reason",
        "unknown disposition",
        "no units",
        "negative",
        "unknown sku",
    ],
)
def test_a_bad_receipt_is_refused_naming_the_field_and_nothing_is_written(
    ops_client, on_the_road, line, code, field
):
    before = ledger_ids()

    response = act(ops_client, on_the_road.pk, "receive", receipt("DN-1", line))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert field in next(iter(error["details"]["lines"].values()))
    assert ledger_ids() == before
    assert not TransferReceipt.objects.exists()


def test_a_sku_that_is_not_on_the_transfer_is_refused(ops_client, on_the_road):
    VariantFactory(sku="PILLOW")
    before = ledger_ids()

    response = act(
        ops_client, on_the_road.pk, "receive", receipt("DN-1", {"sku": "PILLOW", "accepted": 1})
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_transfer"
    assert ledger_ids() == before


def test_receiving_more_than_is_in_transit_is_409_unless_it_says_over_receipt(
    ops_client, on_the_road, sheet, south
):
    before = ledger_ids()
    line = {"sku": "SHEET", "accepted": 5}

    refused = act(ops_client, on_the_road.pk, "receive", receipt("DN-1", line))

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "over_receipt"
    assert refused.json()["error"]["details"] == {"sku": "SHEET", "in_transit": 4, "received": 5}
    assert ledger_ids() == before

    accepted = act(ops_client, on_the_road.pk, "receive", receipt("DN-1", line, over_receipt=True))

    assert accepted.status_code == 200
    assert accepted.json()["state"] == "received"
    assert accepted.json()["lines"][0]["over_received"] == 1
    assert quantities(at(sheet, south)) == (5, 0, 0, 0)


def test_cancelling_on_the_road_needs_a_disposition(ops_client, on_the_road):
    before = ledger_ids()

    response = act(ops_client, on_the_road.pk, "cancel", {"note": "oops"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_transfer"
    assert response.json()["error"]["details"] == {"field": "disposition"}
    assert ledger_ids() == before


def test_cancelling_on_the_road_back_to_the_source_makes_it_inbound_there(
    ops_client, on_the_road, sheet, north, south
):
    response = act(ops_client, on_the_road.pk, "cancel", {"disposition": "back_to_source"})

    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["lines"][0]["returned"] == 4
    assert quantities(at(sheet, north)) == (6, 0, 0, 4)
    assert quantities(at(sheet, south)) == (0, 0, 0, 0)
    assert_identity(on_the_road)


def test_cancelling_on_the_road_as_lost_writes_it_off(ops_client, on_the_road, sheet, south):
    response = act(ops_client, on_the_road.pk, "cancel", {"disposition": "lost"})

    assert response.json()["lines"][0]["lost"] == 4
    assert quantities(at(sheet, south)) == (0, 0, 0, 0)


def test_cancelling_an_approved_transfer_releases_the_hold(ops_client, north, south, sheet):
    transfer = draft(north, south, (sheet, 3))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    response = act(ops_client, transfer.pk, "cancel")

    assert response.json()["state"] == "cancelled"
    assert quantities(at(sheet, north)) == (10, 0, 0, 0)


# --- Retries ---------------------------------------------------------------------------------

STEPS = [
    ("approve", None, "approved"),
    ("pick", None, "picked"),
    ("ship", None, "shipped"),
    (
        "receive",
        receipt(
            "DN-9",
            {"sku": "SHEET", "accepted": 2, "rejected": 1, "rejection_reason": "expired"},
        ),
        "partially_received",
    ),
    ("close-short", {"reason": "lost"}, "closed_short"),
]


def test_each_transition_retried_ten_times_with_its_key_moves_stock_once(
    ops_client, north, south, sheet
):
    transfer = draft(north, south, (sheet, 4))
    movements_per_step = []

    for action, body, state in STEPS:
        before = len(transfer_movements(transfer))
        answers = [
            act(ops_client, transfer.pk, action, body, HTTP_IDEMPOTENCY_KEY=f"key-{action}")
            for _ in range(10)
        ]
        assert {answer.status_code for answer in answers} == {200}, action
        assert {answer.json()["state"] for answer in answers} == {state}
        assert all(answer["Idempotent-Replayed"] == "true" for answer in answers[1:])
        movements_per_step.append(len(transfer_movements(transfer)) - before)

    # approve holds, pick moves nothing, ship is out + in, receive is accepted + rejected,
    # close short writes off the one unit left.
    assert movements_per_step == [1, 0, 2, 2, 1]
    assert quantities(at(sheet, north)) == (6, 0, 0, 0)
    assert quantities(at(sheet, south)) == (3, 0, 1, 0)
    assert_identity(transfer)


def test_a_cancel_retried_ten_times_with_its_key_moves_stock_once(ops_client, on_the_road):
    before = len(transfer_movements(on_the_road))

    answers = [
        act(
            ops_client,
            on_the_road.pk,
            "cancel",
            {"disposition": "back_to_source"},
            HTTP_IDEMPOTENCY_KEY="cancel-1",
        )
        for _ in range(10)
    ]

    assert {answer.status_code for answer in answers} == {200}
    assert len(transfer_movements(on_the_road)) - before == 2


def test_the_same_receipt_reference_without_a_key_is_one_receipt(ops_client, on_the_road):
    body = receipt("DN-1", {"sku": "SHEET", "accepted": 1})

    answers = [act(ops_client, on_the_road.pk, "receive", body) for _ in range(3)]

    assert {answer.status_code for answer in answers} == {200}
    assert answers[-1].json()["lines"][0]["accepted"] == 1
    assert TransferReceipt.objects.count() == 1


def test_a_key_reused_with_another_body_is_refused(ops_client, on_the_road):
    first = act(
        ops_client,
        on_the_road.pk,
        "receive",
        receipt("DN-1", {"sku": "SHEET", "accepted": 1}),
        HTTP_IDEMPOTENCY_KEY="k",
    )
    before = ledger_ids()

    again = act(
        ops_client,
        on_the_road.pk,
        "receive",
        receipt("DN-2", {"sku": "SHEET", "accepted": 1}),
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert first.status_code == 200
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"
    assert ledger_ids() == before
    assert IdempotencyKey.objects.count() == 1


# --- Filters ---------------------------------------------------------------------------------


@pytest.fixture
def several(north, south, sheet, lane):
    """A draft NORTH→SOUTH, an approved SOUTH→NORTH of PILLOW, a shipped (late) and a shipped
    (on time) NORTH→SOUTH."""
    pillow = VariantFactory(sku="PILLOW")
    stocked(pillow, south, 5)
    drafted = draft(north, south, (sheet, 1), reference="D")
    approved = draft(south, north, (pillow, 1), reference="A")
    approve_transfer(transfer=approved, actor=SYSTEM)
    late, on_time = (
        draft(north, south, (sheet, 1), reference="L"),
        draft(north, south, (sheet, 1), reference="O"),
    )
    for transfer in (late, on_time):
        approve_transfer(transfer=transfer, actor=SYSTEM)
        ship_transfer(transfer=transfer, actor=SYSTEM)
    # Time travel: the late one left four days ago, on a three-day lane.
    Transfer.objects.filter(pk=late.pk).update(
        shipped_at=timezone.now() - timedelta(days=4),
        due_at=timezone.now() - timedelta(days=1),
    )
    return {"draft": drafted, "approved": approved, "late": late, "on_time": on_time}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["on_time", "late", "approved", "draft"]),
        ({"state": "draft"}, ["draft"]),
        ({"state": ["draft", "approved"]}, ["approved", "draft"]),
        ({"source": "SOUTH"}, ["approved"]),
        ({"destination": "SOUTH"}, ["on_time", "late", "draft"]),
        ({"overdue": "true"}, ["late"]),
        ({"overdue": "false"}, ["on_time", "approved", "draft"]),
        ({"sku": "PILLOW"}, ["approved"]),
        ({"sku": "SHEET", "state": "shipped"}, ["on_time", "late"]),
    ],
)
def test_the_list_filters(ops_client, several, query, expected):
    response = ops_client.get(TRANSFERS, query)

    assert response.status_code == 200
    names = {transfer.pk: name for name, transfer in several.items()}
    assert [names[item["id"]] for item in response.json()["results"]] == expected
    late = [item["is_late"] for item in response.json()["results"] if names[item["id"]] == "late"]
    assert late in ([], [True])


@pytest.mark.parametrize(
    "query", [{"state": "lost"}, {"overdue": "maybe"}, {"overdue": ""}, {"page_size": "0"}]
)
def test_a_filter_value_the_api_cannot_read_is_400(ops_client, query):
    assert ops_client.get(TRANSFERS, query).status_code == 400


def test_the_list_is_paginated(ops_client, several):
    response = ops_client.get(TRANSFERS, {"page_size": 3})

    assert response.json()["count"] == 4
    assert len(response.json()["results"]) == 3
    assert response.json()["next"] is not None


# --- The schema ------------------------------------------------------------------------------


def test_the_schema_describes_every_transfer_and_lane_operation():
    schema = yaml.safe_load(Client().get("/api/schema/").content)

    operations = {
        (path, method): operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(("/api/v1/transfers/", "/api/v1/lanes/"))
        for method, operation in item.items()
    }

    base = "/api/v1/transfers/{id}/"
    assert operations == {
        ("/api/v1/lanes/", "get"): "lanes_list",
        ("/api/v1/lanes/", "post"): "lanes_create",
        ("/api/v1/lanes/{id}/", "get"): "lanes_retrieve",
        ("/api/v1/lanes/{id}/", "patch"): "lanes_update",
        ("/api/v1/transfers/", "get"): "transfers_list",
        ("/api/v1/transfers/", "post"): "transfers_create",
        (base, "get"): "transfers_retrieve",
        (base, "patch"): "transfers_update",
        (f"{base}approve/", "post"): "transfers_approve",
        (f"{base}pick/", "post"): "transfers_pick",
        (f"{base}ship/", "post"): "transfers_ship",
        (f"{base}receive/", "post"): "transfers_receive",
        (f"{base}receive-return/", "post"): "transfers_receive_return",
        (f"{base}close-short/", "post"): "transfers_close_short",
        (f"{base}cancel/", "post"): "transfers_cancel",
    }
    posts = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith(("/api/v1/transfers/", "/api/v1/lanes/"))
        for method, operation in item.items()
        if method == "post"
    ]
    assert all(
        "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]]
        for operation in posts
    )


# --- Editing a draft -------------------------------------------------------------------------


def test_a_draft_is_edited_its_lines_replaced_and_the_timeline_says_so(
    ops_client, north, south, sheet
):
    VariantFactory(sku="PILLOW")
    transfer = draft(north, south, (sheet, 2))

    response = ops_client.patch(
        f"{TRANSFERS}{transfer.pk}/",
        {
            "notes": "by van",
            "lines": [{"sku": "PILLOW", "quantity": 3}, {"sku": "SHEET", "quantity": 1}],
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["notes"] == "by van"
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [
        ("PILLOW", 3),
        ("SHEET", 1),
    ]
    assert body["events"][-1]["kind"] == "edited"
    assert body["events"][-1]["details"] == {"fields": ["notes", "lines"]}


def test_an_edit_that_changes_nothing_writes_nothing(ops_client, north, south, sheet):
    transfer = draft(north, south, (sheet, 2))

    response = ops_client.patch(
        f"{TRANSFERS}{transfer.pk}/", {"lines": [{"sku": "SHEET", "quantity": 2}]}, format="json"
    )

    assert response.status_code == 200
    assert [event["kind"] for event in response.json()["events"]] == ["created"]


def test_an_approved_transfer_is_no_longer_edited(ops_client, north, south, sheet):
    transfer = draft(north, south, (sheet, 2))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    response = ops_client.patch(f"{TRANSFERS}{transfer.pk}/", {"notes": "late"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transfer_state"
    transfer.refresh_from_db()
    assert transfer.notes == ""


@pytest.mark.parametrize(
    "body",
    [
        {"lines": []},
        {"lines": [{"sku": "SHEET", "quantity": 1}, {"sku": "SHEET", "quantity": 2}]},
        {"lines": [{"sku": "SHEET", "quantity": 0}]},
        {"lines": [{"sku": "NOPE", "quantity": 1}]},
        {"destination": "NORTH"},
    ],
    ids=["no lines", "sku twice", "zero", "unknown sku", "an end"],
)
def test_a_bad_edit_is_refused_and_nothing_changes(ops_client, north, south, sheet, body):
    transfer = draft(north, south, (sheet, 2))

    response = ops_client.patch(f"{TRANSFERS}{transfer.pk}/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == list(body)
    assert list(transfer.lines.values_list("variant__sku", "quantity")) == [("SHEET", 2)]


def test_the_list_and_a_transfer_read_in_as_many_queries_whatever_their_size(
    ops_client, north, south, sheet
):
    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert ops_client.get(path).status_code == 200
        return len(captured)

    first = draft(north, south, (sheet, 1), reference="Q-1")
    small = (queries(TRANSFERS), queries(f"{TRANSFERS}{first.pk}/"))
    pillows = [VariantFactory(sku=f"P-{number}") for number in range(5)]
    for number in range(5):
        draft(north, south, *[(pillow, 1) for pillow in pillows], reference=f"Q-{number + 2}")
    big = draft(north, south, *[(pillow, 2) for pillow in pillows], reference="Q-BIG")

    assert (queries(TRANSFERS), queries(f"{TRANSFERS}{big.pk}/")) == small


# --- Returns and the lane minimum -------------------------------------------------------------


def test_units_sent_back_are_received_at_the_source_by_its_people(
    make_client, ops_client, north, south, sheet
):
    transfer = draft(north, south, (sheet, 4), reference="TR-BACK")
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    cancelled = act(ops_client, transfer.pk, "cancel", {"disposition": "back_to_source"})
    assert cancelled.status_code == 200, cancelled.json()
    assert "receive_return" in cancelled.json()["allowed_actions"]
    assert quantities(at(sheet, north)) == (6, 0, 0, 4)
    back = receipt(
        "BACK-1",
        {
            "sku": "SHEET",
            "accepted": 3,
            "rejected": 1,
            "rejection_reason": "damaged",
            "rejected_disposition": "unsellable",
        },
    )
    receiver = make_client(Role.WAREHOUSE_MANAGER, username="south-mgr", warehouses=[south])
    assert act(receiver, transfer.pk, "receive-return", back).status_code == 403
    over = receipt("BACK-0", {"sku": "SHEET", "accepted": 5})
    assert act(ops_client, transfer.pk, "receive-return", over).status_code == 409
    flagged = receipt("BACK-F", {"sku": "SHEET", "accepted": 1}, over_receipt=True)
    assert act(ops_client, transfer.pk, "receive-return", flagged).status_code == 400
    assert quantities(at(sheet, north)) == (6, 0, 0, 4)

    sender = make_client(Role.WAREHOUSE_MANAGER, username="north-mgr", warehouses=[north])
    for _ in range(2):
        answer = act(sender, transfer.pk, "receive-return", back)
        assert answer.status_code == 200, answer.json()
    assert quantities(at(sheet, north)) == (10, 0, 1, 0)
    assert answer.json()["allowed_actions"] == []
    assert_identity(Transfer.objects.get(pk=transfer.pk))


def test_below_the_lanes_minimum_is_refused_unless_ops_staff_allow_it(
    make_client, ops_client, north, south, sheet
):
    LaneFactory(source=north, destination=south, lead_time_days=2, minimum_quantity=5)
    small = new_transfer(("SHEET", 2), reference="TR-SMALL")
    refused = ops_client.post(TRANSFERS, small, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"field": "lines", "minimum": 5}
    manager = make_client(Role.WAREHOUSE_MANAGER, username="north-mgr", warehouses=[north])
    forced = {**small, "allow_below_minimum": True}
    assert manager.post(TRANSFERS, forced, format="json").status_code == 403
    assert not Transfer.objects.exists()
    created = ops_client.post(TRANSFERS, forced, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["events"][0]["details"]["below_minimum"] is True
