"""Inbound deliveries: verify and store before answering, then process exactly once.

Guarantees:
- `receive_delivery` stores a verified delivery (raw body, headers without credentials)
  with one statement before the store gets its 200, and queues processing on commit.
  A bad signature stores nothing (it is logged, and one open `bad_signature` problem says
  so); a malformed body is kept (state `malformed`, never applied) and answered 400 with
  the reason: unreadable, refused by the store class, or refused by `check_json_body` and
  `check_inbound_event` (depth, NUL, numbers the hub cannot hold); a delivery id seen
  before is answered 200 and stored once (unique per connector).
  `read_delivery` is every one of those rules but the writing, and `INSERT_EVENT_SQL` the
  writing: the ASGI fast path (connectors.fast_inbound) stores the common case with both.
- Processing is queued by a kick per connector, at most one message per connector per
  kick interval from each process (`kick_inbox`); `process_connector_inbox` then applies
  that connector's received events in arrival order. The sweeper catches a lost kick.
- `process_inbox_event` applies an event inside one transaction with the event's row
  lock, so two workers never apply it twice, and every stock write it makes carries a
  reference unique per delivery, so a replay is a no-op. Transient failures retry with
  exponential backoff and end `dead` after `CONNECTORS_INBOX_MAX_ATTEMPTS`; a
  deterministic refusal (`is_deterministic_refusal`) is `dead` at once, with a problem;
  `replay_dead_letters` puts them back in the queue.
- Orders go through `stock.services.orders` (reference = store order id, channel = the
  connector's channel); one the hub cannot hold whole is recorded short, never refused.
  Stock snapshots from a store-owned location become `count`
  movements (reason `sync`, source `connector`); from a hub-owned location they are
  compared with what the hub wants there: the hub's own echo and values already right
  are ignored, anything else is drift, recorded and overwritten by an enqueued push
  (but a figure below the hub's is not drift while an order delivery of this connector
  for the SKU is not applied yet).
  An item older (by the store's timestamp) than the newest applied for that SKU and
  location is recorded as stale and not applied. `apply_remote_stock` is that same rule
  for any source of stock records (polling, feeds, reconciliation).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from requests.structures import CaseInsensitiveDict

from connectors.base import Connector as StoreConnector
from connectors.base import (
    InboundEvent,
    InboundKind,
    InboundVerdict,
    MalformedInbound,
    OrderState,
    RemoteOrder,
    RemoteStock,
)
from connectors.engine.accounting import (
    StoreReading,
    count_store_order,
    forget_store_order,
    keeps_accounts,
    lock_order_mappings,
    read_store_figure,
)
from connectors.engine.problems import record_problem
from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    OutboxItem,
    OutboxState,
    SkuMapping,
    SyncProblemKind,
)
from connectors.outbox import enqueue_connector_pushes, kick_interval_seconds
from connectors.registry import build_connector, kind_spec
from connectors.selectors import (
    MissingChannel,
    desired_push_items,
    location_mappings,
    location_store_owned,
    own_channel_held,
)
from connectors.sync.locks import connector_job_lock
from inventory_hub.json_input import NotJson, UnacceptableJson, load_json
from stock.actors import Actor
from stock.models import MovementSource, Order, OrderStatus, ReasonCode, StockLevel, Variant
from stock.services.ledger import MAX_QUANTITY

logger = logging.getLogger(__name__)

# Never stored: they carry credentials rather than describe the delivery.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"}
)
# One requests.Session for every inbound parse: store classes do no HTTP there.
_SHARED_SESSION = requests.Session()


def inbox_max_attempts() -> int:
    return int(getattr(settings, "CONNECTORS_INBOX_MAX_ATTEMPTS", 8))


def store_rise_grace_seconds() -> float:
    return float(getattr(settings, "CONNECTORS_STORE_RISE_GRACE_SECONDS", 2.0))


def inbox_backoff_seconds(attempts: int) -> float:
    base = float(getattr(settings, "CONNECTORS_INBOX_BACKOFF_SECONDS", 2.0))
    return min(base * (2 ** max(attempts - 1, 0)), 3600.0)


# --- Receiving --------------------------------------------------------------------------------

INBOX_TABLE = "connectors_inboxevent"
# The one statement that stores a delivery, on both receive paths (Django's connection here,
# the ASGI fast path's own async connection in connectors.fast_inbound): a delivery id seen
# before inserts nothing and returns no row. The conflict target is the partial unique
# index `inbox_connector_delivery_unique`, spelled as Django creates it.
INSERT_EVENT_SQL = f"""
    INSERT INTO {INBOX_TABLE}
        (connector_id, delivery_id, topic, headers, body, received_at, occurred_at, state,
         attempts, next_attempt_at, last_error, result, processed_at)
    VALUES (%(connector_id)s, %(delivery_id)s, %(topic)s, %(headers)s, %(body)s,
            %(received_at)s, %(occurred_at)s, %(state)s, 0, %(next_attempt_at)s,
            %(last_error)s, %(result)s, %(processed_at)s)
    ON CONFLICT (connector_id, delivery_id) WHERE NOT (delivery_id = '') DO NOTHING
    RETURNING id
