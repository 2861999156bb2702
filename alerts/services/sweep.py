"""The evaluation of touched subjects (after a stock change) and the periodic sweep.

Both read findings from the conditions and hand them to `apply_findings`, the one writer
of alert state; both are safe to run twice (a second run finds the state the first left).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from alerts.conditions import Finding, RuleIndex
from alerts.conditions.candidates import channel_candidates, level_candidates
from alerts.conditions.connectors import CONNECTOR_CONDITIONS, connector_findings
from alerts.conditions.orders import short_order_candidates, short_order_findings
from alerts.conditions.stock import (
    CHANNEL_CONDITIONS,
    EVENT_CONDITIONS,
    LEVEL_CONDITIONS,
    channel_findings,
    level_findings,
)
from alerts.conditions.transfers import late_transfer_findings
from alerts.core import Observation
from alerts.models import Alert, AlertState, Condition, Rule
from alerts.selectors import publish_active_conditions
from stock.models import StockLevel
from warehouses.models import SalesChannel

from .evaluation import EVENT_FIRING_FOR, Evaluated, apply_findings

# Findings applied per transaction: a sweep over many subjects holds no lock for long.
CHUNK = 2000


def active_rules() -> RuleIndex:
    return RuleIndex(Rule.objects.filter(is_active=True))


def _published(rules: RuleIndex) -> None:
    """What the reactions read: republished on each sweep (a lost cache entry comes back)."""
    publish_active_conditions(rule for group in rules.by_condition.values() for rule in group)


def evaluate_touched(
    *, level_ids: Iterable[int], variant_ids: Iterable[int], now: datetime | None = None
) -> Evaluated:
    """Evaluate what a committed change touched: the levels, the channels selling them
    (those linked to the levels' warehouses), and for `variant_ids` (a forced status or a
    shortfall changed) every channel and the orders with a line of them."""
    now = now or timezone.now()
    rules = active_rules()
    if not rules:
        return Evaluated()
    level_ids, variant_ids = sorted(set(level_ids)), sorted(set(variant_ids))
    findings = level_findings(rules, level_ids)
    by_warehouse = StockLevel.objects.filter(pk__in=level_ids).exclude(variant_id__in=variant_ids)
    pairs = list(by_warehouse.values_list("variant_id", "warehouse_id"))
    if pairs:
        findings += channel_findings(
            rules, {variant for variant, _ in pairs}, {warehouse for _, warehouse in pairs}
        )
    if variant_ids:
        findings += channel_findings(rules, variant_ids)
        if rules.by_condition.get(Condition.SHORT_ORDER):
            orders = short_order_candidates(variant_ids=variant_ids)
            findings += short_order_findings(rules, orders)
    return apply_in_chunks(findings, now=now)


@dataclass(slots=True)
class Swept:
    """What a sweep looked at and changed."""

    levels: int = 0
    variants: int = 0
    findings: int = 0
    result: Evaluated = field(default_factory=Evaluated)


def sweep(*, now: datetime | None = None) -> Swept:
    """Look again at (a) every subject with an unresolved (or armed) alert, so pending
    durations elapse and resolutions are seen without a change; (b) every subject a stock
    rule's full pass finds below its line with no alert yet (a lost kick); (c) the
    conditions of time and of other apps: connectors, short orders, late transfers."""
    now = now or timezone.now()
    rules = active_rules()
    _published(rules)
    swept = Swept()
    if not rules:
        swept.result = apply_in_chunks(_switched_off(now), now=now)
        return swept
    level_ids, variant_ids, order_ids, transfer_ids = _alerted_subjects(rules, now)
    channels = list(SalesChannel.objects.filter(is_active=True).order_by("pk"))
    for rule in _rules_of(rules, LEVEL_CONDITIONS):
        level_ids.update(level_candidates(rule))
    for rule in _rules_of(rules, CHANNEL_CONDITIONS):
        scoped = [c for c in channels if rule.channel_id in (None, c.pk)]
        variant_ids.update(channel_candidates(rule, scoped))
    findings = level_findings(rules, sorted(level_ids))
    findings += channel_findings(rules, sorted(variant_ids))
    if rules.by_condition.get(Condition.SHORT_ORDER):
        findings += short_order_findings(rules, order_ids | short_order_candidates())
    if any(rules.by_condition.get(condition) for condition in CONNECTOR_CONDITIONS):
        findings += connector_findings(rules, now=now)
    findings += late_transfer_findings(rules, now=now, transfer_ids=transfer_ids)
    findings += _switched_off(now)
    swept.levels, swept.variants, swept.findings = len(level_ids), len(variant_ids), len(findings)
    swept.result = apply_in_chunks(findings, now=now)
    return swept


def apply_in_chunks(findings: Sequence[Finding], *, now: datetime) -> Evaluated:
    total = Evaluated()
    for start in range(0, len(findings), CHUNK):
        result = apply_findings(findings[start : start + CHUNK], now=now)
        total.fired += result.fired
        total.resolved += result.resolved
        total.created += result.created
        total.updated += result.updated
    return total


def _rules_of(rules: RuleIndex, conditions: Iterable[str]) -> list[Rule]:
    return [rule for condition in conditions for rule in rules.by_condition.get(condition, [])]


def _alerted_subjects(
    rules: RuleIndex, now: datetime
) -> tuple[set[int], set[int], set[int], set[int]]:
    """The subjects of the alerts due a look: levels, variants (on channels), orders,
    transfers. See `due_alerts`."""
    pairs: set[tuple[int, int]] = set()
    variant_ids: set[int] = set()
    order_ids: set[int] = set()
    transfer_ids: set[int] = set()
    rule_ids = [rule.pk for group in rules.by_condition.values() for rule in group]
    for subject in due_alerts(rule_ids, now).values_list("subject", flat=True):
        kind = subject.get("kind")
        if kind == "level":
            pairs.add((int(subject["variant"]), int(subject["warehouse"])))
        elif kind == "channel":
            variant_ids.add(int(subject["variant"]))
        elif kind == "order":
            order_ids.add(int(subject["order"]))
        elif kind == "transfer":
            transfer_ids.add(int(subject["transfer"]))
    return set(_levels_of(pairs)), variant_ids, order_ids, transfer_ids


def due_alerts(rule_ids: Sequence[int], now: datetime) -> QuerySet[Alert]:
    """Unresolved (and armed) alerts of these rules worth a look now: every pending one
    (its duration may have elapsed), a level's whose available moved since (a lost kick),
    those whose rule changed since, back-in-stock events past their firing time, and the
    longest unlooked-at ALERTS_SWEEP_REFRESH others, so every alert is looked at again
    in turn while a sweep's cost stays bounded however many alerts fire."""
    alerts = Alert.objects.filter(rule_id__in=rule_ids).filter(
        ~Q(state=AlertState.RESOLVED) | Q(details__armed=True)
    )
    moved = StockLevel.objects.filter(
        variant_id=OuterRef("variant_id"), warehouse_id=OuterRef("warehouse_id")
    ).exclude(available=OuterRef("value"))
    due = (
        Q(state=AlertState.PENDING)
        | Q(rule__updated_at__gt=F("last_evaluated_at"))
        | Q(
            state=AlertState.FIRING,
            rule__condition__in=EVENT_CONDITIONS,
            fired_at__lt=now - EVENT_FIRING_FOR,
        )
        | (Q(subject__kind="level") & Exists(moved))
    )
    refresh = getattr(settings, "ALERTS_SWEEP_REFRESH", 500)
    oldest = alerts.order_by("last_evaluated_at", "pk").values("pk")[:refresh]
    return alerts.filter(due | Q(pk__in=oldest))


def _switched_off(now: datetime) -> list[Finding]:
    """Unresolved alerts of rules switched off: a cleared finding each, so they resolve
    through the evaluator like any other."""
    findings = []
    alerts = Alert.objects.filter(rule__is_active=False).exclude(state=AlertState.RESOLVED)
    for alert in alerts.select_related("rule"):
        findings.append(
            Finding(
                rule=alert.rule,
                subject=alert.subject,
                seen=Observation(holds=False, cleared=True),
                value=alert.value,
                summary=f"{alert.summary} (rule switched off)"[:300],
                labels={
                    name: value
                    for name, value in alert.labels.items()
                    if name not in ("condition", "severity", "rule")
                },
                details=alert.details,
                variant_id=alert.variant_id,
                warehouse_id=alert.warehouse_id,
                channel_id=alert.channel_id,
                connector_id=alert.connector_id,
            )
        )
    return findings


def _levels_of(pairs: set[tuple[int, int]]) -> list[int]:
    if not pairs:
        return []
    variants = {variant for variant, _ in pairs}
    return [
        pk
        for pk, variant, warehouse in StockLevel.objects.filter(
            variant_id__in=variants
        ).values_list("pk", "variant_id", "warehouse_id")
        if (variant, warehouse) in pairs
    ]
