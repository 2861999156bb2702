"""The live pages' websocket consumers, through the real ASGI application.

Each test logs a user in with a real session, connects a WebsocketCommunicator to the
routes of inventory_hub.routing, changes stock through the services and reads what the
page would receive. Committed data and real on_commit publication: transaction=True.
"""

import asyncio
import re
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client

from inventory_hub.asgi import application
from inventory_hub.shell.consumers import CLOSE_FORBIDDEN, LiveConsumer
from stock.consumers import OverviewConsumer
from stock.events import ORDERS_GROUP
from stock.models import ForcedStatus, ReasonCode
from stock.selectors import warehouse_kpis
from stock.services import adjust_stock, force_status, receive_stock
from stock.services.orders import pay_order
from stock.views import kpis
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db(transaction=True)

# Longer than a push interval: "nothing arrived" means nothing was going to.
QUIET_SECONDS = LiveConsumer.push_interval * 2 + 0.3
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def empty_layer():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield
    async_to_sync(layer.flush)()


def user_with(role: Role | None, *, username: str, warehouses=()):
    user = get_user_model().objects.create_user(username=username, password="unused")
    if role is not None:
        # get_or_create: a transactional test empties the tables, migration rows included.
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    for warehouse in warehouses:
        warehouse.assigned_users.add(user)
    return user


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def communicator(path: str, user=None) -> WebsocketCommunicator:
    """A socket to `path` as the browser of `user` (signed in) would open it."""
    headers = [ORIGIN, (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append(await database_sync_to_async(session_cookie)(user))
    return WebsocketCommunicator(application, path, headers=headers)


def run(scenario) -> None:
    async_to_sync(scenario)()


in_db = database_sync_to_async


async def pushes_until_quiet(socket: WebsocketCommunicator, quiet: float = QUIET_SECONDS):
    """Every message received until none arrives for `quiet` seconds."""
    messages = []
    # receive_nothing, not a receive_from timeout: that timeout cancels the application.
    while not await socket.receive_nothing(timeout=quiet):
        messages.append(await socket.receive_from())
    return messages


async def timed_pushes_until_quiet(socket: WebsocketCommunicator, quiet: float):
    """(arrival time, message) of every message until none arrives for `quiet` seconds."""
    messages = []
    while not await socket.receive_nothing(timeout=quiet, interval=0.01):
        messages.append((time.monotonic(), await socket.receive_from()))
    return messages


def kpi_figure(card: str, field: str) -> str:
    return re.search(rf'data-field="{field}"><dt>[^<]*</dt><dd>([^<]*)</dd>', card).group(1)


async def watch(socket: WebsocketCommunicator, level_ids: list[int]) -> None:
    """Tell the consumer which rows the page shows, and wait for its acknowledgement."""
    await socket.send_json_to({"type": "watch", "levels": level_ids})
    ack = await socket.receive_from(timeout=2)
    assert ack == (
        f'<span id="live-watch" hidden data-testid="live-watch" data-levels="{len(level_ids)}" '
        'hx-swap-oob="true"></span>'
    )


def cell(html: str, element_id: str, field: str) -> str:
    """The text of one data-field cell of the element with this id in a pushed fragment."""
    element = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert element is not None, f"#{element_id} is not in the push"
    match = re.search(rf'data-field="{field}"[^>]*>(.*?)</t[dh]>', element.group(2), re.S)
    assert match is not None, f"#{element_id} has no {field} cell"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.fixture
def ops():
    return user_with(Role.OPS_STAFF, username="ops")


@pytest.fixture
def baltimore():
    return WarehouseFactory(code="BAL", name="Baltimore")


@pytest.fixture
def berlin():
    return WarehouseFactory(code="BER", name="Berlin")


@pytest.fixture
def variant():
    return VariantFactory(sku="PCL-Q-WHT")


# --- Authorisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/ws/live/stock/", "/ws/live/overview/", "/ws/live/orders/", "/ws/live/variants/1/"]
)
def test_anonymous_socket_is_closed_with_4403(path):
    async def scenario():
        socket = await communicator(path)
        connected, _ = await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert connected is True
        assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}

    run(scenario)


@pytest.mark.parametrize("role", [Role.INTEGRATION, None])
def test_integration_or_roleless_user_socket_is_closed_with_4403(role):
    user = user_with(role, username="machine")

    async def scenario():
        socket = await communicator("/ws/live/stock/", user)
        await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert closed == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}

    run(scenario)


