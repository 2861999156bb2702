"""Websocket consumers of the stock pages (overview, stock table, variant, orders), built on
the shell's LiveConsumer: each re-reads through the selectors and the pages' fragments."""

import asyncio
import logging
import math
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from inventory_hub.shell.consumers import CLOSE_NOT_FOUND, LiveConsumer, RegionConsumer
from inventory_hub.shell.panels import OVERVIEW_GROUP
from stock.events import FEED_GROUP, ORDERS_GROUP, variant_group, warehouse_group
from stock.models import StockLevel, Variant
from stock.views import kpis
from stock.views.fragments import (
    VariantPush,
    render_feed,
    render_kpis,
    render_orders,
    render_stock_rows,
    render_tiles,
    resolvable_channel_ids,
    stock_rows_by_id,
    variant_open_orders,
    variant_parts,
)
from warehouses.access import Capability, role_may

logger = logging.getLogger(__name__)

# A stock page shows at most 100 rows; more than this is not a page.
MAX_WATCHED_LEVELS = 500


def _query_ids(scope: dict, name: str) -> list[int]:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name, [])
    return [int(value) for value in values if value.isdigit()]


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
        if self.role is None or not isinstance(content, dict):
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
        assert self.variant is not None  # called by start() once it found the variant
        return {held.order.pk for held in variant_open_orders(self.variant)}

    async def stock_changed(self, event: dict) -> None:
        self.pending_levels |= {item["level_id"] for item in event["levels"]}
        self.pending_parts |= {"levels", "panels", "channels", "chart", "movements", "orders"}
        self.request_push()

    async def status_forced(self, event: dict) -> None:
        self.pending_parts |= {"channels", "forced"}
        self.request_push()

    async def panels_changed(self, event: dict) -> None:
        self.pending_parts.add("panels")
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
        # Pushes follow only a successful start(), which found the variant (or closed).
        assert self.variant is not None
        return variant_parts(
            self.variant,
            parts=parts,
            level_ids=level_ids,
            extra={"can_force_status": role_may(self.role, Capability.FORCE_STATUS)},
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
        self.tiles_are_stale = False
        self._last_kpis = -math.inf
        self._watch_task: asyncio.Task | None = None

    async def start(self) -> int | None:
        chosen = _query_ids(self.scope, "warehouse")
        self.warehouse_id = chosen[0] if chosen else None
        stock_group = (
            FEED_GROUP if self.warehouse_id is None else warehouse_group(self.warehouse_id)
        )
        await self.set_groups({stock_group, ORDERS_GROUP, OVERVIEW_GROUP})
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

    async def panels_changed(self, event: dict) -> None:
        # A tile an app registered changed with no stock moving (an alert fired).
        self.tiles_are_stale = True
        self.request_push()

    def has_pending(self) -> bool:
        return bool(self.pending_kpis) or self.feed_is_stale or self.tiles_are_stale

    def take_pending(self) -> tuple[set[int], float, bool, bool]:
        warehouse_ids: set[int] = set()
        since = 0.0
        if self.pending_kpis and time.monotonic() - self._last_kpis >= self.kpi_interval:
            warehouse_ids, self.pending_kpis = self.pending_kpis, set()
            # A count begun after the newest change heard of includes every pending one.
            since = self.last_heard
            self._last_kpis = time.monotonic()
        work = (warehouse_ids, since, self.feed_is_stale, self.tiles_are_stale)
        self.feed_is_stale = self.tiles_are_stale = False
        return work

    def render(self, work: tuple[set[int], float, bool, bool]) -> str:
        warehouse_ids, since, feed_is_stale, tiles_are_stale = work
        html = ""
        if warehouse_ids:
            counted = kpis.kpis_counted_since(sorted(warehouse_ids), since)
            html += render_kpis(counted, oob=True)
        if feed_is_stale:
            html += render_feed(warehouse_id=self.warehouse_id, oob=True)
        if feed_is_stale or tiles_are_stale:
            html += render_tiles(warehouse_id=self.warehouse_id, oob=True)
        return html


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
