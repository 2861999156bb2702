"""Connector conditions, one subject per connector: failing or down, stale data, drift.

Read from the connector's own health columns (written by its engine), its open problems,
its inbox's dead letters, its outbox and its latest reconciliation report.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q

from alerts.core import observe_flag
from alerts.models import Condition, Rule
from connectors.models import (
    CircuitState,
    Connector,
    InboxEvent,
    InboxState,
    OutboxItem,
    OutboxState,
    ReconciliationReport,
    SkuMapping,
    SyncProblem,
    SyncProblemKind,
)

from .common import Finding, RuleIndex

CONNECTOR_CONDITIONS = (Condition.CONNECTOR_FAILING, Condition.STALE_DATA, Condition.DRIFT)


def push_schedule_seconds() -> int:
    """The schedule a connector that never polls is held to: its pushes' (settings)."""
    return int(getattr(settings, "ALERTS_PUSH_SCHEDULE_SECONDS", 300))


def connector_findings(
    rules: RuleIndex, *, connector_ids: Iterable[int] | None = None, now: datetime
) -> list[Finding]:
    """What the connector rules see of these connectors (every one not archived: None).
    A switched-off connector is not failing, stale or drifting: its alerts resolve."""
    if not any(rules.by_condition.get(condition) for condition in CONNECTOR_CONDITIONS):
        return []
    chosen = Connector.objects.filter(archived_at__isnull=True).order_by("pk")
    if connector_ids is not None:
        chosen = chosen.filter(pk__in=list(connector_ids))
    connectors = list(chosen.select_related("channel"))
    ids = [connector.pk for connector in connectors]
    dead = dict(
        InboxEvent.objects.filter(connector_id__in=ids, state=InboxState.DEAD)
        .values_list("connector_id")
        .annotate(count=Count("pk"))
    )
    disabled: dict[int, list[str]] = {}
    for connector_id, subject in SyncProblem.objects.filter(
        connector_id__in=ids, kind=SyncProblemKind.WEBHOOK_DISABLED, resolved_at__isnull=True
    ).values_list("connector_id", "subject"):
        disabled.setdefault(connector_id, []).append(subject or "a webhook")
    findings: list[Finding] = []
    for connector in connectors:
        labels: dict[str, object] = {"connector": connector.name}
        if connector.channel is not None:
            labels["channel"] = connector.channel.code
        for rule in rules.covering(Condition.CONNECTOR_FAILING, connector_id=connector.pk):
            failing = _failing(rule, connector, dead.get(connector.pk, 0), disabled)
            findings.append(failing.finding(rule, connector, labels))
        for rule in rules.covering(Condition.STALE_DATA, connector_id=connector.pk):
            findings.append(_stale(rule, connector, now).finding(rule, connector, labels))
        for rule in rules.covering(Condition.DRIFT, connector_id=connector.pk):
            findings.append(_drift(rule, connector).finding(rule, connector, labels))
    return findings


class _Seen:
    def __init__(
        self, holds: bool, value: int | None, summary: str, details: dict[str, object]
    ) -> None:
        self.holds, self.value, self.summary, self.details = holds, value, summary, details

    def finding(self, rule: Rule, connector: Connector, labels: dict[str, object]) -> Finding:
        return Finding(
            rule=rule,
            subject={"kind": "connector", "connector": connector.pk},
            seen=observe_flag(self.holds),
            value=self.value,
            summary=f"{connector.name}: {self.summary}",
            labels=labels,
            details=self.details,
            connector_id=connector.pk,
            channel_id=connector.channel_id,
        )