"""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer the endpoint gives the store."""

    status: int
    body: dict
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class InboxRow:
    """An inbox event's values as a receive path stores them (`INSERT_EVENT_SQL`)."""

    connector_id: int
    delivery_id: str
    topic: str
    headers: dict[str, str]
    body: str
    received_at: datetime
    occurred_at: datetime | None
    state: str
    next_attempt_at: datetime | None
    last_error: str = ""
    result: str = ""
    processed_at: datetime | None = None

    def sql_params(self, adapt_datetime=lambda value: value) -> dict[str, object]:
        """`INSERT_EVENT_SQL`'s parameters; `adapt_datetime` for backends that store text."""
        return {
            "connector_id": self.connector_id,
            "delivery_id": self.delivery_id,
            "topic": self.topic,
            "headers": json.dumps(self.headers),
            "body": self.body,
            "received_at": adapt_datetime(self.received_at),
            "occurred_at": adapt_datetime(self.occurred_at),
            "state": self.state,
            "next_attempt_at": adapt_datetime(self.next_attempt_at),
            "last_error": self.last_error,
            "result": self.result,
            "processed_at": adapt_datetime(self.processed_at),
        }


class Reading(StrEnum):
    VALID = "valid"  # verified and readable: stored (received, or ignored), then processed
    UNPARSED = "unparsed"  # verified, but the store class failed reading it: stored, retried
    MALFORMED = "malformed"  # verified, unreadable: kept for inspection, answered 400
    PING = "ping"  # answered 200, nothing stored
    BAD_SIGNATURE = "bad_signature"  # answered 401, nothing stored


@dataclass(frozen=True, slots=True)
class ReadDelivery:
    """What one delivery is, and the row it is stored as (none for a ping or bad signature)."""

    reading: Reading
    row: InboxRow | None = None
    message: str = ""  # why a malformed delivery cannot be read
    error: Exception | None = None  # what the store class raised (UNPARSED)


def read_delivery(
    *, connector_id: int, store: StoreConnector, headers: Mapping[str, str], body: bytes
) -> ReadDelivery:
    """Verify and read one delivery with its store class: every receive rule but the storing.

    Writes nothing, so both receive paths (`receive_delivery`, connectors.fast_inbound) share
    it and store the same row.
    """
    # Store classes read headers several times; Django's HttpHeaders renames every key on
    # each pass, a plain case-insensitive copy once.
    headers = CaseInsensitiveDict(headers)
    verdict = store.verify_inbound(headers=headers, body=body)
    if verdict == InboundVerdict.BAD_SIGNATURE:
        return ReadDelivery(Reading.BAD_SIGNATURE)
    if verdict == InboundVerdict.PING:
        return ReadDelivery(Reading.PING)

    kept_headers = _storable_headers(headers)
    text, unreadable = _text(body)
    now = timezone.now()
    delivery_id = ""
    error: Exception | None = None
    try:
        delivery_id = (store.delivery_id(headers=headers, body=body) or "")[:255]
        if unreadable:
            raise MalformedInbound(unreadable)
        check_json_body(body)
        parsed = store.parse_inbound(headers=headers, body=body)
        check_inbound_event(parsed)
    except MalformedInbound as exc:
        message = str(exc) or "The body could not be read."
        # Kept without its delivery id: a corrected resend under the same id is accepted.
        row = InboxRow(
            connector_id=connector_id,
            delivery_id="",
            topic="",
            headers={**kept_headers, "x-hub-original-delivery-id": delivery_id},
            body=text,
            received_at=now,
            occurred_at=None,
            state=InboxState.MALFORMED,
            next_attempt_at=None,
            last_error=message[:2000],
        )
        return ReadDelivery(Reading.MALFORMED, row, message)
    except Exception as exc:
        # A defect in the store class: the delivery is kept and processing retries it.
        parsed, error = None, exc

    if parsed is not None and parsed.kind == InboundKind.PING:
        return ReadDelivery(Reading.PING)
    delivery_id = delivery_id or (parsed.delivery_id[:255] if parsed else "")
    ignored = parsed is not None and not _has_work(parsed)
    row = InboxRow(
        connector_id=connector_id,
        delivery_id=delivery_id,
        topic=(parsed.topic if parsed else "")[:120],
        headers=kept_headers,
        body=text,
        received_at=now,
        occurred_at=parsed.occurred_at if parsed else None,
        state=InboxState.IGNORED if ignored else InboxState.RECEIVED,
        next_attempt_at=None if ignored else now,
        result="Nothing the hub tracks." if ignored else "",
        processed_at=now if ignored else None,
    )
    if parsed is None:
        return ReadDelivery(Reading.UNPARSED, row, error=error)
    return ReadDelivery(Reading.VALID, row)


def check_json_body(body: bytes) -> None:
    """Refuse a JSON body no store class should be handed (`inventory_hub.json_input`):
    nested past its depth, a NUL in a string, a number out of range. Raises
    `MalformedInbound`; a body that is not JSON at all is left to the store class to name."""
    try:
        load_json(body)
    except NotJson:
        return
    except UnacceptableJson as exc:
        raise MalformedInbound(str(exc)) from None


