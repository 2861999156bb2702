"""The connectors page's socket (connectors.consumers), through the real ASGI application.

The helpers are the live pages' own (tests/stock/test_consumers.py): a real session, a
WebsocketCommunicator on inventory_hub.routing, committed data (transaction=True).
"""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from connectors.consumers import ConnectorsConsumer
from connectors.models import CircuitState, Connector, ConnectorKind, InboxEvent, InboxState
from inventory_hub.shell.consumers import CLOSE_FORBIDDEN
from tests.stock.test_consumers import communicator, in_db, pushes_until_quiet, run, user_with
from warehouses.access import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_layer():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield
    async_to_sync(layer.flush)()


@pytest.fixture
def ops():
    return user_with(Role.OPS_STAFF, username="ops")


@pytest.mark.parametrize("role", [None, Role.INTEGRATION])
def test_socket_of_anyone_without_a_dashboard_role_is_closed_with_4403(role):
    user = user_with(role, username="machine") if role is not None else None

    async def scenario():
        socket = await communicator("/ws/live/connectors/", user)
        connected, _ = await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert connected is True
        assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}

    run(scenario)


def test_connectors_page_is_pushed_what_the_engine_changed_and_nothing_else(ops, monkeypatch):
    monkeypatch.setattr(ConnectorsConsumer, "poll_interval", 0.3)
    shop = Connector.objects.create(name="Shop", kind=ConnectorKind.WOOCOMMERCE)

    async def scenario():
        socket = await communicator("/ws/live/connectors/", ops)
        await socket.connect()

        unchanged = await pushes_until_quiet(socket, quiet=1.0)
        await in_db(Connector.objects.filter(pk=shop.pk).update)(
            circuit_state=CircuitState.OPEN, consecutive_failures=3
        )
        await in_db(InboxEvent.objects.create)(
            connector=shop, topic="order.updated", state=InboxState.DEAD, attempts=8
        )
        changed = await pushes_until_quiet(socket, quiet=1.5)
        await socket.disconnect()

        assert unchanged == []
        assert len(changed) == 1
        html = changed[0]
        assert html.startswith('<div id="live-region" class="connectors"')
        assert 'hx-swap-oob="true"' in html.split(">", 1)[0]
        row = re.search(rf'<tr id="connector-{shop.pk}".*?</tr>', html, re.S).group(0)
        assert "Store down: not pushing" in row and "3 failed in a row" in row
        assert 'data-testid="dead-letter"' in html
        assert 'data-testid="replay-event"' in html  # ops staff may replay

    run(scenario)


def test_viewer_is_pushed_the_region_without_replay_buttons(monkeypatch):
    monkeypatch.setattr(ConnectorsConsumer, "poll_interval", 0.3)
    viewer = user_with(Role.VIEWER, username="viewer")
    shop = Connector.objects.create(name="Shop", kind=ConnectorKind.WOOCOMMERCE)

    async def scenario():
        socket = await communicator("/ws/live/connectors/", viewer)
        await socket.connect()

        await in_db(InboxEvent.objects.create)(
            connector=shop, topic="order.updated", state=InboxState.DEAD, attempts=8
        )
        changed = await pushes_until_quiet(socket, quiet=1.5)
        await socket.disconnect()

        assert len(changed) == 1
        assert 'data-testid="dead-letter"' in changed[0]
        assert "replay-event" not in changed[0] and "replay-store" not in changed[0]

    run(scenario)
