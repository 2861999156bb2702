"""Websocket consumers of the live pages: authorise, join groups, push re-rendered fragments.

An event only says *what* changed. The consumer re-reads the current state through the
selectors and pushes the same partials the pages render, each with `hx-swap-oob` and its
stable id; it never writes and never shows a number taken from a message. Bursts are
coalesced per socket: the first change after a quiet spell is pushed at once, later ones
are collected and pushed together at most every `push_interval` seconds, always rendered
from the state at push time, so the last push of a burst shows its final state.
"""

import asyncio
import contextlib
import logging
import math
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from inventory_hub.json_input import load_json
from stock.events import FEED_GROUP, ORDERS_GROUP, variant_group, warehouse_group
from stock.models import StockLevel, Variant
from stock.views import kpis
from stock.views.access import DASHBOARD_ROLES
from stock.views.fragments import (
    VariantPush,
    render_feed,
    render_kpis,
    render_orders,
    render_stock_rows,
    resolvable_channel_ids,
    stock_rows_by_id,
    variant_open_orders,
    variant_parts,
)
from warehouses.access import Role, role_of

logger = logging.getLogger(__name__)

# Closing codes the pages understand; the htmx ws extension does not retry either.
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# The channel layer (Redis) cannot be reached: the page says live updates are paused and
# reconnects until it can, then re-reads what it shows.
CLOSE_PAUSED = 4503
# How often an open socket checks that the layer still carries its messages: a pub/sub
# connection that lost Redis waits for it quietly, and the page would show "Live" meanwhile.
LAYER_CHECK_SECONDS = 5.0
LAYER_UNREACHABLE = (RedisError, OSError, asyncio.TimeoutError)
# A stock page shows at most 100 rows; more than this is not a page.
MAX_WATCHED_LEVELS = 500


