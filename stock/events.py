"""Every reaction to a stock change goes through here: stock's own, and those the apps above
register (`on_stock_changed_in_transaction`, `on_stock_committed`).

Services call `publish_stock_changed` through `transaction.on_commit`, so nothing here
sees an uncommitted change. Live pages treat a push as a hint and re-read through
selectors; the level's `version` lets them drop a push older than what they show.
"""

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

from inventory_hub.throttled_log import ThrottledLog

logger = logging.getLogger(__name__)
# With the channel layer down every commit fails to publish: one traceback, then counts.
publish_failures = ThrottledLog(logger)

FEED_GROUP = "stock-feed"
# Above this many levels in one commit, variant groups get no individual push: the
# warehouse groups and the feed receive one batched message instead.
MAX_VARIANT_PUSHES = 100


@dataclass(frozen=True, slots=True)
class StockChanged:
    level_id: int
    variant_id: int
    warehouse_id: int
    version: int


def warehouse_group(warehouse_id: int) -> str:
    return f"warehouse-{warehouse_id}"


def variant_group(variant_id: int) -> str:
    return f"variant-{variant_id}"


# Reactions of the apps above stock, registered in their `AppConfig.ready()`: stock never
# imports them (STYLE.md: a lower app never imports a higher one), as with
# warehouses.events for channel changes. Transfers and alerts register the same way.
InTransactionReaction = Callable[[Iterable[int]], None]  # (variant_ids) -> None
WriteCheck = Callable[[], bool]
CommittedReaction = Callable[[Sequence[StockChanged]], None]
VariantsReaction = Callable[[frozenset[int]], None]  # (variant_ids) -> None

_in_transaction: list[InTransactionReaction] = []
_write_checks: list[WriteCheck] = []
_committed: list[CommittedReaction] = []
_variants_committed: list[VariantsReaction] = []


def on_stock_changed_in_transaction(
    reaction: InTransactionReaction, *, may_write: WriteCheck | None = None
) -> InTransactionReaction:
    """Register (once) a reaction that runs inside the writing transaction.

    `may_write` answers whether the reaction could write anything now; while no check says
    yes, a change made in one statement may commit on its own (see `place_order`).
    """
    if reaction not in _in_transaction:
        _in_transaction.append(reaction)
    if may_write is not None and may_write not in _write_checks:
        _write_checks.append(may_write)
    return reaction


def on_stock_committed(reaction: CommittedReaction) -> CommittedReaction:
    """Register (once) a reaction to committed level changes. It runs after stock's own
    (the cache drop and the live pages' push), on the publisher thread when that is on,
    with a burst's changes merged; it must not raise and must not write stock."""
    if reaction not in _committed:
        _committed.append(reaction)
    return reaction


def on_variants_committed(reaction: VariantsReaction) -> VariantsReaction:
    """Register (once) a reaction to a committed change of what channels may sell of some
    variants while no level changed: a forced status set or ended, a store order's
    shortfall recorded or resolved. It runs after commit like `on_stock_committed`'s."""
    if reaction not in _variants_committed:
        _variants_committed.append(reaction)
    return reaction


def _run_variants_reactions(variant_ids: set[int]) -> None:
    for reaction in _variants_committed:
        try:
            reaction(frozenset(variant_ids))
        except Exception:
            publish_failures.exception("After-commit reaction %s failed", reaction.__name__)


def stock_changed_in_transaction(variant_ids: Iterable[int]) -> None:
    """Reactions that must commit or roll back with the change itself.

    Called by the engine inside the writing transaction, after the ledger rows: a change
    that must reach a store becomes a connector outbox row here (the connectors register
    it), so a crash between the commit and the push loses nothing (ROADMAP: "every outbound
    change is an outbox row written with the ledger row"). Costs at most one statement per
    registered reaction on the hot path.
    """
    if len(_in_transaction) > 1 and not isinstance(variant_ids, Collection):
        variant_ids = tuple(variant_ids)  # each reaction reads them all
    for reaction in _in_transaction:
        reaction(variant_ids)


def stock_change_needs_transaction() -> bool:
    """Whether `stock_changed_in_transaction` may write now: if not, a change made in one
    statement may commit on its own (see `place_order`)."""
    return any(may_write() for may_write in _write_checks)


# A burst's reactions are gathered this long after the first of them is handled.
PUBLISHER_GATHER_SECONDS = 0.02
# An idle publisher closes its database connection after this long.
PUBLISHER_IDLE_SECONDS = 10.0


