"""Pushing the outbox to one store: claim, compute, send, confirm.

Guarantees:
- One push run per connector at a time (a PostgreSQL advisory lock held by the run's
  session, released by the server if the worker dies), so the per-connector rate limit
  holds and rows are sent in order.
- Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`). A worker
  that dies mid-push leaves its rows pending; once the lease has passed they are claimed
  again. Values are computed at send time, so the second push sends the latest value; a
  relative change left `in_flight` by a dead worker is settled before anything is sent.
- A row becomes `sent` only if no change arrived while it was being pushed (its
  `change_count` is unchanged); otherwise it stays pending and goes again.
- Only values that differ from what the store last confirmed are sent. Where the hub keeps
  accounts of the store's figure (connectors/engine/accounting.py), a WooCommerce item that
  manages stock gets a relative change (`inventory_delta`) and a Magento source item a
  figure that never undoes a decrement the store made on its own; a relative change whose
  answer is lost is counted the way that leaves the store offering less, never twice.
- Failures back off exponentially per row; a 429 pauses the connector until Retry-After;
  after `failures_to_open` consecutive failures the circuit opens, a single trial row is
  tried after a cool-down that doubles with each failed trial (half-open), and the first
  success closes it and makes the backed-off rows due at once.
- Every round that talks to the store writes a `SyncRun`; failures become `SyncProblem`s
  (one open problem per kind and connector).

- `run`: the run and its rounds (`push_outbox`).
- `claims`: claiming, releasing and burying outbox rows.
- `confirmations`: what was pushed and confirmed, kept on the SKU mappings.
- `breaker`: the circuit breaker and the problems a push opens or resolves.
- `config`: the tunables (`settings.CONNECTORS_PUSH`).
"""

from connectors.engine.push.breaker import breaker_cooldown, breaker_retry_at
from connectors.engine.push.claims import (
    ClaimedRow,
    claim_rows,
    has_due_rows,
    lease_seconds,
    row_backoff,
)
from connectors.engine.push.config import PushSettings, push_settings
from connectors.engine.push.run import (
    PUSH_LOCK_NAMESPACE,
    PushReport,
    connector_push_lock,
    push_outbox,
    store_for,
)

__all__ = [
    "PUSH_LOCK_NAMESPACE",
    "ClaimedRow",
    "PushReport",
    "PushSettings",
    "breaker_cooldown",
    "breaker_retry_at",
    "claim_rows",
    "connector_push_lock",
    "has_due_rows",
    "lease_seconds",
    "push_outbox",
    "push_settings",
    "row_backoff",
    "store_for",
]