@pytest.mark.parametrize("role", [Role.OPS_STAFF, Role.WAREHOUSE_MANAGER, Role.VIEWER])
def test_dashboard_roles_stay_connected(role):
    user = user_with(role, username="person")

    async def scenario():
        socket = await communicator("/ws/live/overview/", user)
        connected, _ = await socket.connect()

        assert connected is True
        assert await socket.receive_nothing(timeout=0.3) is True
        await socket.disconnect()

    run(scenario)


def test_refused_socket_receives_no_stock_push(variant, baltimore):
    level = stocked(variant, baltimore, 5)

    async def scenario():
        socket = await communicator("/ws/live/stock/")
        await socket.connect()
        await socket.receive_output(timeout=2)  # the close
        await socket.send_json_to({"type": "watch", "levels": [level.pk]})

        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM)

        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True

    run(scenario)


# --- Stock table --------------------------------------------------------------------------------


def test_stock_change_pushes_the_re_rendered_row_with_its_new_figures(ops, variant, baltimore):
    level = stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])

        await in_db(adjust_stock)(
            variant=variant, warehouse=baltimore, delta=-3, reason=ReasonCode.LOST, actor=SYSTEM
        )
        html = await socket.receive_from(timeout=2)

        row_tag = re.search(rf'<tr id="level-{level.pk}"[^>]*>', html).group(0)
        assert 'hx-swap-oob="true"' in row_tag
        assert 'data-version="2"' in row_tag
        assert cell(html, f"level-{level.pk}", "on_hand") == "7"
        assert cell(html, f"level-{level.pk}", "available") == "7"
        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_change_at_another_warehouse_pushes_nothing_to_the_page(ops, variant, baltimore, berlin):
    shown = stocked(variant, baltimore, 10)
    stocked(variant, berlin, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [shown.pk])

        await in_db(receive_stock)(variant=variant, warehouse=berlin, quantity=4, actor=SYSTEM)

        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_change_to_a_row_the_page_does_not_show_pushes_nothing(ops, baltimore):
    shown = stocked(VariantFactory(), baltimore, 10)
    other = VariantFactory()
    stocked(other, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [shown.pk])

        await in_db(receive_stock)(variant=other, warehouse=baltimore, quantity=4, actor=SYSTEM)

        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_a_new_watch_list_replaces_the_old_one(ops, baltimore, berlin, variant):
    first = stocked(variant, baltimore, 10)
    second = stocked(variant, berlin, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [first.pk])
        await watch(socket, [second.pk])

        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM)
        quiet_for_first = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await in_db(receive_stock)(variant=variant, warehouse=berlin, quantity=1, actor=SYSTEM)
        html = await socket.receive_from(timeout=2)

        assert quiet_for_first is True
        assert f'id="level-{second.pk}"' in html
        assert f'id="level-{first.pk}"' not in html
        await socket.disconnect()

    run(scenario)


def test_malformed_watch_messages_are_ignored(ops, variant, baltimore):
    level = stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])
        await socket.send_json_to({"type": "watch", "levels": "everything"})
        await socket.send_json_to(["not", "an", "object"])
        await socket.send_to(text_data="{not json")
        await socket.send_to(text_data="[" * 10_000 + "]" * 10_000)
        await socket.send_to(bytes_data=b"\x00\x01")

        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM)
        html = await socket.receive_from(timeout=2)

        assert cell(html, f"level-{level.pk}", "on_hand") == "11"
        await socket.disconnect()

    run(scenario)


def test_forcing_a_status_pushes_the_rows_of_that_variant(ops, variant, baltimore):
    level = stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])

        await in_db(force_status)(
            variant=variant,
            status=ForcedStatus.Forced.OUT_OF_STOCK,
            reason="recall",
            actor=SYSTEM,
        )
        html = await socket.receive_from(timeout=2)

        assert cell(html, f"level-{level.pk}", "forced") == "Forced out of stock · all channels"
        assert cell(html, f"level-{level.pk}", "status") == "In stock"
        await socket.disconnect()

    run(scenario)


