"""The demo's alert rules, receivers, routes and escalation ladder, so that a fresh `make
run` shows live alerts: low stock per warehouse, out of stock per channel, a forced status
that contradicts stock (the demo forces one), a connector down, a late transfer.

Everything is written through `alerts.services` (and the forced status through
`stock.services.status`). Idempotent: a rule, receiver or route is created only when its
name is new, an escalation step only where its severity has none at that position, the
forced status only while the demo never set it, so a second load changes nothing and an
operator's edits stay.
`evaluate_demo_alerts` then runs one sweep (the evaluation beat runs every minute) so the
alerts exist at once; the notifications it schedules go out from the hub's beat
(`flush_due_groups_task`) once `make run` starts it.
"""

from dataclasses import dataclass, field

from alerts.hooks import alerts_changed
from alerts.models import Condition, EscalationStep, Receiver, Route, Rule, Severity
from alerts.services import create_rule, save_escalation_step, save_receiver, save_route
from alerts.services.sweep import Swept, sweep
from stock.actors import Actor
from stock.models import BackorderPolicy, ForcedStatus, Variant
from stock.selectors.salable import channel_salable_many
from stock.services.status import force_status
from warehouses.models import SalesChannel

ACTOR = Actor.system("demo data")
DEMO_ADDRESS = "ops@linens.example"
# The fake SMS and voice backend (ALERTS_SMS_BACKEND=fake) records these; nothing is dialled.
DEMO_PHONE = "+15555550123"


@dataclass(frozen=True)
class RuleSpec:
    name: str
    condition: str
    severity: str
    threshold: int | None = None
    hysteresis: int = 0
    params: dict[str, int] = field(default_factory=dict)


RULES = [
    # At or below each variant's own low-stock threshold, in every warehouse.
    RuleSpec("Low stock in a warehouse", Condition.AVAILABLE_BELOW, Severity.WARNING, None, 2),
    RuleSpec("Out of stock on a channel", Condition.CHANNEL_OUT_OF_STOCK, Severity.WARNING),
    # Critical, so the demo's one contradiction shows the ladder (below) at work; the
    # many sold-out SKUs would page for each of them.
    RuleSpec(
        "A forced status contradicts stock",
        Condition.FORCED_STATUS_CONTRADICTS,
        Severity.CRITICAL,
    ),
    RuleSpec("A connector is down", Condition.CONNECTOR_FAILING, Severity.CRITICAL),
    RuleSpec(
        "A transfer is late",
        Condition.LATE_TRANSFER,
        Severity.WARNING,
        params={"grace_hours": 0, "approved_hours": 24},
    ),
]


@dataclass(frozen=True)
class ReceiverSpec:
    name: str
    kind: str
    config: dict[str, list[str]] = field(default_factory=dict)


RECEIVERS = [
    ReceiverSpec("Dashboard", "dashboard"),
    ReceiverSpec("Operations e-mail", "email", {"addresses": [DEMO_ADDRESS]}),
    ReceiverSpec("On-call SMS", "sms", {"numbers": [DEMO_PHONE]}),
    ReceiverSpec("On-call phone", "voice", {"numbers": [DEMO_PHONE]}),
]


@dataclass(frozen=True)
class RouteSpec:
    name: str
    receiver: str
    position: int
    group_by: list[str]
    group_wait_seconds: int
    continue_matching: bool


ROUTES = [
    # Every alert on the dashboard at once, and on to the e-mail route.
    RouteSpec("Everything to the dashboard", "Dashboard", 10, ["rule"], 0, True),
    # One e-mail per rule and warehouse after 30 s: an import that drops many SKUs below
    # their threshold is one message.
    RouteSpec("Everything by e-mail", "Operations e-mail", 20, ["rule", "warehouse"], 30, False),
]

# Unacknowledged critical alerts: e-mail at once, an SMS after 10 minutes, a call after 20.
LADDER = [
    (Severity.CRITICAL, 1, 0, "Operations e-mail"),
    (Severity.CRITICAL, 2, 10, "On-call SMS"),
    (Severity.CRITICAL, 3, 20, "On-call phone"),
]


@dataclass
class DemoAlertsSummary:
    rules_created: int = 0
    contradiction_forced: bool = False
    receivers_created: int = 0
    routes_created: int = 0
    steps_created: int = 0


def ensure_alert_rules() -> DemoAlertsSummary:
    """The demo's rules, receivers, routes and ladder, each only when new."""
    summary = DemoAlertsSummary()
    existing_rules = set(Rule.objects.values_list("name", flat=True))
    for rule in RULES:
        if rule.name in existing_rules:
            continue
        create_rule(
            actor=ACTOR,
            name=rule.name,
            condition=rule.condition,
            severity=rule.severity,
            threshold=rule.threshold,
            hysteresis=rule.hysteresis,
            params=rule.params,
        )
        summary.rules_created += 1
    summary.contradiction_forced = ensure_contradiction()
    receivers = {receiver.name: receiver for receiver in Receiver.objects.all()}
    for spec in RECEIVERS:
        if spec.name not in receivers:
            receivers[spec.name] = save_receiver(name=spec.name, kind=spec.kind, config=spec.config)
            summary.receivers_created += 1
    existing_routes = set(Route.objects.values_list("name", flat=True))
    for route in ROUTES:
        if route.name in existing_routes:
            continue
        save_route(
            name=route.name,
            receiver=receivers[route.receiver],
            position=route.position,
            group_by=route.group_by,
            group_wait_seconds=route.group_wait_seconds,
            continue_matching=route.continue_matching,
        )
        summary.routes_created += 1
    steps = set(EscalationStep.objects.values_list("severity", "position"))
    for severity, position, after_minutes, receiver in LADDER:
        if (severity, position) in steps:
            continue
        save_escalation_step(
            severity=severity,
            position=position,
            after_minutes=after_minutes,
            receiver=receivers[receiver],
        )
        summary.steps_created += 1
    return summary


# A store that keeps a sold-out SKU listed: the contradiction the rule above reports.
CONTRADICTION_CHANNEL = "north-america"
CONTRADICTION_REASON = "Demo: the store keeps it listed while the supplier restocks"


def ensure_contradiction() -> bool:
    """Force "in stock" on the first SKU with nothing salable on the North American
    channel (and no backorders), once: only while the demo never forced a status."""
    if ForcedStatus.objects.filter(reason=CONTRADICTION_REASON).exists():
        return False
    channel = SalesChannel.objects.filter(code=CONTRADICTION_CHANNEL).first()
    if channel is None:
        return False
    variants = list(
        Variant.objects.filter(
            manage_stock=True, backorders=BackorderPolicy.DENY, is_active=True
        ).order_by("sku")
    )
    salable = channel_salable_many(channel, variants)
    sold_out = next((v for v in variants if salable[v.pk].salable == 0), None)
    if sold_out is None:
        return False
    force_status(
        variant=sold_out,
        status=ForcedStatus.Forced.IN_STOCK,
        reason=CONTRADICTION_REASON,
        actor=ACTOR,
        channel=channel,
    )
    return True


def evaluate_demo_alerts() -> Swept:
    """One sweep, as beat's would, and its changes handed to the notifier."""
    swept = sweep()
    alerts_changed(swept.result.changed)
    return swept
