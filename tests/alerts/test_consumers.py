"""The Alerts page's socket and the overview's alerts tile, through the real ASGI
application: what the evaluator fires (its task, then the `alerts_changed` hook) and what
someone acknowledges reach the open pages as re-rendered fragments."""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from alerts.models import Alert, Condition
from alerts.services import acknowledge_alert
from alerts.tasks import evaluate_task
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.stock.test_consumers import communicator, in_db, pushes_until_quiet, run, user_with
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

from .support import make_rule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_layer():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield
    async_to_sync(layer.flush)()


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH")


@pytest.fixture
def low_level(north):
    make_rule(Condition.AVAILABLE_BELOW, threshold=5, severity="critical")
    return stocked(VariantFactory(sku="SHEET"), north, 2)


def test_the_alerts_page_is_pushed_what_the_evaluator_fires(low_level):
    ops = user_with(Role.OPS_STAFF, username="ops")

    async def scenario():
        socket = await communicator("/ws/live/alerts/", ops)
        await socket.connect()

        await in_db(evaluate_task)([low_level.pk], [])
        pushed = "".join(await pushes_until_quiet(socket))

        alert = await in_db(Alert.objects.get)()
        assert pushed.startswith('<div id="live-region"')
        assert 'hx-swap-oob="true"' in pushed
        row = re.search(rf'<li id="alert-{alert.pk}".*?</li>', pushed, re.S)
        assert row is not None
        assert "SHEET at NORTH: 2 available (low)" in row.group(0)
        assert 'data-testid="acknowledge-button"' in row.group(0)
        await socket.disconnect()

    run(scenario)


def test_a_viewer_is_pushed_the_acknowledgement_without_buttons(low_level):
    viewer = user_with(Role.VIEWER, username="viewer")
    evaluate_task([low_level.pk], [])
    alert = Alert.objects.get()

    async def scenario():
        socket = await communicator("/ws/live/alerts/", viewer)
        await socket.connect()

        await in_db(acknowledge_alert)(alert=alert, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        acknowledged = re.search(r'data-section="acknowledged".*?</section>', pushed, re.S)
        assert acknowledged is not None and f'id="alert-{alert.pk}"' in acknowledged.group(0)
        assert "Acknowledged by tests" in acknowledged.group(0)
        assert "-button" not in pushed and "silence-form" not in pushed
        await socket.disconnect()

    run(scenario)


def test_the_overview_gets_the_alerts_tile_when_an_alert_fires(low_level):
    manager = user_with(Role.WAREHOUSE_MANAGER, username="manager")

    async def scenario():
        socket = await communicator("/ws/live/overview/", manager)
        await socket.connect()

        await in_db(evaluate_task)([low_level.pk], [])
        pushed = "".join(await pushes_until_quiet(socket))

        tile = re.search(r'<article id="tile-alerts".*?</article>', pushed, re.S)
        assert tile is not None and 'hx-swap-oob="true"' in tile.group(0)
        assert re.search(
            r'data-field="firing_critical"[^>]*><dt>Critical</dt><dd>1<', tile.group(0)
        )
        assert "SHEET at NORTH: 2 available (low)" in tile.group(0)
        await socket.disconnect()

    run(scenario)


def test_nothing_is_pushed_when_an_evaluation_changes_nothing(north):
    make_rule(Condition.AVAILABLE_BELOW, threshold=5)
    plenty = stocked(VariantFactory(sku="PLENTY"), north, 50)
    ops = user_with(Role.OPS_STAFF, username="ops")

    async def scenario():
        socket = await communicator("/ws/live/alerts/", ops)
        await socket.connect()

        await in_db(evaluate_task)([plenty.pk], [])

        assert await pushes_until_quiet(socket) == []
        await socket.disconnect()

    run(scenario)
