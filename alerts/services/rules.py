"""Rules are data: created, changed and retired (never deleted, their alerts refer to them)
through these functions, from the admin, the API and the pages alike."""

import re
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.errors import InvalidRule
from alerts.models import Condition, Rule, Severity
from stock.actors import Actor

SCOPE_FIELDS = ("variant", "product", "warehouse", "channel", "connector")
RULE_FIELDS = frozenset(
    {
        *SCOPE_FIELDS,
        "name",
        "condition",
        "threshold",
        "hysteresis",
        "pending_seconds",
        "severity",
        "labels",
        "params",
        "is_active",
    }
)
LEVEL = {Condition.AVAILABLE_BELOW, Condition.OUT_OF_STOCK, Condition.BACK_IN_STOCK}
CHANNEL = {
    Condition.CHANNEL_SALABLE_BELOW,
    Condition.CHANNEL_OUT_OF_STOCK,
    Condition.CHANNEL_BACK_IN_STOCK,
    Condition.FORCED_STATUS_CONTRADICTS,
    Condition.SHORT_ORDER,
}
CONNECTOR = {Condition.CONNECTOR_FAILING, Condition.STALE_DATA, Condition.DRIFT}
# Which scope fields each kind of condition may narrow by.
ALLOWED_SCOPE: dict[str, set[str]] = {
    **{c: {"variant", "product", "warehouse"} for c in LEVEL},
    **{c: {"variant", "product", "channel"} for c in CHANNEL},
    **{c: {"connector"} for c in CONNECTOR},
    Condition.LATE_TRANSFER: {"warehouse"},
}
# Per-condition settings, with their defaults and upper bounds.
PARAMS: dict[str, dict[str, tuple[int, int]]] = {
    Condition.CONNECTOR_FAILING: {"failures": (3, 1000), "dead_letters": (1, 1_000_000)},
    Condition.STALE_DATA: {"multiple": (3, 1000)},
    Condition.DRIFT: {"percent": (5, 100)},
    Condition.LATE_TRANSFER: {"grace_hours": (0, 24 * 90), "approved_hours": (24, 24 * 90)},
}
LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
MAX_PENDING_SECONDS = 7 * 24 * 3600


def create_rule(*, actor: Actor, **values: object) -> Rule:
    checked = _checked(values, creating=True)
    now = timezone.now()
    try:
        with transaction.atomic():
            return Rule.objects.create(
                **checked, created_by=actor.label, created_at=now, updated_at=now
            )
    except IntegrityError:
        raise InvalidRule(f"A rule named {values['name']!r} exists.", {"field": "name"}) from None


def update_rule(*, rule: Rule, **changes: object) -> Rule:
    """Change a rule, all or nothing. Its condition is fixed: a new condition is a new rule."""
    if "condition" in changes and changes["condition"] != rule.condition:
        raise InvalidRule("A rule's condition cannot change.", {"field": "condition"})
    merged = {name: getattr(rule, name) for name in RULE_FIELDS} | changes
    checked = _checked(merged, creating=False)
    try:
        with transaction.atomic():
            for name in changes:
                setattr(rule, name, checked[name])
            rule.updated_at = timezone.now()
            rule.save(update_fields=[*sorted(changes), "updated_at"])
    except IntegrityError:
        raise InvalidRule(f"A rule named {changes['name']!r} exists.", {"field": "name"}) from None
    return rule


def _checked(values: Mapping[str, object], *, creating: bool) -> dict[str, object]:
    unknown = sorted(set(values) - RULE_FIELDS)
    if unknown:
        raise InvalidRule(f"Unknown rule field(s): {', '.join(unknown)}.", {"field": unknown[0]})
    name = values.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise InvalidRule("A rule needs a name of 1 to 120 characters.", {"field": "name"})
    condition = values.get("condition")
    if condition not in Condition.values:
        raise InvalidRule(
            f"Unknown condition {condition!r}; use one of: {', '.join(Condition.values)}.",
            {"field": "condition"},
        )
    assert isinstance(condition, str)  # checked just above
    checked: dict[str, object] = {"name": name.strip(), "condition": condition}
    for scope in SCOPE_FIELDS:
        target = values.get(scope)
        if target is not None and scope not in ALLOWED_SCOPE[condition]:
            raise InvalidRule(
                f"A {condition} rule cannot be narrowed by {scope}.", {"field": scope}
            )
        checked[scope] = target
    checked["threshold"] = _number(values, "threshold", -1_000_000, 1_000_000, default=None)
    checked["hysteresis"] = _number(values, "hysteresis", 0, 1_000_000, default=0)
    checked["pending_seconds"] = _number(values, "pending_seconds", 0, MAX_PENDING_SECONDS, 0)
    severity = values.get("severity", Severity.WARNING)
    if severity not in Severity.values:
        raise InvalidRule(
            f"Severity must be one of {', '.join(Severity.values)}.", {"field": "severity"}
        )
    checked["severity"] = severity
    checked["labels"] = _labels(values.get("labels") or {})
    checked["params"] = _params(condition, values.get("params") or {})
    is_active = values.get("is_active", True)
    if not isinstance(is_active, bool):
        raise InvalidRule("is_active must be true or false.", {"field": "is_active"})
    checked["is_active"] = is_active
    return checked


def _number(
    values: Mapping[str, object], name: str, low: int, high: int, default: int | None
) -> int | None:
    value = values.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRule(f"{name} must be a whole number from {low} to {high}.", {"field": name})
    return value


def _labels(labels: object) -> dict[str, str]:
    if not isinstance(labels, dict) or len(labels) > 20:
        raise InvalidRule("labels must be an object of up to 20 labels.", {"field": "labels"})
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME.match(name):
            raise InvalidRule(
                f"Label name {name!r}: lowercase letters, digits and _ (a letter first).",
                {"field": "labels"},
            )
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            raise InvalidRule(f"Label {name!r} needs a text value.", {"field": "labels"})
    return dict(labels)


def _params(condition: str, params: object) -> dict[str, int]:
    allowed = PARAMS.get(condition, {})
    if not isinstance(params, dict):
        raise InvalidRule("params must be an object.", {"field": "params"})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidRule(
            f"A {condition} rule takes no {', '.join(unknown)}"
            + (f" (it takes: {', '.join(sorted(allowed))})." if allowed else "."),
            {"field": "params"},
        )
    checked = {}
    for name, (default, high) in allowed.items():
        value = params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise InvalidRule(
                f"{name} must be a whole number from 0 to {high}.", {"field": "params"}
            )
        checked[name] = value
    return checked