def test_a_burst_of_fifty_changes_is_coalesced_into_few_pushes_ending_on_the_final_state(
    ops, variant, baltimore
):
    level = stocked(variant, baltimore, 100)

    def burst() -> float:
        """Fifty adjustments as fast as one connection goes, beside the consumer's reads."""
        started = time.monotonic()
        try:
            for _ in range(50):
                adjust_stock(
                    variant=variant,
                    warehouse=baltimore,
                    delta=-1,
                    reason=ReasonCode.LOST,
                    actor=SYSTEM,
                )
            return time.monotonic() - started
        finally:
            connection.close()

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])

        seconds = await sync_to_async(burst, thread_sensitive=False)()
        pushes = await pushes_until_quiet(socket)

        # The first change goes out at once, then one push per interval while it lasts.
        allowed = 2 + int(seconds / LiveConsumer.push_interval)
        assert 1 <= len(pushes) <= allowed, (len(pushes), seconds)
        assert len(pushes) < 10
        assert cell(pushes[-1], f"level-{level.pk}", "on_hand") == "50"
        assert f'data-version="{1 + 50}"' in pushes[-1]
        await socket.disconnect()

    run(scenario)


def test_pushes_read_the_database_not_the_message(ops, variant, baltimore):
    level = stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])

        # A message with made-up numbers: the row shows what the database holds.
        await get_channel_layer().group_send(
            f"warehouse-{baltimore.pk}",
            {
                "type": "stock.changed",
                "levels": [
                    {
                        "level_id": level.pk,
                        "variant_id": variant.pk,
                        "warehouse_id": baltimore.pk,
                        "version": 999,
                        "on_hand": 12345,
                    }
                ],
            },
        )
        html = await socket.receive_from(timeout=2)

        assert cell(html, f"level-{level.pk}", "on_hand") == "10"
        assert 'data-version="1"' in html
        await socket.disconnect()

    run(scenario)


# --- Variant page ---------------------------------------------------------------------------------


def test_variant_page_gets_its_row_chart_channels_and_movements_after_a_change(
    ops, variant, baltimore
):
    level = stocked(variant, baltimore, 10)
    channel_selling_from(baltimore, code="north-america", name="North America")

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        await in_db(adjust_stock)(
            variant=variant, warehouse=baltimore, delta=5, reason=ReasonCode.FOUND, actor=SYSTEM
        )
        rows = await socket.receive_from(timeout=2)
        html = await socket.receive_from(timeout=2)

        # Rows and sections never share a message: a parser would drop one kind.
        assert rows.startswith(f'<tr id="warehouse-level-{level.pk}"') and "<section" not in rows
        assert cell(rows, f"warehouse-level-{level.pk}", "on_hand") == "15"
        assert 'hx-swap-oob="true"' in rows
        assert html.startswith("<section") and "warehouse-level-" not in html
        assert '<section id="variant-chart"' in html
        assert 'data-on-hand="15"' in html
        assert '<section id="variant-channels"' in html
        assert '<span class="big" data-field="salable">15</span>' in html
        assert '<section id="variant-movements"' in html
        assert '<section id="variant-orders"' in html
        # The panels apps above stock registered (transfers, suggestions) are pushed with
        # stock's own.
        assert '<section id="variant-transfers"' in html
        assert '<section id="variant-suggestions"' in html
        assert html.count('hx-swap-oob="true"') == 6
        await socket.disconnect()

    run(scenario)


def test_variant_page_hears_the_payment_of_an_order_it_shows(ops, variant, baltimore):
    stocked(variant, baltimore, 10)
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    placed = place(channel, "HOLD-1", (variant.sku, 2))

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        await in_db(pay_order)(order=placed.order, actor=SYSTEM)
        html = await socket.receive_from(timeout=2)

        orders = re.search(r'<section id="variant-orders".*?</section>', html, re.S).group(0)
        assert "north-america/HOLD-1" in orders and "firm (paid)" in orders
        await socket.disconnect()

    run(scenario)


def test_variant_page_hears_its_order_among_several_in_one_message(ops, variant, baltimore):
    stocked(variant, baltimore, 10)
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    placed = place(channel, "HOLD-1", (variant.sku, 2))

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        # What the publisher sends for a round of order changes on one channel.
        await get_channel_layer().group_send(
            ORDERS_GROUP,
            {
                "type": "order.changed",
                "order_id": None,
                "order_ids": [placed.order.pk + 1000, placed.order.pk],
                "channel_id": channel.pk,
            },
        )
        html = await socket.receive_from(timeout=2)

        assert re.search(r'<section id="variant-orders"', html)
        # A round of orders none of which it shows: nothing to re-render.
        await get_channel_layer().group_send(
            ORDERS_GROUP,
            {
                "type": "order.changed",
                "order_id": None,
                "order_ids": [placed.order.pk + 1000, placed.order.pk + 1001],
                "channel_id": channel.pk,
            },
        )
        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_variant_page_ignores_payments_of_orders_without_it(ops, variant, baltimore):
    stocked(variant, baltimore, 10)
    other = VariantFactory()
    stocked(other, baltimore, 10)
    channel = channel_selling_from(baltimore, code="north-america", name="North America")
    placed = place(channel, "OTHER-1", (other.sku, 2))

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        await in_db(pay_order)(order=placed.order, actor=SYSTEM)

        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_another_variants_change_pushes_nothing_to_the_variant_page(ops, variant, baltimore):
    stocked(variant, baltimore, 10)
    other = VariantFactory()

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        await in_db(receive_stock)(variant=other, warehouse=baltimore, quantity=3, actor=SYSTEM)

        assert await socket.receive_nothing(timeout=QUIET_SECONDS) is True
        await socket.disconnect()

    run(scenario)