def _failing(
    rule: Rule, connector: Connector, dead_letters: int, disabled: dict[int, list[str]]
) -> _Seen:
    """Down or failing: the breaker not closed, N failures in a row, a webhook the store
    disabled, dead letters waiting (a limit of 0 switches that reason off)."""
    failures_limit = int(rule.params.get("failures", 3))
    dead_limit = int(rule.params.get("dead_letters", 1))
    reasons = []
    if connector.is_active and connector.circuit_state != CircuitState.CLOSED:
        reasons.append(f"circuit breaker {connector.get_circuit_state_display().lower()}")
    if connector.is_active and failures_limit and connector.consecutive_failures >= failures_limit:
        reasons.append(f"{connector.consecutive_failures} failures in a row")
    webhooks = disabled.get(connector.pk, []) if connector.is_active else []
    if webhooks:
        reasons.append(f"webhook disabled by the store ({', '.join(sorted(webhooks))})")
    if dead_limit and dead_letters >= dead_limit:
        reasons.append(f"{dead_letters} dead letters waiting")
    return _Seen(
        bool(reasons),
        connector.consecutive_failures,
        "; ".join(reasons) if reasons else "healthy",
        {
            "reasons": reasons,
            "circuit_state": connector.circuit_state,
            "consecutive_failures": connector.consecutive_failures,
            "last_error": connector.last_error[:500],
            "disabled_webhooks": sorted(webhooks),
            "dead_letters": dead_letters,
        },
    )


def _stale(rule: Rule, connector: Connector, now: datetime) -> _Seen:
    """No successful pull or push for `multiple` times the poll interval. A connector that
    never polls is held to its pushes only: stale when a push has waited that long (its
    schedule then is ALERTS_PUSH_SCHEDULE_SECONDS) with none succeeding meanwhile."""
    multiple = int(rule.params.get("multiple", 3))
    polls = connector.poll_interval_seconds > 0
    limit = timedelta(
        seconds=multiple * (connector.poll_interval_seconds or push_schedule_seconds())
    )
    last_ok = max(
        (at for at in (connector.last_pull_at, connector.last_push_at) if at is not None),
        default=None,
    )
    details: dict[str, object] = {
        "last_pull_at": connector.last_pull_at.isoformat() if connector.last_pull_at else None,
        "last_push_at": connector.last_push_at.isoformat() if connector.last_push_at else None,
        "limit_seconds": int(limit.total_seconds()),
        "polls": polls,
    }
    if not connector.is_active or multiple == 0:
        return _Seen(False, None, "switched off", details)
    since: datetime | None
    if polls:
        since = last_ok or connector.created_at
        holds = now - since > limit
        age = int((now - since).total_seconds())
        what = "no successful pull or push"
    else:
        waiting = (
            OutboxItem.objects.filter(connector=connector, state=OutboxState.PENDING)
            .filter(Q(created_at__lt=now - limit))
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        since = max(waiting, last_ok) if waiting and last_ok else waiting
        holds = waiting is not None and (last_ok is None or last_ok < now - limit)
        age = int((now - since).total_seconds()) if since else 0
        what = "pushes waiting, none succeeded"
    summary = f"{what} for {age // 60} min (limit {int(limit.total_seconds()) // 60} min)"
    return _Seen(holds, age, summary if holds else "fresh", {**details, "age_seconds": age})


def _drift(rule: Rule, connector: Connector) -> _Seen:
    """More than `percent` % of the mapped SKUs drifted in the latest finished
    reconciliation."""
    percent = int(rule.params.get("percent", 5))
    report = (
        ReconciliationReport.objects.filter(connector=connector, finished_at__isnull=False)
        .order_by("-finished_at", "-pk")
        .first()
    )
    if report is None:
        return _Seen(False, None, "no reconciliation yet", {})
    mapped = report.checked or SkuMapping.objects.filter(connector=connector).count()
    share = 100.0 * report.drifted / mapped if mapped else 0.0
    holds = connector.is_active and share > percent
    summary = (
        f"{report.drifted} of {mapped} mapped SKUs drifted ({share:.1f} %, above {percent} %)"
        if holds
        else f"drift {share:.1f} % of mapped SKUs"
    )
    return _Seen(
        holds,
        report.drifted,
        summary,
        {
            "report": report.pk,
            "checked": report.checked,
            "drifted": report.drifted,
            "corrected": report.corrected,
            "mapped": mapped,
            "percent": round(share, 2),
            "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        },
    )
