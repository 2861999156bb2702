"""The inbox queue: kicks, drains, retries and dead letters of stored deliveries.

- Processing is queued by a kick per connector, at most one message per connector per
  kick interval from each process (`kick_inbox`); `process_connector_inbox` then applies
  that connector's received events in arrival order. The sweeper catches a lost kick.
- `process_inbox_event` applies an event inside one transaction with the event's row
  lock, so two workers never apply it twice, and every stock write it makes carries a
  reference unique per delivery, so a replay is a no-op. Transient failures retry with
  exponential backoff and end `dead` after `CONNECTORS_INBOX_MAX_ATTEMPTS`; a
  deterministic refusal (`is_deterministic_refusal`) is `dead` at once, with a problem;
  `replay_dead_letters` puts them back in the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectors.dispatch import DRAIN_INBOX, PROCESS_INBOX_EVENT, connector_task
from connectors.engine.kicks import Debouncer
from connectors.engine.problems import record_problem
from connectors.inbound.rules.common import is_deterministic_refusal
from connectors.inbound.rules.events import apply_event
from connectors.models import InboxEvent, InboxState, SyncProblemKind
from connectors.sync.locks import connector_job_lock

logger = logging.getLogger(__name__)


def inbox_backoff_seconds(attempts: int) -> float:
    base = float(settings.CONNECTORS_INBOX_BACKOFF_SECONDS)
    return min(base * (2 ** max(attempts - 1, 0)), 3600.0)


INBOX_DRAIN_JOB = "inbox"
INBOX_DRAIN_BATCH = 100
INBOX_DRAIN_LIMIT = 1000


class _InboxKicker(Debouncer):
    """At most one `process_connector_inbox_task` message per connector per kick interval
    from this process, always sent by the timer thread (`connectors.engine.kicks`).

    One drain applies everything its connector has received, so a burst of deliveries
    needs one message, not one each. The caller never sends: the ASGI fast path kicks from
    the server's event loop, which must not wait for the broker. A lost message costs
    time, not events (the sweeper queues a drain for events left waiting).
    """

    sends_in_caller = False

    def send(self, connector_ids: list[int]) -> None:
        for connector_id in connector_ids:
            _send_drain(connector_id)


_kicker = _InboxKicker()


def kick_inbox(connector_id: int) -> None:
    """Ask a worker to drain this connector's inbox soon; never waits for the broker."""
    _kicker.kick([connector_id])


def _send_drain(connector_id: int) -> None:
    try:
        connector_task(DRAIN_INBOX).delay(connector_id)
    except Exception:
        # The events are committed; the beat sweeper queues a drain for them.
        logger.exception("Could not queue the inbox drain of connector %s", connector_id)


class DrainStatus(StrEnum):
    DONE = "done"
    MORE = "more"  # stopped at the limit: events may remain
    BUSY = "busy"  # another drain of this connector is running


def process_connector_inbox(*, connector_id: int, limit: int = INBOX_DRAIN_LIMIT) -> DrainStatus:
    """Apply this connector's received events in arrival order, each in its own transaction.

    Each event goes through `process_inbox_event` (its row lock, SKIP LOCKED), so a drain
    and a single-event task (a retry, a replay) never apply one event twice. One drain per
    connector runs at a time (`connector_job_lock`): a second returns BUSY at once, which
    keeps a connector's events in arrival order. Stops with MORE after `limit` events.
    """
    with connector_job_lock(INBOX_DRAIN_JOB, connector_id) as acquired:
        if not acquired:
            return DrainStatus.BUSY
        after, done = 0, 0
        while done < limit:
            batch = list(
                _waiting_events(connector_id)
                .filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", flat=True)[: min(INBOX_DRAIN_BATCH, limit - done)]
            )
            if not batch:
                return DrainStatus.DONE
            for event_id in batch:
                process_inbox_event(event_id=event_id)
            done += len(batch)
            after = batch[-1]
    return DrainStatus.MORE


def has_waiting_events(connector_id: int) -> bool:
    """Whether this connector has received events due for processing."""
    return _waiting_events(connector_id).exists()


def _waiting_events(connector_id: int):
    due = timezone.now() + timedelta(seconds=1)  # as process_inbox_event counts "due"
    return InboxEvent.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due),
        connector_id=connector_id,
        state=InboxState.RECEIVED,
    )


