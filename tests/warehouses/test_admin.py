import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.models import ChannelWarehouse, SalesChannel, Warehouse

pytestmark = pytest.mark.django_db


def change_form_data(response) -> dict[str, object]:
    """What a browser posts back, unchanged, from an admin change page."""
    data: dict[str, object] = {}

    def add(form, prefix: str = "") -> None:
        for name in form.fields:
            value = form[name].value()
            key = f"{prefix}{name}"
            if value is True:
                data[key] = "on"
            elif value is not None and value is not False:
                data[key] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form, f"{formset.prefix}-")
        for form in formset.forms:
            add(form, f"{form.prefix}-")
    return data


def result_codes(response) -> list[str]:
    return [obj.code for obj in response.context["cl"].result_list]


@pytest.fixture
def network():
    bal, aus = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    old = WarehouseFactory(code="OLD", is_active=False, timezone="Europe/Berlin")
    north = SalesChannelFactory(code="north-america")
    europe = SalesChannelFactory(code="europe", is_active=False)
    ChannelWarehouseFactory(channel=north, warehouse=bal, priority=1)
    ChannelWarehouseFactory(channel=north, warehouse=aus, priority=2)
    ChannelWarehouseFactory(channel=europe, warehouse=old, priority=1)
    return {"bal": bal, "aus": aus, "old": old, "north": north, "europe": europe}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["AUS", "BAL", "OLD"]),
        ({"is_active__exact": "0"}, ["OLD"]),
        ({"timezone": "Europe/Berlin"}, ["OLD"]),
        ({"q": "bal"}, ["BAL"]),
    ],
)
def test_warehouse_changelist_filters_and_searches(admin_client, network, query, expected):
    response = admin_client.get(reverse("admin:warehouses_warehouse_changelist"), query)

    assert response.status_code == 200
    assert result_codes(response) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["europe", "north-america"]),
        ({"is_active__exact": "1"}, ["north-america"]),
        ({"kind__exact": "other"}, ["europe", "north-america"]),
        ({"q": "euro"}, ["europe"]),
    ],
)
def test_channel_changelist_filters_and_searches(admin_client, network, query, expected):
    response = admin_client.get(reverse("admin:warehouses_saleschannel_changelist"), query)

    assert response.status_code == 200
    assert result_codes(response) == expected


@pytest.mark.parametrize("model", ["warehouse", "saleschannel"])
def test_every_filter_choice_answers(admin_client, network, model):
    url = reverse(f"admin:warehouses_{model}_changelist")
    changelist = admin_client.get(url).context["cl"]
    queries = [
        choice["query_string"]
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    ]

    statuses = {query: admin_client.get(url + query).status_code for query in queries}

    assert len(queries) > len(changelist.filter_specs)
    assert statuses == dict.fromkeys(queries, 200)


def test_warehouse_changelist_filters_by_channel(admin_client, network):
    response = admin_client.get(
        reverse("admin:warehouses_warehouse_changelist"),
        {"links__channel__id__exact": network["north"].pk},
    )

    assert result_codes(response) == ["AUS", "BAL"]


def test_channel_changelist_filters_by_warehouse(admin_client, network):
    response = admin_client.get(
        reverse("admin:warehouses_saleschannel_changelist"),
        {"links__warehouse__id__exact": network["old"].pk},
    )

    assert result_codes(response) == ["europe"]


def test_warehouse_change_page_lists_the_channels_selling_from_it(admin_client, network):
    response = admin_client.get(
        reverse("admin:warehouses_warehouse_change", args=[network["bal"].pk])
    )

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert [form.instance.channel.code for form in inline.formset.forms] == ["north-america"]


def test_channel_change_page_shows_its_warehouses_in_priority_order(admin_client, network):
    response = admin_client.get(
        reverse("admin:warehouses_saleschannel_change", args=[network["north"].pk])
    )

    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert [
        (form.instance.warehouse.code, form.instance.priority) for form in inline.formset.forms
    ] == [("BAL", 1), ("AUS", 2)]


