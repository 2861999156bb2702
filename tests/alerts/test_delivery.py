"""Delivery: each notification its own task, every attempt logged, retries with backoff,
sent once. Receivers are real local servers: a webhook receiver that verifies signatures
with `standardwebhooks`, an HTTP server standing in for Slack, and an SMTP server."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from alerts.errors import InvalidReceiver
from alerts.models import Alert, DeliveryAttempt, Notification, NotificationStatus
from alerts.senders.sms import FakeBackend
from alerts.services import (
    deliver_notification,
    flush_due_groups,
    note_alert_changes,
    save_receiver,
    save_route,
    send_test_message,
)
from alerts.services.acknowledge import ack_token
from alerts.services.delivery import due_notification_ids
from alerts.services.receivers import generate_webhook_secret
from tests.fakes.server import Fault
from tests.killed_worker import kill_worker_mid_request
from tests.stock.factories import SYSTEM

from .notify_support import FakeSlack, WebhookReceiver, fire, rule
from .test_notify import WAIT, smtp  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db
SECRET = generate_webhook_secret()


@pytest.fixture
def hook():
    with WebhookReceiver(secret=SECRET) as server:
        yield server


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def quick_retries(settings):
    settings.ALERTS_DELIVERY_BACKOFF_SECONDS = 0.3
    settings.ALERTS_DELIVERY_MAX_ATTEMPTS = 3


def webhook_receiver(hook, name="hook"):
    return save_receiver(name=name, kind="webhook", config={"url": hook.url}, secret=SECRET)


def notify(*receivers):
    """One firing alert, routed to each receiver; the notifications its flush made."""
    for receiver in receivers:
        save_route(name=f"to {receiver.name}", receiver=receiver, continue_matching=True)
    now = timezone.now()
    note_alert_changes([a.pk for a in fire(rule(), 1, now=now)], now=now)
    return flush_due_groups(now=now + timedelta(seconds=WAIT))


def test_a_signed_webhook_arrives_once_verified_with_its_id(hook):
    (notification,) = notify(webhook_receiver(hook))

    outcomes = [deliver_notification(notification_id=notification.pk) for _ in range(2)]

    assert outcomes == ["sent", "idle"]
    assert hook.rejected == 0
    assert hook.applied_ids == [str(notification.pk)]
    assert hook.applied[0]["alerts"][0]["summary"] == "SKU-1 at NORTH: 0 available"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 1)
    attempt = DeliveryAttempt.objects.get(notification=notification)
    assert attempt.ok and attempt.response.startswith("200")


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(hook, quick_retries):
    receiver = save_receiver(
        name="hook", kind="webhook", config={"url": hook.url}, secret=generate_webhook_secret()
    )
    (notification,) = notify(receiver)

    outcome = deliver_notification(notification_id=notification.pk)

    assert (outcome, hook.rejected, hook.applied) == ("retry", 1, [])


def test_a_failing_receiver_retries_with_backoff_while_another_gets_it_at_once(
    hook, slack, quick_retries
):
    hook.inject(Fault(status=500, times=1))
    failing, working = notify(
        webhook_receiver(hook), save_receiver(name="chat", kind="slack", secret=slack.webhook_url)
    )

    first = deliver_notification(notification_id=failing.pk)
    other = deliver_notification(notification_id=working.pk)
    too_soon = deliver_notification(notification_id=failing.pk)
    failing.refresh_from_db()
    waited = (failing.next_attempt_at - timezone.now()).total_seconds()
    time.sleep(max(waited, 0) + 0.05)
    retried = deliver_notification(notification_id=failing.pk)

    assert (first, other, too_soon, retried) == ("retry", "sent", "idle", "sent")
    assert 0 < waited <= 0.3 * 1.1
    assert len(slack.texts()) == 1 and str(working.pk) in slack.texts()[0]
    assert hook.applied_ids == [str(failing.pk)]
    log = DeliveryAttempt.objects.filter(notification=failing).values_list("ok", "error")
    assert [(ok, error) for ok, error in log] == [(False, "The webhook answered 500."), (True, "")]


def test_attempts_run_out_into_a_dead_notification(hook, quick_retries, settings):
    settings.ALERTS_DELIVERY_BACKOFF_SECONDS = 0
    hook.inject(Fault(status=503, times=10))
    (notification,) = notify(webhook_receiver(hook))

    outcomes = [deliver_notification(notification_id=notification.pk) for _ in range(4)]

    assert outcomes == ["retry", "retry", "dead", "idle"]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.DEAD, 3)
    assert (
        DeliveryAttempt.objects.filter(notification=notification)
        .last()
        .error.startswith("Gave up after 3 attempts")
    )


def test_the_sweep_queues_a_pending_notification_again_only_once_its_task_seems_lost(
    hook, settings
):
    settings.ALERTS_DELIVERY_REQUEUE_PENDING_SECONDS = 30
    (notification,) = notify(webhook_receiver(hook))
    queued_at = notification.next_attempt_at

    just_queued = due_notification_ids(now=queued_at + timedelta(seconds=29))
    lost = due_notification_ids(now=queued_at + timedelta(seconds=31))

    assert (just_queued, lost) == ([], [str(notification.pk)])


def test_a_refusal_for_good_is_dead_at_once(hook):
    hook.inject(Fault(status=410, times=1))
    (notification,) = notify(webhook_receiver(hook))

    assert deliver_notification(notification_id=notification.pk) == "dead"


WORKER = """
import sys
import django
django.setup()
from django.conf import settings
settings.ALERTS_DELIVERY_LEASE_SECONDS = float(sys.argv[2])
from alerts.services import deliver_notification
print(deliver_notification(notification_id=sys.argv[1]), flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_sends_nothing_twice(hook, settings):
    """A real worker process is SIGKILLed while the receiver holds its request open; the
    receiver applies that request, and drops the sweep's retry by its webhook-id."""
    (notification,) = notify(webhook_receiver(hook))
    hook.inject(Fault(status=0, times=1, hang_seconds=3))
    lease = 3.0
    killed_at = kill_worker_mid_request(
        WORKER,
        [str(notification.pk), str(lease)],
        reached=lambda: hook.requests_to("/hook"),
        what="the receiver",
    )

    held = Notification.objects.get(pk=notification.pk)
    during_lease = deliver_notification(notification_id=notification.pk)
    while time.monotonic() - killed_at < lease + 0.2:
        time.sleep(0.1)
    swept = due_notification_ids()
    after_lease = deliver_notification(notification_id=notification.pk)
    once_more = deliver_notification(notification_id=notification.pk)

    assert (held.status, held.attempts) == (NotificationStatus.SENDING, 1)
    assert (during_lease, swept, after_lease, once_more) == (
        "idle",
        [str(notification.pk)],
        "sent",
        "idle",
    )
    ids = [request.headers["webhook-id"] for request in hook.requests_to("/hook")]
    assert ids == [str(notification.pk)] * 2
    assert hook.applied_ids == [str(notification.pk)]


def test_email_goes_to_addresses_users_and_group_members_with_the_id(smtp):  # noqa: F811
    users = get_user_model().objects
    users.create_user(username="ann", email="ann@example.com")
    bob = users.create_user(username="bob", email="bob@example.com")
    bob.groups.add(Group.objects.create(name="night shift"))
    receiver = save_receiver(
        name="mail",
        kind="email",
        config={"addresses": ["ops@example.com"], "users": ["ann"], "groups": ["night shift"]},
    )
    (notification,) = notify(receiver)

    assert deliver_notification(notification_id=notification.pk) == "sent"

    assert sorted(smtp.recipients[0]) == ["ann@example.com", "bob@example.com", "ops@example.com"]
    message = smtp.messages[0]
    assert message["Message-ID"] == f"<{notification.pk}@localhost>"
    assert "/alerts/ack/" in message.get_content()


def test_sms_and_voice_go_through_the_backend():
    FakeBackend.clear()
    numbers = {"numbers": ["+4915112345678", "+14155550100"]}
    sms = save_receiver(name="sms", kind="sms", config=numbers)
    voice = save_receiver(name="voice", kind="voice", config=numbers)

    for notification in notify(sms, voice):
        assert deliver_notification(notification_id=notification.pk) == "sent"

    assert [(m.kind, m.to) for m in FakeBackend.sent] == [
        ("sms", "+4915112345678"),
        ("sms", "+14155550100"),
        ("call", "+4915112345678"),
        ("call", "+14155550100"),
    ]
    assert "SKU-1 at NORTH" in FakeBackend.sent[0].text
    FakeBackend.clear()


def test_a_test_message_goes_through_the_same_path(slack):
    receiver = save_receiver(name="chat", kind="slack", secret=slack.webhook_url)

    notification = send_test_message(receiver=receiver, actor=SYSTEM)

    assert deliver_notification(notification_id=notification.pk) == "sent"
    assert slack.texts()[0].startswith("[TEST] A test message from Inventory Hub")


@pytest.mark.parametrize(
    ("kind", "config", "secret", "field"),
    [
        ("email", {"addresses": ["not an address"]}, None, "addresses"),
        ("email", {"users": ["nobody"]}, None, "users"),
        ("sms", {"numbers": ["0151 123"]}, None, "numbers"),
        ("webhook", {"url": "ftp://x"}, None, "url"),
        ("webhook", {"url": "https://x.example"}, "plain", "secret"),
        ("slack", {}, "not a url", "secret"),
        ("dashboard", {"url": "https://x"}, None, "config"),
    ],
)
def test_a_receiver_with_bad_settings_is_refused(kind, config, secret, field):
    with pytest.raises(InvalidReceiver) as refused:
        save_receiver(name="bad", kind=kind, config=config, secret=secret)

    assert refused.value.details["field"] == field


def test_a_webhook_secret_is_generated_and_kept_encrypted():
    receiver = save_receiver(name="hook", kind="webhook", config={"url": "https://x.example"})

    kept = save_receiver(
        name="hook 2", kind="webhook", config={"url": "https://y"}, receiver=receiver
    )

    assert receiver.secret.startswith("whsec_") and kept.secret == receiver.secret
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM alerts_receiver WHERE id = %s", [receiver.pk])
        assert "whsec_" not in cursor.fetchone()[0]


def test_the_signed_link_acknowledges_after_a_confirmation(client):
    alert = fire(rule(), 1)[0]
    url = f"/alerts/ack/{ack_token(alert)}"

    shown = client.get(url)
    done = client.post(url)

    assert shown.status_code == 200 and b"acknowledge-button" in shown.content
    assert done.status_code == 200 and b"Escalation has stopped" in done.content
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at is not None) == ("acknowledge link", True)


def test_a_forged_or_tampered_link_is_refused(client):
    alert = fire(rule(), 1)[0]
    token = ack_token(alert)
    other = fire(rule(name="other"), 2)[0]

    forged = client.post(f"/alerts/ack/{other.pk}.{token.split('.', 1)[1]}")
    garbage = client.get("/alerts/ack/nonsense")

    assert (forged.status_code, garbage.status_code) == (400, 400)
    assert b"not valid" in garbage.content
    assert not Alert.objects.filter(acknowledged_at__isnull=False).exists()


def test_the_link_needs_a_csrf_token_to_acknowledge():
    from django.test import Client

    alert = fire(rule(), 1)[0]

    refused = Client(enforce_csrf_checks=True).post(f"/alerts/ack/{ack_token(alert)}")

    assert refused.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
