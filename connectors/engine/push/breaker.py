"""The connector's health after a round: the circuit breaker, its cool-down, and the
problems a failed push opens (or a successful one resolves).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from connectors.base import RemoteAuthFailed
from connectors.engine.problems import record_problem, resolve_problems
from connectors.engine.push.config import PushSettings
from connectors.models import CircuitState, Connector, OutboxItem, OutboxState, SyncProblemKind

logger = logging.getLogger(__name__)


def breaker_cooldown(connector: Connector, config: PushSettings) -> float:
    failed_trials = max(connector.consecutive_failures - config.failures_to_open, 0)
    cooldown = config.breaker_cooldown_seconds * (2 ** min(failed_trials, 16))
    return min(cooldown, config.breaker_max_cooldown_seconds)


def breaker_retry_at(connector: Connector, config: PushSettings) -> datetime:
    opened_at = connector.circuit_opened_at or timezone.now()
    return opened_at + timedelta(seconds=breaker_cooldown(connector, config))


def describe_failure(failure: BaseException) -> str:
    name = type(failure).__name__
    status = getattr(failure, "status", None)
    return f"{name}{f' ({status})' if status else ''}: {failure}"[:2000]


def record_success(connector: Connector) -> None:
    now = timezone.now()
    was_closed = connector.circuit_state == CircuitState.CLOSED
    Connector.objects.filter(pk=connector.pk).update(
        consecutive_failures=0,
        last_push_at=now,
        last_error="",
        circuit_state=CircuitState.CLOSED,
        circuit_opened_at=None,
        paused_until=None,
    )
    kinds = [SyncProblemKind.PUSH_FAILED, SyncProblemKind.AUTH_FAILED]
    if not was_closed:
        kinds.append(SyncProblemKind.CIRCUIT_OPEN)
        # The store is back: rows that backed off while it was down go now.
        OutboxItem.objects.filter(
            connector=connector, state=OutboxState.PENDING, due_at__gt=now, attempts__gt=0
        ).update(due_at=now)
        logger.info("Circuit closed for connector %s", connector.pk)
    resolve_problems(connector_id=connector.pk, kinds=kinds)
    connector.circuit_state = CircuitState.CLOSED
    connector.consecutive_failures = 0


def record_failure(connector: Connector, failure: BaseException, config: PushSettings) -> None:
    message = describe_failure(failure)
    now = timezone.now()
    with transaction.atomic():
        locked = Connector.objects.select_for_update(no_key=True).get(pk=connector.pk)
        locked.consecutive_failures += 1
        locked.last_error = message
        update = ["consecutive_failures", "last_error"]
        opens = locked.circuit_state == CircuitState.HALF_OPEN or (
            locked.circuit_state == CircuitState.CLOSED
            and locked.consecutive_failures >= config.failures_to_open
        )
        if opens:
            locked.circuit_state = CircuitState.OPEN
            locked.circuit_opened_at = now
            update += ["circuit_state", "circuit_opened_at"]
        Connector.objects.filter(pk=locked.pk).update(
            **{name: getattr(locked, name) for name in update}
        )
        kind = (
            SyncProblemKind.AUTH_FAILED
            if isinstance(failure, RemoteAuthFailed)
            else SyncProblemKind.PUSH_FAILED
        )
        record_problem(connector_id=locked.pk, kind=kind, message=message)
        if opens:
            cooldown = breaker_cooldown(locked, config)
            record_problem(
                connector_id=locked.pk,
                kind=SyncProblemKind.CIRCUIT_OPEN,
                message=f"Stopped pushing to {locked.name} after "
                f"{locked.consecutive_failures} failures in a row; next try in "
                f"{cooldown:.0f} s. Last error: {message}",
            )
    connector.circuit_state = locked.circuit_state
    connector.consecutive_failures = locked.consecutive_failures
    logger.warning("Push to connector %s failed: %s", connector.pk, message)