def _query_ids(scope: dict, name: str) -> list[int]:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name, [])
    return [int(value) for value in values if value.isdigit()]


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Authorisation, group bookkeeping and coalesced pushes for every live page."""

    # Seconds between two pushes on one socket: at most four a second.
    push_interval = 0.25

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role: Role | None = None
        self.joined: set[str] = set()
        self._push_task: asyncio.Task | None = None
        self._last_push = -math.inf
        self._layer_watch: asyncio.Task | None = None
        self._accepted = False

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_UNREACHABLE as exc:
            # Raised by the layer before the socket was accepted (its own channel cannot be
            # created) or while it was open: either way the page is told, not dropped.
            logger.warning("Live updates paused, the channel layer is unreachable: %s", exc)
            if not self._accepted:
                await receive()  # the client's websocket.connect
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_PAUSED})

    async def accept(self, *args, **kwargs) -> None:
        await super().accept(*args, **kwargs)
        self._accepted = True

    async def connect(self) -> None:
        self.role = await database_sync_to_async(role_of)(self.scope["user"])
        refusal = CLOSE_FORBIDDEN if self.role not in DASHBOARD_ROLES else await self.start()
        # Groups are joined before the accept: once the page is live, no change is missed.
        # A refusal is an accept and a close with a code: a refused handshake reaches the
        # browser as 1006, which the htmx ws extension would retry for ever.
        await self.accept()
        if refusal is not None:
            await self.close(code=refusal)
        elif self.channel_layer is not None:
            self._layer_watch = asyncio.create_task(self._watch_layer())

    async def start(self) -> int | None:
        """Join the groups of what the page shows; or return the code to close with."""
        return None

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # Pages send JSON text, if anything; a stray frame is ignored, not a crash.
        if text_data is None:
            return
        try:
            content = load_json(text_data, values=False)
        except ValueError:
            return
        await self.receive_json(content)

    async def disconnect(self, code: int) -> None:
        if self._push_task is not None:
            self._push_task.cancel()
        if self._layer_watch is not None:
            self._layer_watch.cancel()
        # Groups of an unreachable layer are gone with its connection: nothing to leave.
        with contextlib.suppress(*LAYER_UNREACHABLE):
            await self.set_groups(set())

    async def _watch_layer(self) -> None:
        while True:
            await asyncio.sleep(LAYER_CHECK_SECONDS)
            message = {"type": "live.ping"}
            try:
                send = self.channel_layer.send(self.channel_name, message)
                await asyncio.wait_for(send, LAYER_CHECK_SECONDS)
            except LAYER_UNREACHABLE as exc:
                logger.warning("Live updates paused, the channel layer is unreachable: %s", exc)
                await self.close(code=CLOSE_PAUSED)
                return

    async def live_ping(self, event: dict) -> None:
        pass

    async def set_groups(self, groups: set[str]) -> None:
        for group in self.joined - groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in groups - self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = set(groups)

    # --- Events from stock.events; subclasses note what they must re-render ------------------

    async def stock_changed(self, event: dict) -> None:
        pass

    async def status_forced(self, event: dict) -> None:
        pass

    async def order_changed(self, event: dict) -> None:
        pass

    # --- Coalesced pushes -----------------------------------------------------------------------

    def has_pending(self) -> bool:
        raise NotImplementedError

    def take_pending(self):
        """What to re-render, handing it over: later events start a new collection."""
        raise NotImplementedError

    def render(self, work):
        """Read current state and render the fragments (runs in a thread, may query)."""
        raise NotImplementedError

    def rendered(self, result) -> list[str]:
        """Back on the event loop: the messages to send for what `render` returned.

        Table rows travel in a message of their own: see fragments.VariantPush.
        """
        return [result]

    def request_push(self) -> None:
        if self._push_task is None or self._push_task.done():
            self._push_task = asyncio.create_task(self._push_while_pending())

    async def _push_while_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.has_pending():
            wait = self._last_push + self.push_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            work = self.take_pending()
            try:
                messages = self.rendered(await database_sync_to_async(self.render)(work))
            except Exception:
                # The page keeps its last figures; the next event or a resync brings them back.
                logger.exception("Could not render a live push for %s", type(self).__name__)
                messages = []
            self._last_push = loop.time()
            for message in messages:
                if message:
                    await self.send(text_data=message)


class StockTableConsumer(LiveConsumer):
    """The stock table: pushes the rows the page says it shows.

    The page sends {"type": "watch", "levels": [ids]} whenever its rows change; the
    consumer joins their warehouse and variant groups and answers with an acknowledgement
    fragment (#live-watch, data-levels = how many rows it now watches).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.watched: dict[int, int] = {}  # level id → variant id
        self.pending: set[int] = set()
        # The newest version each level is known to have: a change arrives once per group
        # it was sent to (warehouse and variant), and a repeat needs no second push.
        self.known_versions: dict[int, int] = {}

    async def receive_json(self, content, **kwargs) -> None:
        if self.role not in DASHBOARD_ROLES or not isinstance(content, dict):
            return
        if content.get("type") != "watch" or not isinstance(content.get("levels"), list):
            return
        wanted = {
            value
            for value in content["levels"][:MAX_WATCHED_LEVELS]
            if isinstance(value, int) and not isinstance(value, bool)
        }
        levels = await database_sync_to_async(self._scope_of)(wanted)
        self.watched = {level_id: variant_id for level_id, variant_id, _ in levels}
        self.known_versions = {
            level_id: version
            for level_id, version in self.known_versions.items()
            if level_id in self.watched
        }
        # Warehouse groups carry every change; variant groups also carry forced statuses.
        await self.set_groups(
            {warehouse_group(warehouse_id) for _, _, warehouse_id in levels}
            | {variant_group(variant_id) for _, variant_id, _ in levels}
        )
        await self.send(
            text_data=f'<span id="live-watch" hidden data-testid="live-watch" '
            f'data-levels="{len(self.watched)}" hx-swap-oob="true"></span>'
        )

    @staticmethod
    def _scope_of(level_ids: set[int]) -> list[tuple[int, int, int]]:
        return list(
            StockLevel.objects.filter(pk__in=level_ids).values_list(
                "pk", "variant_id", "warehouse_id"
            )
        )

    async def stock_changed(self, event: dict) -> None:
        changed = set()
        for item in event["levels"]:
            level_id, version = item["level_id"], item["version"]
            if level_id in self.watched and version > self.known_versions.get(level_id, -1):
                self.known_versions[level_id] = version
                changed.add(level_id)
        if changed:
            self.pending |= changed
            self.request_push()

    async def status_forced(self, event: dict) -> None:
        variant_id = event["variant_id"]
        affected = {level for level, variant in self.watched.items() if variant == variant_id}
        if affected:
            self.pending |= affected
            self.request_push()

    def has_pending(self) -> bool:
        return bool(self.pending)

    def take_pending(self) -> set[int]:
        work, self.pending = self.pending, set()
        return work

    def render(self, work: set[int]) -> str:
        return render_stock_rows(stock_rows_by_id(work), oob=True)


class VariantConsumer(LiveConsumer):
    """The variant page: its levels, salable quantities, chart, movements, orders, overrides.

    Placing, shipping, cancelling or expiring an order moves this variant's stock, which
    brings its open orders along; only a payment, which moves no stock, is heard of through
    the orders group, and only an order the page shows is worth a re-read.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.variant: Variant | None = None
        self.pending_parts: set[str] = set()
        self.pending_levels: set[int] = set()
        self.shown_orders: set[int] = set()

    async def start(self) -> int | None:
        variant_id = self.scope["url_route"]["kwargs"]["variant_id"]
        self.variant = await database_sync_to_async(
            Variant.objects.select_related("product").filter(pk=variant_id).first
        )()
        if self.variant is None:
            return CLOSE_NOT_FOUND
        self.shown_orders = await database_sync_to_async(self._open_order_ids)()
        await self.set_groups({variant_group(self.variant.pk), ORDERS_GROUP})
        return None

    def _open_order_ids(self) -> set[int]:
        return {held.order.pk for held in variant_open_orders(self.variant)}

    async def stock_changed(self, event: dict) -> None:
        self.pending_levels |= {item["level_id"] for item in event["levels"]}
        self.pending_parts |= {"levels", "channels", "chart", "movements", "orders"}
        self.request_push()

    async def status_forced(self, event: dict) -> None:
        self.pending_parts |= {"channels", "forced"}
        self.request_push()

    async def order_changed(self, event: dict) -> None:
        order_ids = event.get("order_ids") or [event.get("order_id")]
        # None: many orders at once (an expiry batch), which may include one shown here.
        if None in order_ids or self.shown_orders.intersection(order_ids):
            self.pending_parts.add("orders")
            self.request_push()

    def has_pending(self) -> bool:
        return bool(self.pending_parts)

    def take_pending(self) -> tuple[set[str], set[int]]:
        work = (self.pending_parts, self.pending_levels)
        self.pending_parts, self.pending_levels = set(), set()
        return work

    def render(self, work: tuple[set[str], set[int]]) -> VariantPush:
        parts, level_ids = work
        return variant_parts(
            self.variant,
            parts=parts,
            level_ids=level_ids,
            extra={"can_force_status": self.role == Role.OPS_STAFF},
        )

    def rendered(self, push: VariantPush) -> list[str]:
        orders = push.context.get("orders")
        if orders is not None:
            self.shown_orders = {held.order.pk for held in orders}
        return [push.rows, push.sections]


class OverviewConsumer(LiveConsumer):
    """The overview: KPI cards of the warehouses that changed, and the activity feed.

    While open, it watches its warehouses for the shared KPI counts (stock/views/kpis.py):
    it renews its lease and notes each change it hears, so page loads may show a kept count.
    """

    # A card aggregates a whole warehouse (50,000 levels, tens of milliseconds): a busy
    # warehouse gets its card re-counted every two seconds, its feed lines at once.
    kpi_interval = 2.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.warehouse_id: int | None = None
        self.pending_kpis: set[int] = set()
        # When the newest change not yet counted was heard of (kpis.clock()).
        self.last_heard = 0.0
        self.feed_is_stale = False
        self._last_kpis = -math.inf
        self._watch_task: asyncio.Task | None = None

    async def start(self) -> int | None:
        chosen = _query_ids(self.scope, "warehouse")
        self.warehouse_id = chosen[0] if chosen else None
        stock_group = (
            FEED_GROUP if self.warehouse_id is None else warehouse_group(self.warehouse_id)
        )
        await self.set_groups({stock_group, ORDERS_GROUP})
        # After joining: from here on, every change to these warehouses is heard and noted.
        await database_sync_to_async(kpis.watch)(self.warehouse_id)
        self._watch_task = asyncio.create_task(self._keep_watching())
        return None

    async def _keep_watching(self) -> None:
        while True:
            await asyncio.sleep(kpis.RENEW_SECONDS)
            try:
                await database_sync_to_async(kpis.watch)(self.warehouse_id)
            except Exception:
                # The lease lapses and page loads count for themselves: slower, still right.
                logger.exception("Could not renew the overview's KPI watch")

    async def disconnect(self, code: int) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        await super().disconnect(code)

    async def stock_changed(self, event: dict) -> None:
        warehouses = {item["warehouse_id"] for item in event["levels"]}
        if self.warehouse_id is not None:
            warehouses &= {self.warehouse_id}
        if warehouses:
            await database_sync_to_async(kpis.note_changed)(warehouses)
            self.last_heard = kpis.clock()
            self.pending_kpis |= warehouses
            self.feed_is_stale = True
            self.request_push()

    async def order_changed(self, event: dict) -> None:
        # Payments appear in the feed; a payment moves no stock, so nothing else says so.
        self.feed_is_stale = True
        self.request_push()

    def has_pending(self) -> bool:
        return bool(self.pending_kpis) or self.feed_is_stale

    def take_pending(self) -> tuple[set[int], float, bool]:
        warehouse_ids: set[int] = set()
        since = 0.0
        if self.pending_kpis and time.monotonic() - self._last_kpis >= self.kpi_interval:
            warehouse_ids, self.pending_kpis = self.pending_kpis, set()
            # A count begun after the newest change heard of includes every pending one.
            since = self.last_heard
            self._last_kpis = time.monotonic()
        work = (warehouse_ids, since, self.feed_is_stale)
        self.feed_is_stale = False
        return work

    def render(self, work: tuple[set[int], float, bool]) -> str:
        warehouse_ids, since, feed_is_stale = work
        html = ""
        if warehouse_ids:
            counted = kpis.kpis_counted_since(sorted(warehouse_ids), since)
            html += render_kpis(counted, oob=True)
        if feed_is_stale:
            html += render_feed(warehouse_id=self.warehouse_id, oob=True)
        return html


class RegionConsumer(LiveConsumer):
    """A page whose whole live region is rendered again after any event it hears."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.is_stale = False

    def mark_stale(self) -> None:
        self.is_stale = True
        self.request_push()

    def has_pending(self) -> bool:
        return self.is_stale

    def take_pending(self) -> bool:
        self.is_stale = False
        return True


class OrdersConsumer(RegionConsumer):
    """The orders page: every section again whenever an order changes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel_id: int | None = None

    async def start(self) -> int | None:
        chosen = _query_ids(self.scope, "channel")
        self.channel_id = chosen[0] if chosen else None
        await self.set_groups({ORDERS_GROUP})
        return None

    async def order_changed(self, event: dict) -> None:
        channel_id = event.get("channel_id")
        if self.channel_id is not None and channel_id is not None and channel_id != self.channel_id:
            return
        self.mark_stale()

    def render(self, work: bool) -> str:
        return render_orders(
            channel_id=self.channel_id,
            oob=True,
            resolvable_channel_ids=resolvable_channel_ids(self.scope["user"]),
        )
