"""The interface every sender implements, and the plain-text form of a message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from alerts.models import Receiver

MAX_TEXT_ALERTS = 50  # a text body lists this many alerts, then says how many more


class SendFailed(Exception):
    """The message did not arrive. `permanent`: the far end refused it for good (a bad
    address, a 4xx), so retrying cannot help; otherwise it is retried with backoff."""

    def __init__(self, message: str, *, permanent: bool = False, response: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.response = response


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str  # the notification's UUID: the idempotency key at the far end
    kind: str
    title: str
    text: str
    payload: Mapping[str, object] = field(default_factory=dict)


class Sender(Protocol):
    def send(self, receiver: Receiver, message: Outgoing) -> str:
        """Deliver `message`; return the far end's answer (kept, truncated, in the log)."""
        ...


def render_text(payload: Mapping[str, object]) -> str:
    """A message as plain text: the title, each alert with its acknowledge link, the id."""
    lines = [str(payload.get("title", "Inventory Hub alert")), ""]
    for heading, key in (("Firing", "alerts"), ("Resolved", "resolved")):
        items = payload.get(key) or []
        assert isinstance(items, list)
        if not items:
            continue
        lines.append(f"{heading} ({len(items)}):")
        for item in items[:MAX_TEXT_ALERTS]:
            lines.append(f"- [{item.get('severity', '')}] {item.get('summary', '')}")
            if key == "alerts" and item.get("acknowledge_url"):
                lines.append(f"  Acknowledge: {item['acknowledge_url']}")
        if len(items) > MAX_TEXT_ALERTS:
            lines.append(f"… and {len(items) - MAX_TEXT_ALERTS} more")
        lines.append("")
    lines.append(f"Notification {payload.get('id', '')}")
    return "\n".join(lines)
