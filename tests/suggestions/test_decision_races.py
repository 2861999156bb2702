"""Approvals, dismissals and reviews at once, on real PostgreSQL: one transfer per lane
whatever the collisions, and a dismissed route never approved too."""

from functools import partial

import pytest

from stock.models import StockLevel
from suggestions.errors import SuggestionNotOpen
from suggestions.models import Suggestion, SuggestionState
from suggestions.services.decisions import approve_all, approve_suggestions, dismiss_suggestion
from tests.stock.factories import SYSTEM, VariantFactory, run_at_once, stocked
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from transfers.models import Transfer

from .review_support import move, review

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROUNDS = 5


def test_the_same_suggestions_approved_at_once_make_one_transfer():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    lane = LaneFactory(source=north, destination=south, lead_time_days=2)
    for round_number in range(ROUNDS):
        mug = VariantFactory(sku=f"MUG-{round_number}")
        stocked(mug, north, 50)
        review(move(mug, lane, 12), lanes=[lane], variant_ids=[mug.pk])
        ids = [Suggestion.objects.get(variant=mug).pk]

        attempts = run_at_once(
            [partial(approve_suggestions, suggestion_ids=ids, actor=SYSTEM)] * 4
            + [partial(approve_all, actor=SYSTEM)] * 2,
            workers=6,
        )

        assert [attempt.error for attempt in attempts] == [None] * 6
        made = [t for attempt in attempts for t in attempt.result.transfers]
        assert len(made) == 1
        assert Transfer.objects.filter(lines__variant=mug).count() == 1
        assert StockLevel.objects.get(variant=mug, warehouse=north).reserved == 12


def test_a_suggestion_approved_and_dismissed_at_once_ends_one_or_the_other():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    lane = LaneFactory(source=north, destination=south, lead_time_days=2)
    for round_number in range(ROUNDS):
        mug = VariantFactory(sku=f"MUG-{round_number}")
        stocked(mug, north, 50)
        review(move(mug, lane, 12), lanes=[lane], variant_ids=[mug.pk])
        pk = Suggestion.objects.get(variant=mug).pk

        attempts = run_at_once(
            [
                partial(approve_suggestions, suggestion_ids=[pk], actor=SYSTEM),
                partial(dismiss_suggestion, suggestion_id=pk, actor=SYSTEM),
            ],
            workers=2,
        )

        state = Suggestion.objects.get(pk=pk).state
        reserved = StockLevel.objects.get(variant=mug, warehouse=north).reserved
        if state == SuggestionState.APPROVED:
            assert isinstance(attempts[1].error, SuggestionNotOpen)
            assert reserved == 12
        else:
            assert state == SuggestionState.DISMISSED
            assert attempts[1].error is None
            assert attempts[0].result.transfers == [] and reserved == 0