class _Publisher:
    """A daemon thread, with an event loop of its own, that runs after-commit reactions.

    With HUB_PUBLISH_IN_BACKGROUND on, the writer hands its reactions over and returns:
    it never waits for Redis, and the channel layer keeps one event loop (and so one set
    of connections) instead of starting a loop per call with `async_to_sync`. Reactions
    run in the order they were handed over. A push is a hint (pages re-read on reconnect
    and cached answers expire), so what is queued when the process dies is not lost truth.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    def submit(self, reaction: Callable[..., None], *args) -> None:
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            self._start()
        self._queue.put((reaction, args))

    def is_running(self) -> bool:
        """Whether this process has started the thread (after a fork it has not)."""
        return self._thread is not None and self._pid == os.getpid()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed over so far has run (tests, shutdown)."""
        if not self.is_running():
            return True
        done = threading.Event()
        self._queue.put((done.set, ()))
        return done.wait(timeout)

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            # After a fork the parent's thread and queue are not ours.
            self._queue = queue.SimpleQueue()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="hub-publisher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        while True:
            try:
                waiting = [self._queue.get(timeout=PUBLISHER_IDLE_SECONDS)]
            except queue.Empty:
                # The reactions read the database rarely (the channel list, once a second
                # at most): an idle publisher holds no connection.
                connection.close()
                continue
            while True:
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for reaction, args in _coalesced(waiting):
                try:
                    reaction(*args)
                except Exception:
                    publish_failures.exception("After-commit reaction %s failed", reaction.__name__)
                    connection.close()  # a broken connection is never reused
            # What arrives meanwhile waits for the next round, merged: under a stream of
            # commits the writers' hand-overs then wake this thread once a round instead
            # of once each (waking it cost a writer more CPU than the reactions did).
            time.sleep(PUBLISHER_GATHER_SECONDS)


def _coalesced(waiting: list[tuple[Callable, tuple]]) -> list[tuple[Callable, tuple]]:
    """Reactions that piled up while the publisher was busy, merged: a burst of commits
    becomes one stock.changed per group carrying each level at its latest version, sent
    where the first of them stood (so a later flush still comes after all of them)."""
    merged: list[tuple[Callable, tuple]] = []
    latest: dict[int, StockChanged] | None = None
    orders: dict[tuple, None] | None = None  # (order id, channel id), in arrival order
    for reaction, args in waiting:
        if reaction is _react_to_stock_changed:
            if latest is None:
                latest = {}
                merged.append((reaction, (latest,)))
            for change in args[0]:
                known = latest.get(change.level_id)
                if known is None or known.version < change.version:
                    latest[change.level_id] = change
        elif reaction is _react_to_order_changed:
            # One trip through the event loop for all of them, not one each.
            if orders is None:
                orders = {}
                merged.append((_react_to_orders_changed, (orders,)))
            orders[args] = None
        elif (reaction, args) not in merged:
            merged.append((reaction, args))
    # The merged containers become the tuples the reactions take.
    finished = []
    for reaction, args in merged:
        if reaction is _react_to_stock_changed:
            args = (tuple(args[0].values()),)
        elif reaction is _react_to_orders_changed:
            args = (tuple(args[0]),)
        finished.append((reaction, args))
    return finished


_publisher = _Publisher()


def flush_publications(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout)


def release_publisher_connection(timeout: float = 5.0) -> bool:
    """Run what is queued, then close the publisher's database connection (it keeps one
    while busy): before a database it used is dropped or copied as a template."""
    if not _publisher.is_running():
        return True  # submitting would start a thread only to close nothing
    _publisher.submit(_close_connection)
    return _publisher.flush(timeout)


def _close_connection() -> None:
    connection.close()  # looked up here: the publisher thread's own connection


def react_after_commit(reaction: Callable[..., None], *args) -> None:
    """For the apps above stock: run `reaction(*args)` where stock's own after-commit
    reactions run, on the publisher thread when it is on (so the writer never waits for
    the channel layer), here otherwise. Call it from a `transaction.on_commit` callback; the
    same reaction with the same arguments queued twice in one round runs once."""
    _react(reaction, *args)


def send_from_reaction(function: Callable[..., object], *args) -> None:
    """Run an async channel-layer call from a reaction: on the publisher's own event loop
    when the reaction runs there, through `async_to_sync` otherwise."""
    _run_coroutine(function, *args)


def _react(reaction: Callable[..., None], *args) -> None:
    """Run a reaction on the publisher thread, or here when that is off (tests)."""
    if getattr(settings, "HUB_PUBLISH_IN_BACKGROUND", False):
        _publisher.submit(reaction, *args)
    else:
        reaction(*args)


def _run_coroutine(function, *args) -> None:
    """Run an async channel-layer call from sync code: on the publisher's loop when there."""
    loop = _publisher.loop
    if loop is not None and threading.current_thread() is _publisher._thread:
        loop.run_until_complete(function(*args))
    else:
        async_to_sync(function)(*args)


def publish_stock_changed(changes: Sequence[StockChanged]) -> None:
    """Reactions to committed level changes. Never raises: the change is already committed.

    1. Storefront availability of the changed variants is dropped from the cache.
    2. Live pages get stock.changed in the warehouse, variant and feed groups.
    3. The reactions registered with `on_stock_committed` run.
    """
    _react(_react_to_stock_changed, tuple(changes))


