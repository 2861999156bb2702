"""Escalation per severity: for a firing alert nobody acknowledged, the steps of its
severity's ladder (e-mail, then SMS after N minutes, then a call after M) whose delay since
it fired has passed. Each step is an ESCALATION notification to that step's receiver,
written in the transaction that moves the alert's `escalation_step`, so a restart or a
second sweep never pages twice. Acknowledging or resolving stops the ladder at the next
tick; a silenced or inhibited alert does not escalate either."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from alerts.core import FIRING, due_escalation_steps
from alerts.models import Alert, EscalationStep, Notification, NotificationKind

from .delivery import queue_notification
from .notify import build_payload, suppressed


def escalate_due(*, now: datetime | None = None) -> list[Notification]:
    """Take every due escalation step; returns the notifications made."""
    now = now or timezone.now()
    ladders: dict[str, list[EscalationStep]] = defaultdict(list)
    for step in EscalationStep.objects.select_related("receiver").order_by("severity", "position"):
        ladders[step.severity].append(step)
    made: list[Notification] = []
    for severity, ladder in ladders.items():
        waiting = Alert.objects.filter(
            state=FIRING,
            acknowledged_at__isnull=True,
            rule__severity=severity,
            escalation_step__lt=len(ladder),
        ).select_related("rule")
        candidates = list(waiting)
        held = suppressed(candidates, now)
        for alert in candidates:
            if alert.fingerprint not in held:
                made += _escalate(alert.pk, ladder, now)
    return made


def _escalate(alert_id: int, ladder: list[EscalationStep], now: datetime) -> list[Notification]:
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("rule")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None:
            return []  # the evaluator holds it: the next tick looks again
        due = due_escalation_steps(
            fired_at=alert.fired_at,
            acknowledged=alert.acknowledged_at is not None,
            firing=alert.state == FIRING,
            steps_after_minutes=[step.after_minutes for step in ladder],
            steps_taken=alert.escalation_step,
            now=now,
        )
        if not due:
            return []
        made = []
        for position in due:
            receiver = ladder[position].receiver
            if not receiver.is_active:
                continue
            notification_id = uuid.uuid4()
            payload = build_payload(
                notification_id, NotificationKind.ESCALATION, receiver.name, {}, [alert], []
            )
            payload["escalation_step"] = position + 1
            made.append(
                queue_notification(
                    notification_id=notification_id,
                    receiver=receiver,
                    kind=NotificationKind.ESCALATION,
                    payload=payload,
                    alerts=[alert],
                )
            )
        alert.escalation_step = due[-1] + 1
        alert.save(update_fields=["escalation_step"])
    return made
