"""The alerts API's setup and logs: receivers (secrets write-only, a test message through
the delivery log), routes, escalation steps, silences (author, expiry) and the delivery
log with its attempts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import (
    DeliveryAttempt,
    EscalationStep,
    Notification,
    NotificationKind,
    Receiver,
    Route,
    Silence,
)
from alerts.services import create_silence
from tests.api.alerts_support import mail_receiver, route_to
from tests.stock.factories import SYSTEM

pytestmark = pytest.mark.django_db

RECEIVERS = "/api/v1/alert-receivers/"
ROUTES = "/api/v1/alert-routes/"
STEPS = "/api/v1/alert-escalation-steps/"
SILENCES = "/api/v1/silences/"
LOG = "/api/v1/alert-notifications/"
SLACK_URL = "https://hooks.slack.example/services/T0/B0/xyz"


def test_a_receivers_secret_is_stored_and_never_read_back(ops_client):
    response = ops_client.post(
        RECEIVERS, {"name": "Slack", "kind": "slack", "secret": SLACK_URL}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["has_secret"] is True
    assert "secret" not in response.json()
    assert Receiver.objects.get().secret == SLACK_URL
    listed = ops_client.get(RECEIVERS).json()["results"][0]
    assert "secret" not in listed
    assert SLACK_URL not in str(ops_client.get(f"{RECEIVERS}{listed['id']}/").content)


def test_a_new_webhook_receiver_gets_a_signing_secret(ops_client):
    response = ops_client.post(
        RECEIVERS,
        {"name": "Hook", "kind": "webhook", "config": {"url": "https://example.com/hook"}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["has_secret"] is True
    assert Receiver.objects.get().secret.startswith("whsec_")


def test_a_receiver_change_without_a_secret_keeps_the_stored_one(ops_client):
    ops_client.post(
        RECEIVERS, {"name": "Slack", "kind": "slack", "secret": SLACK_URL}, format="json"
    )
    receiver = Receiver.objects.get()

    response = ops_client.patch(
        f"{RECEIVERS}{receiver.pk}/", {"name": "Slack ops", "is_active": False}, format="json"
    )

    assert response.status_code == 200, response.json()
    receiver.refresh_from_db()
    assert (receiver.name, receiver.is_active, receiver.secret) == ("Slack ops", False, SLACK_URL)


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        (
            {"kind": "sms", "config": {"numbers": ["0151 12345"]}},
            "invalid_receiver",
            {"field": "numbers"},
        ),
        (
            {"kind": "email", "config": {"addresses": ["not-mail"]}},
            "invalid_receiver",
            {"field": "addresses"},
        ),
        ({"kind": "email", "config": {"url": "x"}}, "invalid_receiver", {"field": "config"}),
        ({"kind": "pigeon"}, "validation_error", None),
    ],
)
def test_a_receiver_with_bad_input_is_refused_and_nothing_is_stored(
    ops_client, body, code, details
):
    response = ops_client.post(RECEIVERS, {"name": "Bad", **body}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    if details is not None:
        assert response.json()["error"]["details"] == details
    assert not Receiver.objects.exists()


def test_a_test_message_queues_a_test_notification_in_the_delivery_log(ops_client):
    receiver = mail_receiver()

    response = ops_client.post(f"{RECEIVERS}{receiver.pk}/test/")

    assert response.status_code == 202, response.json()
    notification = Notification.objects.get()
    assert (notification.kind, notification.receiver_id) == (NotificationKind.TEST, receiver.pk)
    assert response.json()["id"] == str(notification.pk)
    assert "sent by ops" in notification.payload["title"]


def test_routes_are_created_and_changed(ops_client):
    receiver = mail_receiver()

    created = ops_client.post(
        ROUTES,
        {
            "name": "North",
            "receiver": receiver.pk,
            "matchers": {"warehouse": "NORTH"},
            "group_by": ["warehouse"],
            "group_wait_seconds": 10,
        },
        format="json",
    )
    changed = ops_client.patch(
        f"{ROUTES}{created.json()['id']}/", {"continue_matching": True}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert created.json()["receiver_name"] == "Ops mail"
    assert changed.status_code == 200, changed.json()
    route = Route.objects.get()
    assert (route.matchers, route.group_wait_seconds, route.continue_matching) == (
        {"warehouse": "NORTH"},
        10,
        True,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"receiver": 999999}, "receiver"),
        ({"matchers": {"Bad Name": "x"}}, "matchers"),
        ({"repeat_steps_seconds": [10]}, "repeat_steps_seconds"),
    ],
)
def test_a_route_with_bad_input_is_refused_naming_the_field(ops_client, body, field):
    receiver = mail_receiver()

    response = ops_client.post(
        ROUTES, {"name": "Bad", "receiver": receiver.pk, **body}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["details"] or error["details"] == {"field": field}
    assert not Route.objects.exists()


def test_escalation_steps_are_set_and_a_shorter_later_wait_is_refused(ops_client):
    receiver = mail_receiver()
    first = ops_client.post(
        STEPS,
        {"severity": "critical", "position": 1, "after_minutes": 10, "receiver": receiver.pk},
        format="json",
    )

    refused = ops_client.post(
        STEPS,
        {"severity": "critical", "position": 2, "after_minutes": 5, "receiver": receiver.pk},
        format="json",
    )

    assert first.status_code == 201, first.json()
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_escalation_step"
    assert list(EscalationStep.objects.values_list("position", "after_minutes")) == [(1, 10)]


def test_an_escalation_steps_wait_is_changed(ops_client):
    receiver = mail_receiver()
    step = ops_client.post(
        STEPS,
        {"severity": "warning", "position": 1, "after_minutes": 10, "receiver": receiver.pk},
        format="json",
    ).json()

    response = ops_client.patch(f"{STEPS}{step['id']}/", {"after_minutes": 30}, format="json")

    assert response.status_code == 200, response.json()
    assert EscalationStep.objects.get().after_minutes == 30


def test_a_silence_is_created_with_its_author_and_expired(ops_client):
    ends_at = (timezone.now() + timedelta(hours=2)).isoformat()
    created = ops_client.post(
        SILENCES,
        {"matchers": {"warehouse": "NORTH"}, "reason": "Stocktake", "ends_at": ends_at},
        format="json",
    )

    expired = ops_client.post(f"{SILENCES}{created.json()['id']}/expire/")

    assert created.status_code == 201, created.json()
    assert (created.json()["author"], created.json()["is_active"]) == ("ops", True)
    assert expired.status_code == 200
    assert expired.json()["is_active"] is False
    assert Silence.objects.get().ends_at <= timezone.now()


def test_silences_are_listed_active_or_expired(ops_client):
    now = timezone.now()
    active = create_silence(
        matchers={"a": "b"}, author=SYSTEM, reason="r", ends_at=now + timedelta(hours=1)
    )
    ended = create_silence(
        matchers={"a": "c"}, author=SYSTEM, reason="r", ends_at=now + timedelta(hours=1)
    )
    Silence.objects.filter(pk=ended.pk).update(
        ends_at=now - timedelta(minutes=1), starts_at=now - timedelta(hours=1)
    )

    def ids(value):
        return [
            row["id"] for row in ops_client.get(SILENCES, {"is_active": value}).json()["results"]
        ]

    assert ids("true") == [active.pk]
    assert ids("false") == [ended.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ends_at": "2001-01-01T00:00:00Z"}, "ends_at"),
        ({"matchers": {}}, "matchers"),
        ({"reason": "   "}, "reason"),
    ],
)
def test_a_silence_with_bad_input_is_refused_naming_the_field(ops_client, body, field):
    values = {
        "matchers": {"warehouse": "NORTH"},
        "reason": "Stocktake",
        "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
        **body,
    }

    response = ops_client.post(SILENCES, values, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert field in (error["details"] or {}) or error["details"] == {"field": field}
    assert not Silence.objects.exists()


def test_the_delivery_log_lists_notifications_and_reads_their_attempts(ops_client):
    receiver = mail_receiver()
    route_to(receiver)
    ops_client.post(f"{RECEIVERS}{receiver.pk}/test/")
    notification = Notification.objects.get()
    DeliveryAttempt.objects.create(notification=notification, ok=False, error="connection refused")

    listed = ops_client.get(LOG, {"receiver": receiver.pk, "kind": "test", "status": "pending"})
    read = ops_client.get(f"{LOG}{notification.pk}/")

    assert listed.status_code == 200, listed.json()
    assert [row["id"] for row in listed.json()["results"]] == [str(notification.pk)]
    assert read.status_code == 200
    assert read.json()["payload"]["kind"] == "test"
    assert [(a["ok"], a["error"]) for a in read.json()["attempt_log"]] == [
        (False, "connection refused")
    ]
    assert ops_client.get(LOG, {"status": "sent"}).json()["results"] == []
