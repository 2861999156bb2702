"""Users are assigned to warehouses and channels in the admin, through warehouses.services."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory
from tests.warehouses.test_admin import change_form_data
from warehouses import services
from warehouses.access import Role, can_sell_on, writable_warehouse_ids

pytestmark = pytest.mark.django_db


def user_in(role: Role, username: str, **extra):
    user = get_user_model().objects.create_user(username=username, **extra)
    user.groups.add(Group.objects.get(name=role.value))
    return user


@pytest.fixture
def through_service(monkeypatch):
    calls = []
    for name in ("set_user_scope", "set_assigned_users"):
        real = getattr(services, name)
        monkeypatch.setattr(
            f"warehouses.admin.{name}",
            lambda *args, _real=real, _name=name, **kwargs: calls.append(_name) or _real(**kwargs),
        )
    return calls


def test_user_admin_assigns_warehouses_and_channels(admin_client, through_service):
    bal, ber = WarehouseFactory(code="BAL"), WarehouseFactory(code="BER")
    north = SalesChannelFactory(code="north")
    manager = user_in(Role.WAREHOUSE_MANAGER, "mia")
    url = reverse("admin:auth_user_change", args=[manager.pk])
    data = change_form_data(admin_client.get(url))
    # The user form shows its dates as split date and time inputs.
    data.pop("last_login", None)
    joined = data.pop("date_joined")
    data.update(
        {
            "date_joined_0": f"{joined:%Y-%m-%d}",
            "date_joined_1": f"{joined:%H:%M:%S}",
            "warehouses": [ber.pk],
            "channels": [north.pk],
        }
    )

    response = admin_client.post(url, data)
    page = admin_client.get(url).content.decode()

    assert response.status_code == 302
    assert writable_warehouse_ids(get_user_model().objects.get(pk=manager.pk)) == {ber.pk}
    assert list(north.assigned_users.all()) == [manager]
    assert through_service == ["set_user_scope"]
    assert "Warehouses and channels (role scope)" in page
    assert bal.assigned_users.count() == 0


def test_ops_staff_assign_users_on_the_warehouse_and_channel_pages(through_service):
    ops_user = user_in(Role.OPS_STAFF, "olga", is_staff=True)
    ops = Client()
    ops.force_login(ops_user)
    bal = WarehouseFactory(code="BAL")
    north = SalesChannelFactory(code="north")
    manager = user_in(Role.WAREHOUSE_MANAGER, "mia")
    shop = user_in(Role.INTEGRATION, "shop")

    for url, user in (
        (reverse("admin:warehouses_warehouse_change", args=[bal.pk]), manager),
        (reverse("admin:warehouses_saleschannel_change", args=[north.pk]), shop),
    ):
        data = change_form_data(ops.get(url))
        data["assigned_users"] = [user.pk]
        assert ops.post(url, data).status_code == 302

    assert writable_warehouse_ids(manager) == {bal.pk}
    assert can_sell_on(shop, north)
    assert through_service == ["set_assigned_users", "set_assigned_users"]
