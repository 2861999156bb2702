"""Races on PostgreSQL: flushers and deliverers started together on one group or one
notification make one message, sent once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import DeliveryAttempt, Notification
from alerts.services import (
    deliver_notification,
    flush_due_groups,
    flush_group,
    note_alert_changes,
    save_receiver,
    save_route,
)
from alerts.services.receivers import generate_webhook_secret
from tests.stock.factories import run_at_once

from .notify_support import WebhookReceiver, fire, rule
from .test_notify import WAIT

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = generate_webhook_secret()


@pytest.fixture
def hook():
    with WebhookReceiver(secret=SECRET) as server:
        yield server


def scheduled_group(hook):
    receiver = save_receiver(name="hook", kind="webhook", config={"url": hook.url}, secret=SECRET)
    save_route(name="all", receiver=receiver)
    now = timezone.now()
    (group_id,) = note_alert_changes([a.pk for a in fire(rule(), 1, 2, 3, now=now)], now=now)
    return group_id, now + timedelta(seconds=WAIT)


def test_eight_flushers_of_one_group_make_one_notification(hook):
    group_id, due = scheduled_group(hook)

    attempts = run_at_once([lambda: flush_group(group_id=group_id, now=due)] * 8, workers=4)

    assert [a.error for a in attempts] == [None] * 8
    assert sum(a.result is not None for a in attempts) == 1
    assert Notification.objects.count() == 1
    assert flush_due_groups(now=due) == []


def test_eight_deliverers_of_one_notification_send_it_once(hook):
    group_id, due = scheduled_group(hook)
    notification = flush_group(group_id=group_id, now=due)

    attempts = run_at_once(
        [lambda: deliver_notification(notification_id=notification.pk)] * 8, workers=4
    )

    assert sorted(a.result for a in attempts) == ["idle"] * 7 + ["sent"]
    assert len(hook.requests_to("/hook")) == 1
    assert DeliveryAttempt.objects.filter(notification=notification, ok=True).count() == 1
