"""Slack incoming webhooks through `slack-sdk`'s WebhookClient; the webhook URL is the
receiver's secret. Slack has no idempotency key for incoming webhooks: the notification id
is in the text, so a copy sent again after a crash can be recognised."""

from __future__ import annotations

from django.conf import settings
from slack_sdk.webhook import WebhookClient

from alerts.models import Receiver

from .base import Outgoing, SendFailed

MAX_TEXT = 3000  # Slack's limit for a section block's text


def fit(text: str) -> str:
    """Within Slack's limit, keeping the last line (the notification id)."""
    if len(text) <= MAX_TEXT:
        return text
    body, _, last = text.rpartition("\n")
    return body[: MAX_TEXT - len(last) - 2] + "…\n" + last


class SlackSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        if not receiver.secret:
            raise SendFailed("The receiver has no webhook URL.", permanent=True)
        timeout = int(getattr(settings, "ALERTS_SEND_TIMEOUT_SECONDS", 10))
        client = WebhookClient(receiver.secret, timeout=timeout)
        text = fit(message.text)
        try:
            response = client.send(
                text=text,
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                unfurl_links=False,
            )
        except OSError as error:  # URLError, timeouts, refused connections
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        answer = f"{response.status_code} {response.body}"
        if response.status_code == 200:
            return answer
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise SendFailed(
            f"Slack answered {response.status_code}.", permanent=permanent, response=answer
        )