def check_inbound_event(parsed: InboundEvent) -> None:
    """Refuse what a store class read but the hub cannot hold: a quantity that is not a
    whole number within MAX_QUANTITY, a SKU, reference or location that is not text or has
    a NUL. Checked before the 200, so such a delivery never reaches the worker."""
    for index, item in enumerate(parsed.stock):
        where = f"stock[{index}]"
        _check_text(f"{where}.sku", item.sku)
        _check_text(f"{where}.remote_id", item.remote_id)
        _check_text(f"{where}.location", item.location)
        if item.quantity is not None:
            _check_quantity(f"{where}.quantity", item.quantity, minimum=-MAX_QUANTITY)
    for index, order in enumerate(parsed.orders):
        where = f"orders[{index}]"
        _check_text(f"{where}.reference", order.reference)
        for number, line in enumerate(order.lines):
            _check_text(f"{where}.lines[{number}].sku", line.sku)
            _check_quantity(f"{where}.lines[{number}].quantity", line.quantity, minimum=0)
    for index, reference in enumerate(parsed.deleted_order_references):
        _check_text(f"deleted_order_references[{index}]", reference)


def _check_text(where: str, value: object) -> None:
    if not isinstance(value, str):
        raise MalformedInbound(f"{where}: expected text, got {type(value).__name__}")
    if "\x00" in value:
        raise MalformedInbound(f"{where}: contains NUL")


def _check_quantity(where: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedInbound(f"{where}: expected a whole number, got {value!r}"[:300])
    if not minimum <= value <= MAX_QUANTITY:
        shown = str(value) if abs(value) < 10**15 else f"{value:.3e}"
        raise MalformedInbound(f"{where}: {shown} is out of range ({minimum} to {MAX_QUANTITY})")


def stored_receipt(row: InboxRow, event_id: int | None) -> Receipt:
    """The answer for a stored delivery; `event_id` None: its delivery id was seen before."""
    if event_id is None:
        return Receipt(200, {"status": "duplicate", "delivery_id": row.delivery_id})
    status = "ignored" if row.state == InboxState.IGNORED else "accepted"
    return Receipt(200, {"status": status, "event": event_id}, event_id)


def receive_delivery(
    *, connector: Connector, headers: Mapping[str, str], body: bytes, remote_addr: str = ""
) -> Receipt:
    """Verify one delivery and store it raw; see the module docstring for what it promises."""
    store = build_connector(connector, session=_SHARED_SESSION)
    read = read_delivery(connector_id=connector.pk, store=store, headers=headers, body=body)
    if read.reading == Reading.BAD_SIGNATURE:
        _log_bad_signature(connector, headers, remote_addr)
        return Receipt(401, _error("bad_signature", "The delivery's signature does not match."))
    if read.reading == Reading.PING:
        return Receipt(200, {"status": "ping"})
    assert read.row is not None
    event_id = _store(read.row)
    if read.reading == Reading.MALFORMED:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.MALFORMED_INBOUND,
            message=f"Malformed delivery kept as inbox event {event_id}: {read.message}",
            details={"event": event_id},
        )
        return Receipt(400, _error("malformed", read.message), event_id)
    if read.reading == Reading.UNPARSED:
        logger.error(
            "Could not parse a delivery for connector %s",
            connector.pk,
            exc_info=read.error,
        )
    return stored_receipt(read.row, event_id)


def _store(row: InboxRow) -> int | None:
    """Insert the row through Django's connection; queue its processing after the commit."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENT_SQL, row.sql_params(connection.ops.adapt_datetimefield_value))
        found = cursor.fetchone()
    event_id = found[0] if found else None
    if event_id is not None and row.state == InboxState.RECEIVED:
        transaction.on_commit(partial(kick_inbox, row.connector_id))
    return event_id


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "details": {}}}


def _storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        str(name): str(value)
        for name, value in headers.items()
        if str(name).lower() not in SECRET_HEADERS
    }


def _text(body: bytes) -> tuple[str, str]:
    """The body as text for the database, and why it is unreadable ("" when it is fine)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return body.decode("utf-8", errors="backslashreplace"), f"The body is not UTF-8: {exc}."
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL.
        return text.replace("\x00", "\\x00"), "The body contains NUL characters."
    return text, ""


def _log_bad_signature(connector: Connector, headers: Mapping[str, str], remote_addr: str) -> None:
    topic = headers.get("X-WC-Webhook-Topic") or headers.get("X-Hub-Topic") or ""
    logger.warning(
        "Refused a delivery with a bad signature for connector %s from %s (topic %r)",
        connector.pk,
        remote_addr or "?",
        topic,
    )
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.BAD_SIGNATURE,
        message=f"Refused a delivery with a bad signature from {remote_addr or 'unknown'}.",
        details={"remote_addr": remote_addr, "topic": topic},
    )


# --- Kicks and drains -------------------------------------------------------------------------

INBOX_DRAIN_JOB = "inbox"
INBOX_DRAIN_BATCH = 100
INBOX_DRAIN_LIMIT = 1000


class _InboxKicker:
    """At most one `process_connector_inbox_task` message per connector per kick interval
    (`CONNECTORS_KICK_INTERVAL_SECONDS`) from this process, always sent by a timer thread.

    One drain applies everything its connector has received, so a burst of deliveries
    needs one message, not one each. Unlike the outbox's kicks the caller never sends: the
    ASGI fast path kicks from the server's event loop, which must not wait for the broker.
    A kick inside the interval is sent when it ends; a lost message costs time, not events
    (the sweeper queues a drain for events left waiting).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: set[int] = set()
        self.timer: threading.Timer | None = None
        self.last_flush = float("-inf")

    def kick(self, connector_id: int) -> None:
        with self.lock:
            self.waiting.add(connector_id)
            if self.timer is None:
                delay = self.last_flush + kick_interval_seconds() - time.monotonic()
                self.timer = threading.Timer(max(delay, 0.0), self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> None:
        with self.lock:
            waiting, self.waiting, self.timer = sorted(self.waiting), set(), None
            self.last_flush = time.monotonic()
        for connector_id in waiting:
            _send_drain(connector_id)


_kicker = _InboxKicker()


def kick_inbox(connector_id: int) -> None:
    """Ask a worker to drain this connector's inbox soon; never waits for the broker."""
    _kicker.kick(connector_id)


