"""The evaluator: findings in, alert state out. The one writer of `Alert` state.

Each finding moves the alert of its (rule, subject) one step (`alerts.core.step`): with
hysteresis and a pending duration for conditions that hold over time, and as a one-shot
for events (back in stock), which arm while the subject is out and fire on its return.
An alert row exists only for a subject whose condition held at some point; a subject that
never crossed anything costs no row.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from alerts.conditions import Finding, subject_key
from alerts.conditions.stock import EVENT_CONDITIONS
from alerts.core import FIRING, PENDING, RESOLVED, step
from alerts.models import Alert
from inventory_hub.db import is_postgresql

# A back-in-stock event stays firing this long (so its group is notified), then resolves.
EVENT_FIRING_FOR = timedelta(hours=1)


def fingerprint(rule_id: int, subject: Mapping[str, object]) -> str:
    return hashlib.sha256(f"{rule_id}|{subject_key(subject)}".encode()).hexdigest()


@dataclass(slots=True)
class Evaluated:
    """What one evaluation changed: the alerts that fired and those that resolved."""

    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    created: int = 0
    updated: int = 0

    @property
    def changed(self) -> list[int]:
        return self.fired + self.resolved


@dataclass(slots=True)
class NewAlert:
    """An alert to insert: its first step's columns (the rest take their defaults)."""

    fingerprint: str
    rule_id: int
    subject: dict[str, object]
    variant_id: int | None
    warehouse_id: int | None
    channel_id: int | None
    connector_id: int | None
    labels: dict[str, object]
    state: str
    summary: str
    value: int | None
    details: dict[str, object]


def apply_findings(findings: Sequence[Finding], *, now: datetime | None = None) -> Evaluated:
    """Move every finding's alert one step, in one transaction. Alerts are locked in
    fingerprint order, so two evaluators of overlapping subjects never deadlock and the
    later one sees the earlier one's state."""
    now = now or timezone.now()
    result = Evaluated()
    by_fingerprint = {fingerprint(f.rule.pk, f.subject): f for f in findings}
    if not by_fingerprint:
        return result
    with transaction.atomic():
        existing = {
            alert.fingerprint: alert
            for alert in Alert.objects.select_for_update()
            .filter(fingerprint__in=sorted(by_fingerprint))
            .order_by("fingerprint")
        }
        new: list[NewAlert] = []
        for key in sorted(by_fingerprint):
            finding = by_fingerprint[key]
            alert = existing.get(key)
            if finding.rule.condition in EVENT_CONDITIONS:
                changed = _event(alert, key, finding, now, new, result)
            else:
                changed = _holding(alert, key, finding, now, new, result)
            if changed is not None:
                _refresh(changed, finding, now)
                changed.save()
                result.updated += 1
        if new:
            inserted = _insert_new(new, now)
            result.created = len(inserted)
            result.fired.extend(pk for pk, state in inserted if state == FIRING)
    return result


# The new alerts of one evaluation in one statement: each column travels as one array
# (JSON as text) in PostgreSQL's binary format, bound by the server, where Django's
# multi-row INSERT quotes every value into the SQL text in Python (the first sweep over
# 500,000 levels creates tens of thousands of alerts). A fingerprint another evaluator
# inserted meanwhile is left as that one wrote it (its finding is seen again on the next
# evaluation); only the rows inserted here come back.
_INSERT_NEW = """
    INSERT INTO {table} (fingerprint, rule_id, subject, variant_id, warehouse_id, channel_id,
        connector_id, labels, state, summary, value, details, started_at, fired_at,
        last_evaluated_at, acknowledged_by, escalation_step)
    SELECT n.fingerprint, n.rule_id, n.subject::jsonb, n.variant_id, n.warehouse_id,
        n.channel_id, n.connector_id, n.labels::jsonb, n.state, n.summary, n.value,
        n.details::jsonb, %(now)s, CASE WHEN n.state = %(firing)s THEN %(now)s::timestamptz END,
        %(now)s, '', 0
    FROM unnest(%(fingerprint)b::text[], %(rule_id)b::bigint[], %(subject)b::text[],
        %(variant_id)b::bigint[], %(warehouse_id)b::bigint[], %(channel_id)b::bigint[],
        %(connector_id)b::bigint[], %(labels)b::text[], %(state)b::text[],
        %(summary)b::text[], %(value)b::int[], %(details)b::text[])
        AS n(fingerprint, rule_id, subject, variant_id, warehouse_id, channel_id,
             connector_id, labels, state, summary, value, details)
    ON CONFLICT (fingerprint) DO NOTHING
    RETURNING id, state
"""


