"""What applying inbound work produced, and which failures are refusals for good."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from connectors.base import InboundEvent, InboundKind
from stock.errors import ConflictExpectedOnHand, StockError

# One requests.Session for every inbound parse: store classes do no HTTP there.
STORE_SESSION = requests.Session()


class InboundProcessingError(Exception):
    """Processing cannot go on for now: retry later."""


class InboundRefused(Exception):
    """Processing can never succeed as things stand (a connector without a sales channel):
    refused at once, not retried."""


def is_deterministic_refusal(exc: BaseException) -> bool:
    """Whether retrying the same event could only fail the same way: the hub refused it
    (a stock rule, an input error, no channel). Database and network failures are
    transient and retry; so does whatever else failed, which a fix may cure."""
    if isinstance(exc, InboundRefused):
        return True
    # A compare-and-set lost to a concurrent writer: the next attempt reads anew.
    return isinstance(exc, StockError) and not isinstance(exc, ConflictExpectedOnHand)


@dataclass(slots=True)
class Outcome:
    orders: int = 0
    counted: int = 0
    in_sync: int = 0
    echoes: int = 0
    drifted: list[dict] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.orders} order(s)" if self.orders else "",
            f"{self.counted} count(s)" if self.counted else "",
            f"{self.in_sync} in sync" if self.in_sync else "",
            f"{self.echoes} echo(es) of the hub's push" if self.echoes else "",
            f"{len(self.drifted)} drifted (overwrite queued)" if self.drifted else "",
            f"{len(self.stale)} stale, not applied: {', '.join(self.stale[:20])}"
            if self.stale
            else "",
            f"{len(self.unmapped)} unmapped: {', '.join(self.unmapped[:20])}"
            if self.unmapped
            else "",
            *self.notes,
        ]
        return "; ".join(part for part in parts if part) or "Nothing to apply."


def has_work(parsed: InboundEvent) -> bool:
    """Whether a parsed delivery carries anything the hub tracks."""
    if parsed.kind == InboundKind.PING:
        return False
    return bool(
        parsed.orders
        or parsed.stock
        or parsed.deleted_order_references
        or parsed.deleted_remote_ids
    )