def _send_drain(connector_id: int) -> None:
    from connectors.tasks import process_connector_inbox_task

    try:
        process_connector_inbox_task.delay(connector_id)
    except Exception:
        # The events are committed; the beat sweeper queues a drain for them.
        logger.exception("Could not queue the inbox drain of connector %s", connector_id)


class DrainStatus(StrEnum):
    DONE = "done"
    MORE = "more"  # stopped at the limit: events may remain
    BUSY = "busy"  # another drain of this connector is running


def process_connector_inbox(*, connector_id: int, limit: int = INBOX_DRAIN_LIMIT) -> DrainStatus:
    """Apply this connector's received events in arrival order, each in its own transaction.

    Each event goes through `process_inbox_event` (its row lock, SKIP LOCKED), so a drain
    and a single-event task (a retry, a replay) never apply one event twice. One drain per
    connector runs at a time (`connector_job_lock`): a second returns BUSY at once, which
    keeps a connector's events in arrival order. Stops with MORE after `limit` events.
    """
    with connector_job_lock(INBOX_DRAIN_JOB, connector_id) as acquired:
        if not acquired:
            return DrainStatus.BUSY
        after, done = 0, 0
        while done < limit:
            batch = list(
                _waiting_events(connector_id)
                .filter(pk__gt=after)
                .order_by("pk")
                .values_list("pk", flat=True)[: min(INBOX_DRAIN_BATCH, limit - done)]
            )
            if not batch:
                return DrainStatus.DONE
            for event_id in batch:
                process_inbox_event(event_id=event_id)
            done += len(batch)
            after = batch[-1]
    return DrainStatus.MORE


def has_waiting_events(connector_id: int) -> bool:
    """Whether this connector has received events due for processing."""
    return _waiting_events(connector_id).exists()


def _waiting_events(connector_id: int):
    due = timezone.now() + timedelta(seconds=1)  # as process_inbox_event counts "due"
    return InboxEvent.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due),
        connector_id=connector_id,
        state=InboxState.RECEIVED,
    )


# --- Processing -------------------------------------------------------------------------------


class InboundProcessingError(Exception):
    """Processing cannot go on for now: retry later."""


class InboundRefused(Exception):
    """Processing can never succeed as things stand (a connector without a sales channel):
    refused at once, not retried."""


def is_deterministic_refusal(exc: BaseException) -> bool:
    """Whether retrying the same event could only fail the same way: the hub refused it
    (a stock rule, an input error, no channel). Database and network failures are
    transient and retry; so does whatever else failed, which a fix may cure."""
    from stock.errors import ConflictExpectedOnHand, StockError

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


def process_inbox_event(*, event_id: int) -> str | None:
    """Apply one received (or failed) event; returns its new state, None if not ours now.

    Takes the event's row lock with SKIP LOCKED: an event another worker is processing is
    left to it. The event's effects and its new state commit together.
    """
    now = timezone.now()
    with transaction.atomic():
        event = (
            InboxEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connector", "connector__channel")
            .filter(pk=event_id, state__in=[InboxState.RECEIVED, InboxState.FAILED])
            .first()
        )
        if event is None:
            return None
        if event.next_attempt_at and event.next_attempt_at > now + timedelta(seconds=1):
            return None  # not due yet (an early duplicate of a scheduled retry)
        event.attempts += 1
        try:
            with transaction.atomic():
                outcome = apply_event(event)
        except Exception as exc:
            if is_deterministic_refusal(exc):
                _refuse(event, exc)
            else:
                _fail(event, exc)
        else:
            event.state = InboxState.PROCESSED
            event.result = outcome.summary()[:4000]
            event.processed_at = timezone.now()
            event.last_error = ""
            event.next_attempt_at = None
        event.save(
            update_fields=[
                "state",
                "attempts",
                "result",
                "processed_at",
                "last_error",
                "next_attempt_at",
            ]
        )
    return event.state


