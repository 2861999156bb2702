"""The notifier: routing and grouping, the log's decisions (flapping, repeats with backoff),
silences and inhibition, and escalation until an acknowledgement. Messages go to real local
servers: an SMTP server (aiosmtpd) and an HTTP server standing in for Slack."""

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone

from alerts.conditions import Finding
from alerts.core import observe_below
from alerts.errors import InvalidSilence
from alerts.models import Alert, Notification, NotificationGroup, NotificationKind
from alerts.senders.sms import FakeBackend
from alerts.services import (
    acknowledge_alert,
    apply_findings,
    create_silence,
    deliver_notification,
    escalate_due,
    expire_silence,
    flush_due_groups,
    note_alert_changes,
    save_escalation_step,
    save_receiver,
    save_route,
)
from connectors.models import Connector
from tests.stock.factories import SYSTEM

from .notify_support import FakeSlack, SmtpInbox, fire, rule

pytestmark = pytest.mark.django_db

WAIT, INTERVAL = 30, 300


@pytest.fixture
def smtp(settings):
    with SmtpInbox() as inbox:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", inbox.port
        settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER = False, ""
        yield inbox


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def ops_mail():
    return save_receiver(name="ops mail", kind="email", config={"addresses": ["ops@example.com"]})


def route_to(receiver, name=None, **values):
    values.setdefault("group_wait_seconds", WAIT)
    values.setdefault("group_interval_seconds", INTERVAL)
    values.setdefault("continue_matching", True)
    return save_route(name=name or f"to {receiver.name}", receiver=receiver, **values)


def deliver_all(notifications):
    return [deliver_notification(notification_id=n.pk) for n in notifications]


def test_300_alerts_at_once_are_one_message_per_receiver_within_the_group_wait(
    smtp, slack, ops_mail
):
    chat = save_receiver(name="chat", kind="slack", secret=slack.webhook_url)
    route_to(ops_mail, group_wait_seconds=1, group_by=["warehouse"])
    route_to(chat, group_wait_seconds=1, group_by=["warehouse"])
    fired = fire(rule(), *range(300))
    # A running worker has its URLconf and its Celery app loaded already.
    reverse("alerts:acknowledge", args=["warm"])
    assert current_app.tasks["alerts.notifications_tasks.flush_group_task"]
    started = time.monotonic()

    note_alert_changes([alert.pk for alert in fired])
    sent = []
    while not sent and time.monotonic() - started < 5:
        sent = flush_due_groups()
        time.sleep(0.05)
    outcomes = deliver_all(sent)
    elapsed = time.monotonic() - started

    assert len(fired) == 300
    assert outcomes == ["sent", "sent"]
    assert elapsed < 1 + 1
    assert len(smtp.messages) == 1 and len(slack.texts()) == 1
    assert smtp.messages[0]["Subject"] == "[FIRING:300] 300 alerts firing"
    assert "… and 250 more" in smtp.messages[0].get_content()
    assert str(sent[1].pk) in slack.texts()[0]
    assert {len(n.payload["alerts"]) for n in sent} == {300}
    assert flush_due_groups(now=timezone.now() + timedelta(seconds=INTERVAL)) == []


def test_a_group_waits_then_flushes_once(ops_mail):
    route_to(ops_mail)
    now = timezone.now()
    fired = fire(rule(), 1, 2, now=now)

    note_alert_changes([a.pk for a in fired], now=now)
    early = flush_due_groups(now=now + timedelta(seconds=WAIT - 1))
    due = flush_due_groups(now=now + timedelta(seconds=WAIT))
    again = flush_due_groups(now=now + timedelta(seconds=WAIT + INTERVAL))

    assert (early, again) == ([], [])
    assert [(n.kind, n.payload["firing_count"]) for n in due] == [("firing", 2)]
    assert set(due[0].alerts.values_list("pk", flat=True)) == {a.pk for a in fired}