def process_inbox_event(*, event_id: int) -> str | None:
    """Apply one received (or failed) event; returns its new state, None if not ours now.

    Takes the event's row lock with SKIP LOCKED: an event another worker is processing is
    left to it. The event's effects and its new state commit together.
    """
    now = timezone.now()
    with transaction.atomic():
        event = (
            InboxEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connector", "connector__channel")
            .filter(pk=event_id, state__in=[InboxState.RECEIVED, InboxState.FAILED])
            .first()
        )
        if event is None:
            return None
        if event.next_attempt_at and event.next_attempt_at > now + timedelta(seconds=1):
            return None  # not due yet (an early duplicate of a scheduled retry)
        event.attempts += 1
        try:
            with transaction.atomic():
                outcome = apply_event(event)
        except Exception as exc:
            if is_deterministic_refusal(exc):
                _refuse(event, exc)
            else:
                _fail(event, exc)
        else:
            event.state = InboxState.PROCESSED
            event.result = outcome.summary()[:4000]
            event.processed_at = timezone.now()
            event.last_error = ""
            event.next_attempt_at = None
        event.save(
            update_fields=[
                "state",
                "attempts",
                "result",
                "processed_at",
                "last_error",
                "next_attempt_at",
            ]
        )
    return event.state


def _refuse(event: InboxEvent, exc: Exception) -> None:
    """A refusal no retry can change: a dead letter at once, with its error and a problem,
    so ops can fix the cause (map the channel, say) and replay it."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    event.state = InboxState.DEAD
    event.next_attempt_at = None
    event.last_error = message
    event.result = "Refused, not retried."
    logger.warning("Inbox event %s refused, not retried: %s", event.pk, message)
    record_problem(
        connector_id=event.connector_id,
        kind=SyncProblemKind.DEAD_LETTER,
        message=f"Inbox event {event.pk} ({event.topic or 'no topic'}) was refused and is not "
        f"retried; replay it once the cause is fixed: {message}",
        details={"event": event.pk, "refused": True},
    )


def _fail(event: InboxEvent, exc: Exception) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    event.last_error = message
    if event.attempts >= settings.CONNECTORS_INBOX_MAX_ATTEMPTS:
        event.state = InboxState.DEAD
        event.next_attempt_at = None
        logger.error(
            "Inbox event %s is dead after %s attempts: %s", event.pk, event.attempts, message
        )
        record_problem(
            connector_id=event.connector_id,
            kind=SyncProblemKind.DEAD_LETTER,
            message=f"Inbox event {event.pk} ({event.topic or 'no topic'}) failed "
            f"{event.attempts} times and needs a replay: {message}",
            details={"event": event.pk},
        )
        return
    delay = inbox_backoff_seconds(event.attempts)
    event.state = InboxState.FAILED
    event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    logger.warning(
        "Inbox event %s failed (attempt %s), retry in %.0f s: %s",
        event.pk,
        event.attempts,
        delay,
        message,
    )
    transaction.on_commit(partial(_schedule_retry, event.pk, delay))


def _schedule_retry(event_id: int, delay: float) -> None:
    try:
        connector_task(PROCESS_INBOX_EVENT).apply_async((event_id,), countdown=delay)
    except Exception:
        # The sweeper retries failed events whose time has come.
        logger.exception("Could not schedule the retry of inbox event %s", event_id)


def replay_dead_letters(
    *, connector_id: int | None = None, event_ids: Sequence[int] | None = None
) -> int:
    """Put dead events back in the queue (attempts start again); returns how many.

    Safe to call twice: only events still `dead` are touched, and processing is idempotent.
    """
    process_inbox_event_task = connector_task(PROCESS_INBOX_EVENT)
    events = InboxEvent.objects.filter(state=InboxState.DEAD)
    if connector_id is not None:
        events = events.filter(connector_id=connector_id)
    if event_ids is not None:
        events = events.filter(pk__in=list(event_ids))
    now = timezone.now()
    with transaction.atomic():
        ids = list(events.select_for_update(skip_locked=True).values_list("pk", flat=True))
        InboxEvent.objects.filter(pk__in=ids).update(
            state=InboxState.RECEIVED, attempts=0, next_attempt_at=now
        )
        for event_id in ids:
            process_inbox_event_task.delay_on_commit(event_id)
    return len(ids)