def _refuse(event: InboxEvent, exc: Exception) -> None:
    """A refusal no retry can change: a dead letter at once, with its error and a problem,
    so ops can fix the cause (map the channel, say) and replay it."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    event.state = InboxState.DEAD
    event.next_attempt_at = None
    event.last_error = message
    event.result = "Refused, not retried."
    logger.warning("Inbox event %s refused, not retried: %s", event.pk, message)
    record_problem(
        connector_id=event.connector_id,
        kind=SyncProblemKind.DEAD_LETTER,
        message=f"Inbox event {event.pk} ({event.topic or 'no topic'}) was refused and is not "
        f"retried; replay it once the cause is fixed: {message}",
        details={"event": event.pk, "refused": True},
    )


def _fail(event: InboxEvent, exc: Exception) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    event.last_error = message
    if event.attempts >= inbox_max_attempts():
        event.state = InboxState.DEAD
        event.next_attempt_at = None
        logger.error(
            "Inbox event %s is dead after %s attempts: %s", event.pk, event.attempts, message
        )
        record_problem(
            connector_id=event.connector_id,
            kind=SyncProblemKind.DEAD_LETTER,
            message=f"Inbox event {event.pk} ({event.topic or 'no topic'}) failed "
            f"{event.attempts} times and needs a replay: {message}",
            details={"event": event.pk},
        )
        return
    delay = inbox_backoff_seconds(event.attempts)
    event.state = InboxState.FAILED
    event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    logger.warning(
        "Inbox event %s failed (attempt %s), retry in %.0f s: %s",
        event.pk,
        event.attempts,
        delay,
        message,
    )
    transaction.on_commit(partial(_schedule_retry, event.pk, delay))


def _schedule_retry(event_id: int, delay: float) -> None:
    from connectors.tasks import process_inbox_event_task

    try:
        process_inbox_event_task.apply_async((event_id,), countdown=delay)
    except Exception:
        # The sweeper retries failed events whose time has come.
        logger.exception("Could not schedule the retry of inbox event %s", event_id)


def apply_event(event: InboxEvent) -> Outcome:
    """Parse the stored delivery (or uploaded CSV feed) again and apply it. Must run inside
    a transaction."""
    from connectors.sync.feeds import FEED_UPLOAD_TOPIC, read_uploaded_feed, reads_csv_feeds

    connector = event.connector
    store = build_connector(connector, session=_SHARED_SESSION)
    if event.topic == FEED_UPLOAD_TOPIC and reads_csv_feeds(store):
        parsed = read_uploaded_feed(store, event.body)
    else:
        parsed = store.parse_inbound(
            headers=CaseInsensitiveDict(event.headers), body=event.body.encode("utf-8")
        )
    outcome = Outcome()
    if not _has_work(parsed):
        outcome.notes.append("Nothing the hub tracks.")
        return outcome
    if parsed.orders or parsed.deleted_order_references:
        _apply_orders(connector, parsed, outcome)
    if parsed.stock:
        _apply_stock(connector, event, parsed, outcome)
    if parsed.deleted_remote_ids:
        _forget_deleted_products(connector, event, parsed.deleted_remote_ids, outcome)
    return outcome


def _has_work(parsed: InboundEvent) -> bool:
    if parsed.kind == InboundKind.PING:
        return False
    return bool(
        parsed.orders
        or parsed.stock
        or parsed.deleted_order_references
        or parsed.deleted_remote_ids
    )


def _forget_deleted_products(
    connector: Connector, event: InboxEvent, remote_ids: Sequence[str], outcome: Outcome
) -> None:
    """The store deleted these products: their mappings are removed (a push to them could
    only be refused) and reported, so ops can map the SKUs again."""
    stale = list(
        SkuMapping.objects.filter(connector=connector, remote_id__in=list(remote_ids))
        .select_related("variant")
        .order_by("pk")
    )
    if not stale:
        return
    gone = [{"sku": mapping.variant.sku, "remote_id": mapping.remote_id} for mapping in stale]
    SkuMapping.objects.filter(pk__in=[mapping.pk for mapping in stale]).delete()
    outcome.notes.append(f"{len(gone)} mapping(s) removed: the store deleted the product")
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.UNMAPPED,
        message=f"The store deleted {len(gone)} mapped product(s); their SKUs are unmapped now: "
        + ", ".join(item["sku"] for item in gone[:20]),
        details={"event": event.pk, "deleted": gone},
    )


# --- Orders -----------------------------------------------------------------------------------


def _apply_orders(connector: Connector, parsed: InboundEvent, outcome: Outcome) -> None:
    from stock.services.orders import cancel_order

    channel = connector.channel
    if channel is None:
        raise InboundRefused(
            f"Connector {connector.name} has no sales channel: its orders cannot be placed."
        )
    actor = Actor.connector(connector.name)
    for remote in parsed.orders:
        # The store took (or gave back) these units on its own before the hub heard of
        # the order: counted as already done there, so no push rewrites them.
        mappings = lock_order_mappings(connector, remote)
        status_before = _order_status(channel, remote.reference) if mappings else None
        _apply_order(connector, channel, remote, actor, outcome)
        if mappings:
            count_store_order(
                connector=connector,
                remote=remote,
                order=Order.objects.filter(channel=channel, reference=remote.reference).first(),
                status_before=status_before,
                mappings=mappings,
            )
        outcome.orders += 1
    for reference in parsed.deleted_order_references:
        order = Order.objects.filter(channel=channel, reference=reference).first()
        if order is not None and order.status in CANCELLABLE:
            cancel_order(order=order, actor=actor)
            outcome.orders += 1
        # A trashed order keeps what the store took; the hub's release is pushed as such.
        forget_store_order(connector, reference)


def _order_status(channel, reference: str) -> str | None:
    return (
        Order.objects.filter(channel=channel, reference=reference)
        .values_list("status", flat=True)
        .first()
    )


def apply_remote_orders(
    *, connector: Connector, orders: Sequence[RemoteOrder], outcome: Outcome | None = None
) -> Outcome:
    """Apply orders a store reported outside a delivery (a poll) exactly as a delivery's:
    the same steps, idempotent by order reference. Must run inside a transaction."""
    outcome = outcome if outcome is not None else Outcome()
    _apply_orders(connector, InboundEvent(kind=InboundKind.ORDERS, orders=tuple(orders)), outcome)
    return outcome


CANCELLABLE = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)


def record_order_refused(*, connector: Connector, reference: str, error: Exception) -> None:
    """A store order read outside a delivery (a poll) that the hub refused for good: a
    problem for ops instead of a retry that could only fail the same way."""
    message = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("Connector %s: order %s refused: %s", connector.pk, reference, message)
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.OTHER,
        message=f"Order {reference} from {connector.name} was refused and is not retried: "
        f"{message}",
        details={"order": reference, "refused": True},
        # Polls re-read a window before their cursor: one open problem per refused order.
        subject=f"order:{reference}",
    )


def _apply_order(
    connector: Connector, channel, remote: RemoteOrder, actor: Actor, outcome: Outcome
) -> None:
    """Move the hub's order to the store's state; every step is idempotent by reference."""
    from stock.services.orders import (
        OrderLineInput,
        cancel_order,
        pay_order,
        place_order,
        ship_order,
    )

    order = Order.objects.filter(channel=channel, reference=remote.reference).first()
    if remote.state == OrderState.RELEASED:
        if order is not None and order.status in CANCELLABLE:
            cancel_order(order=order, actor=actor)
        return
    if order is None:
        known = set(
            Variant.objects.filter(sku__in=[line.sku for line in remote.lines]).values_list(
                "sku", flat=True
            )
        )
        unknown = sorted({line.sku for line in remote.lines} - known)
        if unknown:
            outcome.unmapped.extend(unknown)
            record_problem(
                connector_id=connector.pk,
                kind=SyncProblemKind.UNMAPPED,
                message=f"Order {remote.reference} has SKUs the hub does not know: "
                f"{', '.join(unknown[:20])}",
                details={"order": remote.reference, "unknown": unknown[:500]},
            )
        lines = [
            OrderLineInput(sku=line.sku, quantity=line.quantity)
            for line in remote.lines
            if line.sku in known
        ]
        if not lines:
            outcome.notes.append(f"order {remote.reference}: no SKU the hub knows")
            return
        # The store has sold it already: what cannot be held is recorded as a shortfall,
        # which stops the channel offering those units again, never refused.
        placed = place_order(
            channel=channel,
            reference=remote.reference,
            lines=lines,
            actor=actor,
            shipping_latitude=remote.latitude,
            shipping_longitude=remote.longitude,
            accept_shortfall=True,
        )
        order = placed.order
        short = [
            f"{line.variant.sku} {line.short_quantity}" for line in placed.lines if line.is_short
        ]
        if placed.created and short:
            outcome.notes.append(
                f"order {remote.reference} is short (sold, not held): {', '.join(short)}"
            )
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        # Not retried: the hub's hold is gone and the order's reference is taken.
        outcome.notes.append(
            f"order {remote.reference} is {order.status} in the hub but {remote.state} in the store"
        )
        return
    if remote.state == OrderState.PAID and order.status == OrderStatus.PLACED:
        pay_order(order=order, actor=actor)
    elif remote.state == OrderState.SHIPPED and order.status != OrderStatus.SHIPPED:
        ship_order(order=order, actor=actor)


# --- Stock snapshots --------------------------------------------------------------------------


def _apply_stock(
    connector: Connector, event: InboxEvent, parsed: InboundEvent, outcome: Outcome
) -> None:
    apply_remote_stock(
        connector=connector,
        stock=parsed.stock,
        source=event.delivery_id or f"event-{event.pk}",
        occurred_at=parsed.occurred_at,
        details={"event": event.pk},
        outcome=outcome,
    )


def apply_remote_stock(
    *,
    connector: Connector,
    stock: Sequence[RemoteStock],
    source: str,
    occurred_at: datetime | None = None,
    details: dict | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Apply stock records a store reported (a webhook, a poll, a feed) by ownership.

    Store-owned locations: count movements (reason sync, source connector, reference
    "<connector>:<source>:<remote id>:<location>", so the same `source` twice is a no-op).
    Hub-owned: echoes and right values are noted, drift is recorded (`drift` problem) and
    an overwrite push is queued. Items older than the newest applied for their SKU and
    location are stale: recorded, not applied. Unmapped SKUs are reported. Must run inside
    a transaction (it locks the mappings it updates).
    """
    from stock.services import count_stock

    outcome = outcome if outcome is not None else Outcome()
    details = details or {}
    already_unmapped = len(outcome.unmapped)
    items = list(stock)
    mappings = _lock_mappings(connector, items)
    locations = location_mappings(connector)
    spec = kind_spec(connector.kind)
    hub_owned = list(
        {
            mapping.pk: mapping
            for item in items
            if (mapping := _find(mappings, item)) is not None
            and not location_store_owned(connector, locations, item.location)
        }.values()
    )
    followed = (
        _follow_manage_stock(mappings, items, occurred_at) if spec.reports_manage_stock else set()
    )
    desired: dict[tuple[int, str], int] = {}
    if hub_owned:
        try:
            for mapping_pk, wanted in desired_push_items(connector, hub_owned).items():
                for item in wanted:
                    desired[(mapping_pk, item.location)] = item.quantity
        except MissingChannel as exc:
            outcome.notes.append(str(exc))
    actor = Actor.connector(connector.name)
    delivery = source
    overwrite: set[int] = set(followed)
    overwrite_later: set[int] = set()
    touched: dict[int, SkuMapping] = {}
    selling: list[set[str]] = []  # SKUs of the store's orders not applied yet, read once

    def is_being_sold(mapping: SkuMapping) -> bool:
        if not selling:
            selling.append(_unapplied_order_skus(connector))
        return mapping.variant.sku in selling[0]

    for item in items:
        mapping = _find(mappings, item)
        if mapping is None:
            outcome.unmapped.append(item.sku or item.remote_id)
            continue
        label = f"{mapping.variant.sku}@{item.location or '-'}"
        stamp = item.updated_at or occurred_at
        newest = _parse_time(mapping.location_updated_at.get(item.location))
        if stamp is not None and newest is not None and stamp < newest:
            outcome.stale.append(label)
            continue
        if item.quantity is None:
            outcome.notes.append(f"{label}: the store does not count it")
        elif location_store_owned(connector, locations, item.location):
            location = locations.get(item.location)
            if location is None:
                outcome.unmapped.append(f"location {item.location or '(store)'}")
                continue
            counted = item.quantity
            if spec.quantity_excludes_own_orders:
                level = StockLevel.objects.filter(
                    variant=mapping.variant, warehouse=location.warehouse
                ).first()
                if level is not None:
                    counted += own_channel_held(connector, [level]).get(level.pk, 0)
            result = count_stock(
                variant=mapping.variant,
                warehouse=location.warehouse,
                counted=counted,
                actor=actor,
                reason=ReasonCode.SYNC,
                source=MovementSource.CONNECTOR,
                document=f"connector {connector.name} delivery {delivery}"[:200],
                reference=f"{connector.pk}:{delivery}:{mapping.remote_id}:{item.location}"[:255],
            )
            if result.outcome == "applied":
                outcome.counted += 1
            else:
                outcome.in_sync += 1
        elif keeps_accounts(connector.kind):
            wanted = desired.get((mapping.pk, item.location))
            reading = read_store_figure(mapping, item.location, item.quantity, wanted)
            if reading == StoreReading.IN_SYNC:
                outcome.in_sync += 1
            elif reading == StoreReading.ECHO:
                outcome.echoes += 1
                # An older push of ours, or a figure that only looks like one: the push
                # worker compares again and sends only what still differs.
                (overwrite_later if mapping.store_orders else overwrite).add(mapping.variant_id)
            elif reading == StoreReading.BELOW:
                # Sales the store made that the hub has not heard of yet: never undone.
                outcome.notes.append(
                    f"{label}: the store holds {item.quantity}, below the hub's "
                    f"{mapping.accounted.get(item.location)}: sales not reported yet, kept"
                )
            else:
                outcome.drifted.append(
                    {
                        "sku": mapping.variant.sku,
                        "location": item.location,
                        "store": item.quantity,
                        "hub": wanted,
                    }
                )
                # A rise the store's own open orders could explain (a cancellation whose
                # order event is on its way) waits a moment for it; any other at once.
                (overwrite_later if mapping.store_orders else overwrite).add(mapping.variant_id)
        else:
            wanted = desired.get((mapping.pk, item.location))
            pushed = mapping.last_pushed.get(item.location)
            mapping.last_confirmed = {**mapping.last_confirmed, item.location: item.quantity}
            if wanted is not None and item.quantity == wanted:
                outcome.in_sync += 1
            elif pushed is not None and item.quantity == pushed:
                outcome.echoes += 1  # an older push of ours coming back; a newer one follows
                overwrite.add(mapping.variant_id)
            elif wanted is not None and item.quantity < wanted and is_being_sold(mapping):
                # The store already sold what its order delivery, still waiting, will tell
                # the hub: raising its figure now would offer those units again.
                outcome.notes.append(
                    f"{label}: the store shows {item.quantity}, the hub {wanted}; not "
                    "overwritten while the store's order for it is not applied"
                )
            else:
                outcome.drifted.append(
                    {
                        "sku": mapping.variant.sku,
                        "location": item.location,
                        "store": item.quantity,
                        "hub": wanted,
                    }
                )
                overwrite.add(mapping.variant_id)
        if stamp is not None:
            mapping.location_updated_at = {
                **mapping.location_updated_at,
                item.location: stamp.isoformat(),
            }
            if mapping.remote_updated_at is None or stamp > mapping.remote_updated_at:
                mapping.remote_updated_at = stamp
        touched[mapping.pk] = mapping
    for mapping in touched.values():
        mapping.save(
            update_fields=[
                "last_confirmed",
                "accounted",
                "location_updated_at",
                "remote_updated_at",
                "updated_at",
            ]
        )
    if overwrite:
        enqueue_connector_pushes(connector.pk, overwrite)
    if overwrite_later - overwrite:
        # A push already waiting goes as due (it brings the rise down too): never delayed.
        waiting = set(
            OutboxItem.objects.filter(
                connector=connector,
                state=OutboxState.PENDING,
                variant_id__in=overwrite_later - overwrite,
            ).values_list("variant_id", flat=True)
        )
        if overwrite_later - overwrite - waiting:
            enqueue_connector_pushes(
                connector.pk,
                overwrite_later - overwrite - waiting,
                delay_seconds=store_rise_grace_seconds(),
            )
    if outcome.drifted:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.DRIFT,
            message=f"{len(outcome.drifted)} SKU(s) changed on the store behind the hub's back; "
            "the hub's values are being pushed back.",
            details={**details, "items": outcome.drifted[:100]},
        )
    unmapped = outcome.unmapped[already_unmapped:]
    if unmapped:
        record_problem(
            connector_id=connector.pk,
            kind=SyncProblemKind.UNMAPPED,
            message=f"{delivery} named what no mapping covers: {', '.join(unmapped[:20])}",
            details={**details, "unmapped": unmapped[:500]},
        )
    # Status rules: a store that owns SKUs' stock status passes it on to the others.
    from connectors.sync.status import propagate_store_statuses

    changes = propagate_store_statuses(connector=connector, stock=items, source=delivery)
    if changes:
        outcome.notes.append(f"{len(changes)} stock status change(s) taken from the store")
    return outcome


