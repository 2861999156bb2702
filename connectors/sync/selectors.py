"""Reads for the sync features: drift over time, and a connector's health for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q

from connectors.models import Connector, ReconciliationReport, SyncProblem, SyncRun, SyncRunKind
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


@dataclass(frozen=True, slots=True)
class SyncHealth:
    connector: Connector
    queues: ConnectorHealth
    last_poll_at: datetime | None
    last_reconciled_at: datetime | None
    last_push_latency_ms: int | None
    average_push_latency_ms: int | None
    open_problems: int
    recent_errors: list[dict]


def sync_health(connector: Connector, *, recent: int = 20) -> SyncHealth:
    """Everything the sync log shows about one connector (admin, API)."""
    pushes = SyncRun.objects.filter(connector=connector, kind=SyncRunKind.PUSH).order_by(
        "-started_at", "-id"
    )
    latencies = [
        latency
        for latency in pushes.exclude(latency_ms=None).values_list("latency_ms", flat=True)[:recent]
    ]
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
        last_poll_at=latest["poll"],
        last_reconciled_at=latest["reconcile"],
        last_push_latency_ms=latencies[0] if latencies else None,
        average_push_latency_ms=round(sum(latencies) / len(latencies)) if latencies else None,
        open_problems=SyncProblem.objects.filter(
            connector=connector, resolved_at__isnull=True
        ).count(),
        recent_errors=errors,
    )