def _react_to_stock_changed(changes: Sequence[StockChanged]) -> None:
    _invalidate_availability({change.variant_id for change in changes})
    try:
        _send_to_groups(changes)
    except Exception:
        publish_failures.exception("Could not publish stock.changed for %d levels", len(changes))
    for reaction in _committed:
        try:
            reaction(changes)
        except Exception:
            # The change is committed: one failing reaction does not keep the others from it.
            publish_failures.exception("After-commit reaction %s failed", reaction.__name__)


def _invalidate_availability(variant_ids: set[int]) -> None:
    from stock.availability import invalidate_availability

    try:
        invalidate_availability(variant_ids)
    except Exception:
        # The cache entry then lives out its few-second TTL.
        publish_failures.exception(
            "Could not invalidate availability for %d variants", len(variant_ids)
        )


def _send_to_groups(changes: Sequence[StockChanged]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    _run_coroutine(_send_all, layer, changes)


async def _send_all(layer, changes: Sequence[StockChanged]) -> None:
    # Plain dicts: dataclasses.asdict deep-copies, which a 10,000-level batch notices.
    payload = [
        {
            "level_id": change.level_id,
            "variant_id": change.variant_id,
            "warehouse_id": change.warehouse_id,
            "version": change.version,
        }
        for change in changes
    ]
    by_warehouse: dict[int, list[dict]] = {}
    for item in payload:
        by_warehouse.setdefault(item["warehouse_id"], []).append(item)
    for warehouse_id, items in by_warehouse.items():
        await layer.group_send(
            warehouse_group(warehouse_id), {"type": "stock.changed", "levels": items}
        )
    await layer.group_send(FEED_GROUP, {"type": "stock.changed", "levels": payload})
    if len(payload) <= MAX_VARIANT_PUSHES:
        by_variant: dict[int, list[dict]] = {}
        for item in payload:
            by_variant.setdefault(item["variant_id"], []).append(item)
        for variant_id, items in by_variant.items():
            await layer.group_send(
                variant_group(variant_id), {"type": "stock.changed", "levels": items}
            )


def publish_status_forced(variant_id: int) -> None:
    """A forced status was set or cleared: the variant's pages and the feed re-read it."""
    _react(_react_to_status_forced, variant_id)


def _react_to_status_forced(variant_id: int) -> None:
    _invalidate_availability({variant_id})
    _run_variants_reactions({variant_id})
    try:
        _send_message(
            [variant_group(variant_id), FEED_GROUP],
            {"type": "status.forced", "variant_id": variant_id},
        )
    except Exception:
        publish_failures.exception("Could not publish status.forced for variant %s", variant_id)


def shortfall_changed_in_transaction(variant_ids: Iterable[int]) -> None:
    """A store order's shortfall was recorded or resolved: what these variants' channels
    may sell changed without any level changing. Queues the connector pushes inside the
    writing transaction and drops the cached storefront answers after commit."""
    variant_ids = frozenset(variant_ids)
    if not variant_ids:
        return
    stock_changed_in_transaction(variant_ids)
    transaction.on_commit(partial(_react, _react_to_shortfall_changed, set(variant_ids)))


def _react_to_shortfall_changed(variant_ids: set[int]) -> None:
    _invalidate_availability(variant_ids)
    _run_variants_reactions(variant_ids)


ORDERS_GROUP = "orders"


def publish_order_changed(order_id: int | None, channel_id: int | None) -> None:
    """An order changed state (None: many orders, as after an expiry batch)."""
    _react(_react_to_order_changed, order_id, channel_id)


def _react_to_order_changed(order_id: int | None, channel_id: int | None) -> None:
    _react_to_orders_changed(((order_id, channel_id),))


def _react_to_orders_changed(changes: Sequence[tuple[int | None, int | None]]) -> None:
    """`_react_to_order_changed` for several orders (the publisher's coalescing)."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            _run_coroutine(_send_order_changes, layer, changes)
    except Exception:
        publish_failures.exception("Could not publish order.changed for %d orders", len(changes))


async def _send_order_changes(layer, changes: Sequence[tuple[int | None, int | None]]) -> None:
    # One message per channel: `order_ids` lists the orders (None among them: many orders,
    # unnamed); `order_id` names the order when there is just one.
    by_channel: dict[int | None, list[int | None]] = {}
    for order_id, channel_id in changes:
        by_channel.setdefault(channel_id, []).append(order_id)
    for channel_id, order_ids in by_channel.items():
        await layer.group_send(
            ORDERS_GROUP,
            {
                "type": "order.changed",
                "order_id": order_ids[0] if len(order_ids) == 1 else None,
                "order_ids": order_ids,
                "channel_id": channel_id,
            },
        )


def _send_message(groups: Sequence[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        _run_coroutine(_send_to_each, layer, groups, message)


async def _send_to_each(layer, groups: Sequence[str], message: dict) -> None:
    for group in groups:
        await layer.group_send(group, message)
