"""Who may take each action on a transfer through the API, per role and warehouse end.

NORTH is the source, SOUTH the destination, EAST a third warehouse. A manager or an
integration of one of them acts there only; ops staff act anywhere; viewers only read.
A refusal is 403, names the end that may, and writes nothing.
"""

import pytest
from rest_framework.test import APIClient

from tests.stock.factories import SYSTEM, VariantFactory, ledger_ids, stocked
from tests.transfers.factories import draft
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer
from transfers.services import approve_transfer, pick_transfer, ship_transfer
from warehouses.access import Role

pytestmark = pytest.mark.django_db

TRANSFERS = "/api/v1/transfers/"
WHO = [
    "ops",
    "source_manager",
    "destination_manager",
    "other_manager",
    "source_integration",
    "destination_integration",
    "viewer",
]


@pytest.fixture
def ends():
    return {code: WarehouseFactory(code=code) for code in ("NORTH", "SOUTH", "EAST")}


@pytest.fixture
def sheet(ends):
    variant = VariantFactory(sku="SHEET")
    stocked(variant, ends["NORTH"], 10)
    return variant


@pytest.fixture
def clients(make_client, ends) -> dict[str, APIClient]:
    def of(role: Role, code: str, name: str) -> APIClient:
        return make_client(role, username=name, warehouses=[ends[code]])

    return {
        "ops": make_client(Role.OPS_STAFF),
        "source_manager": of(Role.WAREHOUSE_MANAGER, "NORTH", "m-north"),
        "destination_manager": of(Role.WAREHOUSE_MANAGER, "SOUTH", "m-south"),
        "other_manager": of(Role.WAREHOUSE_MANAGER, "EAST", "m-east"),
        "source_integration": of(Role.INTEGRATION, "NORTH", "i-north"),
        "destination_integration": of(Role.INTEGRATION, "SOUTH", "i-south"),
        "viewer": make_client(Role.VIEWER),
    }


def in_state(ends, sheet, state: str) -> Transfer:
    transfer = draft(ends["NORTH"], ends["SOUTH"], (sheet, 2))
    if state == "draft":
        return transfer
    approve_transfer(transfer=transfer, actor=SYSTEM)
    if state == "picked":
        pick_transfer(transfer=transfer, actor=SYSTEM)
    if state == "shipped":
        ship_transfer(transfer=transfer, actor=SYSTEM)
    return transfer


SOURCE_SIDE = {"ops", "source_manager", "source_integration"}
DESTINATION_SIDE = {"ops", "destination_manager", "destination_integration"}
EITHER_SIDE = SOURCE_SIDE | DESTINATION_SIDE
RECEIPT = {"receipt_reference": "DN-1", "lines": [{"sku": "SHEET", "accepted": 2}]}

# (action, state it is taken from, body, who may, the end the refusal names)
ACTIONS = [
    ("approve", "draft", {}, SOURCE_SIDE, "the source warehouse NORTH's people"),
    ("pick", "approved", {}, SOURCE_SIDE, "the source warehouse NORTH's people"),
    ("ship", "picked", {}, SOURCE_SIDE, "the source warehouse NORTH's people"),
    ("cancel", "approved", {}, SOURCE_SIDE, "the source warehouse NORTH's people"),
    ("receive", "shipped", RECEIPT, DESTINATION_SIDE, "the destination warehouse SOUTH's people"),
    ("close-short", "shipped", {}, DESTINATION_SIDE, "the destination warehouse SOUTH's people"),
    (
        "cancel",
        "shipped",
        {"disposition": "lost"},
        EITHER_SIDE,
        "the people of NORTH or SOUTH",
    ),
]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    ("action", "state", "body", "allowed", "end"),
    ACTIONS,
    ids=[f"{action} from {state}" for action, state, *_ in ACTIONS],
)
def test_each_role_may_or_may_not_take_each_action(
    ends, sheet, clients, who, action, state, body, allowed, end
):
    transfer = in_state(ends, sheet, state)
    before = ledger_ids()

    response = clients[who].post(f"{TRANSFERS}{transfer.pk}/{action}/", body, format="json")

    if who in allowed:
        assert response.status_code == 200, response.json()
        return
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    if who == "viewer":
        assert message == "Your role may not change transfers."
    else:
        assert message.endswith(f"that is for {end} or ops staff.")
        assert transfer.reference in message
    assert ledger_ids() == before
    assert Transfer.objects.get(pk=transfer.pk).state == state


def new_transfer(source: str, destination: str) -> dict:
    return {
        "source": source,
        "destination": destination,
        "lines": [{"sku": "SHEET", "quantity": 1}],
    }


@pytest.mark.parametrize(
    ("who", "route", "status"),
    [
        ("ops", ("EAST", "SOUTH"), 201),
        ("source_manager", ("NORTH", "SOUTH"), 201),
        ("destination_manager", ("NORTH", "SOUTH"), 201),
        ("source_integration", ("NORTH", "EAST"), 201),
        ("other_manager", ("NORTH", "SOUTH"), 403),
        ("viewer", ("NORTH", "SOUTH"), 403),
    ],
)
def test_either_end_may_create_a_transfer(ends, sheet, clients, who, route, status):
    response = clients[who].post(TRANSFERS, new_transfer(*route), format="json")

    assert response.status_code == status
    assert Transfer.objects.count() == (1 if status == 201 else 0)


@pytest.mark.parametrize("who", WHO)
def test_every_role_reads_transfers(ends, sheet, clients, who):
    transfer = in_state(ends, sheet, "draft")

    listed = clients[who].get(TRANSFERS)
    read = clients[who].get(f"{TRANSFERS}{transfer.pk}/")

    assert (listed.status_code, read.status_code) == (200, 200)
    assert [item["id"] for item in listed.json()["results"]] == [transfer.pk]


def test_a_user_without_a_role_reads_nothing(make_client, ends, sheet):
    transfer = in_state(ends, sheet, "draft")
    nobody = make_client(None)

    assert nobody.get(TRANSFERS).status_code == 403
    assert nobody.get(f"{TRANSFERS}{transfer.pk}/").status_code == 403
    assert APIClient().get(TRANSFERS).status_code == 401


@pytest.mark.parametrize(
    ("who", "state", "actions"),
    [
        ("ops", "draft", ["approve", "cancel"]),
        ("source_manager", "draft", ["approve", "cancel"]),
        ("destination_manager", "draft", []),
        ("viewer", "draft", []),
        ("source_manager", "shipped", ["cancel"]),
        ("destination_manager", "shipped", ["receive", "close_short", "cancel"]),
    ],
)
def test_allowed_actions_are_those_of_the_requesting_user(
    ends, sheet, clients, who, state, actions
):
    transfer = in_state(ends, sheet, state)

    response = clients[who].get(f"{TRANSFERS}{transfer.pk}/")

    assert response.json()["allowed_actions"] == actions


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("ops", 200),
        ("source_manager", 200),
        ("destination_integration", 200),
        ("other_manager", 403),
        ("viewer", 403),
    ],
)
def test_either_end_may_edit_a_draft(ends, sheet, clients, who, status):
    transfer = in_state(ends, sheet, "draft")

    response = clients[who].patch(f"{TRANSFERS}{transfer.pk}/", {"notes": "n"}, format="json")

    assert response.status_code == status
    transfer.refresh_from_db()
    assert transfer.notes == ("n" if status == 200 else "")
    if who == "other_manager":
        assert response.json()["error"]["message"] == (
            f"You may not edit transfer {transfer.reference}: that is for the people of "
            "NORTH or SOUTH or ops staff."
        )
