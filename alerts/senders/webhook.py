"""Generic webhooks signed to the Standard Webhooks scheme with `standardwebhooks`: the
notification id is the `webhook-id`, so a receiver that keeps ids (as the scheme asks)
drops a copy sent again. The URL is in the receiver's config, the signing secret is its
(encrypted) secret."""

from __future__ import annotations

import json
import threading

import requests
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from alerts.models import Receiver

from .base import Outgoing, SendFailed

# Worth retrying: the far end is busy, down, or (401/403) its secret is being rotated.
RETRYABLE = frozenset({401, 403, 408, 409, 425, 429})


_local = threading.local()


def _session() -> requests.Session:
    """This thread's session: its kept-alive connections spare each send a TCP (and TLS)
    handshake to a receiver it has reached before. Proxies from the environment are read
    once, not on every send."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def signed_headers(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    now = timezone.now()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "Content-Type": "application/json",
    }


class WebhookSender:
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        url = receiver.config.get("url")
        if not url or not receiver.secret:
            raise SendFailed("The receiver has no URL or no signing secret.", permanent=True)
        body = json.dumps(dict(message.payload), separators=(",", ":"), default=str).encode()
        timeout = float(getattr(settings, "ALERTS_SEND_TIMEOUT_SECONDS", 10))
        try:
            response = _session().post(
                url,
                data=body,
                headers=signed_headers(receiver.secret, message.id, body),
                timeout=timeout,
            )
        except requests.RequestException as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        answer = f"{response.status_code} {response.text[:300]}"
        if 200 <= response.status_code < 300:
            return answer
        status = response.status_code
        permanent = 400 <= status < 500 and status not in RETRYABLE
        raise SendFailed(f"The webhook answered {status}.", permanent=permanent, response=answer)
