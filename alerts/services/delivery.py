"""Delivery: one task per notification, so a failing receiver never blocks another.

A notification is claimed under a lease (one conditional UPDATE to status `sending` with
`lease_until`, committed before anything goes out). Sent is final: a row
marked sent is never claimed again. A failure is retried with exponential backoff until
`ALERTS_DELIVERY_MAX_ATTEMPTS`, then the row is dead; a refusal for good (a bad address,
a 4xx) is dead at once. A worker killed mid-send leaves the row `sending`; once its lease
has passed the sweep sends it again with the same id, which the receiver uses to drop the
copy (webhook-id, Message-ID, the id in Slack's and the SMS text).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import (
    Alert,
    DeliveryAttempt,
    Notification,
    NotificationGroup,
    NotificationStatus,
    Receiver,
)
from alerts.senders import Outgoing, SendFailed, render_text, sender_for
from inventory_hub.db import is_postgresql

logger = logging.getLogger(__name__)

DELIVER_TASK = "alerts.notifications_tasks.deliver_notification_task"
TEXT_LIMIT = 500  # DeliveryAttempt.response and .error


def queue_notification(
    *,
    notification_id: uuid.UUID,
    receiver: Receiver,
    kind: str,
    payload: dict,
    alerts: Sequence[Alert] = (),
    group: NotificationGroup | None = None,
) -> Notification:
    """In the caller's transaction: the notification row, and its delivery queued for after
    the commit (a rolled-back decision sends nothing)."""
    notification = Notification.objects.create(
        id=notification_id, receiver=receiver, kind=kind, payload=payload, group=group
    )
    if alerts:
        notification.alerts.add(*alerts)
    current_app.tasks[DELIVER_TASK].delay_on_commit(str(notification.pk))
    return notification


@dataclass(frozen=True, slots=True)
class Claim:
    id: uuid.UUID
    attempts: int  # including this one


def deliver_notification(*, notification_id: uuid.UUID | str) -> str:
    """Send one notification if it is due and nobody holds it. Returns what happened:
    `sent`, `retry`, `dead`, or `idle` (sent already, not due, or claimed elsewhere)."""
    claimed = _claim(uuid.UUID(str(notification_id)), timezone.now())
    if claimed is None:
        return "idle"
    claim, notification = claimed
    receiver = notification.receiver
    message = Outgoing(
        id=str(notification.pk),
        kind=notification.kind,
        title=str(notification.payload.get("title", "Inventory Hub alert")),
        text=render_text(notification.payload),
        payload=notification.payload,
    )
    started = time.monotonic()
    try:
        if not receiver.is_active:
            raise SendFailed("The receiver is switched off.", permanent=True)
        response = sender_for(receiver.kind).send(receiver, message)
    except SendFailed as error:
        return _failed(claim, error, started)
    except Exception as error:  # a sender's bug must not leave the row sending for good
        logger.exception("Sending notification %s failed unexpectedly", claim.id)
        return _failed(claim, SendFailed(f"{type(error).__name__}: {error}"), started)
    _record(claim, started, ok=True, response=response)
    return "sent"


def due_notification_ids(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Notifications to (re)send: failed and due, or sending with a lapsed lease, or pending
    for longer than ALERTS_DELIVERY_REQUEUE_PENDING_SECONDS. A pending row had its task
    queued at its commit: until then it is in the queue (behind a backlog, maybe), and
    queueing it again on every sweep would only add idle tasks to that backlog."""
    now = now or timezone.now()
    grace = timedelta(
        seconds=float(getattr(settings, "ALERTS_DELIVERY_REQUEUE_PENDING_SECONDS", 30))
    )
    lost = Q(status=NotificationStatus.PENDING, next_attempt_at__lte=now - grace)
    return [
        str(pk)
        for pk in Notification.objects.filter(
            _claimable(now) & (~Q(status=NotificationStatus.PENDING) | lost)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    ]


def backoff_seconds(attempts: int) -> float:
    base = float(settings.ALERTS_DELIVERY_BACKOFF_SECONDS)
    delay = min(
        base * 2 ** max(min(attempts - 1, 20), 0), settings.ALERTS_DELIVERY_MAX_BACKOFF_SECONDS
    )
    return delay * random.uniform(0.9, 1.1)  # failed together, not back in one burst


def _claimable(now: datetime) -> Q:
    waiting = Q(
        status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED],
        next_attempt_at__lte=now,
    )
    abandoned = Q(status=NotificationStatus.SENDING, lease_until__lte=now)
    return waiting | abandoned


def _claim(notification_id: uuid.UUID, now: datetime) -> tuple[Claim, Notification] | None:
    """One conditional UPDATE takes the row, committed at once: two claimers of a row wait
    on each other for that statement only, and PostgreSQL re-checks the condition on the
    row the first one wrote, so the second finds it no longer claimable."""
    lease = timedelta(seconds=float(settings.ALERTS_DELIVERY_LEASE_SECONDS))
    with transaction.atomic():
        _commit_without_flush()
        taken = Notification.objects.filter(_claimable(now), pk=notification_id).update(
            status=NotificationStatus.SENDING, lease_until=now + lease, attempts=F("attempts") + 1
        )
    if not taken:
        return None
    notification = Notification.objects.select_related("receiver").get(pk=notification_id)
    return Claim(id=notification_id, attempts=notification.attempts), notification


def _commit_without_flush() -> None:
    """This transaction's COMMIT returns before its WAL reaches the disk. Only a crash of the
    database server can lose it, and then the last few hundred milliseconds of claims and
    outcomes at most: the row is claimable again and goes out again under the same id,
    which is already the case after a worker dies mid-send (the receiver drops the copy).
    In exchange each delivery waits for no disk flush, twice. (PostgreSQL only: SQLite
    has no such setting.)"""
    if not is_postgresql():
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _failed(claim: Claim, error: SendFailed, started: float) -> str:
    dead = error.permanent or claim.attempts >= settings.ALERTS_DELIVERY_MAX_ATTEMPTS
    message = (
        str(error)
        if not dead or error.permanent
        else f"Gave up after {claim.attempts} attempts: {error}"
    )
    _record(claim, started, ok=False, response=error.response, error=message, dead=dead)
    if dead:
        logger.warning("Notification %s is dead: %s", claim.id, message)
    return "dead" if dead else "retry"


def _record(
    claim: Claim,
    started: float,
    *,
    ok: bool,
    response: str = "",
    error: str = "",
    dead: bool = False,
) -> None:
    """The attempt and the row's new status, together. Only the holder of this claim moves
    the row: a worker whose lease lapsed and was taken over records its attempt only."""
    now = timezone.now()
    if ok:
        changes: dict[str, object] = {"status": NotificationStatus.SENT, "sent_at": now}
    elif dead:
        changes = {"status": NotificationStatus.DEAD}
    else:
        changes = {
            "status": NotificationStatus.FAILED,
            "next_attempt_at": now + timedelta(seconds=backoff_seconds(claim.attempts)),
        }
    with transaction.atomic():
        _commit_without_flush()
        DeliveryAttempt.objects.create(
            notification_id=claim.id,
            at=now,
            ok=ok,
            response=response[:TEXT_LIMIT],
            error=error[:TEXT_LIMIT],
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        Notification.objects.filter(
            pk=claim.id, status=NotificationStatus.SENDING, attempts=claim.attempts
        ).update(lease_until=None, **changes)
