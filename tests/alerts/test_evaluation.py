"""The evaluator on real stock: findings from levels and channels move alerts one step,
with hysteresis, pending durations, back-in-stock events and forced-status contradictions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.conditions import RuleIndex
from alerts.conditions.stock import channel_findings, level_findings
from alerts.errors import InvalidRule
from alerts.models import Alert, Condition, Rule
from alerts.services import apply_findings, create_rule, update_rule
from connectors.models import Connector
from stock.models import StockLevel
from stock.services import adjust_stock
from stock.services.status import force_status
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db


def rule(condition, **values):
    return create_rule(
        actor=SYSTEM, name=f"{condition} {Rule.objects.count()}", condition=condition, **values
    )


def evaluate(*levels, now=None, variants=()):
    rules = RuleIndex(Rule.objects.filter(is_active=True))
    findings = level_findings(rules, [level.pk for level in levels])
    touched = {level.variant_id for level in levels} | {v.pk for v in variants}
    findings += channel_findings(rules, touched)
    return apply_findings(findings, now=now)


def set_on_hand(level: StockLevel, quantity: int) -> StockLevel:
    level.refresh_from_db()
    if quantity == level.on_hand:
        return level
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
def level():
    return stocked(
        VariantFactory(sku="MUG", low_stock_threshold=3), WarehouseFactory(code="NORTH"), 20
    )


class TestLevels:
    def test_low_stock_fires_once_and_resolves_beyond_the_band(self, level):
        low = rule(Condition.AVAILABLE_BELOW, threshold=5, hysteresis=3)
        states = []
        for quantity in (20, 4, 6, 3, 7, 8):
            result = evaluate(set_on_hand(level, quantity))
            states.append(
                (
                    quantity,
                    Alert.objects.get(rule=low).state if Alert.objects.exists() else None,
                    bool(result.fired),
                    bool(result.resolved),
                )
            )
        assert states == [
            (20, None, False, False),
            (4, "firing", True, False),
            (6, "firing", False, False),
            (3, "firing", False, False),
            (7, "firing", False, False),
            (8, "resolved", False, True),
        ]
        alert = Alert.objects.get()
        assert alert.labels == {
            "sku": "MUG",
            "warehouse": "NORTH",
            "condition": "available_below",
            "severity": "warning",
            "rule": low.name,
        }
        assert alert.details["available"] == 8 and alert.value == 8

    def test_without_a_threshold_the_variants_own_low_stock_threshold_applies(self, level):
        rule(Condition.AVAILABLE_BELOW)
        evaluate(set_on_hand(level, 4))
        assert not Alert.objects.exists()
        evaluate(set_on_hand(level, 3))
        assert Alert.objects.get().state == "firing"

    def test_a_pending_duration_fires_only_once_it_has_held_that_long(self, level):
        rule(Condition.OUT_OF_STOCK, pending_seconds=600)
        start = timezone.now()
        evaluate(set_on_hand(level, 0), now=start)
        assert Alert.objects.get().state == "pending"
        evaluate(level, now=start + timedelta(minutes=5))
        assert Alert.objects.get().state == "pending"
        result = evaluate(level, now=start + timedelta(minutes=11))
        alert = Alert.objects.get()
        assert (alert.state, result.fired) == ("firing", [alert.pk])
        assert alert.started_at == start

    def test_back_in_stock_arms_while_out_and_fires_on_the_return(self, level):
        rule(Condition.BACK_IN_STOCK)
        evaluate(level)
        assert not Alert.objects.exists()
        evaluate(set_on_hand(level, 0))
        armed = Alert.objects.get()
        assert (armed.state, armed.details["armed"]) == ("resolved", True)
        result = evaluate(set_on_hand(level, 5))
        alert = Alert.objects.get()
        assert (alert.state, result.fired) == ("firing", [alert.pk])
        assert "back in stock" in alert.summary
        # Seen again while still in stock: one event, not a second.
        assert evaluate(level).fired == []

    def test_a_scoped_rule_covers_only_its_warehouse(self, level):
        other = set_on_hand(stocked(level.variant, WarehouseFactory(code="SOUTH"), 1), 0)
        rule(Condition.OUT_OF_STOCK, warehouse=other.warehouse)
        evaluate(set_on_hand(level, 0), other)
        assert [a.warehouse_id for a in Alert.objects.all()] == [other.warehouse_id]

    def test_three_hundred_levels_crossing_at_once_are_three_hundred_alerts_in_one_go(self):
        warehouse = WarehouseFactory(code="BULK")
        levels = [set_on_hand(stocked(VariantFactory(), warehouse, 1), 0) for _ in range(300)]
        rule(Condition.OUT_OF_STOCK)
        result = evaluate(*levels)
        assert len(result.fired) == 300
        assert Alert.objects.filter(state="firing").count() == 300


class TestChannels:
    def test_salable_below_counts_every_warehouse_of_the_channel(self, level):
        channel = SalesChannelFactory(code="web")
        ChannelWarehouseFactory(channel=channel, warehouse=level.warehouse, priority=1)
        south = stocked(level.variant, WarehouseFactory(code="SOUTH"), 3)
        ChannelWarehouseFactory(channel=channel, warehouse=south.warehouse, priority=2)
        rule(Condition.CHANNEL_SALABLE_BELOW, threshold=6)
        evaluate(set_on_hand(level, 3))
        assert not Alert.objects.exists()
        evaluate(set_on_hand(level, 2))
        alert = Alert.objects.get()
        assert (alert.channel_id, alert.value, alert.state) == (channel.pk, 5, "firing")
        assert alert.details["breakdown"]["warehouses"] == {"NORTH": 2, "SOUTH": 3}

    def test_a_forced_in_stock_with_nothing_salable_names_the_store_and_the_author(self, level):
        channel = SalesChannelFactory(code="web")
        ChannelWarehouseFactory(channel=channel, warehouse=level.warehouse, priority=1)
        Connector.objects.create(name="magento-eu", kind="magento", channel=channel)
        rule(Condition.FORCED_STATUS_CONTRADICTS, severity="critical")
        set_on_hand(level, 0)
        force_status(
            variant=level.variant,
            status="in_stock",
            reason="campaign",
            actor=SYSTEM,
            channel=channel,
        )
        result = evaluate(variants=[level.variant])
        alert = Alert.objects.get()
        assert result.fired == [alert.pk]
        assert "magento-eu" in alert.summary and "forced in_stock by tests" in alert.summary
        assert alert.details["forced_reason"] == "campaign"
        assert alert.details["breakdown"]["salable"] == 0
        evaluate(set_on_hand(level, 5))
        assert Alert.objects.get().state == "resolved"


class TestRules:
    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"condition": "nonsense"}, "condition"),
            ({"condition": "drift", "warehouse": "w"}, "warehouse"),
            ({"condition": "available_below", "threshold": 2.5}, "threshold"),
            ({"condition": "available_below", "hysteresis": -1}, "hysteresis"),
            ({"condition": "available_below", "severity": "panic"}, "severity"),
            ({"condition": "available_below", "labels": {"Team": "x"}}, "labels"),
            ({"condition": "drift", "params": {"percent": 500}}, "params"),
            ({"condition": "available_below", "params": {"percent": 5}}, "params"),
        ],
    )
    def test_bad_rules_are_refused_with_the_field_and_nothing_is_written(self, values, field):
        with pytest.raises(InvalidRule) as refused:
            create_rule(actor=SYSTEM, name="r", **values)
        assert refused.value.details == {"field": field}
        assert not Rule.objects.exists()

    def test_defaults_are_filled_and_the_condition_never_changes(self):
        drift = rule(Condition.DRIFT)
        assert drift.params == {"percent": 5}
        with pytest.raises(InvalidRule):
            update_rule(rule=drift, condition="stale_data")
        update_rule(rule=drift, params={"percent": 10}, is_active=False)
        drift.refresh_from_db()
        assert (drift.params, drift.is_active) == ({"percent": 10}, False)
