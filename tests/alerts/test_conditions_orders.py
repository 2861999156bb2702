"""Short orders: an open order with an open short line fires, per order, and resolves once
the shortfall is filled or cancelled."""

import pytest

from alerts.conditions import RuleIndex
from alerts.conditions.orders import short_order_candidates, short_order_findings
from alerts.models import Alert, Condition, Rule
from stock.services.orders import cancel_short_units
from tests.alerts.support import apply, make_rule
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def evaluate(variant_ids=None):
    rules = RuleIndex(Rule.objects.filter(is_active=True))
    orders = short_order_candidates(variant_ids=variant_ids)
    return apply(short_order_findings(rules, orders))


@pytest.fixture
def shop():
    north = WarehouseFactory(code="NORTH")
    channel = channel_selling_from(north, code="woo")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, north, 13)
    VariantFactory(sku="PILLOW")
    return channel, sheet


def test_an_order_held_short_fires_naming_its_lines(shop):
    channel, sheet = shop
    make_rule(Condition.SHORT_ORDER)

    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    result = evaluate(variant_ids=[sheet.pk])

    alert = Alert.objects.get()
    assert result.fired == [alert.pk]
    assert alert.subject == {"kind": "order", "order": placed.order.pk}
    assert alert.summary == "Order woo/W-1: 5 units sold that the hub could not hold (SHEET x5)"
    assert alert.details["short_lines"] == [
        {"line": 1, "sku": "SHEET", "quantity": 18, "short_quantity": 5}
    ]
    assert (alert.value, alert.channel_id, alert.labels["order"]) == (5, channel.pk, "W-1")


def test_an_order_held_whole_is_no_alert(shop):
    channel, sheet = shop
    make_rule(Condition.SHORT_ORDER)

    place(channel, "W-1", ("SHEET", 13), accept_shortfall=True)
    evaluate(variant_ids=[sheet.pk])

    assert not Alert.objects.exists()


def test_cancelling_the_short_units_resolves_it(shop):
    channel, sheet = shop
    make_rule(Condition.SHORT_ORDER)
    placed = place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    evaluate(variant_ids=[sheet.pk])

    cancel_short_units(order=placed.order, actor=SYSTEM)
    result = evaluate(variant_ids=[sheet.pk])

    alert = Alert.objects.get()
    assert (alert.state, result.resolved) == ("resolved", [alert.pk])
    assert alert.summary == "Order woo/W-1: held whole now"


def test_a_rule_narrowed_to_a_variant_covers_orders_with_a_line_of_it(shop):
    channel, sheet = shop
    pillow_rule = make_rule(Condition.SHORT_ORDER, variant=VariantFactory(sku="OTHER"))
    sheet_rule = make_rule(Condition.SHORT_ORDER, variant=sheet)

    place(channel, "W-1", ("SHEET", 18), accept_shortfall=True)
    evaluate()

    assert list(Alert.objects.values_list("rule_id", flat=True)) == [sheet_rule.pk]
    assert not Alert.objects.filter(rule=pillow_rule).exists()
