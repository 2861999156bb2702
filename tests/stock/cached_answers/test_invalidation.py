"""Cached storefront answers are dropped when a variant or a channel changes what they say.

Each test first caches an answer, then receives stock without running that receipt's
on-commit reaction: the cache alone still says the old figure, so a fresh figure after
the change under test proves that change dropped the entry.
"""

import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings

from stock.availability import invalidate_channel_availability
from stock.errors import InsufficientStock
from stock.models import BackorderPolicy, Variant
from stock.services import receive_stock
from stock.services.catalogue import set_backorder_policy, update_variant
from tests.stock.cached_answers.conftest import answer
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, reserved, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.models import SalesChannel
from warehouses.services import ChannelLink, update_channel, update_warehouse

pytestmark = pytest.mark.django_db


# --- Variant changes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "salable_quantity", "status"),
    [
        ({"low_stock_threshold": 20}, 12, "only_n_left"),
        ({"backorders": BackorderPolicy.ALLOW}, 12, "in_stock"),
        ({"manage_stock": False}, None, "in_stock"),
    ],
)
def test_variant_change_the_storefront_depends_on_drops_its_cached_answer(
    channel, sheet, stale, django_capture_on_commit_callbacks, changes, salable_quantity, status
):
    with django_capture_on_commit_callbacks(execute=True):
        update_variant(variant=sheet, **changes)

    found = answer(channel)
    assert (found.salable_quantity, found.status) == (salable_quantity, status)


