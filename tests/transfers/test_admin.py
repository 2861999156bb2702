"""The transfers admin: lanes and transfers written only through their services, actions
that report each transfer's outcome, and read-only pages for those who only read."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from stock.models import StockLevel, StockMovement
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.stock.test_admin import messages_of
from tests.stock.test_admin_roles import admin_as
from tests.warehouses.factories import WarehouseFactory
from tests.warehouses.test_admin import change_form_data
from transfers.models import Lane, Transfer, TransferState
from transfers.services import approve_transfer, ship_transfer
from warehouses.access import Role

from .factories import LaneFactory, assert_identity, draft

pytestmark = pytest.mark.django_db

LANES = reverse("admin:transfers_lane_changelist")
TRANSFERS = reverse("admin:transfers_transfer_changelist")


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def sheet(north):
    variant = VariantFactory(sku="SHEET-Q")
    stocked(variant, north, 10)
    return variant


@pytest.fixture
def ops():
    return admin_as(Role.OPS_STAFF)


def lane_url(lane: Lane) -> str:
    return reverse("admin:transfers_lane_change", args=[lane.pk])


def transfer_url(transfer: Transfer) -> str:
    return reverse("admin:transfers_transfer_change", args=[transfer.pk])


def act(client, action: str, *transfers: Transfer):
    return client.post(
        TRANSFERS,
        {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in transfers]},
        follow=True,
    )


def level(variant, warehouse) -> tuple[int, int, int]:
    found = StockLevel.objects.get(variant=variant, warehouse=warehouse)
    return found.on_hand, found.reserved, found.inbound


# --- Lanes ------------------------------------------------------------------------------


def test_ops_add_a_lane(ops, north, south):
    response = ops.post(
        reverse("admin:transfers_lane_add"),
        {
            "source": north.pk,
            "destination": south.pk,
            "lead_time_days": "4",
            "cost_per_unit": "0.35",
            "cost_per_shipment": "120.00",
            "minimum_quantity": "20",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    lane = Lane.objects.get()
    assert (lane.source, lane.destination, lane.lead_time_days) == (north, south, 4)
    assert (lane.cost_per_unit, lane.cost_per_shipment) == (Decimal("0.35"), Decimal("120.00"))
    assert (lane.minimum_quantity, lane.is_active) == (20, True)


def test_a_second_lane_on_the_same_route_is_a_form_error(ops, north, south):
    LaneFactory(source=north, destination=south)

    response = ops.post(
        reverse("admin:transfers_lane_add"),
        {"source": north.pk, "destination": south.pk, "lead_time_days": "2"}
        | {"cost_per_unit": "0", "cost_per_shipment": "0", "minimum_quantity": "0"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Lane.objects.count() == 1


def test_ops_change_a_lane(ops, north, south):
    lane = LaneFactory(source=north, destination=south, lead_time_days=3)
    data = change_form_data(ops.get(lane_url(lane)))

    response = ops.post(lane_url(lane), data | {"lead_time_days": "6", "is_active": ""})

    assert response.status_code == 302
    lane.refresh_from_db()
    assert (lane.lead_time_days, lane.is_active, lane.source, lane.destination) == (
        6,
        False,
        north,
        south,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("lead_time_days", "400"), ("cost_per_unit", "-1"), ("cost_per_shipment", "1.005")],
)
def test_a_bad_lane_value_is_a_form_error_and_nothing_is_written(ops, north, south, field, value):
    lane = LaneFactory(source=north, destination=south, lead_time_days=3)
    data = change_form_data(ops.get(lane_url(lane)))

    response = ops.post(lane_url(lane), data | {field: value, "minimum_quantity": "9"})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    lane.refresh_from_db()
    assert (lane.lead_time_days, lane.cost_per_unit, lane.minimum_quantity) == (3, 0, 0)


def test_a_lane_is_never_deleted_and_its_route_is_fixed(ops, north, south):
    lane = LaneFactory(source=north, destination=south)

    page = ops.get(lane_url(lane))
    deleted = ops.post(reverse("admin:transfers_lane_delete", args=[lane.pk]), {"post": "yes"})

    assert set(page.context["adminform"].form.fields) >= {"lead_time_days", "is_active"}
    assert not {"source", "destination"} & set(page.context["adminform"].form.fields)
    assert deleted.status_code == 403
    assert Lane.objects.filter(pk=lane.pk).exists()


# --- Creating a transfer --------------------------------------------------------------


def test_ops_draft_a_transfer_through_the_service(ops, north, south, sheet):
    LaneFactory(source=north, destination=south, lead_time_days=2)
    towel = VariantFactory(sku="TOWEL-B")

    response = ops.post(
        reverse("admin:transfers_transfer_add"),
        {
            "source": north.pk,
            "destination": south.pk,
            "reference": "T-ADMIN-1",
            "lines": "SHEET-Q 4\nTOWEL-B, 2\n",
            "reason": "rebalance",
        },
    )

    assert response.status_code == 302
    transfer = Transfer.objects.get(reference="T-ADMIN-1")
    assert transfer.state == TransferState.DRAFT
    assert transfer.requested_by_label == "ops_staff"
    assert transfer.expected_arrival is not None  # from the lane: the service set it
    assert sorted(transfer.lines.values_list("variant__sku", "quantity")) == [
        ("SHEET-Q", 4),
        (towel.sku, 2),
    ]
    assert list(transfer.events.values_list("kind", flat=True)) == ["created"]


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("NOPE-1 3", "Unknown SKU(s): NOPE-1."),
        ("SHEET-Q 0", "Line 1: the quantity must be from 1 to"),
        ("SHEET-Q 1\nSHEET-Q 2", "Line 2: SHEET-Q is on an earlier line."),
        ("SHEET-Q", "Line 1: write the SKU, then the quantity."),
    ],
)
def test_bad_transfer_lines_are_a_form_error_and_nothing_is_written(
    ops, north, south, sheet, lines, error
):
    response = ops.post(
        reverse("admin:transfers_transfer_add"),
        {"source": north.pk, "destination": south.pk, "reference": "T-BAD", "lines": lines},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["lines"][0].startswith(error)
    assert Transfer.objects.count() == 0


def test_a_transfer_to_its_own_source_is_refused(ops, north, sheet):
    response = ops.post(
        reverse("admin:transfers_transfer_add"),
        {"source": north.pk, "destination": north.pk, "reference": "T-SELF", "lines": "SHEET-Q 1"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Transfer.objects.count() == 0


# --- Actions ----------------------------------------------------------------------------


def test_actions_move_stock_through_the_services(ops, north, south, sheet):
    transfer = draft(north, south, (sheet, 4), reference="T-ACT")

    approved = act(ops, "approve_selected", transfer)
    held = level(sheet, north)
    picked = act(ops, "pick_selected", transfer)
    shipped = act(ops, "ship_selected", transfer)

    assert messages_of(approved) == ["T-ACT: approved."]
    assert held == (10, 4, 0)
    assert messages_of(picked) == ["T-ACT: picked."]
    assert messages_of(shipped) == ["T-ACT: shipped."]
    assert level(sheet, north) == (6, 0, 0)
    assert level(sheet, south) == (0, 0, 4)
    transfer.refresh_from_db()
    assert transfer.state == TransferState.SHIPPED
    assert list(transfer.events.values_list("kind", flat=True)) == [
        "created",
        "approved",
        "picked",
        "shipped",
    ]


def test_close_short_writes_off_what_is_in_transit(ops, north, south, sheet):
    transfer = draft(north, south, (sheet, 4), reference="T-SHORT")
    approve_transfer(transfer=transfer, actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    response = act(ops, "close_short_selected", transfer)

    assert messages_of(response) == ["T-SHORT: closed short."]
    assert level(sheet, south) == (0, 0, 0)
    transfer.refresh_from_db()
    assert transfer.state == TransferState.CLOSED_SHORT
    assert_identity(transfer)


def test_each_transfer_reports_its_own_outcome_and_a_refusal_says_why(ops, north, south, sheet):
    small = draft(north, south, (sheet, 3), reference="T-SMALL")
    large = draft(north, south, (sheet, 50), reference="T-LARGE")
    movements = StockMovement.objects.count()

    response = act(ops, "approve_selected", small, large)

    messages = messages_of(response)
    assert messages[0] == "T-SMALL: approved."
    assert messages[1].startswith("T-LARGE: ") and "available" in messages[1].lower()
    assert level(sheet, north) == (10, 3, 0)
    large.refresh_from_db()
    assert large.state == TransferState.DRAFT
    assert StockMovement.objects.count() == movements + 1


def test_cancel_releases_the_hold_and_refuses_a_transfer_on_the_road(ops, north, south, sheet):
    held = draft(north, south, (sheet, 2), reference="T-HELD")
    road = draft(north, south, (sheet, 3), reference="T-ROAD")
    approve_transfer(transfer=held, actor=SYSTEM)
    approve_transfer(transfer=road, actor=SYSTEM)
    ship_transfer(transfer=road, actor=SYSTEM)

    response = act(ops, "cancel_selected", held, road)

    assert messages_of(response) == [
        "T-HELD: cancelled.",
        "T-ROAD: A shipped transfer is cancelled back_to_source or lost.",
    ]
    assert level(sheet, north) == (7, 0, 0)
    assert level(sheet, south) == (0, 0, 3)
    road.refresh_from_db()
    assert road.state == TransferState.SHIPPED


def test_a_transfer_on_the_road_is_cancelled_back_to_the_source_or_as_lost(
    ops, north, south, sheet
):
    back = draft(north, south, (sheet, 2), reference="T-BACK")
    lost = draft(north, south, (sheet, 3), reference="T-LOST")
    for transfer in (back, lost):
        approve_transfer(transfer=transfer, actor=SYSTEM)
        ship_transfer(transfer=transfer, actor=SYSTEM)

    answers = messages_of(act(ops, "cancel_back_to_source_selected", back))
    answers += messages_of(act(ops, "cancel_lost_selected", lost))

    assert answers == [
        "T-BACK: cancelled, units on their way back.",
        "T-LOST: cancelled, units written off as lost.",
    ]
    # North: 10 - 5 shipped, with the 2 sent back inbound again; south: nothing inbound.
    assert level(sheet, north) == (5, 0, 2)
    assert level(sheet, south) == (0, 0, 0)


def test_a_wrong_state_is_refused_with_the_reason(ops, north, south, sheet):
    transfer = draft(north, south, (sheet, 2), reference="T-EARLY")

    response = act(ops, "ship_selected", transfer)

    assert messages_of(response) == ["T-EARLY: Transfer T-EARLY is draft: it cannot be shipped."]
    assert level(sheet, north) == (10, 0, 0)


# --- Who sees what ----------------------------------------------------------------------


def test_the_list_filters_by_state_and_late_and_finds_a_sku(ops, north, south, sheet):
    LaneFactory(source=north, destination=south, lead_time_days=0)
    late = draft(north, south, (sheet, 1), reference="T-LATE")
    other = draft(north, south, (VariantFactory(sku="TOWEL-B"), 1), reference="T-OTHER")
    approve_transfer(transfer=late, actor=SYSTEM)
    ship_transfer(transfer=late, actor=SYSTEM)

    def listed(**query) -> list[str]:
        return [t.reference for t in ops.get(TRANSFERS, query).context["cl"].result_list]

    assert listed(is_late="yes") == ["T-LATE"]
    assert listed(is_late="no") == [other.reference]
    assert listed(state__exact="draft") == ["T-OTHER"]
    assert listed(q="TOWEL-B") == ["T-OTHER"]
    assert listed(q="T-LATE") == ["T-LATE"]


def test_the_transfer_page_shows_lines_timeline_and_receipts_read_only(ops, north, south, sheet):
    transfer = draft(north, south, (sheet, 4), reference="T-PAGE")
    approve_transfer(transfer=transfer, actor=SYSTEM)

    page = ops.get(transfer_url(transfer))

    html = page.content.decode()
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert [
        inline.opts.verbose_name_plural for inline in page.context["inline_admin_formsets"]
    ] == [
        "transfer lines",
        "timeline",
        "transfer receipts",
    ]
    assert "SHEET-Q" in html and "approved" in html


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER])
def test_managers_and_viewers_only_read(role, north, south, sheet):
    client = admin_as(role, warehouses=[north, south])
    lane = LaneFactory(source=north, destination=south)
    transfer = draft(north, south, (sheet, 2), reference="T-READ")

    listing = client.get(TRANSFERS)
    lane_page = client.get(lane_url(lane))
    lane_post = client.post(lane_url(lane), {"lead_time_days": "9"})
    acted = client.post(
        TRANSFERS, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [transfer.pk]}
    )
    added = client.get(reverse("admin:transfers_transfer_add"))

    assert listing.status_code == 200
    assert "approve_selected" not in listing.content.decode()
    assert lane_page.status_code == 200 and lane_page.context["has_change_permission"] is False
    assert lane_post.status_code == 403
    assert acted.status_code == 200  # Django answers an action not offered with the list
    assert added.status_code == 403
    lane.refresh_from_db()
    transfer.refresh_from_db()
    assert (lane.lead_time_days, transfer.state) == (3, TransferState.DRAFT)
    assert level(sheet, north) == (10, 0, 0)
