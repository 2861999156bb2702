"""Fixtures of the tests that prove a change drops the storefront's cached answer.

`stale` caches an answer, then receives stock without running that receipt's on-commit
reaction (the test transaction never commits): the cache alone still says 7 while the
database holds 12, so a fresh 12 after the change under test proves it dropped the entry.
"""

import pytest
from django.core.cache import cache

from stock.availability import storefront_availability
from stock.services import receive_stock
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory


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
    receive_stock(variant=sheet, warehouse=north, quantity=5, actor=SYSTEM)
    assert answer(channel).salable_quantity == 7
