"""The suggestions admin: settings saved through their service, actions that approve (one
transfer per lane) or dismiss and report each outcome, read-only pages for the rest."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from stock.models import StockLevel
from suggestions.models import Review, Suggestion, SuggestionSettings, SuggestionState
from suggestions.services.settings import update_settings
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.stock.test_admin import messages_of
from tests.stock.test_admin_roles import admin_as
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from tests.warehouses.test_admin import change_form_data
from transfers.models import Transfer, TransferState
from warehouses.access import Role

from .review_support import move, review

pytestmark = pytest.mark.django_db

SUGGESTIONS = reverse("admin:suggestions_suggestion_changelist")
SETTINGS = reverse("admin:suggestions_suggestionsettings_change", args=[1])


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def lane(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=2)


@pytest.fixture
def mug(north):
    variant = VariantFactory(sku="MUG")
    stocked(variant, north, 10)
    return variant


@pytest.fixture
def ops():
    return admin_as(Role.OPS_STAFF)


def act(client, action: str, *suggestions: Suggestion):
    return client.post(
        SUGGESTIONS,
        {"action": action, ACTION_CHECKBOX_NAME: [s.pk for s in suggestions]},
        follow=True,
    )


def test_ops_approve_selected_suggestions_into_an_approved_transfer(ops, mug, north, lane):
    made = review(move(mug, lane, 6), lanes=[lane])

    response = act(ops, "approve_selected", Suggestion.objects.get())

    transfer = Transfer.objects.get()
    assert transfer.state == TransferState.APPROVED
    assert messages_of(response) == [
        f"SUG-{made.pk}-{lane.pk}: transfer created and approved, 1 line(s) held at the source."
    ]
    assert StockLevel.objects.get(variant=mug, warehouse=north).reserved == 6
    assert Suggestion.objects.get().state == SuggestionState.APPROVED


def test_a_refused_lane_is_reported_and_nothing_is_written(ops, mug, north, lane):
    review(move(mug, lane, 11), lanes=[lane])

    response = act(ops, "approve_selected", Suggestion.objects.get())

    [message] = messages_of(response)
    assert message.startswith("Nothing approved on NORTH → SOUTH: ")
    assert Transfer.objects.count() == 0
    assert StockLevel.objects.get(variant=mug, warehouse=north).reserved == 0
    assert Suggestion.objects.get().state == SuggestionState.OPEN


def test_ops_dismiss_selected_suggestions(ops, mug, lane):
    review(move(mug, lane, 6), lanes=[lane])

    response = act(ops, "dismiss_selected", Suggestion.objects.get())

    assert messages_of(response) == ["Dismissed 1 suggestion(s)."]
    dismissed = Suggestion.objects.get()
    assert (dismissed.state, dismissed.decided_by_label) == (
        SuggestionState.DISMISSED,
        "ops_staff",
    )


def test_the_list_shows_open_suggestions_unless_asked(ops, mug, lane):
    review(move(mug, lane, 6), lanes=[lane])
    review(lanes=[lane])  # supersedes it

    assert list(ops.get(SUGGESTIONS).context["cl"].result_list) == []
    shown = ops.get(SUGGESTIONS, {"state": "all"}).context["cl"].result_list
    assert [s.state for s in shown] == [SuggestionState.SUPERSEDED]


def test_a_viewer_reads_suggestions_but_has_no_actions(mug, lane):
    review(move(mug, lane, 6), lanes=[lane])
    viewer = admin_as(Role.VIEWER)

    page = viewer.get(SUGGESTIONS)
    response = act(viewer, "approve_selected", Suggestion.objects.get())

    assert page.status_code == 200
    assert "approve_selected" not in page.content.decode()
    assert Transfer.objects.count() == 0
    assert response.status_code == 200
    assert Suggestion.objects.get().state == SuggestionState.OPEN


def test_reviews_and_suggestions_cannot_be_added_or_changed(ops, mug, lane):
    made = review(move(mug, lane, 6), lanes=[lane])
    suggestion = Suggestion.objects.get()

    assert ops.get(reverse("admin:suggestions_review_add")).status_code == 403
    assert ops.get(reverse("admin:suggestions_suggestion_add")).status_code == 403
    assert ops.get(reverse("admin:suggestions_forecast_add")).status_code == 403
    page = ops.post(reverse("admin:suggestions_suggestion_change", args=[suggestion.pk]), {})
    assert page.status_code == 403
    assert Review.objects.get() == made


def test_ops_change_the_settings_through_the_service(ops):
    update_settings(actor=SYSTEM)
    data = change_form_data(ops.get(SETTINGS))

    response = ops.post(SETTINGS, data | {"cost_of_lost_sale": "42.50", "review_days": "3"})

    assert response.status_code == 302
    row = SuggestionSettings.objects.get()
    assert (row.cost_of_lost_sale, row.review_days) == (Decimal("42.50"), 3)


def test_a_bad_setting_is_a_form_error_and_nothing_is_written(ops):
    update_settings(actor=SYSTEM)
    data = change_form_data(ops.get(SETTINGS))

    response = ops.post(SETTINGS, data | {"service_level": "1.2", "review_days": "3"})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["service_level"]
    assert SuggestionSettings.objects.get().review_days == 7


def test_the_settings_are_added_once(ops):
    response = ops.post(
        reverse("admin:suggestions_suggestionsettings_add"),
        {
            "cost_of_lost_sale": "25.00",
            "review_days": "7",
            "source_cover_days": "5.00",
            "service_level": "0.9500",
            "history_days": "90",
        },
    )

    assert response.status_code == 302
    row = SuggestionSettings.objects.get()
    assert (row.pk, row.cost_of_lost_sale, row.source_cover_days) == (
        1,
        Decimal("25.00"),
        Decimal("5.00"),
    )
    assert ops.get(reverse("admin:suggestions_suggestionsettings_add")).status_code == 403
