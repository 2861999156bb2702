"""The evaluation of touched subjects (after a stock change) and the periodic sweep.

Both read findings from the conditions and hand them to `apply_findings`, the one writer
of alert state; both are safe to run twice (a second run finds the state the first left).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
from alerts.models import Alert, AlertState, Condition, Rule
from stock.models import StockLevel
from warehouses.models import SalesChannel

from .evaluation import Evaluated, apply_findings

# Findings applied per transaction: a sweep over many subjects holds no lock for long.
CHUNK = 2000


def active_rules() -> RuleIndex:
    return RuleIndex(Rule.objects.filter(is_active=True))


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
    swept = Swept()
    if not rules:
        return swept
    level_ids, variant_ids, order_ids, transfer_ids = _alerted_subjects(rules)
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


def _alerted_subjects(rules: RuleIndex) -> tuple[set[int], set[int], set[int], set[int]]:
    """The subjects of unresolved alerts of active rules, and of armed back-in-stock
    alerts: levels, variants (on channels), orders, transfers."""
    alerts = Alert.objects.filter(
        rule_id__in=[rule.pk for group in rules.by_condition.values() for rule in group]
    ).exclude(state=AlertState.RESOLVED)
    armed = Alert.objects.filter(state=AlertState.RESOLVED, details__armed=True)
    pairs: set[tuple[int, int]] = set()
    variant_ids: set[int] = set()
    order_ids: set[int] = set()
    transfer_ids: set[int] = set()
    for subject in (alerts | armed).values_list("subject", flat=True):
        kind = subject.get("kind")
        if kind == "level":
            pairs.add((int(subject["variant"]), int(subject["warehouse"])))
        elif kind == "channel":
            variant_ids.add(int(subject["variant"]))
        elif kind == "order":
            order_ids.add(int(subject["order"]))
        elif kind == "transfer":
            transfer_ids.add(int(subject["transfer"]))
    level_ids = set(_levels_of(pairs))
    return level_ids, variant_ids, order_ids, transfer_ids


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