def test_first_matching_route_wins_unless_it_continues(ops_mail):
    other = save_receiver(name="north team", kind="dashboard")
    save_route(name="critical first", receiver=ops_mail, matchers={"severity": "critical"})
    save_route(name="all", receiver=other, position=1)
    now = timezone.now()
    critical = fire(rule(severity="critical"), 1, now=now)
    warning = fire(rule(severity="warning"), 2, now=now)

    note_alert_changes([a.pk for a in critical + warning], now=now)
    sent = flush_due_groups(now=now + timedelta(seconds=WAIT))

    by_receiver = {n.receiver.name: [a["summary"] for a in n.payload["alerts"]] for n in sent}
    assert by_receiver == {
        "ops mail": [critical[0].summary],
        "north team": [warning[0].summary],
    }


def test_flapping_inside_the_band_is_one_firing_and_one_resolved_message(ops_mail):
    route_to(ops_mail)
    low = rule(threshold=5, hysteresis=3)
    start = timezone.now()
    kinds = []

    for step, value in enumerate((20, 4, 6, 3, 7, 4, 6, 8, 20)):
        now = start + timedelta(minutes=10 * step)
        seen = Finding(
            rule=low,
            subject={"kind": "level", "variant": 1, "warehouse": 1},
            seen=observe_below(value, 5, 3),
            value=value,
            summary=f"MUG at NORTH: {value} available",
            labels={"sku": "MUG", "warehouse": "NORTH"},
        )
        changed = apply_findings([seen], now=now).changed
        note_alert_changes(changed, now=now)
        kinds += [n.kind for n in flush_due_groups(now=now + timedelta(seconds=WAIT))]

    assert kinds == ["firing", "resolved"]
    assert Alert.objects.get().state == "resolved"


def test_a_long_lived_alert_repeats_only_on_the_backoff_steps(ops_mail):
    route_to(ops_mail, group_interval_seconds=3600, repeat_steps_seconds=[4 * 3600, 86400])
    start = timezone.now()
    note_alert_changes([a.pk for a in fire(rule(), 1, now=start)], now=start)

    sent = []
    for hour in range(0, 24 * 4):
        now = start + timedelta(seconds=WAIT, hours=hour)
        sent += [(n.kind, hour) for n in flush_due_groups(now=now)]

    assert sent == [("firing", 0), ("repeat", 4), ("repeat", 28), ("repeat", 52), ("repeat", 76)]


def test_a_silence_holds_messages_back_until_it_ends(ops_mail):
    route_to(ops_mail)
    start = timezone.now()
    silence = create_silence(
        matchers={"warehouse": "NORTH"},
        author=SYSTEM,
        reason="stocktake",
        ends_at=start + timedelta(minutes=20),
    )
    fired = fire(rule(), 1, now=start)

    note_alert_changes([a.pk for a in fired], now=start)
    during = [flush_due_groups(now=start + timedelta(seconds=WAIT + s)) for s in (0, INTERVAL)]
    after = flush_due_groups(now=start + timedelta(minutes=25))

    assert during == [[], []]
    assert silence.author == SYSTEM.label
    assert [(n.kind, n.payload["firing_count"]) for n in after] == [("firing", 1)]


def test_a_silence_needs_a_reason_and_a_future_end():
    with pytest.raises(InvalidSilence) as no_reason:
        create_silence(matchers={"sku": "A"}, author=SYSTEM, reason=" ", ends_at=timezone.now())
    with pytest.raises(InvalidSilence) as past:
        create_silence(matchers={"sku": "A"}, author=SYSTEM, reason="x", ends_at=timezone.now())

    assert no_reason.value.details == {"field": "reason"}
    assert past.value.details == {"field": "ends_at"}