def _follow_manage_stock(
    mappings: dict[str, SkuMapping], items: Sequence[RemoteStock], occurred_at: datetime | None
) -> set[int]:
    """The store switched counting an item on or off (WooCommerce `manage_stock`): the
    mapping follows, so pushes send what the store can show now, a quantity or a status.
    Returns the variants whose mapping changed (a push is queued for them)."""
    changed: set[int] = set()
    for item in items:
        mapping = _find(mappings, item)
        if mapping is None or mapping.is_managed == item.is_managed:
            continue
        stamp = item.updated_at or occurred_at
        newest = _parse_time(mapping.location_updated_at.get(item.location))
        if stamp is not None and newest is not None and stamp < newest:
            continue  # stale: an older record does not undo a newer switch
        mapping.is_managed = item.is_managed
        mapping.save(update_fields=["is_managed", "updated_at"])
        changed.add(mapping.variant_id)
    return changed


# Order deliveries read to find what a store sold before the hub applied it: a backlog
# longer than this is a stuck inbox, which its own problems report.
UNAPPLIED_ORDERS_READ = 500


def _unapplied_order_skus(connector: Connector) -> set[str]:
    """SKUs on this connector's order deliveries not applied yet (received or failed) that
    are new to the hub: the store's own figure already counts them, the hub's does not."""
    events = list(
        InboxEvent.objects.filter(
            connector=connector,
            state__in=[InboxState.RECEIVED, InboxState.FAILED],
            topic__startswith="order",
        )
        .order_by("pk")
        .values_list("headers", "body")[:UNAPPLIED_ORDERS_READ]
    )
    if not events:
        return set()
    store = build_connector(connector, session=_SHARED_SESSION)
    orders: dict[str, set[str]] = {}
    for headers, body in events:
        try:
            parsed = store.parse_inbound(
                headers=CaseInsensitiveDict(headers), body=body.encode("utf-8")
            )
        except Exception:
            continue  # unreadable: its own processing reports it
        for remote in parsed.orders:
            if remote.state != OrderState.RELEASED:
                orders.setdefault(remote.reference, set()).update(line.sku for line in remote.lines)
    if connector.channel_id is not None and orders:
        applied = Order.objects.filter(
            channel_id=connector.channel_id, reference__in=list(orders)
        ).values_list("reference", flat=True)
        for reference in applied:
            orders.pop(reference, None)
    return set().union(*orders.values()) if orders else set()


