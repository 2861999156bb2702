"""The notifier: from "these alerts changed" to a notification row, once per group.

`note_alert_changes` routes each changed alert (routes by position, label matchers, the
first match wins unless it says to continue) to its group (route, receiver, group key)
and sets when the group is looked at: after the group wait while nothing was sent yet,
else at the next group-interval tick. `flush_group` looks at a due group under its row
lock (`SKIP LOCKED`: two flushers never take one group), leaves out silenced and
inhibited alerts, asks `alerts.core.decide_send`, and writes the notification and the new
log in one transaction; delivery is queued for after the commit. The log alone decides a
send (docs/adr/0011-alerts-state-and-notification-log.md).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.conditions.stock import EVENT_CONDITIONS
from alerts.core import (
    FIRING,
    INHIBITIONS,
    AlertFacts,
    GroupLog,
    decide_send,
    group_key,
    inhibited,
    matches,
)
from alerts.models import Alert, Notification, NotificationGroup, Route

from .acknowledge import ack_url
from .delivery import queue_notification
from .silences import active_silences, is_silenced

logger = logging.getLogger(__name__)

FLUSH_GROUP_TASK = "alerts.notifications_tasks.flush_group_task"
MAX_PAYLOAD_ALERTS = 1000  # a message lists this many alerts; the count says the rest
# Conditions that inhibit another: a group with none of their targets skips the lookup.
INHIBITED_CONDITIONS = frozenset(target for _, target, _ in INHIBITIONS)


def active_routes() -> list[Route]:
    return list(
        Route.objects.filter(is_active=True, receiver__is_active=True)
        .select_related("receiver")
        .order_by("position", "pk")
    )


def routes_for(labels: dict, routes: Sequence[Route]) -> list[Route]:
    """The routes an alert with these labels goes to: by position, first match wins unless
    the matching route says to continue."""
    chosen = []
    for route in routes:
        if matches(route.matchers, labels):
            chosen.append(route)
            if not route.continue_matching:
                break
    return chosen


def note_alert_changes(alert_ids: Iterable[int], *, now: datetime | None = None) -> list[int]:
    """Schedule the groups of these alerts; returns their ids. One transaction; the groups'
    rows are locked in id order. A flush is queued for each group's new time."""
    now = now or timezone.now()
    routes = active_routes()
    wanted: dict[tuple[int, str], dict[str, object]] = {}
    for alert in Alert.objects.filter(pk__in=list(alert_ids)).only("pk", "labels"):
        for route in routes_for(alert.labels, routes):
            key = group_key(route.pk, route.group_by, alert.labels)
            wanted.setdefault((route.pk, key), _group_labels(route, alert.labels))
    if not wanted:
        return []
    by_id = {route.pk: route for route in routes}
    scheduled = []
    with transaction.atomic():
        NotificationGroup.objects.bulk_create(
            [
                NotificationGroup(
                    route_id=route_id,
                    receiver_id=by_id[route_id].receiver_id,
                    group_key=key,
                    group_labels=labels,
                )
                for (route_id, key), labels in wanted.items()
            ],
            ignore_conflicts=True,
        )
        which = Q()
        for route_id, key in wanted:
            which |= Q(route_id=route_id, receiver_id=by_id[route_id].receiver_id, group_key=key)
        for group in NotificationGroup.objects.select_for_update().filter(which).order_by("pk"):
            due = next_flush(group, by_id[group.route_id], now)
            if group.flush_at is None or due < group.flush_at:
                group.flush_at = due
                group.save(update_fields=["flush_at"])
                transaction.on_commit(partial(_queue_flush, group.pk, due))
            scheduled.append(group.pk)
    return scheduled


def _queue_flush(group_id: int, due: datetime) -> None:
    """A flush at the group's time (beat's sweep is the safety net for a lost one)."""
    try:
        current_app.tasks[FLUSH_GROUP_TASK].apply_async((group_id,), eta=due)
    except Exception:  # the broker is down: beat's sweep flushes the group when it is back
        logger.warning("Could not queue the flush of group %s", group_id, exc_info=True)


def next_flush(group: NotificationGroup, route: Route, now: datetime) -> datetime:
    """After the group wait while nothing was sent; else the next group-interval tick."""
    if group.last_sent_at is None:
        return now + timedelta(seconds=route.group_wait_seconds)
    interval = timedelta(seconds=max(route.group_interval_seconds, 1))
    ticks = max(math.ceil((now - group.last_sent_at) / interval), 1)
    return group.last_sent_at + ticks * interval


def due_group_ids(now: datetime, limit: int = 1000) -> list[int]:
    return list(
        NotificationGroup.objects.filter(flush_at__lte=now)
        .order_by("flush_at")
        .values_list("pk", flat=True)[:limit]
    )


def flush_due_groups(*, now: datetime | None = None) -> list[Notification]:
    """Flush every due group, each in its own transaction; returns the notifications made."""
    now = now or timezone.now()
    made = [flush_group(group_id=group_id, now=now) for group_id in due_group_ids(now)]
    return [notification for notification in made if notification is not None]


