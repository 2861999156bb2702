"""The daily review from the ledger to open suggestions, and the reactive check: committed
changes noted after commit, only the variants projected to run out queued and reviewed."""

import os
import subprocess
import sys
import time
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal
from typing import get_args

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.db import transaction

from inventory_hub.celery import app as celery_app
from inventory_hub.embedded import EmbeddedWorker
from stock.services import adjust_stock
from stock.services.history import utc_today
from suggestions.models import Forecast, Review, ReviewKind, Suggestion, SuggestionState
from suggestions.plan import LimitedBy, Reason
from suggestions.reactions import batch, variants_at_risk
from suggestions.rule_of_thumb import rule_of_thumb
from suggestions.services.forecasts import refresh_forecasts
from suggestions.services.reviews import run_review
from suggestions.tasks import daily_review_task, reactive_review_task
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.transfers.factories import LaneFactory, draft
from tests.warehouses.factories import WarehouseFactory
from transfers.services import approve_transfer, ship_transfer

from .support import direct_sale, on_day, receipt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_batch():
    batch.discard()
    yield
    batch.discard()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def lane(north, south):
    return LaneFactory(source=north, destination=south, lead_time_days=2)


def selling_at_south(north, south, sku: str, *, north_on_hand: int, south_on_hand: int):
    """Four weeks of history up to yesterday: 4 a day sold at SOUTH, 1 a day at NORTH,
    leaving `south_on_hand` and `north_on_hand`."""
    variant = VariantFactory(sku=sku)
    first = utc_today() - timedelta(days=28)
    on_day(
        first,
        receipt(variant, north, north_on_hand + 28),
        receipt(variant, south, south_on_hand + 4 * 28),
    )
    for offset in range(28):
        on_day(
            first + timedelta(days=offset),
            direct_sale(variant, south, 4),
            direct_sale(variant, north, 1),
        )
    return variant


def forecast(variant, warehouse, daily_demand: float) -> Forecast:
    # Test setup: what a forecast refresh would have left (refresh_forecasts is tested with
    # the forecasting).
    return Forecast.objects.create(
        variant=variant,
        warehouse=warehouse,
        demand_class="smooth",
        method="ets_ann",
        daily_demand=daily_demand,
        daily_error=0.5,
        history_days=28,
        censored_days=0,
        safety_stock=0,
        reorder_point=0,
        lead_time_days=2,
    )


def test_a_review_from_the_ledger_suggests_moving_stock_to_where_it_sells(north, south, lane):
    mug = selling_at_south(north, south, "MUG", north_on_hand=120, south_on_hand=3)
    refresh_forecasts()

    review = run_review(kind=ReviewKind.MANUAL, planner=rule_of_thumb)

    [suggestion] = Suggestion.objects.all()
    assert (suggestion.variant, suggestion.source, suggestion.destination) == (mug, north, south)
    assert suggestion.state == SuggestionState.OPEN and suggestion.review == review
    assert suggestion.quantity > 0
    assert suggestion.reason["limited_by"] in {"donor_minimum", "forecast"}
    assert suggestion.reason_text.startswith("SOUTH has")
    assert review.variants_considered == 1 and review.suggestions_made == 1


def test_the_daily_task_refreshes_the_forecasts_and_reviews_every_variant(north, south, lane):
    mug = selling_at_south(north, south, "MUG", north_on_hand=120, south_on_hand=3)

    review_id = daily_review_task()

    review = Review.objects.get(pk=review_id)
    assert review.kind == ReviewKind.DAILY
    assert Forecast.objects.filter(variant=mug).count() == 2
    opened = Suggestion.objects.filter(review=review, state=SuggestionState.OPEN)
    assert [(s.source, s.destination) for s in opened] == [(north, south)]
    assert all(s.reason["limited_by"] and s.reason_text for s in opened)


def test_every_suggestion_of_the_optimiser_carries_a_structured_reason_and_its_sentence(
    north, south, lane
):
    east = WarehouseFactory(code="EAST")
    LaneFactory(source=north, destination=east, lead_time_days=3)
    LaneFactory(source=east, destination=south, lead_time_days=1)
    for number, (north_left, south_left) in enumerate([(120, 3), (200, 0), (90, 10), (60, 1)]):
        selling_at_south(
            north, south, f"SKU-{number}", north_on_hand=north_left, south_on_hand=south_left
        )
    refresh_forecasts()

    review = run_review(kind=ReviewKind.MANUAL)

    made = list(Suggestion.objects.filter(review=review))
    assert len(made) >= 3
    for suggestion in made:
        assert set(suggestion.reason) == {field.name for field in fields(Reason)}
        assert suggestion.reason["limited_by"] in set(get_args(LimitedBy))
        assert suggestion.reason["policy"] == "optimiser"
        assert suggestion.reason_text.startswith("SOUTH has")
        assert suggestion.reason_text.endswith(".")
        assert suggestion.value == round(Decimal(str(suggestion.reason["value"])), 2)


