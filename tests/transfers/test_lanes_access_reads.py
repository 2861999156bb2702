"""Lanes through their services, who may act on a transfer, and the shared reads."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from stock.services.catalogue import update_variant
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory
from transfers.access import Action, allowed_actions, may_act, may_manage_lanes
from transfers.errors import InvalidLane
from transfers.models import Lane, Transfer
from transfers.selectors import (
    in_transit_by_lane,
    is_late,
    late_q,
    units_in_transit,
    variant_transfers,
)
from transfers.services import (
    BACK_TO_SOURCE,
    ReceiptLineInput,
    approve_transfer,
    cancel_transfer,
    create_lane,
    receive_return,
    receive_transfer,
    ship_transfer,
    update_lane,
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


def user(role: Role | None, *warehouses, name: str = "u"):
    account = get_user_model().objects.create_user(username=name, password="x")
    if role is not None:
        account.groups.add(Group.objects.get_or_create(name=role.value)[0])
    for warehouse in warehouses:
        warehouse.assigned_users.add(account)
    return account


class TestLanes:
    def test_a_lane_is_created_with_its_costs(self, north, south):
        lane = create_lane(
            source=north,
            destination=south,
            lead_time_days=2,
            cost_per_unit="0.50",
            cost_per_shipment=Decimal("25"),
            minimum_quantity=10,
        )
        lane.refresh_from_db()
        assert (lane.lead_time_days, lane.cost_per_unit, lane.cost_per_shipment) == (
            2,
            Decimal("0.50"),
            Decimal("25.00"),
        )
        assert lane.minimum_quantity == 10 and lane.is_active

    @pytest.mark.parametrize(
        ("details", "field"),
        [
            ({"lead_time_days": -1}, "lead_time_days"),
            ({"lead_time_days": 400}, "lead_time_days"),
            ({"lead_time_days": True}, "lead_time_days"),
            ({"lead_time_days": 2, "cost_per_unit": "-1"}, "cost_per_unit"),
            ({"lead_time_days": 2, "cost_per_unit": "abc"}, "cost_per_unit"),
            ({"lead_time_days": 2, "cost_per_shipment": "1.234"}, "cost_per_shipment"),
            ({"lead_time_days": 2, "cost_per_shipment": "NaN"}, "cost_per_shipment"),
            ({"lead_time_days": 2, "minimum_quantity": 2.5}, "minimum_quantity"),
            ({"lead_time_days": 2, "colour": "red"}, "colour"),
        ],
    )
    def test_bad_values_are_refused_and_nothing_is_written(self, north, south, details, field):
        with pytest.raises(InvalidLane) as refused:
            create_lane(source=north, destination=south, **details)
        assert refused.value.details == {"field": field}
        assert not Lane.objects.exists()

    def test_a_second_lane_on_the_same_route_and_a_loop_are_refused(self, north, south):
        create_lane(source=north, destination=south, lead_time_days=2)
        with pytest.raises(InvalidLane, match="exists already"):
            create_lane(source=north, destination=south, lead_time_days=5)
        with pytest.raises(InvalidLane, match="two different"):
            create_lane(source=north, destination=north, lead_time_days=5)
        assert Lane.objects.get().lead_time_days == 2

    def test_an_update_is_all_or_nothing(self, north, south):
        lane = create_lane(source=north, destination=south, lead_time_days=2)
        with pytest.raises(InvalidLane):
            update_lane(lane=lane, lead_time_days=4, cost_per_unit="-2")
        lane.refresh_from_db()
        assert lane.lead_time_days == 2
        update_lane(lane=lane, lead_time_days=4, is_active=False)
        lane.refresh_from_db()
        assert (lane.lead_time_days, lane.is_active) == (4, False)


class TestAccess:
    def test_each_end_does_its_own_part(self, north, south):
        transfer = draft(north, south, (VariantFactory(), 1))
        sender = user(Role.WAREHOUSE_MANAGER, north, name="sender")
        receiver = user(Role.WAREHOUSE_MANAGER, south, name="receiver")
        outsider = user(Role.WAREHOUSE_MANAGER, WarehouseFactory(), name="outsider")
        viewer = user(Role.VIEWER, north, south, name="viewer")
        ops = user(Role.OPS_STAFF, name="ops")
        for action in (Action.APPROVE, Action.PICK, Action.SHIP, Action.CANCEL):
            assert may_act(sender, action, transfer)
            assert not may_act(receiver, action, transfer)
        for action in (Action.RECEIVE, Action.CLOSE_SHORT):
            assert may_act(receiver, action, transfer)
            assert not may_act(sender, action, transfer)
        assert may_act(receiver, Action.CREATE, transfer)
        for action in Action:
            assert may_act(ops, action, transfer)
            assert not may_act(viewer, action, transfer)
            assert not may_act(outsider, action, transfer)
        assert may_manage_lanes(ops) and not may_manage_lanes(sender)

    def test_a_transfer_on_the_road_may_be_cancelled_from_either_end(self, north, south):
        variant = VariantFactory()
        stocked(variant, north, 5)
        transfer = draft(north, south, (variant, 2))
        receiver = user(Role.WAREHOUSE_MANAGER, south, name="receiver")
        assert not may_act(receiver, Action.CANCEL, transfer)
        approve_transfer(transfer=transfer, actor=SYSTEM)
        ship_transfer(transfer=transfer, actor=SYSTEM)
        transfer.refresh_from_db()
        assert may_act(receiver, Action.CANCEL, transfer)
        assert allowed_actions(receiver, transfer) == {
            Action.RECEIVE,
            Action.CLOSE_SHORT,
            Action.CANCEL,
        }


class TestReads:
    def test_due_time_lateness_and_units_in_transit(self, north, south):
        lane = create_lane(source=north, destination=south, lead_time_days=3)
        cheap, unpriced = VariantFactory(), VariantFactory()
        update_variant(variant=cheap, unit_cost=Decimal("2.50"))
        for variant in (cheap, unpriced):
            stocked(variant, north, 20)
        transfer = draft(north, south, (cheap, 10), (unpriced, 4))
        approve_transfer(transfer=transfer, actor=SYSTEM)
        assert variant_transfers(cheap.pk)[north.pk].held == 10
        assert units_in_transit() == 0
        ship_transfer(transfer=transfer, actor=SYSTEM)
        transfer.refresh_from_db()
        assert transfer.lane == lane
        assert transfer.due_at - transfer.shipped_at == timedelta(days=3)
        assert not is_late(transfer)
        later = timezone.now() + timedelta(days=4)
        assert is_late(transfer, later)
        assert list(Transfer.objects.filter(late_q(later))) == [transfer]
        assert not Transfer.objects.filter(late_q()).exists()

        receive_transfer(
            transfer=transfer,
            receipt_reference="R-1",
            lines=[ReceiptLineInput(variant=cheap, accepted=6)],
            actor=SYSTEM,
        )
        assert units_in_transit() == 8
        [road] = in_transit_by_lane(later)
        assert (road.source_code, road.destination_code) == ("NORTH", "SOUTH")
        assert (road.transfers, road.units, road.value) == (1, 8, Decimal("10.00"))
        assert road.units_without_cost == 4
        assert road.late_transfers == {transfer.pk}
        at = variant_transfers(cheap.pk)
        assert (at[north.pk].held, at[north.pk].outgoing, at[south.pk].incoming) == (0, 4, 4)


def test_units_sent_back_are_on_the_road_back_until_received_at_the_source(north, south):
    lamp = VariantFactory()
    stocked(lamp, north, 10)
    transfer = draft(north, south, (lamp, 6))
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)
    cancel_transfer(transfer=transfer, actor=SYSTEM, disposition=BACK_TO_SOURCE)
    transfer.refresh_from_db()
    sender = user(Role.WAREHOUSE_MANAGER, north, name="sender")
    receiver = user(Role.WAREHOUSE_MANAGER, south, name="receiver")
    assert allowed_actions(sender, transfer) == {Action.RECEIVE_RETURN}
    assert allowed_actions(receiver, transfer) == set()
    [road] = in_transit_by_lane()
    assert (road.source_code, road.destination_code, road.units) == ("SOUTH", "NORTH", 6)
    at = variant_transfers(lamp.pk)
    assert (at[north.pk].incoming, at[south.pk].outgoing) == (6, 6)
    assert units_in_transit() == 6
    receive_return(
        transfer=transfer,
        receipt_reference="BACK-1",
        lines=[ReceiptLineInput(variant=lamp, accepted=6)],
        actor=SYSTEM,
    )
    transfer.refresh_from_db()
    assert in_transit_by_lane() == [] and units_in_transit() == 0
    assert allowed_actions(sender, transfer) == set()
