"""The rule editor's preview: which subjects a rule would see holding now, and who would be
told. Read-only: the rule is an unsaved instance, its condition is evaluated through the
same conditions the evaluator uses, and nothing (no alert, no log) is written."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

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
from alerts.models import Condition, EscalationStep, Route, Rule
from alerts.services.notify import active_routes, routes_for
from warehouses.models import SalesChannel

MAX_SUBJECTS = 100
# Candidates are confirmed by the conditions this many at a time.
CHUNK = 500
RULE_VALUES = (
    "name",
    "condition",
    "variant",
    "product",
    "warehouse",
    "channel",
    "connector",
    "threshold",
    "hysteresis",
    "pending_seconds",
    "severity",
    "labels",
    "params",
)


@dataclass(frozen=True, slots=True)
class PreviewSubject:
    summary: str
    value: int | None
    labels: Mapping[str, object]


@dataclass(slots=True)
class PreviewReceiver:
    name: str
    kind: str
    how: str  # "route north-ops" or "escalation step 2, after 10 min"
    subjects: int = 0


@dataclass(frozen=True, slots=True)
class Preview:
    subjects: list[PreviewSubject] = field(default_factory=list)
    receivers: list[PreviewReceiver] = field(default_factory=list)
    truncated: bool = False


def preview_rule(rule_values: dict) -> Preview:
    """The subjects (at most MAX_SUBJECTS) for which the rule's condition holds now, and the
    receivers its alerts would be routed to (and the escalation ladder of its severity).
    `rule_values` are create_rule's, already checked (a form did); nothing is written."""
    rule = Rule(**{name: rule_values[name] for name in RULE_VALUES if name in rule_values})
    rule.params = dict(rule.params or {})
    rule.labels = dict(rule.labels or {})
    holding = (finding for finding in _findings(rule) if finding.seen.holds)
    found = list(islice(holding, MAX_SUBJECTS + 1))
    truncated = len(found) > MAX_SUBJECTS
    found = found[:MAX_SUBJECTS]
    subjects = [
        PreviewSubject(finding.summary, finding.value, alert_labels(finding)) for finding in found
    ]
    return Preview(subjects, _receivers(rule, subjects, active_routes()), truncated)


def alert_labels(finding: Finding) -> dict[str, object]:
    """The labels an alert of this finding would carry (as the evaluator builds them)."""
    rule = finding.rule
    return {
        **rule.labels,
        **finding.labels,
        "condition": rule.condition,
        "severity": rule.severity,
        "rule": rule.name,
    }


def _findings(rule: Rule) -> Iterator[Finding]:
    index = RuleIndex([rule])
    now = timezone.now()
    if rule.condition in LEVEL_CONDITIONS:
        yield from _chunked(level_candidates(rule), lambda ids: level_findings(index, ids))
    elif rule.condition in CHANNEL_CONDITIONS:
        channels = SalesChannel.objects.filter(is_active=True).order_by("pk")
        scoped = [channel for channel in channels if rule.channel_id in (None, channel.pk)]
        variant_ids = sorted(channel_candidates(rule, scoped))
        yield from _chunked(variant_ids, lambda ids: channel_findings(index, ids))
    elif rule.condition == Condition.SHORT_ORDER:
        order_ids = sorted(short_order_candidates())
        yield from _chunked(order_ids, lambda ids: short_order_findings(index, ids))
    elif rule.condition in CONNECTOR_CONDITIONS:
        yield from connector_findings(index, now=now)
    elif rule.condition == Condition.LATE_TRANSFER:
        yield from late_transfer_findings(index, now=now)


def _chunked(ids: Sequence[int], look) -> Iterator[Finding]:
    for start in range(0, len(ids), CHUNK):
        yield from look(ids[start : start + CHUNK])


def _receivers(
    rule: Rule, subjects: Sequence[PreviewSubject], routes: Sequence[Route]
) -> list[PreviewReceiver]:
    told: dict[tuple[int, int], PreviewReceiver] = {}
    for subject in subjects:
        for route in routes_for(dict(subject.labels), routes):
            receiver = route.receiver
            entry = told.setdefault(
                (route.pk, receiver.pk),
                PreviewReceiver(receiver.name, receiver.kind, f"route {route.name}"),
            )
            entry.subjects += 1
    ladder = [
        PreviewReceiver(
            step.receiver.name,
            step.receiver.kind,
            f"escalation step {number}, after {step.after_minutes} min unacknowledged",
            len(subjects),
        )
        for number, step in enumerate(
            EscalationStep.objects.filter(severity=rule.severity, receiver__is_active=True)
            .select_related("receiver")
            .order_by("position"),
            start=1,
        )
    ]
    return [*told.values(), *(ladder if subjects else [])]
