"""WooCommerce webhooks: their topics, their signature and the records the store keeps of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.base import RemoteUnavailable

DEFAULT_WEBHOOK_TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "product.created",
    "product.updated",
    "product.deleted",
)
WEBHOOK_STATUSES = ("active", "paused", "disabled")

# What WooCommerce posts to a delivery URL to test it while creating a webhook.
PING_BODY = re.compile(rb"webhook_id=\d+")


@dataclass(frozen=True, slots=True)
class RemoteWebhook:
    """A webhook registered on the store (its secret is never read back)."""

    id: str
    topic: str
    status: str  # active | paused | disabled
    delivery_url: str
    name: str = ""


def webhook_signature(body: bytes, secret: str) -> str:
    """X-WC-Webhook-Signature: base64 of the HMAC-SHA256 of the raw body.

    WooCommerce decodes HTML entities in the secret before using it as the key.
    """
    key = _specialchars_decode(secret).encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def webhook_from_payload(payload: object) -> RemoteWebhook:
    if not isinstance(payload, Mapping) or "id" not in payload:
        raise RemoteUnavailable("WooCommerce answered a webhook request without a webhook")
    return RemoteWebhook(
        id=str(payload["id"]),
        topic=str(payload.get("topic", "")),
        status=str(payload.get("status", "")),
        delivery_url=str(payload.get("delivery_url", "")),
        name=str(payload.get("name", "")),
    )


def lowered_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in headers.items()}


def _specialchars_decode(text: str) -> str:
    for entity, char in (
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&#039;", "'"),
        ("&#x27;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return text