def test_deactivating_a_variant_drops_its_cached_answer(
    channel, sheet, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        update_variant(variant=sheet, is_active=False)
    # Back on sale by a write that drops nothing: only the deactivation can have dropped it.
    Variant.objects.filter(pk=sheet.pk).update(is_active=True)

    assert answer(channel).salable_quantity == 12


def test_backorder_policy_service_drops_the_cached_answer(
    channel, sheet, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        set_backorder_policy(variant=sheet, policy=BackorderPolicy.ALLOW)

    assert answer(channel).salable_quantity == 12


def test_variant_change_the_storefront_ignores_keeps_the_cached_answer(
    channel, sheet, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update_variant(variant=sheet, attributes={"size": "king"}, barcode="4006381333931")

    assert callbacks == []
    assert answer(channel).salable_quantity == 7


def test_refused_variant_change_registers_no_invalidation(
    channel, north, django_capture_on_commit_callbacks
):
    pillow = VariantFactory(sku="PILLOW", backorders=BackorderPolicy.ALLOW)
    reserved(pillow, north, 2)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InsufficientStock):
        update_variant(variant=pillow, backorders=BackorderPolicy.DENY, low_stock_threshold=9)

    assert callbacks == []


# --- Channel and warehouse changes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "salable_quantity"),
    [({"safety_buffer": 2}, 10), ({"max_salable_quantity": 9}, 9)],
)
def test_channel_setting_change_drops_its_cached_answers(
    channel, stale, django_capture_on_commit_callbacks, changes, salable_quantity
):
    with django_capture_on_commit_callbacks(execute=True):
        update_channel(channel=channel, **changes)
    channel.refresh_from_db()

    assert answer(channel).salable_quantity == salable_quantity


def test_new_channel_links_drop_its_cached_answers(
    channel, north, sheet, stale, django_capture_on_commit_callbacks
):
    south = WarehouseFactory(code="SOUTH")
    stocked(sheet, south, 4)
    links = [ChannelLink(warehouse=north, priority=1), ChannelLink(warehouse=south, priority=2)]

    with django_capture_on_commit_callbacks(execute=True):
        update_channel(channel=channel, links=links)

    assert answer(channel).salable_quantity == 16


def test_deactivating_a_channel_drops_its_cached_answers(
    channel, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        update_channel(channel=channel, is_active=False)
    # Back on sale by a write that drops nothing: only the deactivation can have dropped it.
    SalesChannel.objects.filter(pk=channel.pk).update(is_active=True)
    channel.refresh_from_db()

    assert answer(channel).salable_quantity == 12


def test_deactivating_a_warehouse_drops_the_answers_of_every_channel_selling_from_it(
    channel, north, sheet, stale, django_capture_on_commit_callbacks
):
    marketplace = channel_selling_from(north, code="marketplace")
    assert answer(marketplace).salable_quantity == 12

    with django_capture_on_commit_callbacks(execute=True):
        update_warehouse(warehouse=north, is_active=False)

    assert answer(channel).salable_quantity == 0
    assert answer(marketplace).salable_quantity == 0


def test_channel_change_keeps_other_channels_answers(
    channel, north, sheet, django_capture_on_commit_callbacks
):
    marketplace = channel_selling_from(north, code="marketplace")
    assert answer(marketplace).salable_quantity == 7
    receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)

    with django_capture_on_commit_callbacks(execute=True):
        update_channel(channel=channel, safety_buffer=2)

    assert answer(marketplace).salable_quantity == 7


def test_channel_change_the_storefront_ignores_keeps_its_cached_answers(
    channel, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update_channel(channel=channel, name="Web shop", hold_minutes=45)

    assert callbacks == []
    assert answer(channel).salable_quantity == 7


def test_invalidating_a_channel_drops_only_that_channels_answers(channel, north, sheet, stale):
    marketplace = channel_selling_from(north, code="marketplace")
    answer(marketplace)
    receive_stock(variant=sheet, warehouse=north, quantity=1, actor=SYSTEM)

    invalidate_channel_availability(channel.pk)

    assert answer(channel).salable_quantity == 13
    assert answer(marketplace).salable_quantity == 12


def test_invalidating_a_channel_nothing_was_cached_for_starts_it_afresh(channel, sheet):
    invalidate_channel_availability(channel.pk)

    assert answer(channel).salable_quantity == 7


def test_variant_change_still_drops_answers_after_a_channel_change(
    channel, north, sheet, stale, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        update_channel(channel=channel, safety_buffer=1)
    channel.refresh_from_db()
    assert answer(channel).salable_quantity == 11
    receive_stock(variant=sheet, warehouse=north, quantity=1, actor=SYSTEM)

    with django_capture_on_commit_callbacks(execute=True):
        update_variant(variant=sheet, low_stock_threshold=3)

    assert answer(channel).salable_quantity == 12


def test_channel_change_commits_even_when_the_cache_cannot_be_reached(
    channel, django_capture_on_commit_callbacks, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "incr", unreachable)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update_channel(channel=channel, safety_buffer=3)

    assert len(callbacks) == 1
    assert SalesChannel.objects.get(pk=channel.pk).safety_buffer == 3


def test_variant_change_commits_even_when_the_cache_cannot_be_reached(
    sheet, django_capture_on_commit_callbacks, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", unreachable)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update_variant(variant=sheet, low_stock_threshold=3)

    assert len(callbacks) == 1
    assert Variant.objects.get(pk=sheet.pk).low_stock_threshold == 3


@pytest.mark.redis
def test_channel_generation_works_on_the_redis_cache_production_uses(
    channel, north, sheet, django_capture_on_commit_callbacks, settings
):
    prefix = f"hub-test-{uuid.uuid4().hex}"
    redis_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=redis_cache):
        try:
            assert answer(channel).salable_quantity == 7
            receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)
            assert answer(channel).salable_quantity == 7

            with django_capture_on_commit_callbacks(execute=True):
                update_channel(channel=channel, safety_buffer=2)
            channel.refresh_from_db()

            assert answer(channel).salable_quantity == 10
        finally:
            # Only this test's keys: clear() would flush the whole Redis database.
            client = cache._cache.get_client()
            keys = client.keys(f"{prefix}:*")
            if keys:
                client.delete(*keys)
