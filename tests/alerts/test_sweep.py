"""The sweep: pending durations elapse and resolutions are seen without a stock change,
a full pass in SQL finds what a lost kick missed, and time-based conditions are looked at."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Condition
from alerts.services import update_rule
from alerts.services.sweep import sweep
from alerts.tasks import sweep_task
from connectors.models import CircuitState, Connector
from stock.models import StockLevel
from stock.services import adjust_stock
from stock.services.status import force_status
from tests.alerts.support import make_rule
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def set_on_hand(level: StockLevel, quantity: int) -> StockLevel:
    level.refresh_from_db()
    adjust_stock(
        variant=level.variant,
        warehouse=level.warehouse,
        delta=quantity - level.on_hand,
        reason="correction",
        actor=SYSTEM,
    )
    level.refresh_from_db()
    return level


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


def test_with_no_rules_the_sweep_reads_only_the_rules(north, django_assert_num_queries):
    stocked(VariantFactory(), north, 1)

    with django_assert_num_queries(2):  # the active rules, the alerts of rules switched off
        swept = sweep()

    assert (swept.findings, swept.result.changed) == (0, [])


def test_the_full_pass_finds_levels_below_the_line_no_evaluation_saw(north):
    low = stocked(VariantFactory(sku="LOW"), north, 2)
    stocked(VariantFactory(sku="PLENTY"), north, 50)
    rule = make_rule(Condition.AVAILABLE_BELOW, threshold=5)

    swept = sweep()

    alert = Alert.objects.get()
    assert (alert.rule_id, alert.variant_id, alert.state) == (rule.pk, low.variant_id, "firing")
    assert swept.result.fired == [alert.pk] and swept.levels == 1


def test_with_no_threshold_the_full_pass_uses_the_levels_or_variants_own(north):
    at_variant = stocked(VariantFactory(sku="A", low_stock_threshold=3), north, 3)
    above_variant = stocked(VariantFactory(sku="B", low_stock_threshold=3), north, 4)
    own = stocked(VariantFactory(sku="C", low_stock_threshold=3), north, 6)
    StockLevel.objects.filter(pk=own.pk).update(low_stock_threshold=8)
    make_rule(Condition.AVAILABLE_BELOW)

    sweep()

    fired = set(Alert.objects.values_list("variant__sku", flat=True))
    assert fired == {"A", "C"} and above_variant.variant.sku not in fired
    assert at_variant.variant.sku in fired


def test_a_pending_duration_elapses_on_the_sweep_without_a_change(north):
    level = set_on_hand(stocked(VariantFactory(sku="MUG"), north, 1), 0)
    make_rule(Condition.OUT_OF_STOCK, pending_seconds=600)
    start = timezone.now()

    sweep(now=start)
    assert Alert.objects.get().state == "pending"
    swept = sweep(now=start + timedelta(minutes=11))

    alert = Alert.objects.get()
    assert (alert.state, swept.result.fired) == ("firing", [alert.pk])
    assert alert.variant_id == level.variant_id


def test_a_recovery_no_evaluation_saw_resolves_on_the_sweep(north):
    level = stocked(VariantFactory(sku="MUG"), north, 2)
    make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    sweep()

    set_on_hand(level, 9)  # no reaction runs in this test's transaction: a lost kick
    swept = sweep()

    alert = Alert.objects.get()
    assert (alert.state, swept.result.resolved) == ("resolved", [alert.pk])


def test_back_in_stock_is_armed_by_the_sweep_and_fires_on_the_next(north):
    level = set_on_hand(stocked(VariantFactory(sku="MUG"), north, 1), 0)
    make_rule(Condition.BACK_IN_STOCK)
    sweep()
    assert Alert.objects.get().details["armed"] is True

    set_on_hand(level, 4)
    swept = sweep()

    alert = Alert.objects.get()
    assert (alert.state, swept.result.fired) == ("firing", [alert.pk])


def test_the_channel_pass_finds_variants_out_on_a_channel_even_without_a_level(north):
    channel = channel_selling_from(north, code="web", safety_buffer=2)
    stocked(VariantFactory(sku="TWO"), north, 2)  # 2 - buffer 2 = 0 salable
    stocked(VariantFactory(sku="FIVE"), north, 5)
    VariantFactory(sku="NONE")
    VariantFactory(sku="UNCOUNTED", manage_stock=False)
    make_rule(Condition.CHANNEL_OUT_OF_STOCK)

    sweep()

    assert set(Alert.objects.values_list("variant__sku", "channel_id")) == {
        ("TWO", channel.pk),
        ("NONE", channel.pk),
    }


def test_the_channel_pass_finds_forced_statuses_that_contradict_stock(north):
    channel_selling_from(north, code="web")
    empty = VariantFactory(sku="EMPTY")
    force_status(variant=empty, status="in_stock", reason="promo", actor=SYSTEM)
    make_rule(Condition.FORCED_STATUS_CONTRADICTS)

    sweep()

    alert = Alert.objects.get()
    assert alert.summary == "EMPTY on web (no store): forced in_stock by tests while 0 salable"


def test_the_sweep_looks_at_connectors(north):
    shop = Connector.objects.create(name="Shop", kind="magento", base_url="https://m.example")
    Connector.objects.filter(pk=shop.pk).update(circuit_state=CircuitState.OPEN)
    make_rule(Condition.CONNECTOR_FAILING)

    sweep_task()

    assert Alert.objects.get().connector_id == shop.pk


def test_sweeping_twice_changes_nothing_more(north):
    stocked(VariantFactory(), north, 1)
    make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    first = sweep()

    second = sweep()

    assert (len(first.result.fired), second.result.changed, Alert.objects.count()) == (1, [], 1)


def test_alerts_of_a_rule_switched_off_resolve_on_the_sweep(north):
    stocked(VariantFactory(sku="MUG"), north, 1)
    rule = make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    sweep()

    update_rule(rule=rule, is_active=False)
    swept = sweep()

    alert = Alert.objects.get()
    assert (alert.state, swept.result.resolved) == ("resolved", [alert.pk])
    assert alert.summary == "MUG at NORTH: 1 available (low) (rule switched off)"


def test_a_changed_threshold_is_seen_on_the_next_sweep(north):
    stocked(VariantFactory(sku="MUG"), north, 4)
    rule = make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    sweep()

    update_rule(rule=rule, threshold=3)
    swept = sweep()

    assert (Alert.objects.get().state, len(swept.result.resolved)) == ("resolved", 1)


def test_unchanged_firing_alerts_are_looked_at_in_turn(north, settings):
    settings.ALERTS_SWEEP_REFRESH = 2
    for number in range(5):
        stocked(VariantFactory(sku=f"S{number}"), north, 1)
    make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    first = timezone.now()
    sweep(now=first)

    sweep(now=first + timedelta(minutes=1))

    looked_at = sorted(Alert.objects.values_list("last_evaluated_at", flat=True))
    assert looked_at.count(first) == 3 and looked_at.count(first + timedelta(minutes=1)) == 2