def test_a_failing_connector_gives_no_stale_data_or_drift_messages(ops_mail):
    route_to(ops_mail, group_by=["condition"])
    shop = Connector.objects.create(name="shop", kind="partner", base_url="https://shop.example")
    other = Connector.objects.create(name="other", kind="partner", base_url="https://o.example")
    now = timezone.now()
    fired = fire(rule("connector_failing"), 1, now=now, connector_id=shop.pk)
    for condition in ("stale_data", "drift"):
        fired += fire(rule(condition), 1, now=now, connector_id=shop.pk)
    fired += fire(rule("stale_data", name="other stale"), 2, now=now, connector_id=other.pk)

    note_alert_changes([a.pk for a in fired], now=now)
    sent = flush_due_groups(now=now + timedelta(seconds=WAIT))
    later = flush_due_groups(now=now + timedelta(seconds=WAIT + INTERVAL))

    carried = sorted(
        (a["condition"], a["labels"].get("sku")) for n in sent for a in n.payload["alerts"]
    )
    assert carried == [("connector_failing", "SKU-1"), ("stale_data", "SKU-2")]
    assert later == []
    assert NotificationGroup.objects.count() == 3


@pytest.fixture
def ladder(ops_mail):
    FakeBackend.clear()
    sms = save_receiver(name="on call sms", kind="sms", config={"numbers": ["+4915112345678"]})
    call = save_receiver(name="on call phone", kind="voice", config={"numbers": ["+4915112345678"]})
    save_escalation_step(severity="critical", position=1, after_minutes=0, receiver=ops_mail)
    save_escalation_step(severity="critical", position=2, after_minutes=10, receiver=sms)
    save_escalation_step(severity="critical", position=3, after_minutes=20, receiver=call)
    yield
    FakeBackend.clear()


def test_escalation_goes_email_then_sms_then_call(smtp, ladder):
    start = timezone.now()
    fire(rule(severity="critical"), 1, now=start)

    steps = [escalate_due(now=start + timedelta(minutes=m)) for m in (0, 0, 10, 19, 20, 60)]
    outcomes = deliver_all([n for made in steps for n in made])

    assert [[n.receiver.name for n in made] for made in steps] == [
        ["ops mail"],
        [],
        ["on call sms"],
        [],
        ["on call phone"],
        [],
    ]
    assert outcomes == ["sent", "sent", "sent"]
    assert len(smtp.messages) == 1
    assert [(m.kind, m.to) for m in FakeBackend.sent] == [
        ("sms", "+4915112345678"),
        ("call", "+4915112345678"),
    ]
    assert Alert.objects.get().escalation_step == 3


def test_acknowledging_stops_escalation_at_the_next_tick(smtp, ladder):
    start = timezone.now()
    alert = fire(rule(severity="critical"), 1, now=start)[0]
    first = escalate_due(now=start)

    acknowledge_alert(alert=alert, actor=SYSTEM)
    later = [escalate_due(now=start + timedelta(minutes=m)) for m in (10, 20, 120)]

    assert [n.kind for n in first] == [NotificationKind.ESCALATION]
    assert later == [[], [], []]
    assert Notification.objects.filter(kind=NotificationKind.ESCALATION).count() == 1
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.escalation_step) == (SYSTEM.label, 1)


def test_expiring_a_silence_early_lets_its_alerts_out_at_the_next_tick(
    ops_mail, django_capture_on_commit_callbacks
):
    route_to(ops_mail)
    start = timezone.now()
    silence = create_silence(
        matchers={"sku": "SKU-1"},
        author=SYSTEM,
        reason="recount",
        ends_at=start + timedelta(days=1),
    )
    note_alert_changes([a.pk for a in fire(rule(), 1, now=start)], now=start)
    held = flush_due_groups(now=start + timedelta(seconds=WAIT))

    with django_capture_on_commit_callbacks() as callbacks:
        expire_silence(silence=silence, actor=SYSTEM)
    released = flush_due_groups(now=start + timedelta(seconds=WAIT + INTERVAL))

    assert held == []
    assert len(callbacks) == 1  # the silenced alerts' groups are noted again after the commit
    assert [n.payload["firing_count"] for n in released] == [1]
