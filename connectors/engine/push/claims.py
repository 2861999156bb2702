"""Outbox rows a run works on: claimed under a lease, released with backoff, or buried."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connectors.engine.problems import record_problem
from connectors.engine.push.config import PushSettings
from connectors.models import Connector, OutboxItem, OutboxState, SyncProblemKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    variant_id: int
    change_count: int
    attempts: int  # including this claim


def has_due_rows(connector_id: int) -> bool:
    now = timezone.now()
    return (
        OutboxItem.objects.filter(
            connector_id=connector_id, state=OutboxState.PENDING, due_at__lte=now
        )
        .exclude(claimed_until__gt=now)
        .exists()
    )


def lease_seconds(connector: Connector, config: PushSettings) -> float:
    """Long enough for the slowest round: several requests, each up to the timeout."""
    if config.lease_seconds is not None:
        return config.lease_seconds
    return 60.0 + connector.timeout_seconds * 10


def row_backoff(attempts: int, config: PushSettings) -> float:
    delay = config.backoff_seconds * (2 ** max(min(attempts - 1, 20), 0))
    # A little jitter, so rows failed together do not come back in one burst.
    return min(delay, config.max_backoff_seconds) * random.uniform(0.9, 1.1)


def claim_rows(connector: Connector, *, limit: int, lease_seconds: float) -> list[ClaimedRow]:
    """Lease up to `limit` due rows (FOR UPDATE SKIP LOCKED): nobody else claims them until
    the lease passes, and a stock change being enqueued for one of them is not waited for."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(connector=connector, state=OutboxState.PENDING, due_at__lte=now)
            .exclude(claimed_until__gt=now)
            .order_by("due_at", "id")
            .values_list("id", "variant_id", "change_count", "attempts")[:limit]
        )
        if not rows:
            return []
        OutboxItem.objects.filter(pk__in=[row[0] for row in rows]).update(
            claimed_until=now + timedelta(seconds=lease_seconds), attempts=F("attempts") + 1
        )
    return [ClaimedRow(row[0], row[1], row[2], row[3] + 1) for row in rows]


def release_rows(
    rows: Sequence[ClaimedRow],
    config: PushSettings,
    *,
    error: str,
    due_at: datetime | None = None,
) -> None:
    now = timezone.now()
    for row in rows:
        due = due_at or now + timedelta(seconds=row_backoff(row.attempts, config))
        OutboxItem.objects.filter(pk=row.id, state=OutboxState.PENDING).update(
            claimed_until=None, due_at=due, last_error=error[:2000], updated_at=now
        )


def mark_dead(
    connector: Connector, rows: list[tuple[ClaimedRow, str]], *, once: bool = False
) -> None:
    now = timezone.now()
    with transaction.atomic():
        for row, error in rows:
            OutboxItem.objects.filter(pk=row.id, state=OutboxState.PENDING).update(
                state=OutboxState.DEAD, claimed_until=None, last_error=error[:2000], updated_at=now
            )
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.PUSH_REJECTED,
                message=f"The store refused the push of variant {row.variant_id}: {error}",
                details={"outbox_item": row.id, "variant_id": row.variant_id},
                # Not sent at all: one settings problem, not one per variant.
                subject="" if once else f"variant {row.variant_id}",
            )
