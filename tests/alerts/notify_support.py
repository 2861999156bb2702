"""Real local servers for notification tests, and small builders of alerts.

- `SmtpInbox`: an SMTP server (aiosmtpd) on a free port; Django's SMTP backend sends to it.
- `FakeSlack`: an HTTP server answering as Slack's incoming webhooks do (`ok`, 200).
- `WebhookReceiver`: verifies each request's Standard Webhooks signature with the
  `standardwebhooks` library and applies each `webhook-id` once, as the scheme asks.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from datetime import datetime
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook, WebhookVerificationError

from alerts.conditions import Finding
from alerts.core import Observation
from alerts.models import Alert, Rule
from alerts.services import apply_findings, create_rule
from tests.fakes.server import FakeStore, Request, Response
from tests.stock.factories import SYSTEM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpInbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpInbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class FakeSlack(FakeStore):
    PATH = "/services/T000/B000/XXXX"

    def __init__(self) -> None:
        super().__init__()
        self.route("POST", self.PATH, self._post)

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{self.PATH}"

    def _post(self, request: Request) -> Response:
        return Response(200, raw=b"ok", headers={"Content-Type": "text/html"})

    def texts(self) -> list[str]:
        return [request.json()["text"] for request in self.requests_to(self.PATH)]


class WebhookReceiver(FakeStore):
    def __init__(self, *, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.applied: list[dict] = []
        self.applied_ids: list[str] = []
        self.rejected = 0
        self.route("POST", "/hook", self._post)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def _post(self, request: Request) -> Response:
        try:
            payload = Webhook(self.secret).verify(request.body, request.headers)
        except WebhookVerificationError as error:
            with self.lock:
                self.rejected += 1
            return Response(401, {"error": str(error)})
        with self.lock:
            if request.headers["webhook-id"] in self.applied_ids:
                return Response(200, {"status": "duplicate"})
            self.applied_ids.append(request.headers["webhook-id"])
            self.applied.append(payload)
        return Response(200, {"status": "accepted"})


def rule(condition: str = "available_below", **values) -> Rule:
    values.setdefault("threshold", 5)
    if condition not in ("available_below", "channel_salable_below"):
        values.pop("threshold")
    values.setdefault("name", f"{condition} {Rule.objects.count()}")
    return create_rule(actor=SYSTEM, condition=condition, **values)


def finding(rule: Rule, number: int, *, holds: bool = True, value: int = 0, **ids) -> Finding:
    labels = {"sku": f"SKU-{number}", "warehouse": "NORTH", **ids.pop("labels", {})}
    return Finding(
        rule=rule,
        subject={"kind": "test", "number": number, **ids},
        seen=Observation(holds=holds, cleared=not holds),
        value=value,
        summary=f"SKU-{number} at NORTH: {value} available",
        labels=labels,
        details={"on_hand": value},
        **ids,
    )


def fire(rule: Rule, *numbers: int, now: datetime | None = None, **ids) -> list[Alert]:
    result = apply_findings([finding(rule, n, **ids) for n in numbers], now=now)
    return list(Alert.objects.filter(pk__in=result.fired).order_by("pk"))