def test_variant_page_gets_the_override_panel_when_a_status_is_forced(ops, variant, baltimore):
    stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", ops)
        await socket.connect()

        await in_db(force_status)(
            variant=variant, status=ForcedStatus.Forced.IN_STOCK, reason="launch", actor=SYSTEM
        )
        html = await socket.receive_from(timeout=2)

        assert '<section id="variant-forced"' in html
        assert "Forced in stock · all channels" in html
        assert "“launch”" in html
        assert 'data-testid="unforce-button"' in html  # ops staff may end it
        await socket.disconnect()

    run(scenario)


def test_viewer_variant_page_gets_the_override_without_the_end_button(variant, baltimore):
    viewer = user_with(Role.VIEWER, username="viewer")

    async def scenario():
        socket = await communicator(f"/ws/live/variants/{variant.pk}/", viewer)
        await socket.connect()

        await in_db(force_status)(
            variant=variant, status=ForcedStatus.Forced.IN_STOCK, reason="launch", actor=SYSTEM
        )
        html = await socket.receive_from(timeout=2)

        assert "Forced in stock · all channels" in html
        assert "unforce-button" not in html
        await socket.disconnect()

    run(scenario)


def test_unknown_variant_socket_is_closed_with_4404(ops):
    async def scenario():
        socket = await communicator("/ws/live/variants/987654/", ops)
        await socket.connect()

        closed = await socket.receive_output(timeout=2)

        assert closed == {"type": "websocket.close", "code": 4404}

    run(scenario)


# --- Overview and orders --------------------------------------------------------------------------


def test_overview_gets_the_changed_warehouses_card_and_the_feed(ops, variant, baltimore, berlin):
    stocked(variant, baltimore, 10)
    stocked(variant, berlin, 4)

    async def scenario():
        socket = await communicator("/ws/live/overview/", ops)
        await socket.connect()

        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=6, actor=SYSTEM)
        html = await socket.receive_from(timeout=2)

        kpi = re.search(rf'<article id="kpi-{baltimore.pk}".*?</article>', html, re.S).group(0)
        assert 'hx-swap-oob="true"' in kpi
        assert re.search(r'data-field="on_hand"><dt>On hand</dt><dd>16</dd>', kpi)
        assert f'id="kpi-{berlin.pk}"' not in html
        assert '<ol id="activity-feed"' in html
        assert "Received" in html and variant.sku in html
        await socket.disconnect()

    run(scenario)


def test_overview_recounts_a_busy_warehouses_card_at_most_every_kpi_interval(
    ops, variant, baltimore
):
    stocked(variant, baltimore, 10)

    def card_on_hand(html: str) -> str | None:
        card = re.search(rf'<article id="kpi-{baltimore.pk}".*?</article>', html, re.S)
        return kpi_figure(card.group(0), "on_hand") if card else None

    async def scenario():
        socket = await communicator("/ws/live/overview/", ops)
        await socket.connect()

        started = time.monotonic()
        for _ in range(3):
            await in_db(receive_stock)(
                variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM
            )
            await asyncio.sleep(0.3)
        pushes = await timed_pushes_until_quiet(socket, quiet=OverviewConsumer.kpi_interval + 0.5)
        cards = [(at, card_on_hand(html)) for at, html in pushes if card_on_hand(html)]

        # Three changes within a second: counted at once, then once more with the last.
        assert [figure for _, figure in cards] == ["11", "13"]
        assert cards[1][0] - started < OverviewConsumer.kpi_interval + 2
        feeds = [html for _, html in pushes if '<ol id="activity-feed"' in html]
        assert feeds[-1].count('data-testid="activity-item"') == 4  # the first receipt too
        await socket.disconnect()

    run(scenario)


