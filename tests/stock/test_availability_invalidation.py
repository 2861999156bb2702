"""Cached storefront answers are dropped when a variant changes what they say.

Each test first caches an answer, then receives stock without running that receipt's
on-commit reaction: the cache alone still says the old figure, so a fresh figure after
the change under test proves that change dropped the entry.
"""

import pytest
from django.core.cache import cache

from stock.availability import storefront_availability
from stock.errors import InsufficientStock
from stock.models import BackorderPolicy, Variant
from stock.services import receive_stock
from stock.services.catalogue import set_backorder_policy, update_variant
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, reserved, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def channel(north):
    return channel_selling_from(north, code="web")


@pytest.fixture
def sheet(north):
    """7 on hand; its answer is cached, then 5 more arrive unseen by the cache."""
    variant = VariantFactory(sku="SHEET", low_stock_threshold=2)
    stocked(variant, north, 7)
    return variant


def answer(channel, sku="SHEET"):
    (found,), unknown = storefront_availability(channel=channel, skus=[sku])
    assert unknown == []
    return found


@pytest.fixture
def stale(channel, north, sheet):
    """The cache says 7 while the database holds 12."""
    assert answer(channel).salable_quantity == 7
    # The test transaction never commits, so this receipt's invalidation never runs.
    receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)
    assert answer(channel).salable_quantity == 7


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
