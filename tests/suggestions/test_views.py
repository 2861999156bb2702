"""The Suggestions page and its forms: who sees which buttons, approving (one, a lane, all)
creating approved transfers, dismissing, the settings form, refusals answered 403 or 422
with nothing changed, and what suggestions add to the overview and the variant page."""

import re
from decimal import Decimal

import pytest

from stock.models import StockLevel
from suggestions.models import Suggestion, SuggestionSettings, SuggestionState
from tests.stock.factories import VariantFactory, stocked
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory, signed_in
from transfers.models import Transfer, TransferState
from warehouses.access import Role

from .pages_support import suggest

pytestmark = pytest.mark.django_db

PAGE = "/suggestions/"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "live-region"}


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH", name="North")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH", name="South")


@pytest.fixture
def east():
    return WarehouseFactory(code="EAST", name="East")


@pytest.fixture
def lane(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=3)


@pytest.fixture
def sheet(north, south):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, north, 20)
    stocked(variant, south, 1)
    return variant


@pytest.fixture
def clients(north, south):
    return {
        "ops": signed_in(Role.OPS_STAFF, username="ops"),
        "source": signed_in(Role.WAREHOUSE_MANAGER, north, username="north-manager"),
        "destination": signed_in(Role.WAREHOUSE_MANAGER, south, username="south-manager"),
        "viewer": signed_in(Role.VIEWER, username="viewer"),
    }


def buttons(html: str) -> set[str]:
    return set(re.findall(r'data-testid="([a-z-]+)-(?:button|settings)"', html))


def state_of(suggestion: Suggestion) -> str:
    return Suggestion.objects.get(pk=suggestion.pk).state


def available(variant, warehouse) -> int:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse).available


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("ops", {"approve", "dismiss", "approve-lane", "approve-all", "save"}),
        ("source", {"approve", "dismiss", "approve-lane", "approve-all"}),
        ("destination", set()),
        ("viewer", set()),
    ],
)
def test_the_page_offers_each_role_the_buttons_it_may_use(clients, lane, sheet, who, expected):
    suggest(sheet, lane)

    response = clients[who].get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert buttons(html) == expected
    assert 'data-testid="suggestion-row"' in html
    assert ("read-only-notice" in html) == (not expected)


def test_a_line_shows_its_reason_cover_risk_and_the_lane_totals(clients, lane, sheet):
    suggest(sheet, lane, quantity=5, value="40.00", cost="6.00")
    suggest(VariantFactory(sku="PCL-K"), lane, quantity=3, value="12.50", cost="2.00")

    html = clients["viewer"].get(PAGE).content.decode()

    assert 'data-lane="NORTH-SOUTH"' in html
    assert '<span data-field="units">8</span>' in html
    assert '<span data-field="value">52.50</span>' in html
    assert '<span data-field="cost">8.00</span>' in html
    assert "20.0 d → 15.0 d" in html  # the source's cover before and after
    assert "1.5 d → 9.0 d" in html  # the destination's
    assert "80% → 5%" in html
    assert "SOUTH has 1.5 days of cover and a 80% risk of running out" in html


def test_the_page_links_from_the_navigation(clients):
    html = clients["viewer"].get("/transfers/").content.decode()

    assert f'href="{PAGE}"' in html