def test_beat_sends_the_daily_review_once_a_day_to_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["suggestions-daily-review"]

    assert entry["task"] == daily_review_task.name == "suggestions.tasks.daily_review_task"
    assert entry["schedule"] == crontab(hour=4, minute=15)
    assert {daily_review_task.name, reactive_review_task.name} <= set(celery_app.tasks)


def test_the_reaction_notes_the_touched_variants_after_commit_only(
    north, django_capture_on_commit_callbacks
):
    level = stocked(VariantFactory(sku="MUG"), north, 10)
    batch.discard()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        adjust_stock(
            variant=level.variant, warehouse=north, delta=-1, reason="correction", actor=SYSTEM
        )
        assert batch.is_empty()  # inside the writer's transaction: nothing yet

    assert batch.variant_ids == {level.variant_id}
    assert batch.timer is not None


def test_the_check_queues_only_the_variants_projected_to_run_out(north, south):
    short = VariantFactory(sku="SHORT")
    stocked(short, south, 10)
    forecast(short, south, 2.0)  # 10 - 2 x 7 days < 0
    plenty = VariantFactory(sku="PLENTY")
    stocked(plenty, south, 20)
    forecast(plenty, south, 2.0)  # 20 - 14 >= 0
    unforecast = VariantFactory(sku="NEW")
    stocked(unforecast, south, 1)
    sent = batch.sent

    batch.add([short.pk, plenty.pk, unforecast.pk])
    queued = batch.flush()

    assert queued == [short.pk]
    assert batch.sent == sent + 1 and batch.is_empty()


def test_nothing_is_queued_when_no_variant_is_at_risk(north):
    plenty = VariantFactory(sku="PLENTY")
    stocked(plenty, north, 50)
    forecast(plenty, north, 1.0)
    sent = batch.sent

    batch.add([plenty.pk])

    assert batch.flush() == [] and batch.sent == sent


def test_stock_on_its_way_counts_toward_the_projection(north, south, lane):
    mug = VariantFactory(sku="MUG")
    stocked(mug, north, 40)
    stocked(mug, south, 3)
    forecast(mug, south, 2.0)
    assert variants_at_risk([mug.pk]) == [mug.pk]

    transfer = approve_transfer(transfer=draft(north, south, (mug, 20)), actor=SYSTEM)
    ship_transfer(transfer=transfer, actor=SYSTEM)

    assert variants_at_risk([mug.pk]) == []


def test_the_reactive_task_reviews_only_the_variants_still_at_risk(north, south, lane):
    short = selling_at_south(north, south, "SHORT", north_on_hand=120, south_on_hand=3)
    plenty = selling_at_south(north, south, "PLENTY", north_on_hand=120, south_on_hand=100)
    refresh_forecasts()

    review_id = reactive_review_task(variant_ids=[short.pk, plenty.pk])

    review = Review.objects.get(pk=review_id)
    assert review.kind == ReviewKind.REACTIVE
    assert review.variants_considered == 1
    assert set(Suggestion.objects.values_list("variant__sku", flat=True)) == {"SHORT"}


def test_the_reactive_task_does_nothing_when_none_is_at_risk_any_more(north, south, lane):
    plenty = selling_at_south(north, south, "PLENTY", north_on_hand=120, south_on_hand=100)
    refresh_forecasts()

    assert reactive_review_task(variant_ids=[plenty.pk]) is None
    assert Review.objects.count() == 0


@pytest.fixture
def worker():
    """A real Celery worker in this process, on the memory broker (as tests/alerts does)."""
    celery_app.control.purge()
    running = EmbeddedWorker(app=celery_app)
    running.start()
    yield running
    running.stop()
    celery_app.control.purge()


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_committed_sale_that_puts_a_level_at_risk_gets_a_reactive_review(
    north, south, lane, worker, settings
):
    settings.SUGGESTIONS_REACTIVE_DEBOUNCE_SECONDS = 0.05
    mug = selling_at_south(north, south, "MUG", north_on_hand=120, south_on_hand=40)
    refresh_forecasts()
    batch.discard()
    assert variants_at_risk([mug.pk]) == []
    sent = batch.sent

    adjust_stock(variant=mug, warehouse=south, delta=-30, reason="correction", actor=SYSTEM)

    wait_for(lambda: Review.objects.filter(kind=ReviewKind.REACTIVE).exists())
    review = Review.objects.get(kind=ReviewKind.REACTIVE)
    assert review.variants_considered == 1
    opened = Suggestion.objects.get(review=review, state=SuggestionState.OPEN)
    assert (opened.variant, opened.source, opened.destination) == (mug, north, south)
    assert batch.sent == sent + 1


def test_the_web_process_loads_neither_the_forecasting_library_nor_the_solver():
    # A fresh interpreter: this test process has loaded both already.
    script = (
        "import sys, django; django.setup(); import inventory_hub.urls; "
        "from django.contrib import admin; admin.autodiscover(); "
        "import suggestions.reactions, suggestions.tasks, suggestions.services.decisions; "
        "print(sorted(m for m in ('statsforecast', 'scipy.optimize') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "inventory_hub.settings.test"}

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )

    assert done.stdout.strip() == "[]"
