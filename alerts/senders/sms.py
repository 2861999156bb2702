"""SMS and voice calls behind one `Backend` interface: Twilio (the Messages API for SMS,
the Calls API with TwiML <Say> for voice) and a local fake that records what it would have
sent (tests and the demo). `settings.ALERTS_SMS_BACKEND` chooses: "fake" or "twilio".

Twilio's credentials come from the environment (ALERTS_TWILIO_ACCOUNT_SID,
ALERTS_TWILIO_AUTH_TOKEN, ALERTS_TWILIO_FROM), never from the repository. Neither API has
an idempotency key, so the notification id is in the text: a copy sent again after a
worker died mid-send says it is the same message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from alerts.models import Receiver

from .base import Outgoing, SendFailed

SMS_LIMIT = 1500  # Twilio refuses bodies past 1,600 characters


class Backend(Protocol):
    def send_sms(self, *, to: str, body: str, message_id: str) -> str:
        """Send one SMS; return the provider's id for it."""
        ...

    def call(self, *, to: str, say: str, message_id: str) -> str:
        """Place one call that reads `say` aloud; return the provider's id for it."""
        ...


@dataclass(frozen=True, slots=True)
class FakeMessage:
    kind: str  # "sms" or "call"
    to: str
    text: str
    message_id: str


class FakeBackend:
    """Records messages in this process instead of sending them."""

    sent: list[FakeMessage] = []
    _lock = threading.Lock()

    def send_sms(self, *, to: str, body: str, message_id: str) -> str:
        return self._record(FakeMessage("sms", to, body, message_id))

    def call(self, *, to: str, say: str, message_id: str) -> str:
        return self._record(FakeMessage("call", to, say, message_id))

    def _record(self, message: FakeMessage) -> str:
        with self._lock:
            FakeBackend.sent.append(message)
            return f"fake-{len(FakeBackend.sent)}"

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls.sent.clear()


class TwilioBackend:
    def __init__(
        self, *, account_sid: str, auth_token: str, from_number: str, http_client: Any = None
    ) -> None:
        from twilio.rest import Client  # imported here: 0.1 s and 50 MB only where used

        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number

    def send_sms(self, *, to: str, body: str, message_id: str) -> str:
        message = self._call_api(
            lambda: self.client.messages.create(to=to, from_=self.from_number, body=body)
        )
        return str(message.sid)

    def call(self, *, to: str, say: str, message_id: str) -> str:
        from twilio.twiml.voice_response import VoiceResponse

        twiml = VoiceResponse()
        twiml.say(say)
        call = self._call_api(
            lambda: self.client.calls.create(to=to, from_=self.from_number, twiml=str(twiml))
        )
        return str(call.sid)

    @staticmethod
    def _call_api(request: Any) -> Any:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return request()
        except TwilioRestException as error:
            permanent = 400 <= error.status < 500 and error.status not in (408, 429)
            raise SendFailed(
                f"Twilio answered {error.status}: {error.msg}", permanent=permanent
            ) from None
        except (TwilioException, OSError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from None


def sms_backend() -> Backend:
    name = getattr(settings, "ALERTS_SMS_BACKEND", "fake")
    if name == "fake":
        return FakeBackend()
    if name == "twilio":
        return TwilioBackend(
            account_sid=settings.ALERTS_TWILIO_ACCOUNT_SID,
            auth_token=settings.ALERTS_TWILIO_AUTH_TOKEN,
            from_number=settings.ALERTS_TWILIO_FROM,
        )
    raise ImproperlyConfigured(f"ALERTS_SMS_BACKEND is 'fake' or 'twilio', not {name!r}.")


def _numbers(receiver: Receiver) -> list[str]:
    numbers = list(receiver.config.get("numbers") or [])
    if not numbers:
        raise SendFailed("The receiver has no phone number.", permanent=True)
    return numbers


def short_text(message: Outgoing) -> str:
    """The title and the first alerts, with the acknowledge link of the first, and the id."""
    alerts = list(message.payload.get("alerts") or [])  # type: ignore[call-overload]
    lines = [message.title]
    lines += [f"- {alert.get('summary', '')}" for alert in alerts[:5]]
    if alerts and alerts[0].get("acknowledge_url"):
        lines.append(f"Ack: {alerts[0]['acknowledge_url']}")
    lines.append(f"ref {message.id}")
    text = "\n".join(lines)
    return text if len(text) <= SMS_LIMIT else text[: SMS_LIMIT - 1] + "…"


class SmsSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        backend = sms_backend()
        body = short_text(message)
        ids = [
            backend.send_sms(to=to, body=body, message_id=message.id) for to in _numbers(receiver)
        ]
        return " ".join(ids)


class VoiceSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        backend = sms_backend()
        alerts = list(message.payload.get("alerts") or [])  # type: ignore[call-overload]
        spoken = [f"Inventory Hub alert. {message.title}."]
        spoken += [str(alert.get("summary", "")) for alert in alerts[:3]]
        spoken.append("Acknowledge it from the dashboard or the link in your messages.")
        say = " ".join(spoken)
        ids = [backend.call(to=to, say=say, message_id=message.id) for to in _numbers(receiver)]
        return " ".join(ids)