def _insert_new(new: Sequence[NewAlert], now: datetime) -> list[tuple[int, str]]:
    """Insert these alerts, started (and fired, when firing) and evaluated `now`; the
    (id, state) of those inserted, a fingerprint that exists already being skipped."""

    if not is_postgresql():
        return _insert_portably(new, now)

    def as_json(name: str, values: list[object]) -> list[str]:
        encoder = Alert._meta.get_field(name).encoder  # type: ignore[union-attr]
        return [json.dumps(value, cls=encoder) for value in values]

    columns: dict[str, object] = {
        "now": now,
        "firing": FIRING,
        "fingerprint": [alert.fingerprint for alert in new],
        "rule_id": [alert.rule_id for alert in new],
        "subject": as_json("subject", [alert.subject for alert in new]),
        "variant_id": [alert.variant_id for alert in new],
        "warehouse_id": [alert.warehouse_id for alert in new],
        "channel_id": [alert.channel_id for alert in new],
        "connector_id": [alert.connector_id for alert in new],
        "labels": as_json("labels", [alert.labels for alert in new]),
        "state": [alert.state for alert in new],
        "summary": [alert.summary for alert in new],
        "value": [alert.value for alert in new],
        "details": as_json("details", [alert.details for alert in new]),
    }
    connection.ensure_connection()
    # A server-binding cursor on Django's connection (same transaction): Django's own
    # cursors bind on the client, which has no binary format. Wrapped as Django wraps its
    # own (as inventory_hub.db.hot_cursor does), so query logging and wrappers see it.
    wrap = connection._prepare_cursor  # type: ignore[attr-defined]  # not in django-stubs
    with wrap(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(_INSERT_NEW.format(table=Alert._meta.db_table), columns)
        return [(pk, state) for pk, state in cursor.fetchall()]


def _insert_portably(new: Sequence[NewAlert], now: datetime) -> list[tuple[int, str]]:
    """The same insert through the ORM, for SQLite (the embedded default): one multi-row
    INSERT skipping taken fingerprints, then the inserted rows read back by fingerprint
    and start time (another evaluator's row has its own start)."""
    Alert.objects.bulk_create(
        [
            Alert(
                **{name: getattr(alert, name) for name in NewAlert.__dataclass_fields__},
                started_at=now,
                fired_at=now if alert.state == FIRING else None,
                last_evaluated_at=now,
            )
            for alert in new
        ],
        ignore_conflicts=True,
    )
    inserted = Alert.objects.filter(
        fingerprint__in=[alert.fingerprint for alert in new], started_at=now
    )
    return list(inserted.values_list("pk", "state"))


def _holding(
    alert: Alert | None,
    key: str,
    finding: Finding,
    now: datetime,
    new: list[NewAlert],
    result: Evaluated,
) -> Alert | None:
    """A condition that holds over time: pending, firing, resolved."""
    state = alert.state if alert else None
    started = alert.started_at if alert and alert.state != RESOLVED else None
    moved = step(
        state, started, finding.seen, pending_seconds=finding.rule.pending_seconds, now=now
    )
    if alert is None:
        if moved.state is None:
            return None
        new.append(_new_alert(key, finding, moved.state))
        return None
    if moved.state == PENDING and alert.state == RESOLVED:
        _restart(alert, PENDING, now)
    elif moved.fired:
        if alert.state == RESOLVED:
            _restart(alert, FIRING, now)
        alert.state, alert.fired_at = FIRING, now
        result.fired.append(alert.pk)
    elif moved.resolved or moved.withdrawn:
        alert.state, alert.resolved_at = RESOLVED, now
        if moved.resolved:
            result.resolved.append(alert.pk)
    return alert


def _event(
    alert: Alert | None,
    key: str,
    finding: Finding,
    now: datetime,
    new: list[NewAlert],
    result: Evaluated,
) -> Alert | None:
    """Back in stock: armed (a resolved row marked `armed`) while the subject is out, fired
    when it comes back beyond the band, resolved after EVENT_FIRING_FOR or when out again."""
    out, back = finding.seen.holds, finding.seen.cleared
    if alert is None:
        if out:
            waiting = _new_alert(key, finding, RESOLVED)
            waiting.details = {**waiting.details, "armed": True}
            new.append(waiting)
        return None
    armed = bool(alert.details.get("armed"))
    if out:
        if alert.state == FIRING:
            alert.state, alert.resolved_at = RESOLVED, now
            result.resolved.append(alert.pk)
        alert.details = {**finding.details, "armed": True}
        return alert
    if back and armed and alert.state == RESOLVED:
        _restart(alert, FIRING, now)
        alert.fired_at = now
        alert.details = {**finding.details, "armed": False}
        result.fired.append(alert.pk)
        return alert
    if alert.state == FIRING and alert.fired_at and now - alert.fired_at >= EVENT_FIRING_FOR:
        alert.state, alert.resolved_at = RESOLVED, now
        result.resolved.append(alert.pk)
    alert.details = {**finding.details, "armed": armed}
    return alert


def _labels(finding: Finding) -> dict[str, object]:
    rule = finding.rule
    return {
        **rule.labels,
        **finding.labels,
        "condition": rule.condition,
        "severity": rule.severity,
        "rule": rule.name,
    }


def _new_alert(key: str, finding: Finding, state: str) -> NewAlert:
    return NewAlert(
        fingerprint=key,
        rule_id=finding.rule.pk,
        subject=dict(finding.subject),
        variant_id=finding.variant_id,
        warehouse_id=finding.warehouse_id,
        channel_id=finding.channel_id,
        connector_id=finding.connector_id,
        labels=_labels(finding),
        state=state,
        summary=finding.summary[:300],
        value=finding.value,
        details=dict(finding.details),
    )


def _restart(alert: Alert, state: str, now: datetime) -> None:
    """A resolved alert comes back: a new episode, unacknowledged, from the first step."""
    alert.state = state
    alert.started_at = now
    alert.fired_at = None
    alert.resolved_at = None
    alert.acknowledged_at = None
    alert.acknowledged_by = ""
    alert.escalation_step = 0


def _refresh(alert: Alert, finding: Finding, now: datetime) -> None:
    alert.value = finding.value
    alert.summary = finding.summary[:300]
    alert.labels = _labels(finding)
    alert.last_evaluated_at = now
    if finding.rule.condition not in EVENT_CONDITIONS:
        alert.details = dict(finding.details)
