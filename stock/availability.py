"""The storefront's answer: what a channel may sell of each SKU, cached for a few seconds.

Public and cacheable, so it never shows per-warehouse numbers. Entries are dropped after
commit when stock or a forced status changes (stock.events) or a variant's backorders,
manage-stock flag, threshold or active flag change (stock.services.catalogue). A change of
what a whole channel may sell (links, buffer, cap, active flags; warehouses.services)
bumps the channel's cache generation, which every key includes, instead of deleting one
key per variant. The TTL only bounds how long a missed invalidation (say, the cache was
briefly unreachable, or a reader computed its answer just before a commit and stored it
just after) can show an old figure.
"""

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

from stock.models import StockStatus, Variant
from stock.selectors import ChannelSalable, channel_salable_many
from warehouses.models import SalesChannel
from warehouses.services import (
    bump_channel_cache_generation,
    channel_cache_generation,
    known_channel_cache_generations,
)

MAX_SKUS = 100
# Which channels exist, as this process last read them: one query a second instead of one
# per stock change. A channel created in another process less than a second ago, whose
# answers were cached meanwhile, can show an old figure for at most the cache TTL.
CHANNEL_LIST_SECONDS = 1.0
_channel_list: tuple[float, frozenset[int]] = (float("-inf"), frozenset())


class StorefrontStatus:
    IN_STOCK = "in_stock"
    ONLY_N_LEFT = "only_n_left"
    OUT_OF_STOCK = "out_of_stock"
    PREORDER = "preorder"


@dataclass(frozen=True, slots=True)
class SkuAvailability:
    sku: str
    salable_quantity: int | None  # None: the hub does not track this item's stock
    status: str  # what to show, after any forced status
    real_status: str  # what the stock alone says
    forced_status: str | None
    message: str


def _cache_key(channel_id: int, generation: int, variant_id: int) -> str:
    return f"availability:{channel_id}:{generation}:{variant_id}"


def storefront_availability(
    *, channel: SalesChannel, skus: Iterable[str]
) -> tuple[list[SkuAvailability], list[str]]:
    """Availability per SKU on one channel, and the SKUs the hub does not know."""
    wanted = list(dict.fromkeys(skus))
    variants = {v.sku: v for v in Variant.objects.filter(sku__in=wanted, is_active=True)}
    unknown = [sku for sku in wanted if sku not in variants]
    if channel.pk not in _channel_list[1]:
        _forget_channel_list()
    generation = channel_cache_generation(channel.pk)
    keys = {_cache_key(channel.pk, generation, v.pk): v for v in variants.values()}
    cached = cache.get_many(list(keys))
    missing = [v for key, v in keys.items() if key not in cached]
    if missing:
        fresh = {
            _cache_key(channel.pk, generation, variant_id): asdict(_to_storefront(salable))
            for variant_id, salable in channel_salable_many(channel, missing).items()
        }
        cache.set_many(fresh, timeout=settings.AVAILABILITY_CACHE_SECONDS)
        cached.update(fresh)
    by_sku = {keys[key].sku: SkuAvailability(**value) for key, value in cached.items()}
    return [by_sku[sku] for sku in wanted if sku in by_sku], unknown


def invalidate_availability(variant_ids: Iterable[int]) -> None:
    """Drop these variants' cached answers on every channel."""
    variant_ids = list(variant_ids)
    if not variant_ids:
        return
    generations = known_channel_cache_generations(_channel_ids())
    cache.delete_many(
        [
            _cache_key(channel_id, generation, variant_id)
            for variant_id in variant_ids
            for channel_id, generation in generations.items()
        ]
    )


def _channel_ids() -> frozenset[int]:
    global _channel_list
    read_at, channel_ids = _channel_list
    now = time.monotonic()
    if now - read_at > CHANNEL_LIST_SECONDS:
        channel_ids = frozenset(SalesChannel.objects.values_list("pk", flat=True))
        _channel_list = (now, channel_ids)
    return channel_ids


def _forget_channel_list() -> None:
    global _channel_list
    _channel_list = (float("-inf"), frozenset())


def invalidate_channel_availability(channel_id: int) -> None:
    """Drop every cached answer of one channel (they become unreachable at once)."""
    bump_channel_cache_generation([channel_id])


def _to_storefront(salable: ChannelSalable) -> SkuAvailability:
    real = _real_status(salable)
    if salable.forced_status == "in_stock":
        shown = StorefrontStatus.IN_STOCK
    elif salable.forced_status == "out_of_stock":
        shown = StorefrontStatus.OUT_OF_STOCK
    else:
        shown = real
    return SkuAvailability(
        sku=salable.sku,
        salable_quantity=salable.salable if salable.manage_stock else None,
        status=shown,
        real_status=real,
        forced_status=salable.forced_status,
        message=_message(shown, salable.salable),
    )


def _real_status(salable: ChannelSalable) -> str:
    if not salable.manage_stock:
        return StorefrontStatus.IN_STOCK
    return {
        StockStatus.IN_STOCK: StorefrontStatus.IN_STOCK,
        StockStatus.LOW_STOCK: StorefrontStatus.ONLY_N_LEFT,
        StockStatus.OUT_OF_STOCK: StorefrontStatus.OUT_OF_STOCK,
        StockStatus.BACKORDER: StorefrontStatus.PREORDER,
    }[salable.status]


def _message(status: str, quantity: int) -> str:
    return {
        StorefrontStatus.IN_STOCK: "In stock",
        StorefrontStatus.ONLY_N_LEFT: f"Only {quantity} left",
        StorefrontStatus.OUT_OF_STOCK: "Out of stock",
        StorefrontStatus.PREORDER: "Available to pre-order",
    }[status]
