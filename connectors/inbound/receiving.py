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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

from django.db import connection, transaction
from django.utils import timezone
from requests.structures import CaseInsensitiveDict

from connectors.base import Connector as StoreConnector
from connectors.base import InboundEvent, InboundKind, InboundVerdict, MalformedInbound
from connectors.engine.problems import record_problem
from connectors.inbound.queue import kick_inbox
from connectors.inbound.rules.common import STORE_SESSION, has_work
from connectors.models import Connector, InboxState, SyncProblemKind
from connectors.registry import build_connector
from inventory_hub.json_input import NotJson, UnacceptableJson, load_json
from stock.services.ledger import MAX_QUANTITY

logger = logging.getLogger(__name__)

# Never stored: they carry credentials rather than describe the delivery.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"}
)


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


# What `sql_params` gives a cursor: the row's values, its times as `adapt_datetime` made them.
SqlParam = int | str | datetime | None


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

    def sql_params(
        self, adapt_datetime: Callable[[datetime | None], SqlParam] = lambda value: value
    ) -> dict[str, SqlParam]:
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
    ignored = parsed is not None and not has_work(parsed)
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
    store = build_connector(connector, session=STORE_SESSION)
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
