import pytest
from django.core.exceptions import ValidationError
from django.db import DataError

from tests.stock.factories import channel_selling_from, run_at_once
from tests.warehouses.factories import WarehouseFactory
from warehouses.models import ChannelWarehouse, SalesChannel
from warehouses.services import ChannelLink, create_channel, set_channel_links, update_channel


def _links(channel) -> list[tuple[str, int]]:
    return list(
        ChannelWarehouse.objects.filter(channel=channel)
        .order_by("priority", "warehouse__code")
        .values_list("warehouse__code", "priority")
    )


@pytest.mark.django_db
def test_create_channel_writes_the_channel_and_its_links():
    baltimore, austin = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")

    channel = create_channel(
        code="na",
        name="North America",
        safety_buffer=2,
        links=[
            ChannelLink(warehouse=austin, priority=2),
            ChannelLink(warehouse=baltimore, priority=1),
        ],
    )

    assert SalesChannel.objects.get(pk=channel.pk).safety_buffer == 2
    assert _links(channel) == [("BAL", 1), ("AUS", 2)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "links",
    [
        lambda bal: [ChannelLink(warehouse=bal, priority=0)],
        lambda bal: [
            ChannelLink(warehouse=bal, priority=1),
            ChannelLink(warehouse=bal, priority=2),
        ],
    ],
    ids=["priority-below-1", "warehouse-twice"],
)
def test_set_channel_links_refuses_invalid_links_and_keeps_the_old_ones(links):
    baltimore, austin = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    channel = channel_selling_from(austin, code="na")

    with pytest.raises(ValidationError):
        set_channel_links(channel=channel, links=links(baltimore))

    assert _links(channel) == [("AUS", 1)]


@pytest.mark.django_db
def test_update_channel_unknown_field_is_a_programming_error():
    channel = channel_selling_from(code="na")

    with pytest.raises(TypeError, match="colour"):
        update_channel(channel=channel, colour="red")


@pytest.mark.django_db
@pytest.mark.postgres
def test_update_that_fails_at_the_links_rolls_back_the_settings_too():
    baltimore, austin = WarehouseFactory(code="BAL"), WarehouseFactory(code="AUS")
    channel = channel_selling_from(baltimore, austin, code="na", name="North America")

    # Past PostgreSQL's smallint: the insert of the new link fails after the rename and
    # after the old links were removed.
    with pytest.raises(DataError):
        update_channel(
            channel=channel,
            name="Renamed",
            links=[ChannelLink(warehouse=WarehouseFactory(code="REN"), priority=40_000)],
        )

    assert SalesChannel.objects.get(pk=channel.pk).name == "North America"
    assert _links(channel) == [("BAL", 1), ("AUS", 2)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_link_replacements_leave_exactly_one_callers_links():
    warehouses = [WarehouseFactory(code=code) for code in ("BAL", "AUS", "REN", "HQ")]
    channel = channel_selling_from(code="na")
    wanted = [
        [ChannelLink(warehouse=warehouses[0], priority=1), ChannelLink(warehouses[1], 2)],
        [ChannelLink(warehouse=warehouses[2], priority=1), ChannelLink(warehouses[3], 2)],
        [ChannelLink(warehouse=warehouses[1], priority=1), ChannelLink(warehouses[2], 2)],
        [ChannelLink(warehouse=warehouses[3], priority=1), ChannelLink(warehouses[0], 2)],
    ]
    jobs = [
        (lambda links=links: set_channel_links(channel=channel, links=links))
        for links in wanted * 5
    ]

    attempts = run_at_once(jobs, workers=4)

    assert [attempt.error for attempt in attempts] == [None] * len(jobs)
    outcomes = {tuple((link.warehouse.code, link.priority) for link in links) for links in wanted}
    assert tuple(_links(channel)) in outcomes


@pytest.fixture
def selling_changes(monkeypatch) -> list[list[int]]:
    """The channel ids of each change of what channels may sell, as the services report them."""
    changed: list[list[int]] = []
    monkeypatch.setattr(
        "warehouses.services.selling_changed_in_transaction",
        lambda channel_ids, **_: changed.append(sorted(channel_ids)),
    )
    return changed


@pytest.mark.django_db
def test_an_allocation_setting_also_changes_the_channels_sharing_its_warehouses(selling_changes):
    shared, own = WarehouseFactory(code="SHARED"), WarehouseFactory(code="OWN")
    shop = channel_selling_from(shared, own, code="shop")
    market = channel_selling_from(shared, code="market")
    channel_selling_from(WarehouseFactory(code="ELSEWHERE"), code="elsewhere")

    update_channel(channel=shop, allocation_threshold=10)
    update_channel(channel=shop, allocation_minimum=2)

    assert selling_changes == [sorted([shop.pk, market.pk])] * 2


@pytest.mark.django_db
def test_with_allocation_on_a_link_change_reaches_the_channels_of_old_and_new_warehouses(
    selling_changes,
):
    old, new = WarehouseFactory(code="OLD"), WarehouseFactory(code="NEW")
    shop = channel_selling_from(old, code="shop", allocation_threshold=5)
    left = channel_selling_from(old, code="left")
    joined = channel_selling_from(new, code="joined")

    set_channel_links(channel=shop, links=[ChannelLink(warehouse=new, priority=1)])

    assert selling_changes == [sorted([shop.pk, left.pk, joined.pk])]


@pytest.mark.django_db
def test_with_allocation_off_a_buffer_change_concerns_the_channel_alone(selling_changes):
    shared = WarehouseFactory(code="SHARED")
    shop = channel_selling_from(shared, code="shop")
    channel_selling_from(shared, code="market")

    update_channel(channel=shop, safety_buffer=2)

    assert selling_changes == [[shop.pk]]
