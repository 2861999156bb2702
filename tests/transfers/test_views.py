"""The transfer pages and their forms: who sees what, each form moving a transfer through its
service, refusals answered 422 (or 403) with nothing changed, and what transfers add to the
variant page and the overview."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from stock.models import StockLevel, StockMovement
from stock.services.catalogue import update_variant
from tests.stock.factories import SYSTEM, Balance, VariantFactory, balance_of, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
    signed_in,
)
from transfers.models import Transfer, TransferEvent, TransferReceipt, TransferState
from transfers.services import approve_transfer, ship_transfer
from warehouses.access import Role

from .factories import LaneFactory, assert_identity, draft

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "live-region"}


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH", name="North")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH", name="South")


@pytest.fixture
def sheet(north, south):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, north, 20)
    stocked(variant, south, 2)
    LaneFactory(source=north, destination=south, lead_time_days=3)
    return variant


@pytest.fixture
def clients(north, south):
    return {
        "ops": signed_in(Role.OPS_STAFF, username="ops"),
        "source": signed_in(Role.WAREHOUSE_MANAGER, north, username="north-manager"),
        "destination": signed_in(Role.WAREHOUSE_MANAGER, south, username="south-manager"),
        "viewer": signed_in(Role.VIEWER, username="viewer"),
    }


@pytest.fixture
def transfer(north, south, sheet):
    return draft(north, south, (sheet, 5), reference="T-PAGE")


def balance(variant, warehouse) -> Balance:
    return balance_of(StockLevel.objects.get(variant=variant, warehouse=warehouse))


def state_of(transfer: Transfer) -> str:
    return Transfer.objects.get(pk=transfer.pk).state


def ledger_size() -> int:
    return StockMovement.objects.count()


def buttons(html: str) -> set[str]:
    return set(re.findall(r'data-testid="([a-z-]+)-(?:button|submit)"', html))


def shipped(transfer: Transfer) -> Transfer:
    approve_transfer(transfer=transfer, actor=SYSTEM)
    return ship_transfer(transfer=transfer, actor=SYSTEM)


# --- Pages and roles ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ops", "source", "viewer"])
def test_every_transfer_page_renders_for_each_dashboard_role(clients, transfer, sheet, who):
    client = clients[who]

    pages = ["/transfers/", f"/transfers/{transfer.pk}/", f"/variants/{sheet.sku}/", "/"]

    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
    assert "T-PAGE" in client.get("/transfers/").content.decode()


def test_integrations_cannot_open_the_transfer_pages(transfer):
    client = signed_in(Role.INTEGRATION, username="robot")

    responses = [client.get("/transfers/"), client.get(f"/transfers/{transfer.pk}/")]

    assert [response.status_code for response in responses] == [403, 403]


def test_an_unknown_transfer_is_a_404_page(clients):
    assert clients["ops"].get("/transfers/999999/").status_code == 404


def test_each_role_sees_only_the_buttons_for_its_end(clients, transfer):
    page = f"/transfers/{transfer.pk}/"

    seen = {who: buttons(client.get(page).content.decode()) for who, client in clients.items()}

    assert seen == {
        "ops": {"approve", "cancel"},
        "source": {"approve", "cancel"},
        "destination": set(),
        "viewer": set(),
    }


def test_once_shipped_the_destination_receives_and_the_source_does_not(clients, transfer):
    shipped(transfer)
    page = f"/transfers/{transfer.pk}/"

    seen = {who: buttons(client.get(page).content.decode()) for who, client in clients.items()}

    assert seen["destination"] == {"receive", "close-short", "cancel"}
    assert seen["source"] == {"cancel"}  # either end may say where units on the road are
    assert seen["viewer"] == set()
    assert "read-only-notice" in clients["viewer"].get(page).content.decode()


# --- Forms moving the transfer ------------------------------------------------------------


def test_approving_from_the_page_holds_the_units_at_the_source(clients, transfer, sheet, north):
    response = clients["source"].post(f"/transfers/{transfer.pk}/approve/", **HTMX)

    assert response.status_code == 200
    assert "approved" in response.content.decode()
    assert state_of(transfer) == TransferState.APPROVED
    assert balance(sheet, north).reserved == 5


def test_picking_and_shipping_from_the_page_put_the_units_on_the_road(
    clients, transfer, sheet, north, south
):
    approve_transfer(transfer=transfer, actor=SYSTEM)

    picked = clients["source"].post(f"/transfers/{transfer.pk}/pick/", **HTMX)
    sent = clients["source"].post(f"/transfers/{transfer.pk}/ship/", **HTMX)

    assert (picked.status_code, sent.status_code) == (200, 200)
    assert state_of(transfer) == TransferState.SHIPPED
    assert balance(sheet, north) == Balance(on_hand=15, reserved=0, version=3)
    assert balance(sheet, south).inbound == 5
    assert 'data-field="in_transit">5<' in sent.content.decode()


def receipt(transfer: Transfer, *, accepted: int, rejected: int = 0, **extra) -> dict:
    line = transfer.lines.get()
    return {
        "receipt_reference": extra.pop("reference", "R-1"),
        f"line-{line.pk}-accepted": accepted,
        f"line-{line.pk}-rejected": rejected,
        f"line-{line.pk}-reason": extra.pop("reason", "damaged" if rejected else ""),
        f"line-{line.pk}-disposition": extra.pop("disposition", "unsellable"),
        **extra,
    }


def test_receiving_part_with_a_damaged_unit_then_closing_short(clients, transfer, sheet, south):
    shipped(transfer)
    client = clients["destination"]

    received = client.post(
        f"/transfers/{transfer.pk}/receive/", receipt(transfer, accepted=2, rejected=1), **HTMX
    )
    closed = client.post(
        f"/transfers/{transfer.pk}/close-short/", {"note": "two never arrived"}, **HTMX
    )

    assert (received.status_code, closed.status_code) == (200, 200)
    line = transfer.lines.get()
    assert (line.accepted, line.rejected, line.lost, line.in_transit) == (2, 1, 2, 0)
    level = balance(sheet, south)
    assert (level.on_hand, level.unsellable, level.inbound) == (5, 1, 0)
    assert state_of(transfer) == TransferState.CLOSED_SHORT
    assert_identity(transfer)


def test_the_same_receipt_sent_twice_is_one_receipt(clients, transfer, sheet, south):
    shipped(transfer)
    form = receipt(transfer, accepted=2, reference="R-TWICE")

    for _ in range(2):
        response = clients["destination"].post(f"/transfers/{transfer.pk}/receive/", form, **HTMX)
        assert response.status_code == 200

    assert TransferReceipt.objects.filter(transfer=transfer).count() == 1
    assert balance(sheet, south).on_hand == 4


def test_the_receive_form_carries_a_fresh_receipt_reference(clients, transfer):
    shipped(transfer)

    html = clients["destination"].get(f"/transfers/{transfer.pk}/").content.decode()

    assert re.search(r'name="receipt_reference" value="R-\d{8}-[0-9A-F]{8}"', html)


def test_cancelling_after_shipping_sends_the_units_back_to_the_source(
    clients, transfer, sheet, north, south
):
    shipped(transfer)

    response = clients["ops"].post(
        f"/transfers/{transfer.pk}/cancel/", {"disposition": "back_to_source"}, **HTMX
    )

    assert response.status_code == 200
    assert state_of(transfer) == TransferState.CANCELLED
    assert (balance(sheet, north).inbound, balance(sheet, south).inbound) == (5, 0)


def test_cancelling_a_draft_needs_no_disposition(clients, transfer):
    response = clients["source"].post(f"/transfers/{transfer.pk}/cancel/", {}, **HTMX)

    assert response.status_code == 200
    assert state_of(transfer) == TransferState.CANCELLED


def test_without_javascript_a_form_redirects_to_the_transfer(clients, transfer):
    response = clients["source"].post(f"/transfers/{transfer.pk}/approve/")

    assert response.status_code == 302
    assert response["Location"] == f"/transfers/{transfer.pk}/"


# --- Refusals --------------------------------------------------------------------------------


def test_receiving_more_than_in_transit_is_refused_with_nothing_changed(
    clients, transfer, sheet, south
):
    shipped(transfer)
    before, movements = balance(sheet, south), ledger_size()

    response = clients["destination"].post(
        f"/transfers/{transfer.pk}/receive/", receipt(transfer, accepted=7), **HTMX
    )

    assert response.status_code == 422
    assert "only 5 in transit" in response.content.decode()
    assert 'name="line-' in response.content.decode()  # the form comes back as sent
    assert (balance(sheet, south), ledger_size()) == (before, movements)
    assert state_of(transfer) == TransferState.SHIPPED
    assert not TransferReceipt.objects.exists()


def test_an_over_receipt_ticked_as_such_is_accepted(clients, transfer, sheet, south):
    shipped(transfer)

    response = clients["destination"].post(
        f"/transfers/{transfer.pk}/receive/",
        receipt(transfer, accepted=7, over_receipt="on"),
        **HTMX,
    )

    assert response.status_code == 200
    assert balance(sheet, south).on_hand == 9
    assert state_of(transfer) == TransferState.RECEIVED


def test_approving_beyond_what_is_available_is_refused_with_nothing_held(
    clients, north, south, sheet
):
    greedy = draft(north, south, (sheet, 21), reference="T-GREEDY")
    before, movements = balance(sheet, north), ledger_size()

    response = clients["ops"].post(f"/transfers/{greedy.pk}/approve/", **HTMX)

    assert response.status_code == 422
    assert "Nothing was changed." in response.content.decode()
    assert (balance(sheet, north), ledger_size()) == (before, movements)
    assert state_of(greedy) == TransferState.DRAFT


def test_a_transition_the_state_no_longer_allows_is_refused(clients, transfer):
    response = clients["source"].post(f"/transfers/{transfer.pk}/ship/", **HTMX)

    assert response.status_code == 422
    assert "cannot be shipped" in response.content.decode()
    assert state_of(transfer) == TransferState.DRAFT


def test_a_rejected_unit_without_a_reason_is_a_form_error(clients, transfer, sheet, south):
    shipped(transfer)
    before = balance(sheet, south)

    response = clients["destination"].post(
        f"/transfers/{transfer.pk}/receive/",
        receipt(transfer, accepted=1, rejected=1, reason=""),
        **HTMX,
    )

    assert response.status_code == 422
    assert "Say why these units are rejected." in response.content.decode()
    assert balance(sheet, south) == before


def test_cancelling_on_the_road_without_saying_where_the_units_are_is_a_form_error(
    clients, transfer
):
    shipped(transfer)

    response = clients["ops"].post(f"/transfers/{transfer.pk}/cancel/", {}, **HTMX)

    assert response.status_code == 422
    assert "Say where the units on the road are." in response.content.decode()
    assert state_of(transfer) == TransferState.SHIPPED


def test_a_viewers_post_is_forbidden_and_changes_nothing(clients, transfer, sheet, north):
    before, events = balance(sheet, north), TransferEvent.objects.count()

    response = clients["viewer"].post(f"/transfers/{transfer.pk}/approve/", **HTMX)

    assert response.status_code == 403
    assert (balance(sheet, north), TransferEvent.objects.count()) == (before, events)
    assert state_of(transfer) == TransferState.DRAFT


def test_the_destinations_manager_may_not_approve(clients, transfer):
    response = clients["destination"].post(f"/transfers/{transfer.pk}/approve/", **HTMX)

    assert response.status_code == 403
    assert state_of(transfer) == TransferState.DRAFT


def test_the_sources_manager_may_not_receive(clients, transfer, sheet, south):
    shipped(transfer)

    response = clients["source"].post(
        f"/transfers/{transfer.pk}/receive/", receipt(transfer, accepted=5), **HTMX
    )

    assert response.status_code == 403
    assert balance(sheet, south).inbound == 5


# --- Creating from the variant page -------------------------------------------------------


def creation(north, south, *, quantity: int = 4, reference: str = "T-NEW", **extra) -> dict:
    return {
        "source": north.pk,
        "destination": south.pk,
        "quantity": quantity,
        "reason": "restock the south",
        "reference": reference,
        **extra,
    }


def test_the_variant_page_offers_the_transfer_form_to_managers_not_viewers(clients, sheet):
    page = f"/variants/{sheet.sku}/"

    assert 'data-testid="create-transfer-form"' in clients["source"].get(page).content.decode()
    assert 'data-testid="create-transfer-form"' not in clients["viewer"].get(page).content.decode()


def test_creating_from_the_variant_page_drafts_a_transfer_and_links_to_it(
    clients, sheet, north, south
):
    response = clients["source"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, south), **HTMX
    )

    assert response.status_code == 200
    created = Transfer.objects.get(reference="T-NEW")
    assert created.state == TransferState.DRAFT
    assert created.requested_by_label == "north-manager"
    assert created.reason == "restock the south"
    assert [(line.variant_id, line.quantity) for line in created.lines.all()] == [(sheet.pk, 4)]
    assert f'href="/transfers/{created.pk}/"' in response.content.decode()


def test_the_create_form_sent_twice_drafts_one_transfer(clients, sheet, north, south):
    for _ in range(2):
        clients["source"].post(f"/transfers/from-variant/{sheet.sku}/", creation(north, south))

    assert Transfer.objects.filter(reference="T-NEW").count() == 1


def test_create_and_approve_holds_the_units(clients, sheet, north, south):
    response = clients["source"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, south, approve="1"), **HTMX
    )

    assert response.status_code == 200
    assert Transfer.objects.get(reference="T-NEW").state == TransferState.APPROVED
    assert balance(sheet, north).reserved == 4


def test_create_and_approve_beyond_what_is_available_leaves_a_draft_holding_nothing(
    clients, sheet, north, south
):
    before = balance(sheet, north)

    response = clients["ops"].post(
        f"/transfers/from-variant/{sheet.sku}/",
        creation(north, south, quantity=21, approve="1"),
        **HTMX,
    )

    assert response.status_code == 200
    assert "could not be approved" in response.content.decode()
    assert Transfer.objects.get(reference="T-NEW").state == TransferState.DRAFT
    assert balance(sheet, north) == before


def test_the_destinations_manager_may_draft_but_not_approve_at_the_source(
    clients, sheet, north, south
):
    refused = clients["destination"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, south, approve="1"), **HTMX
    )
    drafted = clients["destination"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, south, reference="T-D"), **HTMX
    )

    assert (refused.status_code, drafted.status_code) == (403, 200)
    assert list(Transfer.objects.values_list("reference", flat=True)) == ["T-D"]


def test_a_viewer_cannot_create_a_transfer(clients, sheet, north, south):
    response = clients["viewer"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, south), **HTMX
    )

    assert response.status_code == 403
    assert not Transfer.objects.exists()


def test_a_transfer_to_the_same_warehouse_is_a_form_error(clients, sheet, north):
    response = clients["ops"].post(
        f"/transfers/from-variant/{sheet.sku}/", creation(north, north), **HTMX
    )

    assert response.status_code == 422
    assert "Choose a warehouse other than the source." in response.content.decode()
    assert not Transfer.objects.exists()


# --- Figures on the pages ------------------------------------------------------------------


def row_figures(html: str, warehouse: str) -> dict[str, str]:
    row = re.search(
        rf'data-testid="variant-transfer-row" data-warehouse="{warehouse}">(.*?)</tr>', html, re.S
    )
    assert row, html
    return dict(re.findall(r'data-field="(\w+)">(\d+)<', row.group(1)))


def test_the_variant_page_shows_held_outgoing_and_inbound_per_warehouse(
    clients, sheet, north, south, transfer
):
    shipped(transfer)
    held = draft(north, south, (sheet, 3), reference="T-HELD")
    approve_transfer(transfer=held, actor=SYSTEM)

    html = clients["viewer"].get(f"/variants/{sheet.sku}/").content.decode()

    assert row_figures(html, "NORTH") == {"held": "3", "outgoing": "5", "incoming": "0"}
    assert row_figures(html, "SOUTH") == {"held": "0", "outgoing": "0", "incoming": "5"}


def test_the_overview_shows_units_in_transit(clients, transfer):
    shipped(transfer)

    html = clients["viewer"].get("/").content.decode()

    tile = re.search(r'data-field="units_in_transit"><dt>Units</dt><dd>(\d+)<', html)
    assert tile and tile.group(1) == "5"


def test_the_transfers_page_marks_late_transfers_with_how_late(clients, transfer):
    shipped(transfer)
    Transfer.objects.filter(pk=transfer.pk).update(due_at=timezone.now() - timedelta(hours=5))

    html = clients["viewer"].get("/transfers/").content.decode()

    assert re.search(r'data-testid="late-mark">.*?5 h late', html, re.S)


def test_lane_value_leaves_out_units_without_a_unit_cost_and_says_so(clients, north, south, sheet):
    costed = VariantFactory(sku="PCL-K")
    update_variant(variant=costed, unit_cost=Decimal("2.50"))
    stocked(costed, north, 10)
    both = draft(north, south, (sheet, 5), (costed, 4), reference="T-MIXED")
    shipped(both)

    html = clients["viewer"].get("/transfers/").content.decode()

    lane = re.search(r'data-lane="NORTH-SOUTH">(.*?)</tr>', html, re.S).group(1)
    assert 'data-field="units">9<' in lane
    assert "10.00" in lane
    assert "5 units without a unit cost, not valued" in lane


def test_units_sent_back_are_received_at_the_source_by_its_people(clients, transfer, sheet, north):
    shipped(transfer)
    clients["ops"].post(
        f"/transfers/{transfer.pk}/cancel/", {"disposition": "back_to_source"}, **HTMX
    )
    page = f"/transfers/{transfer.pk}/"
    offered = {who: buttons(clients[who].get(page).content.decode()) for who in clients}
    line = transfer.lines.get()

    response = clients["source"].post(
        f"/transfers/{transfer.pk}/receive-return/",
        {
            "receipt_reference": "R-BACK",
            f"line-{line.pk}-accepted": 5,
            f"line-{line.pk}-disposition": "unsellable",
        },
        **HTMX,
    )

    assert offered["source"] == {"receive-return"}
    assert offered["destination"] == set()
    assert response.status_code == 200
    level = balance(sheet, north)
    assert (level.on_hand, level.inbound) == (20, 0)
    assert state_of(transfer) == TransferState.CANCELLED
    assert_identity(transfer)


def test_the_salable_breakdown_says_what_is_held_for_transfers(clients, north, sheet, transfer):
    channel = SalesChannelFactory(code="web")
    ChannelWarehouseFactory(channel=channel, warehouse=north, priority=1)
    page = f"/variants/{sheet.sku}/"
    assert "held for transfers" not in clients["ops"].get(page).content.decode()
    approve_transfer(transfer=transfer, actor=SYSTEM)
    quantity = transfer.lines.get().quantity
    html = clients["ops"].get(page).content.decode()
    assert 'data-field="held-for-transfers"' in html
    assert f"{quantity} held for transfers" in html
