"""What a review writes: its suggestions with lane, arrival, value and reason; one open
per route, refreshed in place; superseded when no longer proposed; dismissals that stick
until the situation changes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from suggestions.models import Review, Suggestion, SuggestionState
from suggestions.plan import Policy
from suggestions.services.decisions import approve_all, dismiss_suggestion
from suggestions.services.reviews import situation_key
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory

from .review_support import TODAY, move, position, review

pytestmark = pytest.mark.django_db


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
def mug():
    return VariantFactory(sku="MUG")


def situation(variant, north, south, *, receiver_available=18, donor_available=60):
    return [
        position(variant, south, receiver_available, 1.5),
        position(variant, north, donor_available, 0.5),
    ]


def test_a_review_writes_each_move_as_an_open_suggestion_with_its_lane_arrival_and_reason(
    lane, mug, north, south
):
    made = review(
        move(mug, lane, 12, limited_by="donor_minimum"),
        lanes=[lane],
        positions=situation(mug, north, south),
    )

    suggestion = Suggestion.objects.get()
    assert (suggestion.review, suggestion.state) == (made, SuggestionState.OPEN)
    assert (suggestion.source, suggestion.destination, suggestion.lane) == (north, south, lane)
    assert suggestion.quantity == 12
    assert suggestion.expected_arrival == TODAY + timedelta(days=2)
    assert (suggestion.value, suggestion.cost) == (Decimal("170.00"), Decimal("12.50"))
    assert suggestion.reason["limited_by"] == "donor_minimum"
    assert suggestion.reason["receiver_risk_before"] == 0.9
    assert suggestion.reason_text.startswith("SOUTH has 1.0 days of cover and a 90% risk")
    assert "NORTH keeps its minimum of 7" in suggestion.reason_text
    assert len(suggestion.situation_key) == 64
    assert (made.suggestions_made, made.variants_considered) == (1, 1)
    assert made.stats["created"] == 1 and made.stats["planner"] == "fixed"
    assert made.finished_at is not None


def test_a_move_proposed_again_refreshes_the_open_suggestion_in_place(lane, mug, north, south):
    review(move(mug, lane, 12), lanes=[lane], positions=situation(mug, north, south))
    first = Suggestion.objects.get()

    second = review(move(mug, lane, 15), lanes=[lane], positions=situation(mug, north, south))

    again = Suggestion.objects.get()
    assert (again.pk, again.state, again.quantity, again.review) == (
        first.pk,
        SuggestionState.OPEN,
        15,
        second,
    )
    assert (second.stats["created"], second.stats["refreshed"]) == (0, 1)


def test_an_open_suggestion_the_next_plan_drops_is_superseded(lane, mug, north, south):
    review(move(mug, lane, 12), lanes=[lane], positions=situation(mug, north, south))

    later = review(lanes=[lane], positions=situation(mug, north, south))

    assert list(Suggestion.objects.values_list("state", flat=True)) == [SuggestionState.SUPERSEDED]
    assert later.stats["superseded"] == 1


def test_a_review_of_some_variants_supersedes_only_theirs(lane, mug, north, south):
    plate = VariantFactory(sku="PLATE")
    review(move(mug, lane, 12), move(plate, lane, 4), lanes=[lane])

    review(lanes=[lane], variant_ids=[mug.pk])

    states = dict(Suggestion.objects.values_list("variant__sku", "state"))
    assert states == {"MUG": SuggestionState.SUPERSEDED, "PLATE": SuggestionState.OPEN}


def test_a_dismissed_suggestion_is_not_made_again_while_the_situation_is_the_same(
    lane, mug, north, south
):
    review(move(mug, lane, 12), lanes=[lane], positions=situation(mug, north, south))
    dismissed = dismiss_suggestion(suggestion_id=Suggestion.objects.get().pk, actor=SYSTEM)

    later = review(
        move(mug, lane, 12),
        lanes=[lane],
        # One more sale at the receiver, one more unit at the donor: noise.
        positions=situation(mug, north, south, receiver_available=17, donor_available=61),
    )

    assert list(Suggestion.objects.values_list("pk", "state")) == [
        (dismissed.pk, SuggestionState.DISMISSED)
    ]
    assert later.stats["skipped_dismissed"] == 1 and later.suggestions_made == 0


def test_a_dismissed_suggestion_comes_back_when_the_situation_changes(lane, mug, north, south):
    review(move(mug, lane, 12), lanes=[lane], positions=situation(mug, north, south))
    dismissed = dismiss_suggestion(suggestion_id=Suggestion.objects.get().pk, actor=SYSTEM)

    review(
        move(mug, lane, 12),
        lanes=[lane],
        # The receiver sold out.
        positions=situation(mug, north, south, receiver_available=0),
    )

    back = Suggestion.objects.get(state=SuggestionState.OPEN)
    assert back.pk != dismissed.pk
    assert back.situation_key != dismissed.situation_key


@pytest.mark.parametrize(
    ("receiver", "donor", "demand", "quantity", "is_same"),
    [
        (18, 60, 1.5, 12, True),  # the situation itself
        (17, 57, 1.5, 12, True),  # a sale here and there
        (18, 60, 1.52, 12, True),  # the forecast moved in its third digit
        (18, 60, 1.5, 13, True),  # one unit more to move
        (12, 60, 1.5, 12, False),  # a third of the receiver's stock gone
        (18, 30, 1.5, 12, False),  # half the donor's stock gone
        (18, 60, 1.7, 12, False),  # the forecast moved in its second digit
        (18, 60, 1.5, 24, False),  # twice as much to move
    ],
)
def test_the_situation_key_keeps_noise_out_and_real_changes_in(
    lane, mug, north, south, receiver, donor, demand, quantity, is_same
):
    policy = Policy()

    def key(receiver_available, donor_available, receiver_demand, units):
        positions = {
            (mug.pk, south.pk): position(mug, south, receiver_available, receiver_demand),
            (mug.pk, north.pk): position(mug, north, donor_available, 0.5),
        }
        return situation_key(move=move(mug, lane, units), positions=positions, policy=policy)

    assert (key(receiver, donor, demand, quantity) == key(18, 60, 1.5, 12)) is is_same


def test_stock_arriving_within_the_horizon_changes_the_situation(lane, mug, north, south):
    policy = Policy(review_days=7)
    moved = move(mug, lane, 12)
    bare = position(mug, south, 2, 1.5)
    arriving = position(mug, south, 2, 1.5, arriving=((3, 20),))
    too_late = position(mug, south, 2, 1.5, arriving=((30, 20),))
    donor = position(mug, north, 60, 0.5)

    def key(receiver):
        return situation_key(
            move=moved,
            positions={(mug.pk, south.pk): receiver, (mug.pk, north.pk): donor},
            policy=policy,
        )

    assert key(arriving) != key(bare)
    assert key(too_late) == key(bare)


def test_a_move_on_a_route_without_a_lane_is_not_written(lane, mug, north, south):
    reverse = LaneFactory.build(source=south, destination=north, lead_time_days=2, pk=None)

    made = review(move(mug, reverse, 5), lanes=[lane])

    assert Suggestion.objects.count() == 0
    assert made.stats["skipped_no_lane"] == 1


def test_a_review_is_recorded_even_when_nothing_is_proposed(lane):
    made = review(lanes=[lane])

    assert Review.objects.get() == made
    assert (made.suggestions_made, made.stats["moves"]) == (0, 0)


def test_a_route_approved_while_the_review_was_planning_is_not_suggested_again(
    lane, mug, north, south
):
    stocked(mug, north, 60)
    review(move(mug, lane, 12), lanes=[lane])
    planning_since = timezone.now()
    approve_all(actor=SYSTEM)

    later = review(move(mug, lane, 12), lanes=[lane], started_at=planning_since)

    assert list(Suggestion.objects.values_list("state", flat=True)) == [SuggestionState.APPROVED]
    assert later.stats["skipped_approved_meanwhile"] == 1


def test_a_route_approved_before_the_review_started_may_be_suggested_again(lane, mug, north, south):
    stocked(mug, north, 60)
    review(move(mug, lane, 12), lanes=[lane])
    approve_all(actor=SYSTEM)

    review(move(mug, lane, 5), lanes=[lane], started_at=timezone.now())

    assert sorted(Suggestion.objects.values_list("state", "quantity")) == [
        (SuggestionState.APPROVED, 12),
        (SuggestionState.OPEN, 5),
    ]
