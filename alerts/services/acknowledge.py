"""Acknowledging and resolving alerts by hand, and the signed acknowledge link that every
message carries (django.core.signing, with an expiry)."""

from __future__ import annotations

from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts.core import FIRING, PENDING, RESOLVED
from alerts.errors import AlertError, AlertNotActive
from alerts.models import Alert
from alerts.senders.dashboard import hint_alerts_changed
from connectors.sync.setup import public_base_url
from stock.actors import Actor

NOTE_CHANGES_TASK = "alerts.notifications_tasks.note_alert_changes_task"
ACK_SALT = "alerts.acknowledge"


class BadAckLink(AlertError):
    code = "bad_acknowledge_link"


def ack_token(alert: Alert) -> str:
    """Names the alert and the episode (its start): a link from an earlier firing does not
    acknowledge a later one."""
    return signing.TimestampSigner(salt=ACK_SALT).sign(f"{alert.pk}.{_episode(alert)}")


def ack_url(alert: Alert) -> str:
    return f"{public_base_url()}{reverse('alerts:acknowledge', args=[ack_token(alert)])}"


def alert_for_token(token: str) -> Alert:
    """The alert a link names, once its signature and age check out."""
    max_age = timedelta(days=settings.ALERTS_ACK_LINK_DAYS)
    try:
        value = signing.TimestampSigner(salt=ACK_SALT).unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise BadAckLink("This acknowledge link has expired.", {"reason": "expired"}) from None
    except signing.BadSignature:
        raise BadAckLink("This acknowledge link is not valid.", {"reason": "forged"}) from None
    alert_id, _, episode = value.partition(".")
    alert = Alert.objects.filter(pk=int(alert_id)).select_related("rule").first()
    if alert is None or _episode(alert) != episode:
        raise BadAckLink("This link is for an alert that has ended.", {"reason": "ended"})
    return alert


def acknowledge_alert(*, alert: Alert, actor: Actor) -> Alert:
    """Mark a pending or firing alert acknowledged (once; later calls change nothing).
    Escalation stops at its next tick; live pages hear of it after the commit."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state == RESOLVED:
            raise AlertNotActive("A resolved alert cannot be acknowledged.", {"alert": alert.pk})
        if locked.acknowledged_at is None:
            locked.acknowledged_at = timezone.now()
            locked.acknowledged_by = actor.label[:150]
            locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
            transaction.on_commit(hint_alerts_changed)
    return locked


def resolve_alert(*, alert: Alert, actor: Actor) -> Alert:
    """Resolve a pending or firing alert by hand. Its groups send the resolved message at
    their next look; a condition that still holds fires it again at the next evaluation."""
    now = timezone.now()
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state not in (FIRING, PENDING):
            raise AlertNotActive("The alert is already resolved.", {"alert": alert.pk})
        locked.state, locked.resolved_at = RESOLVED, now
        locked.details = {**locked.details, "resolved_by": actor.label}
        locked.save(update_fields=["state", "resolved_at", "details"])
        current_app.tasks[NOTE_CHANGES_TASK].delay_on_commit([locked.pk])
        transaction.on_commit(hint_alerts_changed)
    return locked


def _episode(alert: Alert) -> str:
    return str(int(alert.started_at.timestamp()))