def _find(mappings: dict[str, SkuMapping], item: RemoteStock) -> SkuMapping | None:
    found = mappings.get(item.remote_id) if item.remote_id else None
    return found or (mappings.get(f"sku:{item.sku}") if item.sku else None)


def _lock_mappings(connector: Connector, items: Sequence[RemoteStock]) -> dict[str, SkuMapping]:
    """Mappings for these items by remote id (or SKU), locked in pk order: the push worker
    writes the same JSON fields, and neither may lose the other's update."""
    remote_ids = [item.remote_id for item in items if item.remote_id]
    skus = [item.sku for item in items if item.sku]
    found = list(
        SkuMapping.objects.select_for_update(no_key=True, of=("self",))
        .select_related("variant")
        .filter(connector=connector)
        .filter(_remote_or_sku(remote_ids, skus))
        .order_by("pk")
    )
    by_key: dict[str, SkuMapping] = {}
    for mapping in found:
        by_key[mapping.remote_id] = mapping
        by_key[f"sku:{mapping.variant.sku}"] = mapping
    return by_key


def _remote_or_sku(remote_ids: list[str], skus: list[str]):
    from django.db.models import Q

    return Q(remote_id__in=remote_ids) | Q(variant__sku__in=skus)


def _parse_time(value: object) -> datetime | None:
    if not value:
        return None
    return parse_datetime(str(value))


# --- Dead letters -----------------------------------------------------------------------------


def replay_dead_letters(
    *, connector_id: int | None = None, event_ids: Sequence[int] | None = None
) -> int:
    """Put dead events back in the queue (attempts start again); returns how many.

    Safe to call twice: only events still `dead` are touched, and processing is idempotent.
    """
    from connectors.tasks import process_inbox_event_task

    events = InboxEvent.objects.filter(state=InboxState.DEAD)
    if connector_id is not None:
        events = events.filter(connector_id=connector_id)
    if event_ids is not None:
        events = events.filter(pk__in=list(event_ids))
    now = timezone.now()
    with transaction.atomic():
        ids = list(events.select_for_update(skip_locked=True).values_list("pk", flat=True))
        InboxEvent.objects.filter(pk__in=ids).update(
            state=InboxState.RECEIVED, attempts=0, next_attempt_at=now
        )
        for event_id in ids:
            process_inbox_event_task.delay_on_commit(event_id)
    return len(ids)
