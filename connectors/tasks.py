"""Celery entry points of the sync engine. Each takes ids, calls the engine, returns.

All are safe to run twice or at once (so `acks_late=True`): a push run holds its
connector's lock and sends absolute values; an inbox event is processed under its row
lock and only from `received`/`failed`, and an inbox drain holds its connector's lock;
sweeps only queue other tasks.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from connectors.engine.push import has_due_rows, push_outbox
from connectors.inbound.queue import (
    DrainStatus,
    has_waiting_events,
    process_connector_inbox,
    process_inbox_event,
)
from connectors.models import Connector, InboxEvent, InboxState, OutboxItem, OutboxState, SyncRun
from connectors.outbox import enqueue_recent_mappings

# Received events older than this with no worker on them lost their kick: the sweeper
# queues them again.
STUCK_EVENT_SECONDS = 30
INBOX_SWEEP_LIMIT = 500


@shared_task(acks_late=True, ignore_result=True)
def push_outbox_task(connector_id: int) -> str:
    """Push every due outbox row of one connector; queue itself again if rows remain."""
    report = push_outbox(connector_id=connector_id)
    # Checked after the lock is released: a row committed while this run was finishing
    # had its own kick refused as "busy", and must not wait for the sweeper.
    if report.has_more or (report.status == "done" and has_due_rows(connector_id)):
        push_outbox_task.delay(connector_id)
    return report.status


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox_task() -> int:
    """Beat, every few seconds: queue a push run for each connector with due rows, after
    a pause or a breaker cool-down too, so a store that comes back is resumed by itself.
    Also runs the catch-up for just-created mappings (see connectors.outbox)."""
    enqueue_recent_mappings()
    now = timezone.now()
    connector_ids = list(
        Connector.objects.filter(
            is_active=True,
            outbox_items__state=OutboxState.PENDING,
            outbox_items__due_at__lte=now,
        )
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
        .values_list("pk", flat=True)
        .distinct()
    )
    for connector_id in connector_ids:
        push_outbox_task.delay(connector_id)
    return len(connector_ids)


@shared_task(acks_late=True, ignore_result=True)
def process_inbox_event_task(event_id: int) -> str | None:
    """Apply one stored delivery (no-op unless it is still waiting to be processed): retries
    and replays; fresh deliveries go through `process_connector_inbox_task`."""
    return process_inbox_event(event_id=event_id)


@shared_task(acks_late=True, ignore_result=True)
def process_connector_inbox_task(connector_id: int) -> str:
    """Apply one connector's received events in arrival order; queue itself again if some
    remain (the kick of `connectors.inbound.queue.kick_inbox`)."""
    status = process_connector_inbox(connector_id=connector_id)
    # Checked after the lock is released: an event stored while this drain was finishing
    # had its own drain refused as "busy", and must not wait for the sweeper.
    if status == DrainStatus.MORE or (
        status == DrainStatus.DONE and has_waiting_events(connector_id)
    ):
        process_connector_inbox_task.delay(connector_id)
    return status


@shared_task(acks_late=True, ignore_result=True)
def sweep_inbox_task() -> int:
    """Beat: queue events whose retry is due, and a drain for each connector with received
    events whose kick was lost. Returns the number of messages sent."""
    now = timezone.now()
    failed = list(
        InboxEvent.objects.filter(state=InboxState.FAILED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:INBOX_SWEEP_LIMIT]
    )
    for event_id in failed:
        process_inbox_event_task.delay(event_id)
    stuck = list(
        InboxEvent.objects.filter(
            state=InboxState.RECEIVED,
            received_at__lte=now - timedelta(seconds=STUCK_EVENT_SECONDS),
        )
        .order_by("connector_id")
        .values_list("connector_id", flat=True)
        .distinct()
    )
    for connector_id in stuck:
        process_connector_inbox_task.delay(connector_id)
    return len(failed) + len(stuck)


@shared_task(acks_late=True, ignore_result=True)
def purge_connector_history_task(days: int = 30) -> int:
    """Beat, hourly: drop sent outbox rows, finished inbox events and sync runs past `days`
    (dead and malformed ones stay until someone deals with them)."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted = OutboxItem.objects.filter(state=OutboxState.SENT, sent_at__lt=cutoff).delete()[0]
    deleted += InboxEvent.objects.filter(
        state__in=[InboxState.PROCESSED, InboxState.IGNORED], received_at__lt=cutoff
    ).delete()[0]
    deleted += SyncRun.objects.filter(started_at__lt=cutoff, report__isnull=True).delete()[0]
    return deleted


# The sync features' tasks (polling, reconciliation, setup, webhook watchdog) live in
# connectors/sync/tasks.py; importing it here registers them with the worker.
from connectors.sync import tasks as _sync_tasks  # noqa: E402, F401
