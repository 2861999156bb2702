"""Celery entry points of the notifier and delivery. Each takes ids, calls a service,
returns. All are safe to run twice or at once (so `acks_late=True`): a flush takes its group
under `SKIP LOCKED` and decides from the log; delivery claims under a lease and never sends
a row marked sent; escalation moves the alert's step with the notification it writes."""

from __future__ import annotations

from celery import shared_task

from alerts.services.delivery import deliver_notification, due_notification_ids
from alerts.services.escalation import escalate_due
from alerts.services.notify import flush_due_groups, flush_group, note_alert_changes


@shared_task(acks_late=True, ignore_result=True)
def note_alert_changes_task(alert_ids: list[int]) -> int:
    """After an evaluation: schedule the groups of the alerts that fired or resolved."""
    return len(note_alert_changes(alert_ids))


@shared_task(acks_late=True, ignore_result=True)
def flush_group_task(group_id: int) -> bool:
    """At a group's flush time (queued with an eta by note_alert_changes)."""
    return flush_group(group_id=group_id) is not None


@shared_task(acks_late=True, ignore_result=True)
def flush_due_groups_task() -> int:
    """Beat, every few seconds: every group whose time has come (a lost eta task, repeats,
    the end of a silence)."""
    return len(flush_due_groups())


@shared_task(acks_late=True, ignore_result=True)
def deliver_notification_task(notification_id: str) -> str:
    return deliver_notification(notification_id=notification_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_notifications_task() -> int:
    """Beat, every few seconds: queue each notification whose backoff has passed, or whose
    worker died holding it (its lease has passed)."""
    ids = due_notification_ids()
    for notification_id in ids:
        deliver_notification_task.delay(notification_id)
    return len(ids)


@shared_task(acks_late=True, ignore_result=True)
def escalate_task() -> int:
    """Beat, every 30 s: take the escalation steps that have come due."""
    return len(escalate_due())
