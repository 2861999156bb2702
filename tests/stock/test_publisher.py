"""After-commit reactions on the publisher thread (HUB_PUBLISH_IN_BACKGROUND), over Redis."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.test import override_settings

from stock import events
from stock.events import (
    ORDERS_GROUP,
    StockChanged,
    _coalesced,
    _react_to_order_changed,
    _react_to_orders_changed,
    _react_to_stock_changed,
    flush_publications,
    publish_order_changed,
    publish_stock_changed,
    warehouse_group,
)

# The reactions read the channel list from the database, on the publisher's own thread.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def background_redis_layer():
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [settings.TEST_REDIS_URL], "prefix": "test-publisher"},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers, HUB_PUBLISH_IN_BACKGROUND=True):
        channel_layers.backends.clear()
        yield get_channel_layer()
        flush_publications()
        # Its connection to the test database must not outlive the test (teardown drops it).
        events.release_publisher_connection()
    channel_layers.backends.clear()


def changed(version: int) -> StockChanged:
    return StockChanged(level_id=10, variant_id=20, warehouse_id=30, version=version)


@async_to_sync
async def _test_a_change_handed_to_the_publisher_reaches_its_group(background_redis_layer):
    layer = background_redis_layer
    channel = await layer.new_channel()
    await layer.group_add(warehouse_group(30), channel)

    await sync_to_async(publish_stock_changed)([changed(7)])

    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["type"] == "stock.changed"
    assert message["levels"] == [
        {"level_id": 10, "variant_id": 20, "warehouse_id": 30, "version": 7}
    ]


@async_to_sync
async def _test_a_burst_ends_on_the_latest_version_and_never_goes_back(background_redis_layer):
    layer = background_redis_layer
    channel = await layer.new_channel()
    await layer.group_add(warehouse_group(30), channel)

    for version in range(1, 21):
        await sync_to_async(publish_stock_changed)([changed(version)])

    # A burst may be coalesced into fewer messages, each carrying the level's latest
    # version; the last one always carries the final version.
    versions = []
    while not versions or versions[-1] != 20:
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        versions.append(message["levels"][0]["version"])
    assert versions == sorted(versions)
    assert len(versions) <= 20


def test_the_writer_does_not_run_the_reaction_itself(background_redis_layer, monkeypatch):
    ran_on = []
    # What the publisher runs for order changes: they are coalesced into one call.
    monkeypatch.setattr(
        events,
        "_react_to_orders_changed",
        lambda changes: ran_on.append(threading.current_thread().name),
    )

    publish_order_changed(1, 2)

    assert flush_publications(timeout=5)
    assert ran_on == ["hub-publisher"]


@async_to_sync
async def _test_a_failing_reaction_does_not_stop_later_ones(background_redis_layer, monkeypatch):
    layer = background_redis_layer
    channel = await layer.new_channel()
    await layer.group_add(ORDERS_GROUP, channel)
    failing = {"left": 1}
    original = events._invalidate_availability

    def fail_once(variant_ids):
        if failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("cache down")
        original(variant_ids)

    monkeypatch.setattr(events, "_invalidate_availability", fail_once)

    await sync_to_async(events._publisher.submit)(events._invalidate_availability, {1})
    await sync_to_async(publish_order_changed)(5, 6)

    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert (message["order_id"], message["channel_id"]) == (5, 6)


# No asyncio plugin for pytest here: each scenario runs on its own loop via async_to_sync.
def test_a_change_handed_to_the_publisher_reaches_its_group(background_redis_layer):
    _test_a_change_handed_to_the_publisher_reaches_its_group(background_redis_layer)


def test_a_burst_ends_on_the_latest_version_and_never_goes_back(background_redis_layer):
    _test_a_burst_ends_on_the_latest_version_and_never_goes_back(background_redis_layer)


def test_a_failing_reaction_does_not_stop_later_ones(background_redis_layer, monkeypatch):
    _test_a_failing_reaction_does_not_stop_later_ones(background_redis_layer, monkeypatch)


def test_coalescing_keeps_each_level_at_its_latest_version_and_the_other_reactions_in_order():
    def marker():
        return None

    waiting = [
        (_react_to_stock_changed, ((changed(1),),)),
        (_react_to_order_changed, (1, 2)),
        (_react_to_stock_changed, ((changed(3), StockChanged(11, 21, 30, 1)),)),
        (marker, ()),
        (_react_to_stock_changed, ((changed(2),),)),
        (_react_to_order_changed, (1, 2)),
        (_react_to_order_changed, (5, 2)),
    ]

    merged = _coalesced(waiting)

    assert [reaction for reaction, _ in merged] == [
        _react_to_stock_changed,
        _react_to_orders_changed,
        marker,
    ]
    assert merged[0][1] == ((changed(3), StockChanged(11, 21, 30, 1)),)
    # Every order once, in the order they changed, sent together where the first stood.
    assert merged[1][1] == (((1, 2), (5, 2)),)


@async_to_sync
async def _test_order_changes_of_a_round_go_out_as_one_message_per_channel(
    background_redis_layer,
):
    layer = background_redis_layer
    channel = await layer.new_channel()
    await layer.group_add(ORDERS_GROUP, channel)

    await sync_to_async(events._react_to_orders_changed)(((1, 7), (2, 8), (3, 7)))

    messages = [await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in range(2)]
    assert sorted(
        (message["channel_id"], message["order_ids"], message["order_id"]) for message in messages
    ) == [(7, [1, 3], None), (8, [2], 2)]


def test_order_changes_of_a_round_go_out_as_one_message_per_channel(background_redis_layer):
    _test_order_changes_of_a_round_go_out_as_one_message_per_channel(background_redis_layer)


def test_releasing_the_publisher_closes_the_connection_it_keeps_while_busy(
    background_redis_layer,
):
    from django.db import connection

    seen = []

    def use_the_database():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        seen.append(("open", connection.connection is not None))

    def look():
        seen.append(("closed", connection.connection is None))

    events._publisher.submit(use_the_database)
    assert flush_publications(timeout=5)
    assert events.release_publisher_connection(timeout=5)
    events._publisher.submit(look)
    assert flush_publications(timeout=5)

    assert seen == [("open", True), ("closed", True)]
