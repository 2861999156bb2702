"""Helpers of the alerts tests: rules through the service, one evaluation of findings."""

from alerts.models import Rule
from alerts.services import apply_findings, create_rule
from tests.stock.factories import SYSTEM


def make_rule(condition, **values) -> Rule:
    return create_rule(
        actor=SYSTEM, name=f"{condition} {Rule.objects.count()}", condition=condition, **values
    )


def apply(findings, now=None):
    return apply_findings(findings, now=now)
