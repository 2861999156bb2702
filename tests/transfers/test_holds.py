"""The breakdown of a salable number shows what approved and picked transfers hold."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stock.selectors import channel_salable
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory
from transfers.services import (
    BACK_TO_SOURCE,
    approve_transfer,
    cancel_transfer,
    pick_transfer,
    ship_transfer,
)
from warehouses.access import Role

from .factories import draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def variant(north):
    variant = VariantFactory(sku="SHEET-Q")
    stocked(variant, north, 10)
    return variant


@pytest.fixture
def channel(north, south):
    return channel_selling_from(north, south, code="web")


def held(channel, variant) -> dict[str, tuple[int, int, int]]:
    """Per warehouse: (reserved, held for transfers, available)."""
    return {
        part.warehouse_code: (part.reserved, part.held_for_transfers, part.available)
        for part in channel_salable(channel, variant).breakdown
    }


def ops_client() -> APIClient:
    user = get_user_model().objects.create_user(username="ops", password="unused")
    user.groups.add(Group.objects.get_or_create(name=Role.OPS_STAFF.value)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_approve_shows_the_hold_at_the_source(north, south, variant, channel):
    transfer = draft(north, south, (variant, 4))

    approve_transfer(transfer=transfer, actor=SYSTEM)

    assert held(channel, variant) == {"NORTH": (4, 4, 6), "SOUTH": (0, 0, 0)}


def test_a_picked_transfer_still_holds(north, south, variant, channel):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    pick_transfer(transfer=transfer, actor=SYSTEM)

    assert held(channel, variant)["NORTH"] == (4, 4, 6)


def test_ship_ends_the_hold(north, south, variant, channel):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    ship_transfer(transfer=transfer, actor=SYSTEM)

    assert held(channel, variant) == {"NORTH": (0, 0, 6), "SOUTH": (0, 0, 0)}


def test_cancel_before_shipping_ends_the_hold(north, south, variant, channel):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    cancel_transfer(transfer=transfer, actor=SYSTEM)

    assert held(channel, variant)["NORTH"] == (0, 0, 10)


def test_an_orders_hold_is_not_a_transfers(north, south, variant, channel):
    place(channel, "W-1", ("SHEET-Q", 3))
    transfer = draft(north, south, (variant, 2))

    approve_transfer(transfer=transfer, actor=SYSTEM)

    assert held(channel, variant)["NORTH"] == (5, 2, 5)


def test_holds_are_summed_per_source_and_variant(north, south, variant, channel):
    other = VariantFactory(sku="PILLOW")
    stocked(other, north, 5)
    stocked(variant, south, 5)
    for reference, source, destination, lines in (
        ("T-1", north, south, [(variant, 2), (other, 1)]),
        ("T-2", north, south, [(variant, 3)]),
        ("T-3", south, north, [(variant, 4)]),
    ):
        approve_transfer(
            transfer=draft(source, destination, *lines, reference=reference), actor=SYSTEM
        )
    shipped = draft(north, south, (variant, 1), reference="T-4")
    approve_transfer(transfer=shipped, actor=SYSTEM)
    ship_transfer(transfer=shipped, actor=SYSTEM)

    assert held(channel, variant) == {"NORTH": (5, 5, 4), "SOUTH": (4, 4, 1)}
    assert held(channel, other) == {"NORTH": (1, 1, 4), "SOUTH": (0, 0, 0)}


def test_a_returned_shipment_is_held_nowhere(north, south, variant, channel):
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)

    assert held(channel, variant) == {"NORTH": (0, 0, 6), "SOUTH": (0, 0, 0)}


def test_the_api_breakdown_shows_the_hold_then_none_after_shipping(north, south, variant, channel):
    client = ops_client()
    transfer = draft(north, south, (variant, 4))
    approve_transfer(transfer=transfer, actor=SYSTEM)

    approved = client.get("/api/v1/stock/SHEET-Q/")
    ship_transfer(transfer=transfer, actor=SYSTEM)
    shipped = client.get("/api/v1/stock/SHEET-Q/")

    assert approved.status_code == shipped.status_code == 200
    assert [
        (part["warehouse"], part["reserved"], part["held_for_transfers"])
        for part in approved.json()["channels"][0]["breakdown"]
    ] == [("NORTH", 4, 4), ("SOUTH", 0, 0)]
    assert [
        (part["warehouse"], part["reserved"], part["held_for_transfers"])
        for part in shipped.json()["channels"][0]["breakdown"]
    ] == [("NORTH", 0, 0), ("SOUTH", 0, 0)]
