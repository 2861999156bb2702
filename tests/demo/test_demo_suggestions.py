"""The demo's forecasts and first review (demo.suggestions): right after `load_demo` every
stocked level of a managed variant has a forecast, one review has run, and its open
suggestions (to the warehouses whose shelves the staged leak soaked) are on the Suggestions
page, each with its reason. A second load changes none of it.

The demo is loaded once for this module inside a transaction rolled back at the end, as
in test_demo.py.
"""

import pytest
from django.db import connection, transaction
from django.db.models import Q

from demo.loading import load_demo
from demo.suggestions import LEAKS
from stock.models import StockLevel
from suggestions.models import Forecast, Review, Suggestion, SuggestionState
from tests.warehouses.factories import signed_in
from warehouses.access import Role


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            summary = load_demo(log=quiet)
            connection.check_constraints()
            yield summary
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def open_suggestions() -> list[Suggestion]:
    return list(
        Suggestion.objects.filter(state=SuggestionState.OPEN).select_related(
            "lane", "source", "destination"
        )
    )


@pytest.mark.django_db
def test_every_stocked_level_of_a_managed_variant_is_forecast(demo):
    levels = set(
        StockLevel.objects.filter(variant__manage_stock=True, variant__is_active=True).values_list(
            "variant_id", "warehouse_id"
        )
    )

    assert set(Forecast.objects.values_list("variant_id", "warehouse_id")) == levels
    assert demo.forecasts_written == len(levels)


@pytest.mark.django_db
def test_one_review_ran_and_its_suggestions_are_open(demo):
    review = Review.objects.get()
    suggestions = open_suggestions()

    assert review.suggestions_made == demo.suggestions_made == len(suggestions)
    assert demo.suggestions_open == len(suggestions) > 0


@pytest.mark.django_db
def test_the_leak_leaves_one_unit_sellable_on_each_soaked_shelf(demo):
    shelves = Q()
    for code, skus in LEAKS.items():
        shelves |= Q(warehouse__code=code, variant__sku__in=skus)
    soaked = StockLevel.objects.filter(shelves)

    assert demo.levels_soaked == soaked.count() == 5
    assert set(soaked.values_list("available", flat=True)) == {1}


@pytest.mark.django_db
def test_the_review_sends_stock_to_the_soaked_shelves(demo):
    routes = {
        (suggestion.variant.sku, suggestion.destination.code)
        for suggestion in Suggestion.objects.filter(state=SuggestionState.OPEN).select_related(
            "variant", "destination"
        )
    }

    soaked = {(sku, code) for code, skus in LEAKS.items() for sku in skus}
    assert routes & soaked


@pytest.mark.django_db
def test_every_demo_suggestion_travels_an_active_lane_and_says_why(demo):
    for suggestion in open_suggestions():
        assert suggestion.lane.is_active
        assert (suggestion.lane.source_id, suggestion.lane.destination_id) == (
            suggestion.source_id,
            suggestion.destination_id,
        )
        assert suggestion.quantity > 0
        assert suggestion.reason_text
        assert suggestion.reason["limited_by"] in {
            "donor_minimum",
            "lane_minimum",
            "lane_capacity",
            "forecast",
        }


@pytest.mark.django_db
def test_the_suggestions_page_and_the_overview_show_the_demos_suggestions(demo):
    client = signed_in(Role.VIEWER, username="demo-viewer")

    page = client.get("/suggestions/").content.decode()
    overview = client.get("/").content.decode()

    assert page.count('data-testid="suggestion-row"') == demo.suggestions_open
    tile = overview[overview.index('id="tile-suggestions"') :]
    assert f"<dt>Open</dt><dd>{demo.suggestions_open}</dd>" in tile


@pytest.mark.django_db
def test_a_second_load_changes_no_forecast_review_or_suggestion(demo):
    before = (
        list(Forecast.objects.order_by("pk").values_list("pk", "daily_demand")),
        Review.objects.count(),
        list(Suggestion.objects.order_by("pk").values_list("pk", "state", "quantity")),
    )

    again = load_demo(log=quiet)

    after = (
        list(Forecast.objects.order_by("pk").values_list("pk", "daily_demand")),
        Review.objects.count(),
        list(Suggestion.objects.order_by("pk").values_list("pk", "state", "quantity")),
    )
    assert after == before
    assert (again.forecasts_written, again.suggestions_made) == (0, 0)
    assert again.suggestions_open == demo.suggestions_open