@pytest.fixture
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_overview_socket_watches_and_notes_each_change_for_page_loads(
    ops, variant, baltimore, berlin, empty_cache
):
    stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/overview/", ops)
        await socket.connect()
        watching = await in_db(cache.get)("dashboard:kpis:watch:all")

        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=6, actor=SYSTEM)
        await socket.receive_from(timeout=2)
        changed = await in_db(cache.get_many)(
            [f"dashboard:kpis:changed:{baltimore.pk}", f"dashboard:kpis:changed:{berlin.pk}"]
        )
        kept = await in_db(cache.get)(f"dashboard:kpis:count:{baltimore.pk}")
        await socket.disconnect()

        assert watching is not None
        assert list(changed) == [f"dashboard:kpis:changed:{baltimore.pk}"]
        # The card pushed is kept for page loads, counted after the change was noted.
        assert kept.kpis.on_hand == 16
        assert kept.counted_at >= changed[f"dashboard:kpis:changed:{baltimore.pk}"]

    run(scenario)


def test_open_overviews_share_the_recount_of_a_busy_warehouse(
    ops, variant, baltimore, empty_cache, monkeypatch
):
    stocked(variant, baltimore, 10)
    counted = []

    def counting(*, warehouse_ids):
        counted.append(list(warehouse_ids))
        return warehouse_kpis(warehouse_ids=warehouse_ids)

    monkeypatch.setattr(kpis, "warehouse_kpis", counting)

    async def scenario():
        sockets = [await communicator("/ws/live/overview/", ops) for _ in range(2)]
        for socket in sockets:
            await socket.connect()

        # The first change is pushed at once by each socket; the second waits for the KPI
        # interval, and the socket that counts first counts for the other too.
        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM)
        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=2, actor=SYSTEM)
        quiet = OverviewConsumer.kpi_interval + 0.5
        pushes = [await pushes_until_quiet(socket, quiet=quiet) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()

        cards = [
            [kpi_figure(html, "on_hand") for html in received if f'id="kpi-{baltimore.pk}"' in html]
            for received in pushes
        ]
        assert [figures[-1] for figures in cards] == ["13", "13"]
        assert len(counted) == 3

    run(scenario)


def test_overview_filtered_to_a_warehouse_ignores_the_others(ops, variant, baltimore, berlin):
    stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator(f"/ws/live/overview/?warehouse={baltimore.pk}", ops)
        await socket.connect()

        await in_db(receive_stock)(variant=variant, warehouse=berlin, quantity=6, actor=SYSTEM)
        quiet = await socket.receive_nothing(timeout=QUIET_SECONDS)
        await in_db(receive_stock)(variant=variant, warehouse=baltimore, quantity=1, actor=SYSTEM)
        html = await socket.receive_from(timeout=2)

        assert quiet is True
        assert f'id="kpi-{baltimore.pk}"' in html
        await socket.disconnect()

    run(scenario)


def test_orders_page_gets_its_sections_when_an_order_is_placed_and_paid(ops, variant, baltimore):
    stocked(variant, baltimore, 10)
    channel = channel_selling_from(baltimore, code="north-america", name="North America")

    async def scenario():
        socket = await communicator("/ws/live/orders/", ops)
        await socket.connect()

        placed = await in_db(place)(channel, "A-1", (variant.sku, 2))
        after_placing = await pushes_until_quiet(socket)
        await in_db(pay_order)(order=placed.order, actor=SYSTEM)
        after_paying = await pushes_until_quiet(socket)

        assert len(after_placing) == 1
        placed_section = re.search(
            r'<section id="orders-placed".*?</section>', after_placing[0], re.S
        ).group(0)
        assert f'<tr id="order-{placed.order.pk}"' in placed_section
        assert '<div id="live-region"' in after_placing[0]
        paid_section = re.search(
            r'<section id="orders-paid".*?</section>', after_paying[-1], re.S
        ).group(0)
        assert f'<tr id="order-{placed.order.pk}"' in paid_section
        await socket.disconnect()

    run(scenario)


def test_disconnecting_leaves_the_groups(ops, variant, baltimore):
    level = stocked(variant, baltimore, 10)

    async def scenario():
        socket = await communicator("/ws/live/stock/", ops)
        await socket.connect()
        await watch(socket, [level.pk])
        layer = get_channel_layer()
        joined = {name for name, members in layer.groups.items() if members}

        await socket.disconnect()

        still = {name for name, members in layer.groups.items() if members}
        assert {f"warehouse-{baltimore.pk}", f"variant-{variant.pk}"} <= joined
        assert still == set()

    run(scenario)
