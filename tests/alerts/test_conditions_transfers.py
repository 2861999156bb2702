"""Late transfers: shipped past the lane's lead time plus grace, or approved and not shipped
within the rule's hours; resolved once received or shipped."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.conditions import RuleIndex
from alerts.conditions.transfers import late_transfer_findings
from alerts.models import Alert, Condition, Rule
from tests.alerts.support import apply, make_rule
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.transfers.factories import LaneFactory, draft
from tests.warehouses.factories import WarehouseFactory
from transfers.services import (
    ReceiptLineInput,
    approve_transfer,
    receive_transfer,
    ship_transfer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def evaluate(now):
    rules = RuleIndex(Rule.objects.filter(is_active=True))
    return apply(late_transfer_findings(rules, now=now), now=now)


@pytest.fixture
def approved():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    LaneFactory(source=north, destination=south, lead_time_days=2)
    lamp = VariantFactory(sku="LAMP")
    stocked(lamp, north, 10)
    transfer = draft(north, south, (lamp, 4), reference="T-7")
    return approve_transfer(transfer=transfer, actor=SYSTEM)


def test_shipped_past_due_plus_grace_fires_naming_the_route(approved):
    make_rule(Condition.LATE_TRANSFER, params={"grace_hours": 6})
    shipped = ship_transfer(transfer=approved, actor=SYSTEM)
    due = shipped.due_at

    evaluate(due + timedelta(hours=5))
    assert not Alert.objects.exists()

    evaluate(due + timedelta(hours=7))
    alert = Alert.objects.get()
    assert alert.state == "firing"
    assert alert.summary == "Transfer T-7 (NORTH → SOUTH): shipped, 7 h past due"
    assert alert.labels["warehouse"] == "SOUTH" and alert.warehouse_id == shipped.destination_id


def test_receiving_it_resolves_the_alert(approved):
    make_rule(Condition.LATE_TRANSFER)
    shipped = ship_transfer(transfer=approved, actor=SYSTEM)
    late = shipped.due_at + timedelta(hours=1)
    evaluate(late)

    receive_transfer(
        transfer=shipped,
        lines=[ReceiptLineInput(variant=shipped.lines.get().variant, accepted=4)],
        receipt_reference="R-1",
        actor=SYSTEM,
    )
    result = evaluate(late)

    alert = Alert.objects.get()
    assert (alert.state, result.resolved) == ("resolved", [alert.pk])


def test_approved_but_not_shipped_within_the_hours_fires_at_the_source(approved):
    make_rule(Condition.LATE_TRANSFER, params={"approved_hours": 24})

    evaluate(timezone.now() + timedelta(hours=23))
    assert not Alert.objects.exists()

    evaluate(approved.approved_at + timedelta(hours=25))
    alert = Alert.objects.get()
    assert alert.summary == "Transfer T-7 (NORTH → SOUTH): approved 25 h ago, not shipped"
    assert alert.labels["warehouse"] == "NORTH"


def test_a_rule_narrowed_to_a_warehouse_covers_either_end(approved):
    make_rule(Condition.LATE_TRANSFER, warehouse=approved.destination, params={"approved_hours": 1})
    make_rule(Condition.LATE_TRANSFER, warehouse=WarehouseFactory(), params={"approved_hours": 1})

    evaluate(timezone.now() + timedelta(hours=2))

    assert Alert.objects.get().rule.warehouse_id == approved.destination_id
