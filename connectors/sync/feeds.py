"""CSV stock feeds uploaded by staff (the API, the admin), for connectors that read one.

Guarantees: `upload_feed` checks the whole file with the connector's column mapping
before anything is written; a file with any problem is refused (`MalformedFeed`, naming
its line and column) and nothing is stored. A good file is stored raw as one inbox event
(topic `feed.upload`) in one statement, and its processing is queued after the commit: a
worker applies it like a webhook delivery (`connectors.inbound.queue.process_inbox_event`, which
reads it with `read_uploaded_feed`), so the same ownership, staleness, retry and
dead-letter rules hold, and an upload is never lost once answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.db import transaction
from django.utils import timezone

from connectors.base import Connector as StoreConnector
from connectors.base import InboundEvent, InboundKind
from connectors.capabilities import CsvFeedStore
from connectors.dispatch import PROCESS_INBOX_EVENT, connector_task
from connectors.models import Connector, InboxEvent, InboxState
from connectors.partner.csv_feed import MalformedFeed
from connectors.registry import UnknownConnectorKind, build_connector, connector_class

FEED_UPLOAD_TOPIC = "feed.upload"
# An upload is kept whole in one inbox row and parsed in memory.
MAX_FEED_BYTES = 10 * 1024 * 1024


class FeedNotAccepted(Exception):
    """The connector takes no upload now; `code` says why (inactive_connector, no_csv_feed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StoredFeed:
    event_id: int
    rows: int


def reads_csv_feeds(store: StoreConnector | type[StoreConnector]) -> bool:
    """Whether this store (class) reads CSV feeds: it has `parse_csv(data) -> [RemoteStock]`."""
    return callable(getattr(store, "parse_csv", None))


def kind_reads_csv_feeds(kind: str) -> bool:
    try:
        return reads_csv_feeds(connector_class(kind))
    except UnknownConnectorKind:
        return False


def upload_feed(
    *, connector: Connector, data: bytes, file_name: str = "", uploaded_by: str = ""
) -> StoredFeed:
    """Store a CSV stock feed for a worker to apply (see the module docstring).

    Raises `FeedNotAccepted` (the connector is switched off, or its kind reads no CSV) or
    `MalformedFeed`; either way nothing is stored.
    """
    if not connector.is_active:
        raise FeedNotAccepted(
            "inactive_connector", f"Connector {connector.name} is switched off: switch it on first."
        )
    if not kind_reads_csv_feeds(connector.kind):
        raise FeedNotAccepted(
            "no_csv_feed",
            f"Connector {connector.name} is a {connector.kind} connector: only partner "
            "connectors read CSV feeds.",
        )
    # Its kind reads CSV feeds (checked just above).
    records = cast(CsvFeedStore, build_connector(connector)).parse_csv(data)
    text = data.decode("utf-8-sig")  # parse_csv has read it: UTF-8, without NUL
    if not records:
        raise MalformedFeed("line 2: no stock rows after the header line", line=2)
    stamps = [record.updated_at for record in records if record.updated_at is not None]
    now = timezone.now()
    with transaction.atomic():
        event = InboxEvent.objects.create(
            connector=connector,
            topic=FEED_UPLOAD_TOPIC,
            headers={
                "Content-Type": "text/csv",
                "X-Hub-Upload": file_name[:200],
                "X-Hub-Uploaded-By": uploaded_by[:150],
            },
            body=text,
            received_at=now,
            occurred_at=max(stamps) if stamps else None,
            state=InboxState.RECEIVED,
            next_attempt_at=now,
        )
        connector_task(PROCESS_INBOX_EVENT).delay_on_commit(event.pk)
    return StoredFeed(event_id=event.pk, rows=len(records))


def read_uploaded_feed(store: StoreConnector, body: str) -> InboundEvent:
    """An uploaded feed's stock records, read again with the connector's current column
    mapping (`MalformedFeed` if it no longer reads: the event retries, then is dead)."""
    if not reads_csv_feeds(store):
        raise TypeError(f"{type(store).__name__} reads no CSV feed")
    records = cast(CsvFeedStore, store).parse_csv(body.encode("utf-8"))  # checked above
    stamps = [record.updated_at for record in records if record.updated_at is not None]
    return InboundEvent(
        kind=InboundKind.STOCK if records else InboundKind.IGNORED,
        topic=FEED_UPLOAD_TOPIC,
        occurred_at=max(stamps) if stamps else None,
        stock=tuple(records),
    )
