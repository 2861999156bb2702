"""The one small interface every store connector implements, and the shapes it speaks.

A connector class knows one store's protocol and nothing of the hub's tables: it is built
from a plain `ConnectorConfig`, talks HTTP through the `requests.Session` it is given, and
answers with the dataclasses below. The sync engine (`connectors/engine/`) owns the
database side: inbox, outbox, mappings, retries, circuit breaker, reconciliation.

Errors from a store are raised as `RemoteError` subclasses so the engine can decide
between retrying later (`RemoteUnavailable`, `RemoteThrottled`) and giving up
(`RemoteRejected`, `RemoteAuthFailed`).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 10.0
# A request body the clients send as JSON: an object or an array; None sends none.
JsonBody = Mapping[str, Any] | Sequence[Any] | None


class RemoteStatus(StrEnum):
    """A stock status as the hub names it, whatever the store calls it."""

    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    BACKORDER = "backorder"


class OrderState(StrEnum):
    """Where a store's order stands in the hub's reservation lifecycle."""

    HOLD = "hold"  # reserve (placed)
    PAID = "paid"  # hold becomes firm
    SHIPPED = "shipped"  # deduct on hand and reserved
    RELEASED = "released"  # cancel: release the hold


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """Everything a connector class needs, read from the hub's tables by the engine."""

    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    webhook_secret: str = ""
    options: Mapping[str, object] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class RemoteStock:
    """One stock record as a store holds it.

    `location` is where the quantity lives on the store's side: a Magento source code, or
    "" for a store with one stock per item (WooCommerce). `quantity` is the physical
    quantity the store holds (None when the store does not manage stock for the item).
    """

    sku: str
    remote_id: str
    quantity: int | None
    status: RemoteStatus
    location: str = ""
    parent_id: str = ""
    is_managed: bool = True
    forced_status: RemoteStatus | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RemoteOrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RemoteOrder:
    reference: str
    state: OrderState
    lines: tuple[RemoteOrderLine, ...]
    updated_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    # Whether the store has taken the lines from its own stock in this state (WooCommerce
    # reduces stock at processing/on-hold/completed and restores it on cancel); None: the
    # store kind does not say, or this state leaves it as it was.
    is_stock_reduced: bool | None = None


@dataclass(frozen=True, slots=True)
class PushItem:
    """The value the hub wants a store to hold for one SKU at one location."""

    sku: str
    remote_id: str
    quantity: int
    location: str = ""
    parent_id: str = ""
    is_managed: bool = True
    status: RemoteStatus | None = None  # pushed only where the store does not derive it
    forced_status: RemoteStatus | None = None
    # A relative push (WooCommerce `inventory_delta`): the store adds `delta` to what it
    # holds, and `quantity` is the figure expected afterwards. None: `quantity` is absolute.
    delta: int | None = None
    # How far the hub's figure moved since the store's figure was last accounted for: added
    # to `SkuMapping.accounted` once the store confirms (connectors/engine/accounting.py).
    hub_change: int | None = None


@dataclass(frozen=True, slots=True)
class PushResult:
    item: PushItem
    is_confirmed: bool
    confirmed_quantity: int | None = None
    error: str = ""


class InboundKind(StrEnum):
    PING = "ping"  # a store checking the endpoint: answer 200, store nothing of value
    ORDERS = "orders"
    STOCK = "stock"
    IGNORED = "ignored"  # a valid delivery about something the hub does not track


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A verified delivery, parsed into what the hub acts on."""

    kind: InboundKind
    topic: str = ""
    delivery_id: str = ""
    occurred_at: datetime | None = None
    orders: tuple[RemoteOrder, ...] = ()
    stock: tuple[RemoteStock, ...] = ()
    deleted_order_references: tuple[str, ...] = ()
    # Products the store deleted (WooCommerce product.deleted): their mappings are stale.
    deleted_remote_ids: tuple[str, ...] = ()


class InboundVerdict(StrEnum):
    VALID = "valid"
    PING = "ping"  # unsigned by design (WooCommerce's webhook creation ping)
    BAD_SIGNATURE = "bad_signature"


class RemoteError(Exception):
    """A store did not do what was asked."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RemoteUnavailable(RemoteError):
    """Timeout, connection refused, 5xx: try again later."""


class RemoteThrottled(RemoteUnavailable):
    """429: try again after `retry_after_seconds` (None when the store did not say)."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, **kwargs):
        super().__init__(message, status=429, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class RemoteAuthFailed(RemoteError):
    """401/403: credentials are wrong or expired; retrying unchanged will not help."""


class RemoteRejected(RemoteError):
    """Any other 4xx: the request itself is wrong for this store."""


class PushNotConfigured(RemoteRejected):
    """The connector's settings name nowhere to push to: nothing was sent."""


class MalformedInbound(ValueError):
    """A delivery whose signature was fine but whose body the connector cannot read."""


class Connector(abc.ABC):
    """One store's protocol. Stateless apart from what `config` and `session` carry."""

    kind: str = ""

    @property
    def reports_forced_status(self) -> bool:
        """Whether `RemoteStock.forced_status` is read from the store (None then means "not
        forced" rather than "unknown"); status propagation relies on it."""
        return False

    def __init__(self, config: ConnectorConfig, session: requests.Session | None = None):
        self.config = config
        self.session = session or requests.Session()

    @abc.abstractmethod
    def test_connection(self) -> None:
        """Raise a `RemoteError` unless the store answers and accepts the credentials."""

    @abc.abstractmethod
    def pull_stock(self, *, modified_after: datetime | None = None) -> Iterator[RemoteStock]:
        """Every stock record (or those changed after `modified_after`), page by page."""

    @abc.abstractmethod
    def pull_orders(self, *, modified_after: datetime | None = None) -> Iterator[RemoteOrder]:
        """Orders (or those changed after `modified_after`), page by page."""

    @abc.abstractmethod
    def push_stock(self, items: Sequence[PushItem]) -> list[PushResult]:
        """Send the values, in as many requests as the store's limits need.

        Returns one result per item. Raises `RemoteUnavailable` / `RemoteThrottled` when
        the store could not be reached at all, so the engine retries the whole batch.
        """

    def missing_credentials(self) -> str:
        """Which credentials the store needs and these settings lack, naming them ("" when
        none are missing). Checked when a connector is switched on."""
        return ""

    def why_push_impossible(self) -> str:
        """Why `push_stock` cannot work with these settings, naming the missing one ("" when
        it can). Checked when a connector that pushes is saved."""
        return ""

    @abc.abstractmethod
    def verify_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundVerdict:
        """Check a delivery's signature against `config.webhook_secret` (constant time)."""

    @abc.abstractmethod
    def parse_inbound(self, *, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Read a verified delivery. Raises `MalformedInbound` naming what is wrong."""

    def delivery_id(self, *, headers: Mapping[str, str], body: bytes) -> str:
        """The store's id of this delivery, used to drop duplicates ("" when it has none)."""
        return ""
