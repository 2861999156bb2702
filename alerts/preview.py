"""A rule's preview: which subjects its condition holds for now, and who would be told.

It runs the rule's condition over its scope as the sweep does (the candidates, then the
conditions' own findings) but writes nothing: no alert, no notification. The routing is
the notifier's (`routes_for` over the active routes), the silences the notifier's too.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from alerts.conditions import Finding, RuleIndex
from alerts.conditions.candidates import channel_candidates, level_candidates
from alerts.conditions.connectors import CONNECTOR_CONDITIONS, connector_findings
from alerts.conditions.orders import short_order_candidates, short_order_findings
from alerts.conditions.stock import (
    CHANNEL_CONDITIONS,
    LEVEL_CONDITIONS,
    channel_findings,
    level_findings,
)
from alerts.conditions.transfers import late_transfer_findings
from alerts.models import Alert, AlertState, Condition, EscalationStep, Route, Rule
from alerts.services.evaluation import fingerprint
from alerts.services.notify import active_routes, routes_for
from alerts.services.silences import active_silences, is_silenced
from stock.models import StockLevel
from warehouses.models import SalesChannel

# Subjects listed; the count says how many more hold.
PREVIEW_LIMIT = 100
# Subjects looked at: a rule over 500,000 levels is previewed on a sample of its scope.
LOOK_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class PreviewSubject:
    subject: Mapping[str, object]
    summary: str
    value: int | None
    labels: Mapping[str, object]
    is_silenced: bool
    receivers: list[str]
    alert_id: int | None
    alert_state: str | None


@dataclass(frozen=True, slots=True)
class EscalationPreview:
    position: int
    after_minutes: int
    receiver: str


@dataclass(slots=True)
class Preview:
    rule: Rule
    checked_at: datetime
    matching: int = 0
    looked_at: int = 0
    is_sample: bool = False
    subjects: list[PreviewSubject] = field(default_factory=list)
    receivers: list[str] = field(default_factory=list)
    escalation: list[EscalationPreview] = field(default_factory=list)


def alert_labels(finding: Finding) -> dict[str, object]:
    """The labels an alert of this finding carries (the evaluator's: the rule's labels,
    the subject's, then condition, severity and rule name)."""
    rule = finding.rule
    return {
        **rule.labels,
        **finding.labels,
        "condition": rule.condition,
        "severity": rule.severity,
        "rule": rule.name,
    }


def preview_rule(rule: Rule, *, now: datetime | None = None) -> Preview:
    """What `rule` sees now (active or not), the routes its alerts would take, and the
    escalation ladder of its severity. Reads only."""
    now = now or timezone.now()
    findings, looked_at, is_sample = _findings(rule, now)
    holding = [finding for finding in findings if finding.seen.holds]
    preview = Preview(rule=rule, checked_at=now, matching=len(holding), looked_at=looked_at)
    preview.is_sample = is_sample
    shown = holding[:PREVIEW_LIMIT]
    routes, silences = active_routes(), active_silences(now)
    keys = {fingerprint(rule.pk, finding.subject): finding for finding in shown}
    alerts = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(fingerprint__in=list(keys)).only(
            "pk", "fingerprint", "state"
        )
    }
    told: dict[str, None] = {}
    for key, finding in keys.items():
        labels = alert_labels(finding)
        receivers = _receivers(routes_for(labels, routes))
        told.update(dict.fromkeys(receivers))
        alert = alerts.get(key)
        preview.subjects.append(
            PreviewSubject(
                subject=dict(finding.subject),
                summary=finding.summary,
                value=finding.value,
                labels=labels,
                is_silenced=is_silenced(labels, silences),
                receivers=receivers,
                alert_id=alert.pk if alert else None,
                alert_state=alert.state if alert else None,
            )
        )
    preview.receivers = list(told)
    preview.escalation = [
        EscalationPreview(step.position, step.after_minutes, step.receiver.name)
        for step in EscalationStep.objects.filter(severity=rule.severity)
        .select_related("receiver")
        .order_by("position")
    ]
    return preview


def _receivers(routes: Iterable[Route]) -> list[str]:
    return list(dict.fromkeys(route.receiver.name for route in routes))


def _findings(rule: Rule, now: datetime) -> tuple[list[Finding], int, bool]:
    """The rule's findings over (a sample of) its scope; how many subjects were looked at,
    and whether that was a sample."""
    index = RuleIndex([rule])
    if rule.condition in LEVEL_CONDITIONS:
        ids, is_sample = _sample(set(level_candidates(rule)) | _alerted_levels(rule))
        return level_findings(index, ids), len(ids), is_sample
    if rule.condition in CHANNEL_CONDITIONS:
        channels = SalesChannel.objects.filter(is_active=True).order_by("pk")
        if rule.channel_id is not None:
            channels = channels.filter(pk=rule.channel_id)
        variants = channel_candidates(rule, channels) | _alerted(rule, "variant_id")
        ids, is_sample = _sample(variants)
        return channel_findings(index, ids), len(ids), is_sample
    if rule.condition == Condition.SHORT_ORDER:
        ids, is_sample = _sample(short_order_candidates())
        return short_order_findings(index, ids), len(ids), is_sample
    if rule.condition in CONNECTOR_CONDITIONS:
        found = connector_findings(index, now=now)
        return found, len(found), False
    found = late_transfer_findings(index, now=now)
    return found, len(found), False


def _sample(ids: set[int]) -> tuple[list[int], bool]:
    ordered = sorted(ids)
    return ordered[:LOOK_LIMIT], len(ordered) > LOOK_LIMIT


def _alerted(rule: Rule, column: str) -> set[int]:
    """Subjects of the rule's unresolved alerts: the candidates leave them out."""
    alerts = Alert.objects.filter(rule_id=rule.pk).exclude(state=AlertState.RESOLVED)
    return set(alerts.exclude(**{column: None}).values_list(column, flat=True))


def _alerted_levels(rule: Rule) -> set[int]:
    alerts = Alert.objects.filter(rule_id=rule.pk, subject__kind="level").exclude(
        state=AlertState.RESOLVED
    )
    pairs = list(alerts.values_list("variant_id", "warehouse_id"))
    if not pairs:
        return set()
    which = Q()
    for variant_id, warehouse_id in pairs:
        which |= Q(variant_id=variant_id, warehouse_id=warehouse_id)
    return set(StockLevel.objects.filter(which).values_list("pk", flat=True))
