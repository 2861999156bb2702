"""Standard Webhooks signatures (https://www.standardwebhooks.com/), both ways.

The hub signs each instruction it sends to a warehouse's system, and verifies each report
that system sends back, with that warehouse's secret: HMAC-SHA256 over
`<webhook-id>.<webhook-timestamp>.<body>`, in the headers `webhook-id`,
`webhook-timestamp` and `webhook-signature` (`v1,<base64>`). A timestamp more than five
minutes away from now is refused, so a captured request cannot be replayed later.
Secrets are `whsec_` and the base64 of 24 to 64 random bytes, as the scheme defines them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64


class BadSignature(Exception):
    """The report's signature headers are missing, stale or do not match."""

    def __init__(self, message: str, *, code: str = "invalid_signature") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SignedBody:
    body: bytes
    headers: dict[str, str]


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_problem(secret: str) -> str | None:
    """Why `secret` is not a Standard Webhooks secret (None when it is one)."""
    if not secret.startswith(SECRET_PREFIX):
        return f"The secret starts with {SECRET_PREFIX!r}."
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"After {SECRET_PREFIX!r}, the secret is base64."
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        return (
            f"The secret's key is {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes "
            f"(this one is {len(key)})."
        )
    return None


def sign(secret: str, *, message_id: str, body: bytes, at: datetime | None = None) -> SignedBody:
    moment = at or timezone.now()
    return SignedBody(
        body=body,
        headers={
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, moment, body),
        },
    )


def verify(secret: str, *, headers: Mapping[str, str], body: bytes) -> str:
    """The report's `webhook-id`, once its signature and timestamp check out."""
    wanted = {"webhook-id", "webhook-timestamp", "webhook-signature"}
    found = {key.lower(): value for key, value in headers.items() if key.lower() in wanted}
    try:
        Webhook(secret).verify(body, found, json_parse=False)
    except WebhookVerificationError as error:
        message = str(error)
        code = "stale_timestamp" if "too old" in message or "too new" in message else None
        raise BadSignature(message, code=code or "invalid_signature") from None
    return found["webhook-id"]
