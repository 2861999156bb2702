"""Sync problems: what ops (and later the alerts issue) should know about a connector.

`record_problem` with `once=True` keeps at most one open problem of a kind per connector,
so a store that fails for an hour is one problem, not thousands; `resolve_problems`
closes them when the cause is gone.
"""

from __future__ import annotations

from django.utils import timezone

from connectors.models import SyncProblem


def record_problem(
    *,
    connector_id: int,
    kind: str,
    message: str,
    details: dict | None = None,
    once: bool = False,
) -> SyncProblem | None:
    """Add a problem; with `once`, only when no problem of this kind is open (else None)."""
    if once:
        open_problem = SyncProblem.objects.filter(
            connector_id=connector_id, kind=kind, resolved_at__isnull=True
        ).exists()
        if open_problem:
            return None
    return SyncProblem.objects.create(
        connector_id=connector_id, kind=kind, message=message[:2000], details=details or {}
    )


def resolve_problems(*, connector_id: int, kinds: list[str]) -> int:
    return SyncProblem.objects.filter(
        connector_id=connector_id, kind__in=kinds, resolved_at__isnull=True
    ).update(resolved_at=timezone.now())
