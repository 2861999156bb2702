"""The notifier's Celery wiring and the Twilio backend's requests, on real local pieces:
tasks queued on commit run the same services, and the Twilio backend speaks Twilio's REST
API (Messages, Calls with TwiML <Say>) to an HTTP server standing in for it."""

import pytest
from celery import current_app
from twilio.http.http_client import TwilioHttpClient

from alerts.models import NotificationStatus
from alerts.senders import SendFailed
from alerts.senders.sms import TwilioBackend
from alerts.services import save_receiver, send_test_message
from tests.fakes.server import FakeStore, Fault, Request, Response
from tests.stock.factories import SYSTEM

from .notify_support import FakeSlack

TASKS = (
    "note_alert_changes_task",
    "flush_group_task",
    "flush_due_groups_task",
    "deliver_notification_task",
    "sweep_notifications_task",
    "escalate_task",
)


def test_the_notifier_tasks_are_registered_and_scheduled(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    for name in TASKS:
        assert f"alerts.notifications_tasks.{name}" in current_app.tasks
    assert {
        "alerts.notifications_tasks.flush_due_groups_task",
        "alerts.notifications_tasks.sweep_notifications_task",
        "alerts.notifications_tasks.escalate_task",
    } <= scheduled


@pytest.fixture
def eager_tasks():
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_a_notification_is_delivered_by_its_task_after_the_commit(
    eager_tasks, django_capture_on_commit_callbacks
):
    with FakeSlack() as slack:
        receiver = save_receiver(name="chat", kind="slack", secret=slack.webhook_url)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            notification = send_test_message(receiver=receiver, actor=SYSTEM)
            before_commit = len(slack.texts())

        notification.refresh_from_db()
        assert (before_commit, len(callbacks), len(slack.texts())) == (0, 1, 1)
        assert notification.status == NotificationStatus.SENT


class FakeTwilio(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.route(
            "POST",
            r"/2010-04-01/Accounts/(?P<sid>\w+)/(?P<what>Messages|Calls)\.json",
            self._create,
        )

    def _create(self, request: Request) -> Response:
        prefix = "SM" if request.params["what"] == "Messages" else "CA"
        return Response(201, {"sid": f"{prefix}{len(self.requests):032d}", "status": "queued"})

    def forms(self, what: str) -> list[dict[str, list[str]]]:
        from urllib.parse import parse_qs

        return [parse_qs(r.body.decode()) for r in self.requests_to(f"/{what}.json")]


class LocalTwilioClient(TwilioHttpClient):
    """Twilio's own HTTP client, pointed at the local stand-in instead of api.twilio.com."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        local = url.replace("https://api.twilio.com", self.base_url)
        return super().request(method, local, *args, **kwargs)


def test_the_twilio_backend_sends_an_sms_and_places_a_call_that_says_the_text():
    with FakeTwilio() as twilio:
        backend = TwilioBackend(
            account_sid="AC" + "0" * 32,
            auth_token="token",
            from_number="+15005550006",
            http_client=LocalTwilioClient(twilio.base_url),
        )

        sms_id = backend.send_sms(to="+4915112345678", body="MUG low", message_id="n-1")
        call_id = backend.call(to="+4915112345678", say="MUG is low", message_id="n-1")

    assert sms_id.startswith("SM") and call_id.startswith("CA")
    (sms,) = twilio.forms("Messages")
    assert (sms["To"], sms["From"], sms["Body"]) == (
        ["+4915112345678"],
        ["+15005550006"],
        ["MUG low"],
    )
    (call,) = twilio.forms("Calls")
    assert "<Say>MUG is low</Say>" in call["Twiml"][0]
    assert twilio.requests[0].headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize(("status", "permanent"), [(400, True), (429, False), (503, False)])
def test_twilio_refusals_are_final_and_its_outages_retried(status, permanent):
    with FakeTwilio() as twilio:
        twilio.inject(Fault(status=status, times=1))
        backend = TwilioBackend(
            account_sid="AC" + "0" * 32,
            auth_token="token",
            from_number="+15005550006",
            http_client=LocalTwilioClient(twilio.base_url),
        )

        with pytest.raises(SendFailed) as failed:
            backend.send_sms(to="+4915112345678", body="MUG low", message_id="n-1")

    assert failed.value.permanent is permanent
    assert f"Twilio answered {status}" in str(failed.value)
