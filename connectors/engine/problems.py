"""Sync problems: what ops (and later the alerts issue) should know about a connector.

`record_problem` keeps one open problem per connector, kind and subject: a store that
fails for an hour, or a poll that finds the same unmapped item every minute, is one
problem with a count and a last-seen time, not thousands. `resolve_problems` closes them
when the cause is gone; the next occurrence opens a new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from connectors.models import SyncProblem

# One statement, so two workers filing the same problem at once merge it too: the partial
# unique index (syncproblem_one_open) turns the second insert into the update.
_UPSERT_SQL = """
INSERT INTO connectors_syncproblem
    (connector_id, kind, subject, message, details, count, created_at, last_seen_at)
VALUES (%s, %s, %s, %s, %s, 1, %s, %s)
ON CONFLICT (connector_id, kind, subject) WHERE resolved_at IS NULL
DO UPDATE SET
    count = connectors_syncproblem.count + 1,
    last_seen_at = EXCLUDED.last_seen_at,
    message = EXCLUDED.message,
    details = EXCLUDED.details
RETURNING id
"""


def record_problem(
    *,
    connector_id: int,
    kind: str,
    message: str,
    details: dict | None = None,
    subject: str = "",
) -> SyncProblem:
    """File a problem, or merge it into the open one of the same connector, kind and
    `subject` ("" : about the store as a whole): its count goes up, `last_seen_at` moves
    on, and the latest message and details replace the earlier ones. Race-safe."""
    now = timezone.now()
    details_field = SyncProblem._meta.get_field("details")
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_SQL,
            [
                connector_id,
                kind,
                subject[:255],
                message[:2000],
                details_field.get_db_prep_save(details or {}, connection),
                now,
                now,
            ],
        )
        problem_id = cursor.fetchone()[0]
    return SyncProblem.objects.get(pk=problem_id)


def resolve_problems(*, connector_id: int, kinds: Sequence[str]) -> int:
    return SyncProblem.objects.filter(
        connector_id=connector_id, kind__in=kinds, resolved_at__isnull=True
    ).update(resolved_at=timezone.now())


def resolve_open_problems(*, connector_id: int) -> int:
    """Close every open problem of the connector (it was archived: nothing to act on)."""
    return SyncProblem.objects.filter(connector_id=connector_id, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


def resolve_chosen_problems(*, problem_ids: list[int]) -> int:
    """Close these problems (ops marked them resolved); one already closed stays as it was."""
    return SyncProblem.objects.filter(pk__in=problem_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
