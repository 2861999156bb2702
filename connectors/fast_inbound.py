"""POST /connectors/<id>/inbound/ answered in front of Django, for the common case.

A store's webhook needs a fast 2xx (WooCommerce disables a webhook after a few slow or failed
deliveries), and most deliveries are the common case: an active connector, a valid
signature, a readable body. `FastInbound` wraps the Django ASGI application and answers
those on the server's event loop: it reads the body, verifies and reads the delivery with
the connector's store class (`connectors.inbound.receiving.read_delivery`), stores it with one
autocommit statement (`INSERT_EVENT_SQL`) through an async psycopg connection of its own,
kicks the connector's inbox drain (`kick_inbox`, which never waits for the broker) and
answers 200. No thread hop, no middleware, no URL resolver, no Django transaction.

Everything else goes to the Django view with the body already read, so each rule keeps
its one home in `connectors.inbound.receiving.receive_delivery`: a bad signature (401,
logged), a ping,
a malformed body (400, kept), a delivery the store class fails to read, an unknown or
inactive connector (404), a Host not in ALLOWED_HOSTS, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, a database this path cannot reach, SQLite, or a fast path
switched off (`CONNECTORS_FAST_INBOUND = False`). Both paths store the same row and give
the same answer; the fast path's response carries the headers Django's middleware adds.

Connector settings (kind, secret, options) are cached per process, decrypted, for
`CONNECTORS_INBOUND_CACHE_SECONDS` (default 5 s): a deactivated connector, or a webhook
secret rotated away, is refused here within that time at most. A delivery signed with a
new secret is accepted at once (it fails the cached check, goes to Django, which reads the
row) and drops the cached entry, so the old secret stops working from then on.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.urls import reverse

from connectors.base import Connector as StoreConnector
from connectors.inbound.queue import kick_inbox
from connectors.inbound.receiving import (
    INSERT_EVENT_SQL,
    Reading,
    Receipt,
    read_delivery,
    stored_receipt,
)
from connectors.models import Connector, InboxState
from connectors.registry import build_connector
from inventory_hub.db import NEVER_BY_COUNT, is_postgresql
from inventory_hub.encryption import decrypt_text

logger = logging.getLogger(__name__)

# As Django's ASGIHandler types them (the ASGI spec's scope is a dict), so it is an ASGIApp.
Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONNECTOR_SQL = """
    SELECT kind, base_url, credentials, webhook_secret, options, timeout_seconds
    FROM connectors_connector WHERE id = %s AND is_active
