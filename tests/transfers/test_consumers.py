"""The transfer pages' websocket consumers, through the real ASGI application: a transition
committed by its service reaches the pages showing the transfer as re-rendered fragments."""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from stock.errors import InsufficientStock
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.stock.test_consumers import communicator, in_db, pushes_until_quiet, run, user_with
from tests.warehouses.factories import WarehouseFactory
from transfers.services import approve_transfer, pick_transfer, ship_transfer
from warehouses.access import Role

from .factories import LaneFactory, draft

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
def south():
    return WarehouseFactory(code="SOUTH")


@pytest.fixture
def transfer(north, south):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, north, 10)
    LaneFactory(source=north, destination=south)
    return draft(north, south, (variant, 4), reference="T-LIVE")


def test_the_transfer_page_gets_its_figures_and_a_viewer_no_forms(transfer):
    viewer = user_with(Role.VIEWER, username="viewer")

    async def scenario():
        socket = await communicator(f"/ws/live/transfers/{transfer.pk}/", viewer)
        await socket.connect()

        await in_db(approve_transfer)(transfer=transfer, actor=SYSTEM)
        await in_db(ship_transfer)(transfer=transfer, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        assert '<div id="transfer-summary"' in pushed
        assert 'data-state="shipped"' in pushed
        assert 'data-field="in_transit">4<' in pushed
        assert '<aside id="transfer-actions"' in pushed
        assert 'data-testid="read-only-notice"' in pushed
        assert "-button" not in pushed and "-submit" not in pushed
        await socket.disconnect()

    run(scenario)


def test_the_sources_manager_is_pushed_the_buttons_of_its_end(transfer, north):
    manager = user_with(Role.WAREHOUSE_MANAGER, username="north", warehouses=[north])

    async def scenario():
        socket = await communicator(f"/ws/live/transfers/{transfer.pk}/", manager)
        await socket.connect()

        await in_db(approve_transfer)(transfer=transfer, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        assert 'data-testid="ship-button"' in pushed
        assert 'data-testid="pick-button"' in pushed
        assert 'data-testid="receive-submit"' not in pushed
        await socket.disconnect()

    run(scenario)


def test_the_transfers_page_gets_its_region_after_a_transition(transfer):
    ops = user_with(Role.OPS_STAFF, username="ops")

    async def scenario():
        socket = await communicator("/ws/live/transfers/", ops)
        await socket.connect()

        await in_db(approve_transfer)(transfer=transfer, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        assert pushed.startswith('<div id="live-region"')
        assert 'hx-swap-oob="true"' in pushed
        assert 'data-reference="T-LIVE" data-state="approved"' in pushed
        await socket.disconnect()

    run(scenario)


def test_the_overview_gets_the_units_in_transit_after_a_shipment(transfer):
    ops = user_with(Role.OPS_STAFF, username="ops")
    approve_transfer(transfer=transfer, actor=SYSTEM)

    async def scenario():
        socket = await communicator("/ws/live/overview/", ops)
        await socket.connect()

        await in_db(ship_transfer)(transfer=transfer, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        tile = re.search(r'<article id="tile-in-transit".*?</article>', pushed, re.S)
        assert tile is not None and 'hx-swap-oob="true"' in tile.group(0)
        assert re.search(r'data-field="units_in_transit"><dt>Units</dt><dd>4<', tile.group(0))
        await socket.disconnect()

    run(scenario)


def test_the_variant_page_gets_its_transfers_panel_when_a_pick_moves_no_stock(transfer):
    ops = user_with(Role.OPS_STAFF, username="ops")
    approve_transfer(transfer=transfer, actor=SYSTEM)
    variant_id = transfer.lines.get().variant_id

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant_id}/", ops)
        await socket.connect()

        await in_db(pick_transfer)(transfer=transfer, actor=SYSTEM)
        pushed = "".join(await pushes_until_quiet(socket))

        assert pushed.startswith('<section id="variant-transfers"')
        assert "T-LIVE</a> 4 NORTH → SOUTH · Picked" in pushed
        assert 'data-field="held">4<' in pushed
        await socket.disconnect()

    run(scenario)


def test_a_refused_transition_pushes_nothing(transfer, north):
    ops = user_with(Role.OPS_STAFF, username="ops")
    too_many = draft(
        north, transfer.destination, (transfer.lines.get().variant, 11), reference="T-MANY"
    )

    async def scenario():
        socket = await communicator(f"/ws/live/transfers/{too_many.pk}/", ops)
        await socket.connect()

        with pytest.raises(InsufficientStock):
            await in_db(approve_transfer)(transfer=too_many, actor=SYSTEM)

        assert await pushes_until_quiet(socket) == []
        await socket.disconnect()

    run(scenario)


def test_an_unknown_transfer_socket_is_closed_with_4404():
    ops = user_with(Role.OPS_STAFF, username="ops")

    async def scenario():
        socket = await communicator("/ws/live/transfers/987654/", ops)
        await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert closed == {"type": "websocket.close", "code": 4404}

    run(scenario)


def test_an_integration_cannot_open_the_transfers_socket():
    robot = user_with(Role.INTEGRATION, username="robot")

    async def scenario():
        socket = await communicator("/ws/live/transfers/", robot)
        await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert closed == {"type": "websocket.close", "code": 4403}

    run(scenario)
