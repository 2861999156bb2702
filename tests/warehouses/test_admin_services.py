"""Admin edits of warehouses and channels reach the stores and the caches, as the API's do.

Each test maps a connector to the channel (or the warehouse), makes one change in the real
admin as ops staff, and expects what `warehouses.services` does for the same change over
the API: the connector's mapped SKUs queued as outbox rows in the change's transaction, and
the channel's cached availability made unreachable (a new cache generation) after commit.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from connectors.models import OutboxItem, OutboxState
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub
from tests.warehouses.factories import ChannelWarehouseFactory, WarehouseFactory
from tests.warehouses.test_admin import change_form_data
from warehouses.access import Role
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse
from warehouses.services import channel_cache_generation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ops() -> Client:
    user = get_user_model().objects.create_user(username="olga", is_staff=True)
    user.groups.add(Group.objects.get(name=Role.OPS_STAFF.value))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def hub():
    """A channel selling from one warehouse, two SKUs mapped to a store, no pending rows."""
    return make_hub(None, skus=("A", "B"))


def queued_variants(hub) -> list[int]:
    return sorted(
        OutboxItem.objects.filter(connector=hub.connector, state=OutboxState.PENDING).values_list(
            "variant_id", flat=True
        )
    )


def every_variant(hub) -> list[int]:
    return sorted(variant.pk for variant in hub.variants)


def post_change(client, url, changes, capture):
    data = change_form_data(client.get(url))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    with capture(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    return response


def post_action(client, model, action, pks, capture):
    with capture(execute=True):
        response = client.post(
            reverse(f"admin:warehouses_{model}_changelist"),
            {"action": action, ACTION_CHECKBOX_NAME: pks},
        )
    assert response.status_code == 302
    return response


# --- Warehouses -----------------------------------------------------------------------------


def test_deactivate_action_tells_the_stores_and_drops_the_channel_cache(
    ops, hub, django_capture_on_commit_callbacks
):
    generation = channel_cache_generation(hub.channel.pk)

    post_action(
        ops, "warehouse", "deactivate", [hub.warehouse.pk], django_capture_on_commit_callbacks
    )

    assert Warehouse.objects.get(pk=hub.warehouse.pk).is_active is False
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_activate_action_tells_the_stores_and_drops_the_channel_cache(
    ops, hub, django_capture_on_commit_callbacks
):
    Warehouse.objects.filter(pk=hub.warehouse.pk).update(is_active=False)
    generation = channel_cache_generation(hub.channel.pk)

    post_action(
        ops, "warehouse", "activate", [hub.warehouse.pk], django_capture_on_commit_callbacks
    )

    assert Warehouse.objects.get(pk=hub.warehouse.pk).is_active is True
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_unticking_active_on_the_warehouse_page_tells_the_stores_and_drops_the_cache(
    ops, hub, django_capture_on_commit_callbacks
):
    generation = channel_cache_generation(hub.channel.pk)
    url = reverse("admin:warehouses_warehouse_change", args=[hub.warehouse.pk])

    post_change(ops, url, {"is_active": None}, django_capture_on_commit_callbacks)

    assert Warehouse.objects.get(pk=hub.warehouse.pk).is_active is False
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_renaming_a_warehouse_in_the_admin_tells_no_store(
    ops, hub, django_capture_on_commit_callbacks
):
    generation = channel_cache_generation(hub.channel.pk)
    url = reverse("admin:warehouses_warehouse_change", args=[hub.warehouse.pk])

    post_change(ops, url, {"name": "Renamed"}, django_capture_on_commit_callbacks)

    assert Warehouse.objects.get(pk=hub.warehouse.pk).name == "Renamed"
    assert queued_variants(hub) == []
    assert channel_cache_generation(hub.channel.pk) == generation


def test_adding_a_warehouse_in_the_admin_creates_it(ops, django_capture_on_commit_callbacks):
    url = reverse("admin:warehouses_warehouse_add")
    data = change_form_data(ops.get(url))
    data.update({"code": "NEW", "name": "New warehouse"})

    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(url, data)

    assert response.status_code == 302
    assert Warehouse.objects.filter(code="NEW", name="New warehouse", is_active=True).exists()


# --- Channels -------------------------------------------------------------------------------


def channel_url(hub) -> str:
    return reverse("admin:warehouses_saleschannel_change", args=[hub.channel.pk])


@pytest.mark.parametrize(
    "changes", [{"safety_buffer": 3}, {"max_salable_quantity": 4}, {"is_active": None}]
)
def test_channel_settings_changed_in_the_admin_tell_the_stores_and_drop_the_cache(
    ops, hub, django_capture_on_commit_callbacks, changes
):
    generation = channel_cache_generation(hub.channel.pk)

    post_change(ops, channel_url(hub), changes, django_capture_on_commit_callbacks)

    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_adding_a_stock_source_in_the_admin_tells_the_stores_and_drops_the_cache(
    ops, hub, django_capture_on_commit_callbacks
):
    second = WarehouseFactory(code="SECOND")
    generation = channel_cache_generation(hub.channel.pk)

    post_change(
        ops,
        channel_url(hub),
        {"links-TOTAL_FORMS": 2, "links-1-warehouse": second.pk, "links-1-priority": 2},
        django_capture_on_commit_callbacks,
    )

    assert list(
        ChannelWarehouse.objects.filter(channel=hub.channel)
        .order_by("priority")
        .values_list("warehouse__code", "priority")
    ) == [(hub.warehouse.code, 1), ("SECOND", 2)]
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_removing_a_stock_source_in_the_admin_tells_the_stores_and_drops_the_cache(
    ops, hub, django_capture_on_commit_callbacks
):
    second = WarehouseFactory(code="SECOND")
    ChannelWarehouseFactory(channel=hub.channel, warehouse=second, priority=2)
    generation = channel_cache_generation(hub.channel.pk)

    post_change(ops, channel_url(hub), {"links-1-DELETE": "on"}, django_capture_on_commit_callbacks)

    assert list(
        ChannelWarehouse.objects.filter(channel=hub.channel).values_list("warehouse__code")
    ) == [(hub.warehouse.code,)]
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_reordering_stock_sources_in_the_admin_tells_the_stores(
    ops, hub, django_capture_on_commit_callbacks
):
    second = WarehouseFactory(code="SECOND")
    ChannelWarehouseFactory(channel=hub.channel, warehouse=second, priority=2)
    generation = channel_cache_generation(hub.channel.pk)

    post_change(
        ops,
        channel_url(hub),
        {"links-0-priority": 3},
        django_capture_on_commit_callbacks,
    )

    assert dict(
        ChannelWarehouse.objects.filter(channel=hub.channel).values_list(
            "warehouse__code", "priority"
        )
    ) == {hub.warehouse.code: 3, "SECOND": 2}
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_renaming_a_channel_in_the_admin_tells_no_store(
    ops, hub, django_capture_on_commit_callbacks
):
    generation = channel_cache_generation(hub.channel.pk)

    post_change(ops, channel_url(hub), {"name": "Renamed"}, django_capture_on_commit_callbacks)

    assert SalesChannel.objects.get(pk=hub.channel.pk).name == "Renamed"
    assert queued_variants(hub) == []
    assert channel_cache_generation(hub.channel.pk) == generation


@pytest.mark.parametrize(("action", "was_active"), [("deactivate", True), ("activate", False)])
def test_channel_actions_tell_the_stores_and_drop_the_cache(
    ops, hub, django_capture_on_commit_callbacks, action, was_active
):
    SalesChannel.objects.filter(pk=hub.channel.pk).update(is_active=was_active)
    generation = channel_cache_generation(hub.channel.pk)

    post_action(ops, "saleschannel", action, [hub.channel.pk], django_capture_on_commit_callbacks)

    assert SalesChannel.objects.get(pk=hub.channel.pk).is_active is not was_active
    assert queued_variants(hub) == every_variant(hub)
    assert channel_cache_generation(hub.channel.pk) != generation


def test_adding_a_channel_in_the_admin_creates_it_with_its_sources(
    ops, django_capture_on_commit_callbacks
):
    north = WarehouseFactory(code="NORTH")
    url = reverse("admin:warehouses_saleschannel_add")
    data = change_form_data(ops.get(url))
    data.update(
        {
            "code": "web",
            "name": "Web shop",
            "links-TOTAL_FORMS": 1,
            "links-0-warehouse": north.pk,
            "links-0-priority": 1,
        }
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(url, data)

    assert response.status_code == 302
    channel = SalesChannel.objects.get(code="web")
    assert list(channel.links.values_list("warehouse__code", "priority")) == [("NORTH", 1)]