def flush_group(*, group_id: int, now: datetime | None = None) -> Notification | None:
    """Look at one due group and send what its log calls for (at most one notification)."""
    now = now or timezone.now()
    with transaction.atomic():
        group = (
            NotificationGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("route", "receiver")
            .filter(pk=group_id, flush_at__lte=now)
            .first()
        )
        if group is None:
            return None
        route, receiver = group.route, group.receiver
        if not (route.is_active and receiver.is_active):
            group.flush_at = None
            group.save(update_fields=["flush_at"])
            return None
        firing, resolved = _members(group, now)
        sendable = _unsuppressed(firing, now)
        events = {
            alert.fingerprint for alert in resolved if alert.rule.condition in EVENT_CONDITIONS
        }
        log = GroupLog(
            frozenset(group.last_firing) - events,  # an event never gets a resolved message
            frozenset(group.last_resolved),
            group.last_sent_at,
            group.repeat_step,
        )
        send, after = decide_send(
            log,
            [alert.fingerprint for alert in sendable],
            [alert.fingerprint for alert in resolved if alert.fingerprint not in events],
            send_resolved=receiver.send_resolved,
            repeat_steps=route.repeat_steps_seconds,
            now=now,
        )
        group.last_firing, group.last_resolved = (
            sorted(after.last_firing),
            sorted(after.last_resolved),
        )
        group.last_sent_at, group.repeat_step = after.last_sent_at, after.repeat_step
        # Firing alerts (even held back) keep the group ticking: repeats, a silence's end.
        interval = timedelta(seconds=max(route.group_interval_seconds, 1))
        group.flush_at = now + interval if firing else None
        group.save(
            update_fields=[
                "last_firing",
                "last_resolved",
                "last_sent_at",
                "repeat_step",
                "flush_at",
            ]
        )
        if send is None:
            return None
        alerts = [a for a in sendable if a.fingerprint in send.firing]
        gone = [a for a in resolved if a.fingerprint in send.resolved]
        notification_id = uuid.uuid4()
        payload = build_payload(
            notification_id, send.kind, receiver.name, group.group_labels, alerts, gone
        )
        return queue_notification(
            notification_id=notification_id,
            receiver=receiver,
            kind=send.kind,
            payload=payload,
            alerts=[*alerts, *gone],
            group=group,
        )


def _members(group: NotificationGroup, now: datetime) -> tuple[list[Alert], list[Alert]]:
    """The group's firing alerts (routed here now), and those its last message carried as
    firing that no longer fire."""
    routes = active_routes()
    route = next((r for r in routes if r.pk == group.route_id), group.route)
    candidates = Alert.objects.filter(Q(state=FIRING) | Q(fingerprint__in=group.last_firing))
    if route.matchers and connection.vendor == "postgresql":  # JSON containment narrows the rows
        candidates = candidates.filter(
            Q(labels__contains=route.matchers) | Q(fingerprint__in=group.last_firing)
        )
    firing, resolved = [], []
    carried = set(group.last_firing)
    for alert in candidates.select_related("rule").order_by("pk"):
        if alert.state == FIRING:
            if (
                route in routes_for(alert.labels, routes)
                and group_key(route.pk, route.group_by, alert.labels) == group.group_key
            ):
                firing.append(alert)
        elif alert.fingerprint in carried:
            resolved.append(alert)
    return firing, resolved


def suppressed(alerts: Sequence[Alert], now: datetime) -> set[str]:
    """Fingerprints of these firing alerts that a silence or a firing cause holds back."""
    silences = active_silences(now)
    held = {alert.fingerprint for alert in alerts if is_silenced(alert.labels, silences)}
    targets = {alert.rule.condition for alert in alerts} & INHIBITED_CONDITIONS
    if targets:
        sources = {source for source, target, _ in INHIBITIONS if target in targets}
        rows = Alert.objects.filter(state=FIRING, rule__condition__in=sources).values_list(
            "fingerprint",
            "rule__condition",
            "variant_id",
            "warehouse_id",
            "channel_id",
            "connector_id",
        )
        causes = [AlertFacts(*row) for row in rows]
        held |= {alert.fingerprint for alert in alerts if inhibited(facts(alert), causes)}
    return held


def _unsuppressed(alerts: Sequence[Alert], now: datetime) -> list[Alert]:
    held = suppressed(alerts, now)
    return [alert for alert in alerts if alert.fingerprint not in held]


def facts(alert: Alert) -> AlertFacts:
    return AlertFacts(
        alert.fingerprint,
        alert.rule.condition,
        alert.variant_id,
        alert.warehouse_id,
        alert.channel_id,
        alert.connector_id,
    )


def _group_labels(route: Route, labels: dict) -> dict[str, object]:
    return {name: labels.get(name, "") for name in sorted(route.group_by)}


def build_payload(
    notification_id: uuid.UUID,
    kind: str,
    receiver_name: str,
    group_labels: dict,
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
) -> dict:
    """What every sender renders: the title, each alert (summary, labels, value, details, an
    acknowledge link), and the id that makes the message idempotent."""
    return {
        "id": str(notification_id),
        "kind": kind,
        "receiver": receiver_name,
        "group": group_labels,
        "title": title(kind, firing, resolved),
        "firing_count": len(firing),
        "resolved_count": len(resolved),
        "alerts": [alert_entry(alert, link=True) for alert in firing[:MAX_PAYLOAD_ALERTS]],
        "resolved": [alert_entry(alert, link=False) for alert in resolved[:MAX_PAYLOAD_ALERTS]],
    }


def title(kind: str, firing: Sequence[Alert], resolved: Sequence[Alert]) -> str:
    if firing:
        head = f"[{kind.upper()}:{len(firing)}] "
        return head + (firing[0].summary if len(firing) == 1 else f"{len(firing)} alerts firing")
    if len(resolved) == 1:
        return f"[RESOLVED] {resolved[0].summary}"
    return f"[RESOLVED:{len(resolved)}] {len(resolved)} alerts resolved"


def alert_entry(alert: Alert, *, link: bool) -> dict:
    return {
        "fingerprint": alert.fingerprint,
        "alert_id": alert.pk,
        "state": alert.state,
        "condition": alert.rule.condition,
        "severity": alert.rule.severity,
        "summary": alert.summary,
        "labels": alert.labels,
        "value": alert.value,
        "details": alert.details,
        "started_at": alert.started_at.isoformat(),
        "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledge_url": ack_url(alert) if link else None,
    }
