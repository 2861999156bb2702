"""Reads for the sync features: drift over time, and a connector's health for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

from django.db.models import Max, Q
from django.utils import timezone

from connectors.models import (
    CircuitState,
    Connector,
    ReconciliationReport,
    SyncProblem,
    SyncRun,
    SyncRunKind,
)
from connectors.selectors import ConnectorHealth, connector_health


@dataclass(frozen=True, slots=True)
class DriftPoint:
    report_id: int
    created_at: datetime
    finished_at: datetime | None
    is_ok: bool | None
    checked: int
    drifted: int
    corrected: int
    unmapped: int


def drift_history(connector: Connector, *, limit: int = 30) -> list[DriftPoint]:
    """Drift counts of the connector's last `limit` reconciliations, oldest first."""
    reports = (
        ReconciliationReport.objects.filter(connector=connector)
        .order_by("-created_at", "-id")
        .values_list(
            "pk",
            "created_at",
            "finished_at",
            "is_ok",
            "checked",
            "drifted",
            "corrected",
            "unmapped",
        )[:limit]
    )
    points = [
        DriftPoint(pk, created, finished, is_ok, checked, drifted, corrected, len(unmapped or []))
        for pk, created, finished, is_ok, checked, drifted, corrected, unmapped in reports
    ]
    return points[::-1]


class PushState(StrEnum):
    """What the push worker does for a connector now, most decisive first."""

    ARCHIVED = "archived"
    SWITCHED_OFF = "switched_off"
    STORE_DOWN = "store_down"
    TRYING_ONE = "trying_one"
    PAUSED = "paused"
    PUSHING = "pushing"


def push_state(connector: Connector, *, now: datetime | None = None) -> PushState:
    """A switched-off or archived connector pushes nothing, whatever its breaker says."""
    if connector.archived_at is not None:
        return PushState.ARCHIVED
    if not connector.is_active:
        return PushState.SWITCHED_OFF
    if connector.circuit_state == CircuitState.OPEN:
        return PushState.STORE_DOWN
    if connector.circuit_state == CircuitState.HALF_OPEN:
        return PushState.TRYING_ONE
    if connector.paused_until is not None and connector.paused_until > (now or timezone.now()):
        return PushState.PAUSED
    return PushState.PUSHING


def failed_poll_parts(connector: Connector) -> dict[str, str]:
    """The parts ("stock", "orders") the connector's last poll could not read or apply
    whole, with why; {} when it read everything (or never polled)."""
    details = (
        SyncRun.objects.filter(connector=connector, kind=SyncRunKind.POLL)
        .exclude(finished_at=None)
        .order_by("-started_at", "-id")
        .values_list("details", flat=True)
        .first()
    )
    return dict((details or {}).get("failed_parts") or {})


@dataclass(frozen=True, slots=True)
class ProblemSummary:
    kind: str
    subject: str
    message: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class SyncHealth:
    connector: Connector
    queues: ConnectorHealth
    push_state: PushState
    failed_poll_parts: dict[str, str]
    last_poll_at: datetime | None
    last_reconciled_at: datetime | None
    last_push_latency_ms: int | None
    average_push_latency_ms: int | None
    open_problems: int
    problems: list[ProblemSummary]
    recent_errors: list[dict]


def open_problems(connector: Connector, *, limit: int = 50) -> list[ProblemSummary]:
    """The connector's open problems, the most recently seen first."""
    rows = (
        SyncProblem.objects.filter(connector=connector, resolved_at__isnull=True)
        .order_by("-last_seen_at", "-id")
        .values_list("kind", "subject", "message", "count", "created_at", "last_seen_at")[:limit]
    )
    return [ProblemSummary(*row) for row in rows]


def sync_health(connector: Connector, *, recent: int = 20) -> SyncHealth:
    """Everything the sync log shows about one connector (admin, API)."""
    pushes = SyncRun.objects.filter(connector=connector, kind=SyncRunKind.PUSH).order_by(
        "-started_at", "-id"
    )
    # Without the NULLs, so every latency is an int.
    latencies = cast(
        "list[int]",
        list(pushes.exclude(latency_ms=None).values_list("latency_ms", flat=True)[:recent]),
    )
    latest = connector.sync_runs.aggregate(
        poll=Max("started_at", filter=Q(kind=SyncRunKind.POLL, is_ok=True)),
        reconcile=Max("finished_at", filter=Q(kind=SyncRunKind.RECONCILE, is_ok=True)),
    )
    errors = [
        {
            "kind": run.kind,
            "started_at": run.started_at,
            "error": run.error,
        }
        for run in connector.sync_runs.filter(is_ok=False).order_by("-started_at", "-id")[:recent]
    ]
    return SyncHealth(
        connector=connector,
        queues=connector_health(connector),
        push_state=push_state(connector),
        failed_poll_parts=failed_poll_parts(connector),
        last_poll_at=latest["poll"],
        last_reconciled_at=latest["reconcile"],
        last_push_latency_ms=latencies[0] if latencies else None,
        average_push_latency_ms=round(sum(latencies) / len(latencies)) if latencies else None,
        open_problems=SyncProblem.objects.filter(
            connector=connector, resolved_at__isnull=True
        ).count(),
        problems=open_problems(connector),
        recent_errors=errors,
    )
