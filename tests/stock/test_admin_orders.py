"""The orders admin: short orders filtered and resolved through the order services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, User
from django.urls import reverse

from stock.models import Order, OrderLine, OrderStatus
from stock.services import receive_stock
from tests.stock.factories import SYSTEM, VariantFactory, channel_selling_from, place, stocked
from tests.warehouses.factories import WarehouseFactory
from warehouses.access import Role

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:stock_order_changelist")


@pytest.fixture
def shop():
    north = WarehouseFactory(code="NORTH")
    channel = channel_selling_from(north, code="woo")
    sheet = VariantFactory(sku="SHEET")
    stocked(sheet, north, 13)
    return {"north": north, "channel": channel, "sheet": sheet}


def short_order(shop) -> Order:
    return place(shop["channel"], "W-18", ("SHEET", 18), accept_shortfall=True).order


def run_action(client, action: str, *orders: Order):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [order.pk for order in orders]},
        follow=True,
    )


def test_the_short_filter_lists_only_short_orders(admin_client, shop):
    short = short_order(shop)
    place(shop["channel"], "W-1", ("SHEET", 1), accept_shortfall=True)  # short, but cancelled
    Order.objects.filter(reference="W-1").update(status=OrderStatus.CANCELLED)

    response = admin_client.get(CHANGELIST, {"is_short": "yes"})

    assert response.status_code == 200
    assert [order.pk for order in response.context["cl"].result_list] == [short.pk]
    assert '<td class="field-shortfall">5</td>' in response.content.decode()


def test_fill_shortfall_action_holds_restocked_units(admin_client, shop, verify_ledger_clean):
    order = short_order(shop)
    receive_stock(variant=shop["sheet"], warehouse=shop["north"], quantity=3, actor=SYSTEM)

    response = run_action(admin_client, "fill_shortfall_selected", order)

    assert "1 order(s): filled what stock allows." in response.content.decode()
    assert OrderLine.objects.get(order=order).short_quantity == 2
    verify_ledger_clean()


def test_cancel_short_units_action_keeps_the_held_units(admin_client, shop):
    order = short_order(shop)

    run_action(admin_client, "cancel_short_units_selected", order)

    line = OrderLine.objects.get(order=order)
    assert (line.quantity, line.short_quantity) == (13, 0)


def test_an_action_refused_by_the_service_is_shown_and_changes_nothing(admin_client, shop):
    order = short_order(shop)
    run_action(admin_client, "cancel_selected", order)

    response = run_action(admin_client, "fill_shortfall_selected", order)

    assert [str(message) for message in response.context["messages"]] == [
        f"{order}: Order {order} is cancelled."
    ]
    assert OrderLine.objects.get(order=order).short_quantity == 5


def test_a_viewer_sees_orders_but_no_action(client, shop):
    short_order(shop)
    viewer = User.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get_or_create(name=Role.VIEWER.value)[0])
    client.force_login(viewer)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "fill_shortfall_selected" not in response.content.decode()
