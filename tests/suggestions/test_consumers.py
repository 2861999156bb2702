"""The Suggestions page's websocket consumer, through the real ASGI application: a decision
made elsewhere (the API) reaches an open page as its re-rendered region, with the buttons of
the connected user."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from suggestions.models import SuggestionState
from tests.stock.factories import VariantFactory, stocked
from tests.stock.test_consumers import communicator, in_db, pushes_until_quiet, run, user_with
from tests.transfers.factories import LaneFactory
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

from .pages_support import suggest

pytestmark = pytest.mark.django_db(transaction=True)

SOCKET = "/ws/live/suggestions/"


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
def lane(north):
    return LaneFactory(source=north, destination=WarehouseFactory(code="SOUTH"))


def dismiss_through_the_api(suggestion_id: int) -> int:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user_with(Role.OPS_STAFF, username="ops-api"))
    return client.post(
        f"/api/v1/suggestions/{suggestion_id}/dismiss/", {}, format="json"
    ).status_code


def test_a_dismissal_reaches_an_open_page_with_the_viewers_own_buttons(lane):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, lane.source, 10)
    kept = suggest(variant, lane, quantity=3)
    dismissed = suggest(VariantFactory(sku="PCL-K"), lane, quantity=2)
    viewer = user_with(Role.VIEWER, username="viewer")

    async def scenario():
        socket = await communicator(SOCKET, viewer)
        await socket.connect()

        assert await in_db(dismiss_through_the_api)(dismissed.pk) == 200
        pushed = "".join(await pushes_until_quiet(socket))

        assert pushed.startswith('<div id="live-region"')
        assert 'hx-swap-oob="true"' in pushed
        assert f'data-suggestion="{kept.pk}"' in pushed
        assert f'data-suggestion="{dismissed.pk}"' not in pushed
        assert 'data-testid="decided-suggestion" data-state="dismissed"' in pushed
        assert "-button" not in pushed
        await socket.disconnect()

    run(scenario)
    dismissed.refresh_from_db()
    assert dismissed.state == SuggestionState.DISMISSED


def test_the_sources_manager_is_pushed_the_buttons_of_its_lane(lane, north):
    variant = VariantFactory(sku="PCL-Q")
    kept = suggest(variant, lane, quantity=3)
    dismissed = suggest(VariantFactory(sku="PCL-K"), lane, quantity=2)
    manager = user_with(Role.WAREHOUSE_MANAGER, username="north", warehouses=[north])

    async def scenario():
        socket = await communicator(SOCKET, manager)
        await socket.connect()

        await in_db(dismiss_through_the_api)(dismissed.pk)
        pushed = "".join(await pushes_until_quiet(socket))

        assert f'data-suggestion="{kept.pk}"' in pushed
        assert 'data-testid="approve-button"' in pushed
        assert 'data-testid="approve-lane-button"' in pushed
        await socket.disconnect()

    run(scenario)


def test_a_dismissal_reaches_the_variant_page_panel(lane):
    variant = VariantFactory(sku="PCL-Q")
    stocked(variant, lane.source, 10)
    dismissed = suggest(variant, lane, quantity=2)
    viewer = user_with(Role.VIEWER, username="viewer")

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", viewer)
        await socket.connect()

        await in_db(dismiss_through_the_api)(dismissed.pk)
        pushed = "".join(await pushes_until_quiet(socket))

        assert '<section id="variant-suggestions"' in pushed
        assert f'data-suggestion="{dismissed.pk}"' not in pushed
        await socket.disconnect()

    run(scenario)
