"""What the alerts API tests share: a low level, a rule that fires on it, a receiver and a
route, built through the services."""

from alerts.conditions import RuleIndex
from alerts.conditions.stock import level_findings
from alerts.models import Alert, Rule
from alerts.services import apply_findings, create_rule, save_receiver, save_route
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory


def low_rule(**values) -> Rule:
    values.setdefault("name", "Low mugs")
    values.setdefault("condition", "available_below")
    values.setdefault("threshold", 5)
    return create_rule(actor=SYSTEM, **values)


def firing_alert(code: str = "NORTH", sku: str = "MUG", *, rule: Rule | None = None) -> Alert:
    """An alert firing for `sku` at warehouse `code` (2 available, the rule's line 5)."""
    warehouse = WarehouseFactory(code=code)
    level = stocked(VariantFactory(sku=sku), warehouse, 2)
    rule = rule or low_rule()
    apply_findings(level_findings(RuleIndex([rule]), [level.pk]))
    return Alert.objects.get(rule=rule, warehouse=warehouse)


def mail_receiver(name: str = "Ops mail"):
    return save_receiver(name=name, kind="email", config={"addresses": ["ops@example.com"]})


def route_to(receiver, **values):
    return save_route(name=f"To {receiver.name}", receiver=receiver, **values)