def test_the_minute_refresh_answers_the_region_alone(clients, lane, sheet):
    suggest(sheet, lane)

    response = clients["viewer"].get(PAGE, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<div id="live-region"')
    assert "<html" not in html


def test_a_page_without_suggestions_says_so(clients):
    html = clients["ops"].get(PAGE).content.decode()

    assert 'data-testid="no-suggestions"' in html


def test_approving_one_creates_an_approved_transfer_holding_the_units(
    clients, north, south, lane, sheet
):
    suggestion = suggest(sheet, lane, quantity=5)

    response = clients["source"].post(f"{PAGE}{suggestion.pk}/approve/", **HTMX)

    assert response.status_code == 200
    transfer = Transfer.objects.get()
    assert (transfer.source, transfer.destination, transfer.state) == (
        north,
        south,
        TransferState.APPROVED,
    )
    assert [(line.variant.sku, line.quantity) for line in transfer.lines.all()] == [("PCL-Q", 5)]
    assert available(sheet, north) == 15
    suggestion.refresh_from_db()
    assert (suggestion.state, suggestion.transfer_id) == (SuggestionState.APPROVED, transfer.pk)
    html = response.content.decode()
    assert "1 transfer created and approved" in html
    assert transfer.reference in html


def test_approving_without_javascript_redirects_to_the_page(clients, lane, sheet):
    suggestion = suggest(sheet, lane)

    response = clients["ops"].post(f"{PAGE}{suggestion.pk}/approve/")

    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert state_of(suggestion) == SuggestionState.APPROVED


def test_an_approval_the_transfer_refuses_is_422_with_its_reason_and_nothing_changed(
    clients, north, lane, sheet
):
    suggestion = suggest(sheet, lane, quantity=50)  # NORTH has 20

    response = clients["ops"].post(f"{PAGE}{suggestion.pk}/approve/", **HTMX)

    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was created for NORTH → SOUTH:" in html
    assert 'data-testid="suggestion-result"' in html
    assert not Transfer.objects.exists()
    assert state_of(suggestion) == SuggestionState.OPEN
    assert available(sheet, north) == 20


@pytest.mark.parametrize("who", ["viewer", "destination"])
def test_who_may_not_approve_at_the_source_is_refused_403_and_nothing_changes(
    clients, lane, sheet, who
):
    suggestion = suggest(sheet, lane)

    approved = clients[who].post(f"{PAGE}{suggestion.pk}/approve/", **HTMX)
    dismissed = clients[who].post(f"{PAGE}{suggestion.pk}/dismiss/", **HTMX)
    lane_approved = clients[who].post(f"{PAGE}lanes/{lane.pk}/approve/", **HTMX)

    assert (approved.status_code, dismissed.status_code, lane_approved.status_code) == (
        403,
        403,
        403,
    )
    assert "nothing was changed" in approved.content.decode()
    assert not Transfer.objects.exists()
    assert state_of(suggestion) == SuggestionState.OPEN


def test_a_second_approval_of_the_same_suggestion_changes_nothing(clients, lane, sheet):
    suggestion = suggest(sheet, lane)
    clients["ops"].post(f"{PAGE}{suggestion.pk}/approve/", **HTMX)

    again = clients["ops"].post(f"{PAGE}{suggestion.pk}/approve/", **HTMX)

    assert again.status_code == 422
    assert "already" in again.content.decode()
    assert Transfer.objects.count() == 1


def test_approving_a_lane_makes_one_transfer_with_a_line_per_suggestion(
    clients, north, lane, sheet
):
    pillow = VariantFactory(sku="PIL-1")
    stocked(pillow, north, 10)
    suggest(sheet, lane, quantity=5)
    suggest(pillow, lane, quantity=4)

    response = clients["source"].post(f"{PAGE}lanes/{lane.pk}/approve/", **HTMX)

    assert response.status_code == 200
    transfer = Transfer.objects.get()
    lines = sorted((line.variant.sku, line.quantity) for line in transfer.lines.all())
    assert lines == [("PCL-Q", 5), ("PIL-1", 4)]
    assert not Suggestion.objects.filter(state=SuggestionState.OPEN).exists()


def test_a_manager_approving_all_approves_only_the_lanes_leaving_their_warehouses(
    clients, north, south, east, lane, sheet
):
    stocked(sheet, east, 20)
    mine = suggest(sheet, lane)
    theirs = suggest(sheet, LaneFactory(source=east, destination=south, lead_time_days=2))

    response = clients["source"].post(f"{PAGE}approve-all/", **HTMX)

    assert response.status_code == 200
    assert (state_of(mine), state_of(theirs)) == (SuggestionState.APPROVED, SuggestionState.OPEN)
    assert list(Transfer.objects.values_list("source__code", flat=True)) == ["NORTH"]


def test_ops_staff_approving_all_make_one_transfer_per_lane(
    clients, north, south, east, lane, sheet
):
    stocked(sheet, east, 20)
    suggest(sheet, lane)
    suggest(sheet, LaneFactory(source=east, destination=south, lead_time_days=2))

    response = clients["ops"].post(f"{PAGE}approve-all/", **HTMX)

    assert response.status_code == 200
    assert "2 transfers created and approved" in response.content.decode()
    assert sorted(Transfer.objects.values_list("source__code", flat=True)) == ["EAST", "NORTH"]


def test_approving_all_with_nothing_open_is_422_and_says_so(clients):
    response = clients["ops"].post(f"{PAGE}approve-all/", **HTMX)

    assert response.status_code == 422
    assert "Nothing was open to approve" in response.content.decode()


def test_dismissing_keeps_the_note_and_takes_the_line_off_the_page(clients, lane, sheet):
    suggestion = suggest(sheet, lane)

    response = clients["source"].post(
        f"{PAGE}{suggestion.pk}/dismiss/", {"note": "promotion ends"}, **HTMX
    )

    assert response.status_code == 200
    suggestion.refresh_from_db()
    assert suggestion.state == SuggestionState.DISMISSED
    assert suggestion.reason["dismissal_note"] == "promotion ends"
    assert suggestion.decided_by_label == "north-manager"
    html = response.content.decode()
    assert f'data-suggestion="{suggestion.pk}"' not in html
    assert 'data-testid="decided-suggestion" data-state="dismissed"' in html


def test_dismissing_an_approved_suggestion_is_422_and_changes_nothing(clients, lane, sheet):
    suggestion = suggest(sheet, lane, state=SuggestionState.APPROVED)

    response = clients["ops"].post(f"{PAGE}{suggestion.pk}/dismiss/", **HTMX)

    assert response.status_code == 422
    assert state_of(suggestion) == SuggestionState.APPROVED


def test_a_note_past_its_limit_is_422_and_nothing_is_dismissed(clients, lane, sheet):
    suggestion = suggest(sheet, lane)

    response = clients["ops"].post(f"{PAGE}{suggestion.pk}/dismiss/", {"note": "x" * 1001}, **HTMX)

    assert response.status_code == 422
    assert state_of(suggestion) == SuggestionState.OPEN


def test_an_unknown_suggestion_is_404(clients):
    assert clients["ops"].post(f"{PAGE}999999/approve/", **HTMX).status_code == 404
    assert clients["ops"].post(f"{PAGE}999999/dismiss/", **HTMX).status_code == 404


def test_ops_staff_save_the_cost_of_a_lost_sale(clients):
    form = {
        "cost_of_lost_sale": "35.50",
        "review_days": "7",
        "source_cover_days": "7.00",
        "service_level": "0.95",
    }

    response = clients["ops"].post(f"{PAGE}settings/", form, **HTMX)

    assert response.status_code == 200
    assert SuggestionSettings.objects.get(pk=1).cost_of_lost_sale == Decimal("35.50")
    assert "A lost sale is counted at 35.50" in response.content.decode()


def test_a_bad_setting_is_422_naming_it_and_nothing_is_saved(clients):
    form = {
        "cost_of_lost_sale": "-1",
        "review_days": "7",
        "source_cover_days": "7.00",
        "service_level": "0.95",
    }

    response = clients["ops"].post(f"{PAGE}settings/", form, **HTMX)

    assert response.status_code == 422
    assert "The settings were not saved" in response.content.decode()
    assert not SuggestionSettings.objects.exists()


@pytest.mark.parametrize("who", ["source", "viewer"])
def test_only_ops_staff_change_the_settings(clients, who):
    response = clients[who].post(f"{PAGE}settings/", {"cost_of_lost_sale": "1.00"}, **HTMX)

    assert response.status_code == 403
    assert not SuggestionSettings.objects.exists()


def test_the_overview_tile_counts_the_open_suggestions(clients, lane, sheet):
    suggest(sheet, lane, value="40.00")
    suggest(VariantFactory(sku="PCL-K"), lane, value="12.50")
    suggest(VariantFactory(sku="PCL-D"), lane, state=SuggestionState.DISMISSED)

    html = clients["viewer"].get("/").content.decode()

    tile = html[html.index('id="tile-suggestions"') :]
    assert (
        '<div data-field="open_suggestions" class="kpi-alert is-nonzero"><dt>Open</dt><dd>2</dd>'
        in tile
    )
    assert "<dd>52.50</dd>" in tile
    assert f'href="{PAGE}"' in tile


def test_the_variant_page_shows_the_open_suggestions_of_the_variant(clients, lane, sheet):
    suggestion = suggest(sheet, lane, quantity=5)

    html = clients["viewer"].get(f"/variants/{sheet.sku}/").content.decode()

    panel = html[html.index('id="variant-suggestions"') :]
    assert 'data-testid="variant-outlook-row" data-warehouse="NORTH"' in panel
    assert f'data-suggestion="{suggestion.pk}"' in panel
    assert "5 NORTH → SOUTH" in panel