def test_channel_admin_adds_a_stock_source_with_its_priority(admin_client, network):
    url = reverse("admin:warehouses_saleschannel_change", args=[network["north"].pk])
    data = change_form_data(admin_client.get(url))
    data.update(
        {
            "links-TOTAL_FORMS": 3,
            "links-2-warehouse": network["old"].pk,
            "links-2-priority": 3,
            "links-1-priority": 5,
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert list(
        ChannelWarehouse.objects.filter(channel=network["north"])
        .order_by("priority")
        .values_list("warehouse__code", "priority")
    ) == [("BAL", 1), ("OLD", 3), ("AUS", 5)]


def test_channel_admin_turning_allocation_on_reaches_the_channels_sharing_its_warehouses(
    admin_client, network, monkeypatch
):
    sharing = SalesChannelFactory(code="marketplace")
    ChannelWarehouseFactory(channel=sharing, warehouse=network["bal"], priority=1)
    changed: list[list[int]] = []
    monkeypatch.setattr(
        "warehouses.services.selling_changed_in_transaction",
        lambda channel_ids, **_: changed.append(sorted(channel_ids)),
    )
    url = reverse("admin:warehouses_saleschannel_change", args=[network["north"].pk])
    data = change_form_data(admin_client.get(url))
    data.update({"allocation_threshold": 10, "allocation_minimum": 2})

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert SalesChannel.objects.values_list("allocation_threshold", "allocation_minimum").get(
        pk=network["north"].pk
    ) == (10, 2)
    assert changed == [sorted([network["north"].pk, sharing.pk])]


def test_channel_admin_refuses_the_same_warehouse_twice(admin_client, network):
    url = reverse("admin:warehouses_saleschannel_change", args=[network["north"].pk])
    data = change_form_data(admin_client.get(url))
    data.update({"links-TOTAL_FORMS": 3, "links-2-warehouse": network["bal"].pk})

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert ChannelWarehouse.objects.filter(channel=network["north"]).count() == 2


@pytest.mark.parametrize("model", ["warehouse", "saleschannel"])
def test_warehouses_and_channels_cannot_be_deleted_in_admin(admin_client, network, model):
    obj = network["bal"] if model == "warehouse" else network["north"]

    page = admin_client.get(reverse(f"admin:warehouses_{model}_delete", args=[obj.pk]))
    changelist = admin_client.get(reverse(f"admin:warehouses_{model}_changelist"))

    assert page.status_code == 403
    assert "delete_selected" not in dict(changelist.context["action_form"].fields["action"].choices)
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_deactivate_action_deactivates_only_the_selected_warehouses(admin_client, network):
    response = admin_client.post(
        reverse("admin:warehouses_warehouse_changelist"),
        {"action": "deactivate", ACTION_CHECKBOX_NAME: [network["bal"].pk]},
    )

    assert response.status_code == 302
    assert dict(Warehouse.objects.values_list("code", "is_active")) == {
        "BAL": False,
        "AUS": True,
        "OLD": False,
    }


def test_activate_action_reactivates_a_channel(admin_client, network):
    admin_client.post(
        reverse("admin:warehouses_saleschannel_changelist"),
        {"action": "activate", ACTION_CHECKBOX_NAME: [network["europe"].pk]},
    )

    assert SalesChannel.objects.get(code="europe").is_active is True


def test_warehouse_autocomplete_serves_the_channel_link_field(admin_client, network):
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "warehouses",
            "model_name": "channelwarehouse",
            "field_name": "warehouse",
            "term": "AU",
        },
    )

    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["AUS (Warehouse AUS)"]


def test_add_warehouse_page_loads(admin_client):
    response = admin_client.get(reverse("admin:warehouses_warehouse_add"))

    assert response.status_code == 200
