"""Connector conditions: failing or down (breaker, failures in a row, a webhook the store
disabled, dead letters), stale data against the poll schedule, drift after a
reconciliation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.conditions import RuleIndex
from alerts.conditions.connectors import connector_findings
from alerts.models import Alert, Condition, Rule
from connectors.engine.problems import record_problem, resolve_problems
from connectors.models import (
    CircuitState,
    Connector,
    InboxEvent,
    InboxState,
    OutboxItem,
    ReconciliationReport,
    SyncProblemKind,
)
from tests.alerts.support import apply, make_rule
from tests.stock.factories import VariantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def evaluate(now=None):
    now = now or timezone.now()
    rules = RuleIndex(Rule.objects.filter(is_active=True))
    return apply(connector_findings(rules, now=now), now=now)


def store(**fields) -> Connector:
    fields.setdefault("name", f"magento {Connector.objects.count() + 1}")
    return Connector.objects.create(kind="magento", base_url="https://m.example", **fields)


def update(connector: Connector, **fields) -> None:
    Connector.objects.filter(pk=connector.pk).update(**fields)


class TestFailing:
    def test_an_open_breaker_fires_and_closing_it_resolves(self):
        shop = store(name="Shop")
        make_rule(Condition.CONNECTOR_FAILING)
        update(shop, circuit_state=CircuitState.OPEN, consecutive_failures=2)

        evaluate()
        alert = Alert.objects.get()
        assert (alert.state, alert.connector_id) == ("firing", shop.pk)
        assert alert.summary == "Shop: circuit breaker open (store down: not pushing)"
        assert alert.labels["connector"] == "Shop"

        update(shop, circuit_state=CircuitState.CLOSED, consecutive_failures=0)
        result = evaluate()
        assert (Alert.objects.get().state, result.resolved) == ("resolved", [alert.pk])

    def test_failures_in_a_row_fire_at_the_rules_count(self):
        shop = store(name="Shop")
        make_rule(Condition.CONNECTOR_FAILING, params={"failures": 5})

        update(shop, consecutive_failures=4)
        evaluate()
        assert not Alert.objects.exists()

        update(shop, consecutive_failures=5, last_error="HTTP 503")
        evaluate()
        alert = Alert.objects.get()
        assert alert.summary == "Shop: 5 failures in a row"
        assert (alert.value, alert.details["last_error"]) == (5, "HTTP 503")

    def test_a_webhook_disabled_by_the_store_fires_until_the_problem_resolves(self):
        shop = store(name="Shop")
        make_rule(Condition.CONNECTOR_FAILING)
        record_problem(
            connector_id=shop.pk,
            kind=SyncProblemKind.WEBHOOK_DISABLED,
            message="disabled",
            subject="order.created",
        )

        evaluate()
        alert = Alert.objects.get()
        assert alert.summary == "Shop: webhook disabled by the store (order.created)"

        resolve_problems(connector_id=shop.pk, kinds=[SyncProblemKind.WEBHOOK_DISABLED])
        evaluate()
        assert Alert.objects.get().state == "resolved"

    def test_dead_letters_waiting_fire_at_the_rules_count(self):
        shop = store(name="Shop")
        make_rule(Condition.CONNECTOR_FAILING, params={"dead_letters": 2})
        InboxEvent.objects.create(connector=shop, state=InboxState.DEAD)
        evaluate()
        assert not Alert.objects.exists()

        InboxEvent.objects.create(connector=shop, state=InboxState.DEAD)
        evaluate()
        assert Alert.objects.get().summary == "Shop: 2 dead letters waiting"

    def test_a_rule_narrowed_to_one_connector_ignores_the_others(self):
        watched, other = store(), store()
        make_rule(Condition.CONNECTOR_FAILING, connector=watched)
        update(other, circuit_state=CircuitState.OPEN)

        evaluate()

        assert not Alert.objects.exists()


class TestStale:
    def test_no_pull_or_push_for_the_multiple_of_the_schedule_fires(self):
        now = timezone.now()
        shop = store(name="Shop", poll_interval_seconds=300)
        make_rule(Condition.STALE_DATA, params={"multiple": 3})
        update(shop, last_pull_at=now - timedelta(minutes=14))
        evaluate(now)
        assert not Alert.objects.exists()

        update(shop, last_pull_at=now - timedelta(minutes=16))
        evaluate(now)
        alert = Alert.objects.get()
        assert alert.summary == "Shop: no successful pull or push for 16 min (limit 15 min)"

        update(shop, last_push_at=now - timedelta(minutes=1))
        evaluate(now)
        assert Alert.objects.get().state == "resolved"

    def test_without_polling_only_a_push_waiting_too_long_counts(self, settings):
        settings.ALERTS_PUSH_SCHEDULE_SECONDS = 60
        now = timezone.now()
        shop = store(name="Shop", poll_interval_seconds=0)
        make_rule(Condition.STALE_DATA, params={"multiple": 2})
        evaluate(now)  # quiet: nothing to push is not stale
        assert not Alert.objects.exists()

        OutboxItem.objects.create(
            connector=shop, variant=VariantFactory(), created_at=now - timedelta(minutes=3)
        )
        evaluate(now)
        alert = Alert.objects.get()
        assert alert.summary == "Shop: pushes waiting, none succeeded for 3 min (limit 2 min)"

    def test_a_switched_off_connector_is_not_stale(self):
        now = timezone.now()
        store(name="Shop", poll_interval_seconds=60, is_active=False)
        make_rule(Condition.STALE_DATA)

        evaluate(now + timedelta(days=1))

        assert not Alert.objects.exists()


class TestDrift:
    def test_drift_above_the_share_of_mapped_skus_fires(self):
        shop = store(name="Shop")
        make_rule(Condition.DRIFT, params={"percent": 10})
        ReconciliationReport.objects.create(
            connector=shop, finished_at=timezone.now(), is_ok=True, checked=200, drifted=20
        )
        evaluate()
        assert not Alert.objects.exists()  # 10 % is not above 10 %

        ReconciliationReport.objects.create(
            connector=shop, finished_at=timezone.now(), is_ok=True, checked=200, drifted=21
        )
        evaluate()
        alert = Alert.objects.get()
        assert alert.summary == "Shop: 21 of 200 mapped SKUs drifted (10.5 %, above 10 %)"
        assert (alert.value, alert.details["percent"]) == (21, 10.5)

    def test_the_latest_report_decides(self):
        shop = store(name="Shop")
        make_rule(Condition.DRIFT, params={"percent": 5})
        earlier = timezone.now() - timedelta(days=1)
        ReconciliationReport.objects.create(
            connector=shop, finished_at=earlier, checked=100, drifted=50
        )
        ReconciliationReport.objects.create(
            connector=shop, finished_at=timezone.now(), checked=100, drifted=1
        )

        evaluate()

        assert not Alert.objects.exists()
