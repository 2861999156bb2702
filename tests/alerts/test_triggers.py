"""Evaluation after commit: the reactions note touched levels and variants, one debounced
evaluate_task evaluates them, and nothing at all happens without a rule."""

import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, Condition, Rule
from alerts.reactions import batch
from alerts.services import create_rule
from alerts.tasks import evaluate_task
from connectors.outbox import forget_mapping_state
from stock.models import StockLevel
from stock.services import adjust_stock
from stock.services.status import force_status
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def rule(condition, **values):
    return create_rule(
        actor=SYSTEM, name=f"{condition} {Rule.objects.count()}", condition=condition, **values
    )


def adjust(level: StockLevel, delta: int) -> None:
    adjust_stock(
        variant=level.variant,
        warehouse=level.warehouse,
        delta=delta,
        reason="correction",
        actor=SYSTEM,
    )


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


@pytest.fixture
def level():
    return stocked(
        VariantFactory(sku="MUG", low_stock_threshold=3), WarehouseFactory(code="NORTH"), 10
    )


def test_a_committed_adjustment_crossing_a_threshold_fires_through_the_reaction_and_task(
    level, worker
):
    low = rule(Condition.AVAILABLE_BELOW, threshold=5)
    sent_before = batch.sent

    adjust(level, -7)

    wait_for(lambda: Alert.objects.filter(rule=low, state="firing").exists())
    alert = Alert.objects.get(rule=low)
    assert (alert.value, alert.summary) == (3, "MUG at NORTH: 3 available (low)")
    assert batch.sent == sent_before + 1


def test_the_reaction_queues_the_touched_levels_after_commit_only(level):
    rule(Condition.AVAILABLE_BELOW, threshold=5)

    with transaction.atomic():
        adjust(level, -7)
        assert batch.is_empty()  # inside the writer's transaction: nothing yet

    assert (batch.level_ids, batch.variant_ids) == ({level.pk}, set())
    assert batch.timer is not None


def test_a_rolled_back_change_notes_nothing_and_fires_nothing(level):
    rule(Condition.AVAILABLE_BELOW, threshold=5)

    with pytest.raises(RuntimeError), transaction.atomic():
        adjust(level, -7)
        raise RuntimeError("the caller gives up")

    assert batch.is_empty()
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10
    assert not Alert.objects.exists()


def test_with_no_rules_a_commit_queues_nothing(level):
    sent_before = batch.sent

    adjust(level, -9)
    time.sleep(0.5)  # past the debounce

    assert batch.is_empty() and batch.sent == sent_before


def test_with_only_connector_rules_a_stock_commit_queues_nothing(level):
    rule(Condition.CONNECTOR_FAILING)

    adjust(level, -9)

    assert batch.is_empty()


def test_a_burst_of_commits_is_one_message_with_every_level(level, settings):
    settings.ALERTS_EVALUATE_DEBOUNCE_SECONDS = 1.0
    rule(Condition.OUT_OF_STOCK)
    other = stocked(VariantFactory(sku="CUP"), level.warehouse, 4)
    sent_before = batch.sent

    for _ in range(4):
        adjust(level, -1)
        adjust(other, -1)
    assert batch.level_ids == {level.pk, other.pk}
    wait_for(lambda: batch.is_empty())

    assert batch.sent == sent_before + 1


def test_a_forced_status_notes_its_variant_for_the_channel_rules(level):
    rule(Condition.FORCED_STATUS_CONTRADICTS)

    force_status(variant=level.variant, status="out_of_stock", reason="test", actor=SYSTEM)

    assert (batch.level_ids, batch.variant_ids) == (set(), {level.variant_id})


def test_the_task_evaluates_the_channels_linked_to_the_touched_levels(level):
    channel = SalesChannelFactory(code="web")
    ChannelWarehouseFactory(channel=channel, warehouse=level.warehouse, priority=1)
    elsewhere = SalesChannelFactory(code="far")
    ChannelWarehouseFactory(channel=elsewhere, warehouse=WarehouseFactory(), priority=1)
    rule(Condition.CHANNEL_OUT_OF_STOCK)
    adjust(level, -10)
    batch.discard()

    evaluate_task(level_ids=[level.pk], variant_ids=[])
    evaluate_task(level_ids=[level.pk], variant_ids=[])  # safe twice

    alert = Alert.objects.get()
    assert (alert.channel_id, alert.state, alert.summary) == (
        channel.pk,
        "firing",
        "MUG on web: out of stock",
    )


def test_a_commit_costs_the_writer_no_statement_more_with_rules_than_without(level, monkeypatch):
    # The storefront cache re-reads the channel list once a second: creating the rules can
    # take longer than that, so it is held for the test, or one side would read it and the
    # other not.
    monkeypatch.setattr("stock.availability.CHANNEL_LIST_SECONDS", 3600.0)

    def statements_of_one_adjustment() -> list[str]:
        forget_mapping_state()  # what other apps remember for seconds: read each time alike
        with CaptureQueriesContext(connection) as captured:
            adjust(level, -1)
        return [str(query["sql"])[:100] for query in captured.captured_queries]

    statements_of_one_adjustment()  # warm: what a process reads once
    without_rules = statements_of_one_adjustment()
    for number in range(20):
        rule(Condition.AVAILABLE_BELOW, threshold=number)

    with_rules = statements_of_one_adjustment()

    assert with_rules == without_rules
    assert batch.level_ids == {level.pk}  # and the reaction did note the level


def test_a_short_order_committed_is_evaluated_through_its_variant(level):
    channel = channel_selling_from(level.warehouse, code="woo")
    rule(Condition.SHORT_ORDER)

    placed = place(channel, "W-9", ("MUG", 14), accept_shortfall=True)
    assert level.variant_id in batch.variant_ids
    evaluate_task(level_ids=sorted(batch.level_ids), variant_ids=sorted(batch.variant_ids))

    alert = Alert.objects.get()
    assert (alert.subject, alert.state) == ({"kind": "order", "order": placed.order.pk}, "firing")
    assert alert.summary == "Order woo/W-9: 4 units sold that the hub could not hold (MUG x4)"
