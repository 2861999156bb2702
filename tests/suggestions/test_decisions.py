"""Approving suggestions makes real transfers, one per lane, held at the source; a lane
that cannot go through writes nothing; dismissing sticks; settings are checked."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from inventory_hub.api.errors import domain_error_answer
from stock.actors import Actor
from stock.models import StockLevel
from suggestions.errors import InvalidSuggestionSettings, SuggestionNotOpen, UnknownSuggestion
from suggestions.models import Suggestion, SuggestionSettings, SuggestionState
from suggestions.services.decisions import (
    approve_all,
    approve_lane,
    approve_suggestions,
    dismiss_suggestion,
)
from suggestions.services.settings import update_settings
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer, TransferState

from .review_support import move, review

pytestmark = pytest.mark.django_db


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def east():
    return WarehouseFactory(code="EAST")


@pytest.fixture
def to_south(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=2)


@pytest.fixture
def to_east(north, east):
    return LaneFactory(source=north, destination=east, lead_time_days=4)


@pytest.fixture
def mug(north):
    variant = VariantFactory(sku="MUG")
    stocked(variant, north, 50)
    return variant


@pytest.fixture
def plate(north):
    variant = VariantFactory(sku="PLATE")
    stocked(variant, north, 30)
    return variant


@pytest.fixture
def ops():
    user = get_user_model().objects.create_user(username="olga")
    return Actor.for_user(user)


def reserved(variant, warehouse) -> int:
    return StockLevel.objects.get(variant=variant, warehouse=warehouse).reserved


def suggestion(variant, lane) -> Suggestion:
    return Suggestion.objects.get(variant=variant, lane=lane)


def test_approving_makes_one_approved_transfer_per_lane_held_at_the_source(
    mug, plate, north, to_south, to_east, ops
):
    made = review(
        move(mug, to_south, 12),
        move(plate, to_south, 5),
        move(mug, to_east, 8),
        lanes=[to_south, to_east],
    )

    result = approve_suggestions(
        suggestion_ids=Suggestion.objects.values_list("pk", flat=True), actor=ops
    )

    assert result.refusals == []
    assert len(result.transfers) == 2
    south_transfer = Transfer.objects.get(lane=to_south)
    assert south_transfer.state == TransferState.APPROVED
    assert south_transfer.reference == f"SUG-{made.pk}-{to_south.pk}"
    assert set(south_transfer.lines.values_list("variant__sku", "quantity")) == {
        ("MUG", 12),
        ("PLATE", 5),
    }
    assert set(
        Transfer.objects.get(lane=to_east).lines.values_list("variant__sku", "quantity")
    ) == {("MUG", 8)}
    assert (reserved(mug, north), reserved(plate, north)) == (20, 5)
    assert "12 x MUG: SOUTH has" in south_transfer.notes
    assert south_transfer.requested_by_label == "olga"
    approved = suggestion(mug, to_south)
    assert (approved.state, approved.transfer, approved.decided_by_label) == (
        SuggestionState.APPROVED,
        south_transfer,
        "olga",
    )
    assert approved.decided_by_id == ops.user_id and approved.decided_at is not None
    assert sorted(result.approved_ids) == sorted(Suggestion.objects.values_list("pk", flat=True))


def test_a_lane_the_source_cannot_supply_writes_nothing_and_the_others_go_through(
    mug, plate, north, to_south, to_east, ops
):
    review(
        move(mug, to_south, 12),
        move(plate, to_south, 31),
        move(mug, to_east, 8),
        lanes=[to_south, to_east],
    )

    result = approve_all(actor=ops)

    [refusal] = result.refusals
    assert (refusal.lane_id, refusal.route, refusal.code) == (
        to_south.pk,
        "NORTH → SOUTH",
        "insufficient_stock",
    )
    assert set(refusal.suggestion_ids) == {
        suggestion(mug, to_south).pk,
        suggestion(plate, to_south).pk,
    }
    assert not Transfer.objects.filter(lane=to_south).exists()
    assert (reserved(mug, north), reserved(plate, north)) == (8, 0)
    assert suggestion(mug, to_south).state == SuggestionState.OPEN
    assert suggestion(plate, to_south).state == SuggestionState.OPEN
    assert suggestion(mug, to_east).state == SuggestionState.APPROVED


def test_a_lane_below_its_minimum_quantity_is_refused_with_its_minimum(mug, north, to_south, ops):
    to_south.minimum_quantity = 20
    to_south.save()
    review(move(mug, to_south, 12), lanes=[to_south])

    result = approve_lane(lane_id=to_south.pk, actor=ops)

    [refusal] = result.refusals
    assert refusal.code == "invalid_transfer"
    assert refusal.message == "12 units are below the lane's minimum of 20."
    assert str(refusal) == "NORTH → SOUTH: 12 units are below the lane's minimum of 20."
    assert Transfer.objects.count() == 0 and reserved(mug, north) == 0
    assert suggestion(mug, to_south).state == SuggestionState.OPEN


def test_a_retired_lane_is_refused(mug, north, to_south, ops):
    review(move(mug, to_south, 12), lanes=[to_south])
    to_south.is_active = False
    to_south.save()

    result = approve_all(actor=ops)

    assert [refusal.code for refusal in result.refusals] == ["lane_not_active"]
    assert Transfer.objects.count() == 0 and reserved(mug, north) == 0


def test_approving_again_is_a_no_op(mug, north, to_south, ops):
    review(move(mug, to_south, 12), lanes=[to_south])
    ids = list(Suggestion.objects.values_list("pk", flat=True))
    approve_suggestions(suggestion_ids=ids, actor=ops)

    again = approve_suggestions(suggestion_ids=ids, actor=ops)

    assert (again.transfers, again.refusals, again.approved_ids) == ([], [], [])
    assert again.skipped_ids == ids
    assert Transfer.objects.count() == 1 and reserved(mug, north) == 12


def test_approving_a_lane_leaves_the_other_lanes_open(mug, to_south, to_east, ops):
    review(move(mug, to_south, 12), move(mug, to_east, 8), lanes=[to_south, to_east])

    result = approve_lane(lane_id=to_east.pk, actor=ops)

    assert [transfer.lane_id for transfer in result.transfers] == [to_east.pk]
    assert suggestion(mug, to_south).state == SuggestionState.OPEN


def test_a_later_approval_on_the_same_lane_and_review_gets_its_own_reference(
    mug, plate, to_south, ops
):
    made = review(move(mug, to_south, 12), move(plate, to_south, 5), lanes=[to_south])
    approve_suggestions(suggestion_ids=[suggestion(mug, to_south).pk], actor=ops)
    second = suggestion(plate, to_south)

    result = approve_suggestions(suggestion_ids=[second.pk], actor=ops)

    assert result.transfers[0].reference == f"SUG-{made.pk}-{to_south.pk}-{second.pk}"
    assert list(result.transfers[0].lines.values_list("variant__sku", "quantity")) == [("PLATE", 5)]


def test_dismissing_records_who_and_the_note(mug, to_south, ops):
    review(move(mug, to_south, 12), lanes=[to_south])
    pk = suggestion(mug, to_south).pk

    dismissed = dismiss_suggestion(suggestion_id=pk, actor=ops, note="Promotion ends Friday")

    dismissed.refresh_from_db()
    assert (dismissed.state, dismissed.decided_by_label, dismissed.decided_by_id) == (
        SuggestionState.DISMISSED,
        "olga",
        ops.user_id,
    )
    assert dismissed.reason["dismissal_note"] == "Promotion ends Friday"
    assert dismissed.reason["limited_by"] == "forecast"


def test_dismissing_twice_is_a_no_op(mug, to_south, ops):
    review(move(mug, to_south, 12), lanes=[to_south])
    pk = suggestion(mug, to_south).pk
    first = dismiss_suggestion(suggestion_id=pk, actor=ops)

    again = dismiss_suggestion(suggestion_id=pk, actor=SYSTEM)

    assert (again.decided_at, again.decided_by_label) == (first.decided_at, "olga")


def test_dismissing_an_approved_suggestion_is_refused(mug, to_south, ops):
    review(move(mug, to_south, 12), lanes=[to_south])
    approve_all(actor=ops)

    with pytest.raises(SuggestionNotOpen) as refused:
        dismiss_suggestion(suggestion_id=suggestion(mug, to_south).pk, actor=ops)

    assert refused.value.details == {"state": "approved"}
    assert suggestion(mug, to_south).state == SuggestionState.APPROVED


def test_dismissing_an_unknown_suggestion_is_refused(ops):
    with pytest.raises(UnknownSuggestion):
        dismiss_suggestion(suggestion_id=987654, actor=ops)


def test_settings_are_changed_and_kept_in_one_row(ops):
    updated = update_settings(actor=ops, cost_of_lost_sale="35.50", review_days=3)

    row = SuggestionSettings.objects.get()
    assert (row.pk, row.cost_of_lost_sale, row.review_days) == (1, Decimal("35.50"), 3)
    assert updated.review_days == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"review_days": 0}, "review_days"),
        ({"service_level": "1.5"}, "service_level"),
        ({"cost_of_lost_sale": "-1"}, "cost_of_lost_sale"),
        ({"history_days": "many"}, "history_days"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field_and_nothing_changes(ops, changes, field):
    update_settings(actor=ops, review_days=5)

    with pytest.raises(InvalidSuggestionSettings) as refused:
        update_settings(actor=ops, source_cover_days="3.00", **changes)

    assert refused.value.details == {"field": field}
    row = SuggestionSettings.objects.get()
    assert (row.review_days, row.source_cover_days, row.cost_of_lost_sale) == (
        5,
        Decimal("7.00"),
        Decimal("20.00"),
    )


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownSuggestion("gone"), 404),
        (SuggestionNotOpen("decided"), 409),
        (InvalidSuggestionSettings("bad", {"field": "review_days"}), 400),
    ],
)
def test_the_api_answers_suggestion_errors_in_its_one_shape(error, status):
    answer = domain_error_answer(error)

    assert answer is not None
    assert (answer.status, answer.code, answer.message) == (status, error.code, error.message)