"""
# What Django's middleware adds to the view's JSON answers with the project's settings
# (SecurityMiddleware, XFrameOptionsMiddleware); a test compares both paths' headers.
RESPONSE_HEADERS = (
    (b"content-type", b"application/json"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
CONNECT_TIMEOUT_SECONDS = 5
# Store classes do no HTTP while reading a delivery; one session serves every cached one.
_SESSION = requests.Session()


def cache_seconds() -> float:
    return float(settings.CONNECTORS_INBOUND_CACHE_SECONDS)


def connection_count() -> int:
    return int(settings.CONNECTORS_FAST_INBOUND_CONNECTIONS)


def is_enabled() -> bool:
    # Asked once per process: under ASGI each request's context would build a database
    # wrapper to ask the vendor.
    return bool(settings.CONNECTORS_FAST_INBOUND) and is_postgresql()


class InboxWriter:
    """At most `connection_count()` autocommit connections of the running event loop,
    opened on demand. A connection whose statement fails is closed; the next request opens
    a new one, so a restarted database costs the requests in flight, not the process."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[psycopg.AsyncConnection] = []
        self._slots = asyncio.Semaphore(1)
        self._params: dict[str, Any] = {}
        self._prepare: bool | None = None

    async def fetchone(self, sql: str, params: Any) -> tuple | None:
        self._bind()
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                cursor = await connection.execute(sql, params, prepare=self._prepare)
                row = await cursor.fetchone()
            except BaseException:
                await _close_quietly(connection)
                raise
            self._idle.append(connection)
            return row

    async def aclose(self) -> None:
        """Close the idle connections (on the loop that opened them)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await _close_quietly(connection)

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        # Connections belong to the loop that opened them: a new loop (a restarted server,
        # a test's) starts afresh.
        self._loop = loop
        self._idle = []
        self._slots = asyncio.Semaphore(connection_count())
        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)  # Django's own cursor and adapters
        params.pop("context", None)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        self._params = params
        # Its two statements are prepared once per connection, as the engine's hot ones are
        # (inventory_hub.db.hot_cursor); Django's own threshold (never) otherwise.
        self._prepare = True if settings.HUB_PREPARED_STATEMENTS else None
        if self._prepare and params.get("prepare_threshold") is None:
            params["prepare_threshold"] = NEVER_BY_COUNT

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(**self._params, autocommit=True)


async def _close_quietly(connection: psycopg.AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception:
        logger.debug("Closing a fast-path connection failed", exc_info=True)


@dataclass(frozen=True, slots=True)
class _Cached:
    store: StoreConnector
    expires_at: float


class ConnectorCache:
    """Active connectors' store objects, each kept `cache_seconds()`. Unknown and inactive
    ids are not kept: they go to the Django view, which answers 404."""

    def __init__(self, writer: InboxWriter) -> None:
        self._writer = writer
        self._entries: dict[int, _Cached] = {}

    async def store_for(self, connector_id: int) -> StoreConnector | None:
        entry = self._entries.get(connector_id)
        now = time.monotonic()
        if entry is not None and entry.expires_at > now:
            return entry.store
        found = await self._writer.fetchone(CONNECTOR_SQL, (connector_id,))
        if found is None:
            self._entries.pop(connector_id, None)
            return None
        kind, base_url, credentials, webhook_secret, options, timeout_seconds = found
        # Decrypted once per cached entry, not per delivery.
        row = Connector(
            pk=connector_id,
            kind=kind,
            base_url=base_url,
            credentials=json.loads(decrypt_text(credentials)) if credentials else {},
            webhook_secret=decrypt_text(webhook_secret),
            options=options,
            timeout_seconds=timeout_seconds,
        )
        store = build_connector(row, session=_SESSION)
        self._entries[connector_id] = _Cached(store, now + cache_seconds())
        return store

    def forget(self, connector_id: int | None = None) -> None:
        if connector_id is None:
            self._entries.clear()
        else:
            self._entries.pop(connector_id, None)


class FastInbound:
    """ASGI application: the inbound endpoint's common case here, everything else `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.writer = InboxWriter()
        self.connectors = ConnectorCache(self.writer)
        self._path: re.Pattern[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connector_id = self._inbound_connector(scope)
        if connector_id is None or not is_enabled():
            await self.app(scope, receive, send)
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body, is_complete = await _read_body(receive, limit)
        if body is None:
            return  # the client went away
        receipt = None
        if is_complete and (limit is None or len(body) <= limit):
            try:
                receipt = await self._receive(scope, connector_id, body)
            except psycopg.Error as exc:
                logger.warning("Inbound fast path: the database failed (%s); using Django", exc)
            except Exception:
                logger.exception("Inbound fast path failed; handing the delivery to Django")
        if receipt is None:
            await self.app(scope, _replay(body, receive, more_body=not is_complete), send)
            return
        await _answer(send, receipt)

    async def aclose(self) -> None:
        """Close this loop's connections and forget the cached connectors."""
        self.connectors.forget()
        await self.writer.aclose()

    async def _receive(self, scope: Scope, connector_id: int, body: bytes) -> Receipt | None:
        """The receipt for a delivery stored here, or None to let the Django view answer."""
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            request.get_host()
        except DisallowedHost:
            return None
        store = await self.connectors.store_for(connector_id)
        if store is None:
            return None
        read = read_delivery(
            connector_id=connector_id, store=store, headers=request.headers, body=body
        )
        if read.reading != Reading.VALID:
            if read.reading == Reading.BAD_SIGNATURE:
                # Perhaps a rotated secret: read the connector again next time.
                self.connectors.forget(connector_id)
            return None
        row = read.row
        assert row is not None
        found = await self.writer.fetchone(INSERT_EVENT_SQL, row.sql_params())
        event_id = found[0] if found else None
        if event_id is not None and row.state == InboxState.RECEIVED:
            kick_inbox(connector_id)
        return stored_receipt(row, event_id)

    def _inbound_connector(self, scope: Scope) -> int | None:
        """The connector id when this is a POST to the inbound endpoint, else None."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        if self._path is None:
            # The endpoint's URL comes from the URLconf, so it is defined in one place.
            prefix, suffix = reverse("connectors:inbound", args=[0]).split("/0/")
            self._path = re.compile(rf"{re.escape(prefix)}/([0-9]+)/{re.escape(suffix)}")
        match = self._path.fullmatch(scope["path"])
        return int(match[1]) if match else None


async def _read_body(receive: Receive, limit: int | None) -> tuple[bytes | None, bool]:
    """(body, complete): None when the client disconnected; incomplete past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if limit is not None and size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive, *, more_body: bool) -> Receive:
    """`receive` for the Django application: the body read so far, then the rest."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replayed


async def _answer(send: Send, receipt: Receipt) -> None:
    content = json.dumps(receipt.body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": receipt.status,
            "headers": [*RESPONSE_HEADERS, (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})
